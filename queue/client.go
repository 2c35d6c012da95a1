package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/internal/bounded"
)

// retryAfter is what a client is told to wait when the queue is down: long
// enough for a restarted Redis to come back, short enough for a demo.
const retryAfter = 5 * time.Second

// Defaults of Config.
const (
	DefaultRetention    = 24 * time.Hour
	DefaultTimeout      = 2 * time.Second
	DefaultProbeTimeout = 3 * time.Second
)

// Probe settings. A probe result is only useful for a moment, so it is
// kept for a minute rather than a day; the poll interval keeps the round
// trip measured to within a few tens of milliseconds.
const (
	probeRetention    = time.Minute
	probePollInterval = 50 * time.Millisecond
)

// defaultMaxRetry is the number of retries of each demo task. The normal
// task is retried too, for failures that are not its own, such as a
// worker killed in the middle of it.
var defaultMaxRetry = map[eleanor.TaskKind]int{
	eleanor.TaskAdd:   3,
	eleanor.TaskRetry: 10,
	eleanor.TaskExpo:  10,
}

// Config holds the settings of a Client.
type Config struct {
	// Retention is how long a finished task stays known, so that its
	// SUCCESS or FAILURE can be reported. Zero means DefaultRetention.
	// Failed tasks are kept by asynq's archive whatever this says.
	Retention time.Duration

	// Timeout bounds every Enqueue and TaskStatus, Redis round trips
	// included. Zero means DefaultTimeout.
	Timeout time.Duration

	// ProbeTimeout bounds Probe when its context has a later deadline
	// or none. Zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration

	// MaxRetry overrides the number of retries per kind of task. Kinds
	// missing from it keep their defaults: add 3, add_retry 10 and
	// add_expo 10.
	MaxRetry map[eleanor.TaskKind]int
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = DefaultProbeTimeout
	}

	retries := make(map[eleanor.TaskKind]int, len(defaultMaxRetry))
	for kind, n := range defaultMaxRetry {
		retries[kind] = n
	}
	for kind, n := range c.MaxRetry {
		retries[kind] = n
	}
	c.MaxRetry = retries
	return c
}

// Client submits tasks to the queue and reports on them. It implements
// eleanor.TaskService. A Client is safe for concurrent use.
type Client struct {
	cfg       Config
	log       *slog.Logger
	client    *asynq.Client
	inspector *asynq.Inspector
}

var _ eleanor.TaskService = (*Client)(nil)

// NewClient returns a Client that talks to Redis through rdb. The caller
// owns rdb and closes it; it should give rdb short dial, read and write
// timeouts: asynq's inspection calls take no context, so TaskStatus stops
// waiting at its timeout, but the call itself lives on until rdb gives
// up. A nil log discards the logs.
func NewClient(rdb redis.UniversalClient, cfg Config, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:       cfg.withDefaults(),
		log:       log.With("component", "queue"),
		client:    asynq.NewClientFromRedisClient(rdb),
		inspector: asynq.NewInspectorFromRedisClient(rdb),
	}
}

// Enqueue submits a task of the given kind to the eleanor queue and
// returns its id, a random UUID. It fails with EINVALID for an unknown
// kind and with EUNAVAILABLE, within Config.Timeout, when Redis cannot
// be reached.
func (c *Client) Enqueue(ctx context.Context, kind eleanor.TaskKind) (string, error) {
	if !knownKind(kind) {
		return "", eleanor.Errorf(eleanor.EINVALID, "unknown task kind %q", kind)
	}

	id := uuid.NewString()
	body, err := encodePayload(id)
	if err != nil {
		return "", fmt.Errorf("enqueue task: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	task := asynq.NewTask(string(kind), body)
	_, err = c.client.EnqueueContext(ctx, task,
		asynq.TaskID(id),
		asynq.Queue(TaskQueue),
		asynq.MaxRetry(c.cfg.MaxRetry[kind]),
		asynq.Retention(c.cfg.Retention),
	)
	if err != nil {
		return "", unavailable(fmt.Errorf("enqueue task: %w", err))
	}

	c.log.Info("task enqueued", "task_id", id, "kind", kind)
	return id, nil
}

// TaskStatus reports on the task with the given id: its state and, once
// it finished, its result or its last error. It fails with ENOTFOUND for
// an id the queue does not know (never enqueued, or past its retention)
// and with EUNAVAILABLE, within Config.Timeout, when Redis cannot be
// reached.
func (c *Client) TaskStatus(ctx context.Context,
	id string) (*eleanor.TaskStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	info, err := c.taskInfo(ctx, TaskQueue, id)
	switch {
	case isNotFound(err):
		return nil, eleanor.Errorf(eleanor.ENOTFOUND, "task %q not found", id)
	case err != nil:
		return nil, unavailable(fmt.Errorf("task status: %w", err))
	}
	return toStatus(info), nil
}

// taskInfo asks asynq about one task. asynq's Inspector takes no context,
// so taskInfo stops waiting when ctx ends; the call itself lives on until
// Redis answers or rdb's own timeouts fire.
func (c *Client) taskInfo(ctx context.Context,
	queue, id string) (*asynq.TaskInfo, error) {
	return bounded.Call(ctx, func() (*asynq.TaskInfo, error) {
		return c.inspector.GetTaskInfo(queue, id)
	})
}

// toStatus translates asynq's view of a task into the seed's states.
func toStatus(info *asynq.TaskInfo) *eleanor.TaskStatus {
	s := &eleanor.TaskStatus{ID: info.ID, State: eleanor.TaskPending}

	switch info.State {
	case asynq.TaskStateActive:
		s.State = eleanor.TaskStarted
	case asynq.TaskStateRetry:
		s.State, s.Result = eleanor.TaskRetried, info.LastErr
	case asynq.TaskStateCompleted:
		s.State, s.Result = eleanor.TaskSuccess, string(info.Result)
	case asynq.TaskStateArchived:
		s.State, s.Result = eleanor.TaskFailure, info.LastErr
	}
	return s
}

// isNotFound reports whether err is asynq's way of saying that it does
// not know a task: before the first task, the queue itself is unknown.
func isNotFound(err error) bool {
	return errors.Is(err, asynq.ErrTaskNotFound) ||
		errors.Is(err, asynq.ErrQueueNotFound)
}

// unavailable wraps a failed call to Redis into the error a client sees.
func unavailable(cause error) error {
	return eleanor.Unavailable("task queue unavailable", retryAfter, cause)
}
