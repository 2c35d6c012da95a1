package ratelimit_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/eleanor-lab/eleanor/internal/fakeclock"
	"github.com/eleanor-lab/eleanor/ratelimit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name       string
		remote     string
		forwarded  []string
		trustProxy bool
		want       string
	}{
		{name: "remote ipv4", remote: "192.0.2.7:51234",
			want: "192.0.2.7"},
		{name: "remote ipv6", remote: "[2001:db8::1]:443",
			want: "2001:db8::1"},
		{name: "mapped ipv4", remote: "[::ffff:192.0.2.7]:80",
			want: "192.0.2.7"},
		{name: "remote without port", remote: "192.0.2.7",
			want: "192.0.2.7"},
		{name: "header ignored without trust", remote: "10.0.0.2:80",
			forwarded: []string{"203.0.113.9"}, want: "10.0.0.2"},
		{name: "first forwarded address", remote: "10.0.0.2:80",
			forwarded:  []string{" 203.0.113.9 , 10.0.0.1"},
			trustProxy: true, want: "203.0.113.9"},
		{name: "first header line", remote: "10.0.0.2:80",
			forwarded:  []string{"203.0.113.9", "198.51.100.4"},
			trustProxy: true, want: "203.0.113.9"},
		{name: "garbage header falls back", remote: "10.0.0.2:80",
			forwarded:  []string{"unknown, 203.0.113.9"},
			trustProxy: true, want: "10.0.0.2"},
		{name: "no header falls back", remote: "10.0.0.2:80",
			trustProxy: true, want: "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/product/x", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.forwarded {
				r.Header.Add("X-Forwarded-For", v)
			}

			got := ratelimit.ClientIP(r, tt.trustProxy)

			if got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFailOpenWarnsAtMostOncePerInterval(t *testing.T) {
	clk := fakeclock.New()
	logs := &recorder{}
	fake := &fakeRedis{}
	fake.down.Store(true)
	const cooldown = time.Second
	l := ratelimit.New(fake, ratelimit.Options{
		Logger:   slog.New(logs),
		Now:      clk.Now,
		Cooldown: cooldown,
	})
	lim := ratelimit.Limit{Rate: 10, Period: time.Second}

	allowN(t, l, 1, lim) // a warning
	for range 5 {
		clk.Add(cooldown)
		allowN(t, l, 1, lim) // a probe that fails, held back
		l.WaitProbes()
	}
	clk.Add(ratelimit.LogEvery - 5*cooldown)
	allowN(t, l, 1, lim) // a probe, warning of five held back
	l.WaitProbes()
	fake.down.Store(false)
	clk.Add(cooldown)
	allowN(t, l, 1, lim) // a probe that succeeds: one note of recovery
	l.WaitProbes()
	allowN(t, l, 2, lim)

	want := []string{
		"WARN rate limiter failing open: redis unavailable suppressed=0",
		"WARN rate limiter failing open: redis unavailable suppressed=5",
		"INFO rate limiter recovered: redis answers again",
	}
	if diff := cmp.Diff(want, logs.lines()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

func TestFailOpenSkipsRedisDuringCooldown(t *testing.T) {
	clk := fakeclock.New()
	fake := &fakeRedis{}
	fake.down.Store(true)
	l := ratelimit.New(fake, ratelimit.Options{
		Now:      clk.Now,
		Cooldown: time.Second,
	})
	lim := ratelimit.Limit{Rate: 10, Period: time.Second}

	allowN(t, l, 10, lim)
	if got := fake.calls.Load(); got != 1 {
		t.Errorf("%d calls to Redis within the cooldown, want 1", got)
	}
	clk.Add(time.Second)
	allowN(t, l, 10, lim)
	l.WaitProbes()
	if got := fake.calls.Load(); got != 2 {
		t.Errorf("%d calls to Redis after the cooldown, want 2: "+
			"one probe", got)
	}
}

func TestNoRequestWaitsForRedisWhileItIsDown(t *testing.T) {
	clk := fakeclock.New()
	fake := &fakeRedis{}
	fake.down.Store(true)
	l := ratelimit.New(fake, ratelimit.Options{
		Now:      clk.Now,
		Cooldown: time.Second,
		Timeout:  time.Minute, // the probe must not time out here
	})
	lim := ratelimit.Limit{Rate: 10, Period: time.Second}
	l.Allow(t.Context(), "client", lim) // finds Redis down

	fake.down.Store(false)
	fake.block()
	clk.Add(time.Second)
	got := []ratelimit.Decision{
		l.Allow(t.Context(), "client", lim), // starts a probe
		l.Allow(t.Context(), "client", lim), // while it runs
	}
	fake.unblock()
	l.WaitProbes()
	got = append(got, l.Allow(t.Context(), "client", lim))

	degraded := ratelimit.Decision{Allowed: true, Degraded: true}
	want := []ratelimit.Decision{degraded, degraded, {Allowed: true,
		Limit: 10, Remaining: 9, ResetAfter: 100 * time.Millisecond}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if n := fake.calls.Load(); n != 3 {
		t.Errorf("redis calls = %d, want 3: the failure, the probe, "+
			"the request after it", n)
	}
}

func TestNoLimitNeverAsksRedis(t *testing.T) {
	fake := &fakeRedis{}
	fake.down.Store(true)
	l := ratelimit.New(fake, ratelimit.Options{})

	got := l.Allow(t.Context(), "k", ratelimit.Limit{Period: time.Second})

	if diff := cmp.Diff(ratelimit.Decision{Allowed: true}, got); diff != "" {
		t.Errorf("Allow (-want +got):\n%s", diff)
	}
	if n := fake.calls.Load(); n != 0 {
		t.Errorf("redis calls = %d, want 0", n)
	}
}

func TestMiddlewareSkipsUnlimitedRoutes(t *testing.T) {
	fake := &fakeRedis{}
	l := ratelimit.New(fake, ratelimit.Options{})
	classify := func(*http.Request) (string, ratelimit.Limit, bool) {
		return "", ratelimit.Limit{}, false
	}
	h := l.Middleware(classify, refuse, false)(ok200())

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/echo", nil))

	if w.Code != http.StatusOK || w.Header().Get("X-RateLimit-Limit") != "" {
		t.Errorf("got %d with headers %v, want 200 and no limit headers",
			w.Code, w.Header())
	}
	if n := fake.calls.Load(); n != 0 {
		t.Errorf("redis calls = %d, want 0", n)
	}
}

// allowN calls Allow n times and fails the test unless each request was
// allowed.
func allowN(t *testing.T, l *ratelimit.Limiter, n int, lim ratelimit.Limit) {
	t.Helper()

	for range n {
		if d := l.Allow(t.Context(), "client", lim); !d.Allowed {
			t.Fatalf("Allow = %+v, want allowed", d)
		}
	}
}

// ok200 is a handler that answers 200 with no body.
func ok200() http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
}

// refuse answers 429, as the HTTP layer's deny function would.
func refuse(w http.ResponseWriter, _ *http.Request, _ time.Duration) {
	w.WriteHeader(http.StatusTooManyRequests)
}

// fakeRedis answers the limiter's script calls without a server: with an
// error while down, else with "allowed, 9 remaining". Any other method
// panics through the nil embedded client, which would mean the limiter
// started to use Redis differently.
type fakeRedis struct {
	redis.UniversalClient
	down  atomic.Bool
	calls atomic.Int32

	// gate, when not nil, holds every answer until it is closed.
	mu   sync.Mutex
	gate chan struct{}
}

// block makes the answers wait until unblock.
func (f *fakeRedis) block() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
}

// unblock releases the answers held since block.
func (f *fakeRedis) unblock() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.gate)
	f.gate = nil
}

func (f *fakeRedis) EvalSha(
	ctx context.Context, _ string, _ []string, _ ...any,
) *redis.Cmd {
	return f.answer(ctx)
}

func (f *fakeRedis) Eval(
	ctx context.Context, _ string, _ []string, _ ...any,
) *redis.Cmd {
	return f.answer(ctx)
}

func (f *fakeRedis) answer(ctx context.Context) *redis.Cmd {
	f.calls.Add(1)
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}

	cmd := redis.NewCmd(ctx)
	if f.down.Load() {
		cmd.SetErr(errors.New("dial tcp 127.0.0.1:6379: connection refused"))
		return cmd
	}
	cmd.SetVal([]any{int64(1), int64(9), "-1", "0.1"})
	return cmd
}

// recorder is a slog handler that keeps the level, message and
// "suppressed" attribute of each record.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			line += " suppressed=" + a.Value.String()
		}
		return true
	})

	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, line)
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }

func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// BenchmarkAllowWhileRedisDown measures what a request pays for the rate
// limit while Redis is down: no call to Redis, only the check of the
// limiter's state and, once per cooldown, the start of a probe.
func BenchmarkAllowWhileRedisDown(b *testing.B) {
	fake := &fakeRedis{}
	fake.down.Store(true)
	l := ratelimit.New(fake, ratelimit.Options{})
	lim := ratelimit.Limit{Rate: 10, Period: time.Second}
	l.Allow(b.Context(), "client", lim) // finds Redis down

	for b.Loop() {
		l.Allow(b.Context(), "client", lim)
	}
	l.WaitProbes()
}
