package health_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/health"
	"github.com/eleanor-lab/eleanor/internal/fakeclock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fake is a check whose outcome a test sets and whose runs it counts.
type fake struct {
	name  string
	err   error
	runs  atomic.Int32
	onRun []bool
	mu    sync.Mutex
}

func (f *fake) check() health.Check {
	return health.Check{
		Name: f.name,
		Run: func(context.Context) (string, error) {
			f.runs.Add(1)
			if f.err != nil {
				return "", f.err
			}
			return f.name + " ok", nil
		},
		OnRun: func(passed bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.onRun = append(f.onRun, passed)
		},
	}
}

func (f *fake) calls() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.onRun...)
}

// checkAll runs c.Check and fails the test when the outcome is not ok.
func checkAll(
	t *testing.T,
	c *health.Checker,
	wantOK bool,
) []eleanor.CheckResult {
	t.Helper()

	rs, ok := c.Check(t.Context())
	if ok != wantOK {
		t.Fatalf("Check ok = %v, want %v; results %+v", ok, wantOK, rs)
	}
	return rs
}

// runs returns how many times each fake ran.
func runs(fs ...*fake) []int32 {
	var n []int32
	for _, f := range fs {
		n = append(n, f.runs.Load())
	}
	return n
}

func TestCheckServesFreshResultsFromCache(t *testing.T) {
	clk := fakeclock.New()
	db, cache := &fake{name: "db"}, &fake{name: "cache"}
	c := health.New([]health.Check{db.check(), cache.check()},
		health.Options{Now: clk.Now})

	first := checkAll(t, c, true)
	clk.Add(health.DefaultTTL - time.Nanosecond)
	second := checkAll(t, c, true)

	if diff := cmp.Diff([]int32{1, 1}, runs(db, cache)); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("cached results (-want +got):\n%s", diff)
	}
}

func TestCheckExpiresSuccessAndFailureSeparately(t *testing.T) {
	clk := fakeclock.New()
	start := clk.Now()
	good := &fake{name: "good"}
	bad := &fake{name: "bad", err: errors.New("connection refused")}
	c := health.New([]health.Check{good.check(), bad.check()},
		health.Options{
			SuccessTTL: 10 * time.Second,
			FailureTTL: 2 * time.Second,
			Now:        clk.Now,
		})

	got := checkAll(t, c, false)
	want := []eleanor.CheckResult{
		{Checker: "good", Output: "good ok", Passed: true,
			Timestamp: start, Expires: start.Add(10 * time.Second)},
		{Checker: "bad", Output: "connection refused",
			Timestamp: start, Expires: start.Add(2 * time.Second)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first results (-want +got):\n%s", diff)
	}

	clk.Add(2 * time.Second)
	checkAll(t, c, false)
	if diff := cmp.Diff([]int32{1, 2}, runs(good, bad)); diff != "" {
		t.Errorf("runs after failure TTL (-want +got):\n%s", diff)
	}

	clk.Add(8 * time.Second)
	got = checkAll(t, c, false)
	if diff := cmp.Diff([]int32{2, 3}, runs(good, bad)); diff != "" {
		t.Errorf("runs after success TTL (-want +got):\n%s", diff)
	}
	if !got[0].Timestamp.Equal(start.Add(10 * time.Second)) {
		t.Errorf("good Timestamp = %v, want the time of the new run",
			got[0].Timestamp)
	}
}

func TestOnRunIsCalledOnlyForRealRuns(t *testing.T) {
	clk := fakeclock.New()
	replica := &fake{name: "replica", err: errors.New("replica down")}
	c := health.New([]health.Check{replica.check()},
		health.Options{Now: clk.Now})

	checkAll(t, c, false)
	checkAll(t, c, false) // served from cache: must not call OnRun
	clk.Add(health.DefaultTTL)
	replica.err = nil
	checkAll(t, c, true)
	checkAll(t, c, true)

	if diff := cmp.Diff([]bool{false, true}, replica.calls()); diff != "" {
		t.Errorf("OnRun calls (-want +got):\n%s", diff)
	}
}

func TestConcurrentCallersShareOneRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		release := make(chan struct{})
		slow := health.Check{
			Name: "queue_check",
			Run: func(context.Context) (string, error) {
				n.Add(1)
				<-release
				return "queue ok", nil
			},
		}
		c := health.New([]health.Check{slow}, health.Options{})

		const callers = 10
		got := make([][]eleanor.CheckResult, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { got[i], _ = c.Check(t.Context()) })
		}

		// Every caller is now blocked: one in Run, the others waiting
		// for its result.
		synctest.Wait()
		if n.Load() != 1 {
			t.Errorf("runs while blocked = %d, want 1", n.Load())
		}
		close(release)
		wg.Wait()

		for i := range callers {
			if diff := cmp.Diff(got[0], got[i]); diff != "" {
				t.Errorf("caller %d (-want +got):\n%s", i, diff)
			}
		}
		if n.Load() != 1 {
			t.Errorf("runs = %d, want 1", n.Load())
		}
	})
}

func TestCallerGivingUpDoesNotCancelTheSharedRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		var ranWith []bool
		release := make(chan struct{})
		slow := health.Check{
			Name: "db_replica_check",
			Run: func(ctx context.Context) (string, error) {
				n.Add(1)
				select {
				case <-release:
					return "replica ok", nil
				case <-ctx.Done():
					return "", ctx.Err()
				}
			},
			OnRun: func(passed bool) { ranWith = append(ranWith, passed) },
		}
		c := health.New([]health.Check{slow}, health.Options{})

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan []eleanor.CheckResult)
		go func() {
			rs, _ := c.Check(ctx)
			done <- rs
		}()
		synctest.Wait()
		cancel()
		abandoned := <-done

		close(release)
		synctest.Wait() // the run finishes and fills the cache
		got := checkAll(t, c, true)

		if abandoned[0].Passed {
			t.Errorf("abandoned caller got a passed result: %+v",
				abandoned[0])
		}
		if got[0].Output != "replica ok" || n.Load() != 1 {
			t.Errorf("after release: output %q, runs %d; want %q, 1",
				got[0].Output, n.Load(), "replica ok")
		}
		if diff := cmp.Diff([]bool{true}, ranWith); diff != "" {
			t.Errorf("OnRun calls (-want +got):\n%s", diff)
		}
	})
}

func TestHangingCheckIsBoundedByItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// deaf ignores its context, as a badly written driver call
		// might; the checker must not wait for it anyway.
		unblock := make(chan struct{})
		defer close(unblock)
		deaf := health.Check{
			Name:    "cache_check",
			Timeout: 3 * time.Second,
			Run: func(context.Context) (string, error) {
				<-unblock
				return "cache ok", nil
			},
		}
		polite := health.Check{
			Name: "db_master_check",
			Run: func(ctx context.Context) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			},
		}
		fast := &fake{name: "db_replica_check"}
		c := health.New([]health.Check{deaf, polite, fast.check()},
			health.Options{})

		start := time.Now()
		got, ok := c.Check(t.Context())
		took := time.Since(start)

		if ok || took != 3*time.Second {
			t.Errorf("Check = ok %v after %v, want false after 3s",
				ok, took)
		}
		want := []string{
			"check timed out after 3s",
			"check timed out after 2s",
			"db_replica_check ok",
		}
		if diff := cmp.Diff(want, outputs(got)); diff != "" {
			t.Errorf("outputs (-want +got):\n%s", diff)
		}
	})
}

func TestResultsKeepTheOrderOfTheChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := []string{"a", "b", "c", "d"}
		gates := make([]chan struct{}, len(names))
		var checks []health.Check
		for i, name := range names {
			gates[i] = make(chan struct{})
			checks = append(checks, health.Check{
				Name: name,
				Run: func(context.Context) (string, error) {
					<-gates[i]
					return name, nil
				},
			})
		}
		c := health.New(checks, health.Options{})

		done := make(chan []eleanor.CheckResult)
		go func() {
			rs, _ := c.Check(t.Context())
			done <- rs
		}()
		// Finish the checks in reverse order.
		for i := len(gates) - 1; i >= 0; i-- {
			synctest.Wait()
			close(gates[i])
		}

		if diff := cmp.Diff(names, outputs(<-done)); diff != "" {
			t.Errorf("order (-want +got):\n%s", diff)
		}
	})
}

func TestPanickingCheckFailsItsResult(t *testing.T) {
	boom := health.Check{
		Name: "queue_check",
		Run: func(context.Context) (string, error) {
			panic("nil map")
		},
	}
	ok := &fake{name: "db"}
	c := health.New([]health.Check{boom, ok.check()}, health.Options{})

	got := checkAll(t, c, false)

	want := []string{"check panicked", "db ok"}
	if diff := cmp.Diff(want, outputs(got)); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestLongErrorIsTruncated(t *testing.T) {
	long := strings.Repeat("é", 500)
	f := &fake{name: "db", err: errors.New(long)}
	c := health.New([]health.Check{f.check()}, health.Options{})

	got := checkAll(t, c, false)[0].Output

	if len(got) > 200 || !strings.HasSuffix(got, "...") {
		t.Errorf("Output is %d bytes: %q", len(got), got)
	}
	if !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Errorf("Output %q is not a prefix of the error", got)
	}
}

func TestLogsRunsAndCacheHits(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf,
		&slog.HandlerOptions{Level: slog.LevelDebug}))
	f := &fake{name: "db", err: errors.New("access denied")}
	g := &fake{name: "cache"}
	clock := fakeclock.New()
	c := health.New([]health.Check{f.check(), g.check()},
		health.Options{Now: clock.Now, Logger: log,
			SuccessTTL: 20 * time.Second})

	checkAll(t, c, false)
	clock.Add(5 * time.Second)
	checkAll(t, c, false)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=INFO msg="check ran" component=health checker=cache ` +
			`passed=true duration=0s`,
		`level=INFO msg="check ran" component=health checker=db ` +
			`passed=false duration=0s output="access denied"`,
		`level=INFO msg="served from cache" component=health ` +
			`checkers="[db cache]" expires_in=10s`,
	}
	got := withoutTime(lines)
	// The two checks of the first call run concurrently: their lines
	// come in either order.
	slices.Sort(got[:2])
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

// withoutTime drops the leading time= field of text log lines.
func withoutTime(lines []string) []string {
	var out []string
	for _, l := range lines {
		_, rest, _ := strings.Cut(l, " ")
		out = append(out, rest)
	}
	return out
}

// outputs returns the Output of each result.
func outputs(rs []eleanor.CheckResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Output)
	}
	return out
}

// BenchmarkCheckCached measures a deep health check served from cache:
// what a flood of probes costs while results are fresh.
func BenchmarkCheckCached(b *testing.B) {
	ok := func(context.Context) (string, error) { return "ok", nil }
	c := health.New([]health.Check{
		{Name: "db_master_check", Run: ok},
		{Name: "db_slave_check", Run: ok},
		{Name: "redis_check", Run: ok},
		{Name: "task_check", Run: ok},
	}, health.Options{SuccessTTL: time.Hour})
	c.Check(context.Background())
	for b.Loop() {
		c.Check(context.Background())
	}
}
