package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/eleanor-lab/eleanor"
)

// Probe makes the round trip of the deep health check: it enqueues a probe
// task on HealthQueue and waits until a worker has run it. It returns nil
// once the probe completed, and an EUNAVAILABLE error whose message says
// what went wrong when Redis cannot be reached, when the probe failed or
// when no worker ran it before ctx ended or Config.ProbeTimeout passed.
func (c *Client) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancel()

	id, err := c.enqueueProbe(ctx)
	if err != nil {
		return unavailable(fmt.Errorf("probe: %w", err))
	}

	err = c.awaitProbe(ctx, id)
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) {
		// A probe nobody ran would wait in the queue and be run, for
		// nothing, by the next worker to start: take it back.
		go c.dropProbe(id)
	}
	return err
}

// enqueueProbe submits a probe task and returns its id. The probe is never
// retried: a failed probe is an answer, and the next check sends its own.
func (c *Client) enqueueProbe(ctx context.Context) (string, error) {
	id := uuid.NewString()
	body, err := encodePayload(id)
	if err != nil {
		return "", err
	}

	task := asynq.NewTask(probeType, body)
	_, err = c.client.EnqueueContext(ctx, task,
		asynq.TaskID(id),
		asynq.Queue(HealthQueue),
		asynq.MaxRetry(0),
		asynq.Retention(probeRetention),
	)
	if err != nil {
		return "", fmt.Errorf("enqueue probe: %w", err)
	}
	return id, nil
}

// awaitProbe polls the probe's state until it completed or ctx ends.
func (c *Client) awaitProbe(ctx context.Context, id string) error {
	start := time.Now()
	tick := time.NewTicker(probePollInterval)
	defer tick.Stop()

	for {
		info, err := c.taskInfo(ctx, HealthQueue, id)
		switch {
		case ctx.Err() != nil:
			return eleanor.Unavailable(fmt.Sprintf(
				"no worker ran the probe task within %v",
				time.Since(start).Round(time.Millisecond)),
				retryAfter, ctx.Err())
		case err != nil:
			return unavailable(fmt.Errorf("probe status: %w", err))
		case info.State == asynq.TaskStateCompleted:
			return nil
		case info.State == asynq.TaskStateArchived:
			return eleanor.Unavailable("the probe task failed: "+
				info.LastErr, retryAfter, nil)
		}

		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// dropProbe deletes a probe task that nobody ran, on a best-effort basis:
// when it fails, the task is run later by a worker and then expires.
func (c *Client) dropProbe(id string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.inspector.DeleteTask(HealthQueue, id)
	}()

	select {
	case <-done:
	case <-time.After(c.cfg.Timeout):
	}
}
