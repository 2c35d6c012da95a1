package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/backoff"
)

// Defaults of WorkerConfig.
const (
	DefaultConcurrency     = 4
	DefaultShutdownTimeout = 10 * time.Second
	DefaultPollInterval    = 100 * time.Millisecond
)

// errRandRange is the failure of the two always-failing demo tasks; its
// text is the one the audience saw in the seed's logs.
var errRandRange = errors.New("empty range for randrange()")

// WorkerConfig holds the settings of a Worker.
type WorkerConfig struct {
	// Concurrency is how many tasks run at once. Zero means
	// DefaultConcurrency.
	Concurrency int

	// ShutdownTimeout is how long Shutdown lets running tasks finish.
	// Tasks still running then are pushed back to the queue, unfinished,
	// for the next worker. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// RetryPolicy spaces the retries of add_retry. Nil means
	// backoff.Fixed(time.Second), the seed's dangerous "every second".
	RetryPolicy backoff.Policy

	// ExpoPolicy spaces the retries of add_expo, and of the normal task
	// when a worker dies under it. Nil means backoff.Exponential with
	// Base 1s and Cap 60s.
	ExpoPolicy backoff.Policy

	// WorkDuration is how long the normal task pretends to work before
	// it answers, so that a demo or a chaos test can stop or kill a
	// worker in the middle of a task. Zero means no pause.
	WorkDuration time.Duration

	// PollInterval is how often the worker looks for due retries and,
	// when idle, for new tasks. Zero means DefaultPollInterval.
	//
	// asynq looks for due retries every 5s and for new tasks every
	// 0.5-1.5s by default, which would turn "retry in 1s" into "retry in
	// 5s" or so. A short interval makes the delays that really happen
	// follow the policy to within about this interval, at the price of a
	// few small Redis calls a second per worker.
	PollInterval time.Duration

	// OnAttempt, if not nil, is told of every attempt of a task, with
	// the task's kind and the attempt's outcome: "success", "retry" or
	// "failure". Metrics hook in here.
	OnAttempt func(kind, outcome string)
}

// withDefaults returns c with its zero fields set to their defaults.
func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.RetryPolicy == nil {
		c.RetryPolicy = backoff.Fixed(time.Second)
	}
	if c.ExpoPolicy == nil {
		c.ExpoPolicy = backoff.Exponential{
			Base: time.Second,
			Cap:  60 * time.Second,
		}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	return c
}

// Worker runs the tasks of the eleanor queue and the probes of the health
// queue. Start it once and shut it down once.
//
// A task is not lost when its worker dies: asynq gives the worker a 30s
// lease on every task it runs and extends it every 5s. When the worker is
// killed (SIGKILL, a crash, a lost network), the lease runs out, and the
// recoverer of any worker serving the queue puts the task back as a retry
// (counted against its MaxRetry). In asynq v0.26 the recoverer runs when a
// worker starts and then every minute, and takes only tasks whose lease
// ran out at least 30s earlier, to allow for clock skew. A killed task is
// thus run again 55s to about 2 minutes after the kill, or at once by a
// worker started a minute or more after it. None of these durations can
// be set through asynq's Config: they are constants in its code.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
	srv *asynq.Server
}

// NewWorker returns a Worker that takes its tasks from Redis through rdb.
// The caller owns rdb and closes it after Shutdown. A nil log discards the
// logs.
//
// The worker serves HealthQueue with strict priority over TaskQueue: a
// probe is taken before any waiting task. A health probe measures whether
// a worker picks up new work, so it must not wait behind a backlog of
// demo tasks; and it cannot starve them, since the health checks send at
// most one small probe per check interval.
func NewWorker(rdb redis.UniversalClient, cfg WorkerConfig, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg.withDefaults(), log: log.With("component", "worker")}

	w.srv = asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              w.cfg.Concurrency,
		Queues:                   map[string]int{HealthQueue: 2, TaskQueue: 1},
		StrictPriority:           true,
		ShutdownTimeout:          w.cfg.ShutdownTimeout,
		TaskCheckInterval:        w.cfg.PollInterval,
		DelayedTaskCheckInterval: w.cfg.PollInterval,
		RetryDelayFunc:           w.retryDelay,
		ErrorHandler:             asynq.ErrorHandlerFunc(w.logFailure),
		HealthCheckFunc:          w.logHealth,
		Logger:                   newAsynqLogger(log.With("component", "asynq")),
		LogLevel:                 asynq.InfoLevel,
	})
	return w
}

// Start starts running tasks in the background and returns at once.
func (w *Worker) Start() error {
	if err := w.srv.Start(asynq.HandlerFunc(w.process)); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}

	w.log.Info("worker started",
		"concurrency", w.cfg.Concurrency,
		"queues", []string{HealthQueue, TaskQueue})
	return nil
}

// Shutdown stops taking tasks, lets the running ones finish within
// WorkerConfig.ShutdownTimeout, pushes the others back to the queue and
// returns when every goroutine of the worker has ended, or nearly: a task
// pushed back is told to stop through its context, and its handler
// returns a moment later. Shutdown does nothing after the first call.
func (w *Worker) Shutdown() {
	w.log.Info("worker shutting down", "timeout", w.cfg.ShutdownTimeout)
	w.srv.Shutdown()
	w.log.Info("worker stopped")
}

// Run starts the worker, waits until ctx ends and shuts it down.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(); err != nil {
		return err
	}

	<-ctx.Done()
	w.Shutdown()
	return nil
}

// process runs one task: it is the worker's asynq handler.
func (w *Worker) process(ctx context.Context, t *asynq.Task) error {
	err := w.handle(ctx, t)
	if w.cfg.OnAttempt != nil && t.Type() != probeType {
		w.cfg.OnAttempt(t.Type(), attemptOutcome(ctx, err))
	}
	return err
}

// attemptOutcome names the outcome of an attempt: "success", "retry" when
// asynq will run it again, "failure" when it will not.
func attemptOutcome(ctx context.Context, err error) string {
	if err == nil {
		return "success"
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry || errors.Is(err, asynq.SkipRetry) {
		return "failure"
	}
	return "retry"
}

// handle runs one task by its type.
func (w *Worker) handle(ctx context.Context, t *asynq.Task) error {
	switch t.Type() {
	case string(eleanor.TaskAdd):
		return w.add(ctx, t)
	case string(eleanor.TaskRetry), string(eleanor.TaskExpo):
		return fmt.Errorf("%s: %w", t.Type(), errRandRange)
	case probeType:
		return nil
	}

	// Retrying cannot teach the worker a new type.
	return fmt.Errorf("unknown task type %q: %w", t.Type(), asynq.SkipRetry)
}

// add is the normal task: it adds the payload's numbers and writes the sum
// as the task's result, after WorkDuration.
func (w *Worker) add(ctx context.Context, t *asynq.Task) error {
	p, err := decodePayload(t.Payload())
	if err != nil {
		return fmt.Errorf("add: %w: %w", err, asynq.SkipRetry)
	}

	if err := pause(ctx, w.cfg.WorkDuration); err != nil {
		return fmt.Errorf("add: %w", err)
	}

	sum := strconv.Itoa(p.A + p.B)
	if _, err := t.ResultWriter().Write([]byte(sum)); err != nil {
		return fmt.Errorf("add: write result: %w", err)
	}
	return nil
}

// pause waits for d, or less when ctx ends first, and then returns
// ctx's error: a stopping worker must not wait for a task that pretends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}

	timer := time.NewTimer(d)
	defer timer.Stop()

	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
