package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/eleanor-lab/eleanor"
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

// entry is one log record, with its attributes as text.
type entry struct {
	Time  time.Time
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// recorder keeps the records of every logger made by newLogger.
type recorder struct {
	mu      sync.Mutex
	entries []entry
}

// find returns the entries with the given message whose attributes
// include all of those given.
func (r *recorder) find(msg string, attrs map[string]string) []entry {
	r.mu.Lock()
	defer r.mu.Unlock()

	var found []entry
	for _, e := range r.entries {
		if e.Msg == msg && hasAttrs(e, attrs) {
			found = append(found, e)
		}
	}
	return found
}

// hasAttrs reports whether e has every attribute of attrs.
func hasAttrs(e entry, attrs map[string]string) bool {
	for k, v := range attrs {
		if e.Attrs[k] != v {
			return false
		}
	}
	return true
}

// recordHandler is a slog.Handler that stores records in a recorder.
type recordHandler struct {
	rec   *recorder
	attrs []slog.Attr
}

// newLogger returns a logger that records everything at Info and above.
func newLogger() (*slog.Logger, *recorder) {
	rec := &recorder{}
	return slog.New(&recordHandler{rec: rec}), rec
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo
}

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	e := entry{Time: r.Time, Level: r.Level, Msg: r.Message,
		Attrs: map[string]string{}}
	for _, a := range h.attrs {
		e.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		e.Attrs[a.Key] = a.Value.String()
		return true
	})

	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	h.rec.entries = append(h.rec.entries, e)
	return nil
}

func (h *recordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordHandler{rec: h.rec, attrs: slices.Concat(h.attrs, attrs)}
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

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
