// Package labtest starts a lab topology for integration tests of other
// packages and stops it when the test ends.
package labtest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/lab"
)

// startWithin bounds starting a topology, data folders included.
const startWithin = 2 * time.Minute

// Require skips or fails the test when programs are missing: it skips,
// except when the CI environment variable is set, so that CI never skips
// silently.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	if err := lab.Require(programs...); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("lab: %v", err)
		}
		t.Fatalf("lab: %v", err)
	}
}

// StartRedis starts a lone Redis server on a free port, without
// persistence, and kills it when the test ends: for tests that need
// Redis and nothing else, at a fraction of the cost of Start.
func StartRedis(t testing.TB, name string) *lab.Redis {
	t.Helper()
	Require(t, "redis-server")
	r, err := lab.NewRedis(lab.RedisConfig{
		Name: name,
		Dir:  t.TempDir(),
		Port: FreePort(t),
	})
	if err != nil {
		t.Fatalf("lab: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("lab: %v", err)
	}
	// Kill, not Stop: there is nothing to save, and it ends a frozen
	// server as well.
	t.Cleanup(func() { _ = r.Kill() })
	return r
}

// Start starts a topology for the test and closes it in t.Cleanup.
// Missing programs skip the test, except when the CI environment
// variable is set: there the test fails, so that CI never skips
// silently. An empty o.Dir means t.TempDir(); a nil o.Out means the
// test's log, shown with -v or on failure.
func Start(t testing.TB, o lab.Options) *lab.Topology {
	t.Helper()
	Require(t, lab.TopologyPrograms()...)
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Out == nil {
		o.Out = testLog(t)
	}

	ctx, cancel := context.WithTimeout(context.Background(), startWithin)
	defer cancel()
	top, err := lab.Start(ctx, o)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if err := top.Close(); err != nil {
			t.Errorf("lab: %v", err)
		}
	})
	return top
}

// FreePort returns a TCP port that was free on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := lab.FreePorts(1)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	return ports[0]
}

// logWriter passes each write to t.Logf until the test ends, then
// drops them: t.Logf after the end of a test panics, and a stopping
// server may still write.
type logWriter struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

// testLog returns a logWriter closed by the test's last cleanup.
func testLog(t testing.TB) *logWriter {
	w := &logWriter{t: t}
	// Registered before the topology's cleanup, so it runs after it
	// and the shutdown logs are kept.
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
	})
	return w
}

// Write logs p without its trailing newline.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Logf("%s", strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
