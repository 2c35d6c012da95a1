package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/internal/logrec"
	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
	"github.com/eleanor-lab/eleanor/queue"
)

// startRedis starts a private Redis server, which keeps nothing on disk,
// and stops it when the test ends.
func startRedis(t *testing.T) *lab.Redis {
	t.Helper()
	return labtest.StartRedis(t, "queue")
}

// newRedisClient returns a client of r with the short timeouts the
// service gives its own clients, closed when the test ends.
func newRedisClient(t *testing.T, r *lab.Redis) *redis.Client {
	t.Helper()

	rdb := redis.NewClient(&redis.Options{
		Addr:            fmt.Sprintf("127.0.0.1:%d", r.Port),
		DialTimeout:     300 * time.Millisecond,
		ReadTimeout:     500 * time.Millisecond,
		WriteTimeout:    500 * time.Millisecond,
		DisableIdentity: true,
		// Redis 7.0 does not know this handshake.
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// startWorker starts a worker and shuts it down when the test ends,
// unless the test did so itself.
func startWorker(t *testing.T, rdb redis.UniversalClient,
	cfg queue.WorkerConfig, log *slog.Logger) *queue.Worker {
	t.Helper()

	w := queue.NewWorker(rdb, cfg, log)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return w
}

// newLogger returns a logger that records everything.
func newLogger() (*slog.Logger, *logrec.Recorder) {
	rec := logrec.New(nil)
	return rec.Logger(), rec
}

// waitState polls the task's status until it is in state want, and
// returns that status. It fails the test after the timeout.
func waitState(t *testing.T, c *queue.Client, id string,
	want eleanor.TaskState, timeout time.Duration) *eleanor.TaskStatus {
	t.Helper()

	deadline := time.Now().Add(timeout)
	var last *eleanor.TaskStatus
	for time.Now().Before(deadline) {
		s, err := c.TaskStatus(context.Background(), id)
		if err != nil {
			t.Fatalf("TaskStatus(%s): %v", id, err)
		}
		if s.State == want {
			return s
		}
		last = s
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %s is %+v after %v, want state %s",
		id, last, timeout, want)
	return nil
}
