package ratelimit_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eleanor-lab/eleanor/internal/fakeclock"
	"github.com/eleanor-lab/eleanor/ratelimit"
)

// response is what a client sees of one limited request.
type response struct {
	Code                    int
	Limit, Remaining, Reset string
	RetryAfter              string
}

func TestMiddlewareAllowsBurstThenRefuses(t *testing.T) {
	srv := startRedis(t)
	rdb := client(t, srv)
	l := ratelimit.New(rdb, ratelimit.Options{})
	classify := func(*http.Request) (string, ratelimit.Limit, bool) {
		return "api", ratelimit.Limit{Rate: 3, Period: time.Minute}, true
	}
	var denied time.Duration
	deny := func(w http.ResponseWriter, _ *http.Request, d time.Duration) {
		denied = d
		w.WriteHeader(http.StatusTooManyRequests)
	}
	h := l.Middleware(classify, deny, false)(ok200())

	var got []response
	for range 4 {
		got = append(got, serve(h, "192.0.2.1:4000"))
	}

	// 3 per minute: one request every 20 s, and a burst of 3.
	want := []response{
		{Code: 200, Limit: "3", Remaining: "2", Reset: "20"},
		{Code: 200, Limit: "3", Remaining: "1", Reset: "40"},
		{Code: 200, Limit: "3", Remaining: "0", Reset: "60"},
		{Code: 429, Limit: "3", Remaining: "0", Reset: "60",
			RetryAfter: "20"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	if denied <= 19*time.Second || denied > 20*time.Second {
		t.Errorf("deny got retry %v, want just under 20s", denied)
	}
	if r := serve(h, "192.0.2.2:4000"); r.Code != http.StatusOK {
		t.Errorf("another client got %d, want 200", r.Code)
	}

	keys, err := rdb.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	wantKeys := []string{
		"eleanor:rl:api:192.0.2.1",
		"eleanor:rl:api:192.0.2.2",
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(wantKeys, keys, sorted); diff != "" {
		t.Errorf("redis keys (-want +got):\n%s", diff)
	}
}

func TestInstancesShareTheCount(t *testing.T) {
	srv := startRedis(t)
	api1 := ratelimit.New(client(t, srv), ratelimit.Options{})
	api2 := ratelimit.New(client(t, srv), ratelimit.Options{})
	lim := ratelimit.Limit{Rate: 4, Period: time.Minute}

	var got []bool
	for i := range 6 {
		l := api1
		if i%2 == 1 {
			l = api2
		}
		got = append(got, l.Allow(t.Context(), "api:192.0.2.1", lim).Allowed)
	}

	want := []bool{true, true, true, true, false, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allowed (-want +got):\n%s", diff)
	}
}

func TestFailsOpenWhenRedisStops(t *testing.T) {
	srv := startRedis(t)
	logs := &recorder{}
	l := ratelimit.New(client(t, srv), ratelimit.Options{
		Timeout: 100 * time.Millisecond,
		Logger:  slog.New(logs),
	})
	lim := ratelimit.Limit{Rate: 1, Period: time.Minute}
	if d := l.Allow(t.Context(), "k", lim); !d.Allowed || d.Degraded {
		t.Fatalf("with redis up: %+v, want allowed and not degraded", d)
	}

	if err := srv.Kill(); err != nil {
		t.Fatalf("stop redis: %v", err)
	}
	start := time.Now()
	got := []ratelimit.Decision{
		l.Allow(t.Context(), "k", lim),
		l.Allow(t.Context(), "k", lim),
	}
	took := time.Since(start)

	want := []ratelimit.Decision{
		{Allowed: true, Degraded: true},
		{Allowed: true, Degraded: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if took > time.Second {
		t.Errorf("two calls took %v, want each within the timeout", took)
	}
	wantLogs := []string{
		"WARN rate limiter failing open: redis unavailable suppressed=0",
	}
	if diff := cmp.Diff(wantLogs, logs.lines()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

func TestFailsOpenWithinTimeoutWhenRedisHangs(t *testing.T) {
	srv := startRedis(t)
	logs := &recorder{}
	const timeout = 100 * time.Millisecond
	clk := fakeclock.New()
	l := ratelimit.New(client(t, srv), ratelimit.Options{
		Timeout:  timeout,
		Logger:   slog.New(logs),
		Now:      clk.Now,
		Cooldown: time.Second,
	})
	lim := ratelimit.Limit{Rate: 10, Period: time.Minute}
	allowN(t, l, 1, lim) // opens a connection and loads the script

	if err := srv.Freeze(); err != nil {
		t.Fatalf("freeze redis: %v", err)
	}
	start := time.Now()
	d := l.Allow(t.Context(), "k", lim)
	took := time.Since(start)
	if err := srv.Thaw(); err != nil {
		t.Fatalf("thaw redis: %v", err)
	}

	if !d.Allowed || !d.Degraded {
		t.Errorf("with redis frozen: %+v, want allowed and degraded", d)
	}
	// go-redis alone would wait for its 3 s read timeout.
	if took < timeout || took > timeout+500*time.Millisecond {
		t.Errorf("Allow took %v, want about %v", took, timeout)
	}

	clk.Add(time.Second) // the cooldown after the failure
	if d := l.Allow(t.Context(), "k", lim); !d.Degraded {
		t.Errorf("after thaw, before a probe: %+v, want degraded", d)
	}
	l.WaitProbes()
	if d := l.Allow(t.Context(), "k", lim); d.Degraded {
		t.Errorf("after thaw and a probe: %+v, want not degraded", d)
	}
	want := []string{
		"WARN rate limiter failing open: redis unavailable suppressed=0",
		"INFO rate limiter recovered: redis answers again",
	}
	if diff := cmp.Diff(want, logs.lines()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

// serve sends one GET from remote through h and reports what came back.
func serve(h http.Handler, remote string) response {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/product/x", nil)
	r.RemoteAddr = remote

	h.ServeHTTP(w, r)

	hd := w.Header()
	return response{
		Code:       w.Code,
		Limit:      hd.Get("X-RateLimit-Limit"),
		Remaining:  hd.Get("X-RateLimit-Remaining"),
		Reset:      hd.Get("X-RateLimit-Reset"),
		RetryAfter: hd.Get("Retry-After"),
	}
}
