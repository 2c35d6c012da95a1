package queue

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/backoff"
)

// policy returns the retry policy of a task type.
func (w *Worker) policy(taskType string) backoff.Policy {
	if taskType == string(eleanor.TaskRetry) {
		return w.cfg.RetryPolicy
	}
	return w.cfg.ExpoPolicy
}

// retryDelay is asynq's RetryDelayFunc: it returns the delay before the
// next attempt of a task that failed after n retries, and logs it. The
// log is written here, where the delay is drawn, because a jittered delay
// cannot be computed a second time to be logged elsewhere.
func (w *Worker) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	delay := w.policy(t.Type()).Delay(n)
	due := onWholeSecond(time.Now(), delay)

	// asynq passes a task without its id; the payload carries a copy.
	p, _ := decodePayload(t.Payload())
	w.log.Info("task failed, retry scheduled",
		"task_id", p.TaskID,
		"kind", t.Type(),
		"attempt", n+1,
		"delay", delay.Round(time.Millisecond),
		"err", err)
	return due
}

// onWholeSecond returns a delay close to d that asynq will honour.
//
// asynq keeps the due time of a retry in whole Unix seconds: it truncates
// now+delay, and runs the task once the clock reaches that second. Left
// alone, a retry "in 1s" would run anywhere from at once to 1s later,
// depending on where in its second the task failed. The returned delay
// aims instead at the whole second nearest to now+d, padded by a
// millisecond so that the truncation lands on it, so the delay that
// actually happens stays within half a second, plus the worker's poll
// interval, of the policy's. It reads the real clock, as asynq does: both
// must agree on what now is.
func onWholeSecond(now time.Time, d time.Duration) time.Duration {
	due := now.Add(d).Round(time.Second)
	return max(0, due.Sub(now)+time.Millisecond)
}

// logFailure is asynq's ErrorHandler, called on every failed attempt. It
// logs only the last one, after which asynq archives the task: the others
// are logged by retryDelay with their delay.
func (w *Worker) logFailure(ctx context.Context, t *asynq.Task, err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried < maxRetry && !errors.Is(err, asynq.SkipRetry) {
		return
	}

	id, _ := asynq.GetTaskID(ctx)
	w.log.Error("task failed for good, no retry left",
		"task_id", id,
		"kind", t.Type(),
		"attempt", retried+1,
		"err", err)
}

// logHealth is asynq's HealthCheckFunc, called every 15s with the result
// of a ping to Redis.
func (w *Worker) logHealth(err error) {
	if err != nil {
		w.log.Warn("queue redis unreachable, tasks wait", "err", err)
	}
}
