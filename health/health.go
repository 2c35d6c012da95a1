// Package health runs the deep health check of eleanor: one check per
// dependency, each bounded by its own timeout, run concurrently and cached
// for a while so that a flood of probes costs the dependencies almost
// nothing.
//
// Three rules shape it. A result is served from cache while it is fresh,
// separately for successes and failures. Callers that arrive while an
// expired check runs share that one run instead of starting their own. And
// a run belongs to no single caller: a caller that gives up stops waiting,
// but the run goes on to its own timeout, so its result still lands in the
// cache for the callers after it.
package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/internal/bounded"
)

// Defaults used when the matching field is zero.
const (
	// DefaultTimeout bounds a run of a check that sets no Timeout.
	DefaultTimeout = 2 * time.Second

	// DefaultTTL is how long a result is cached when Options set no TTL.
	DefaultTTL = 15 * time.Second
)

// maxOutput bounds the length of a result's Output, so that a check that
// returns a long error cannot bloat every health response.
const maxOutput = 200

// Check is one dependency check.
type Check struct {
	// Name identifies the check in results and logs, for example
	// "db_master_check".
	Name string

	// Timeout bounds one run of the check. Zero means DefaultTimeout.
	Timeout time.Duration

	// Run checks the dependency and returns a short message such as
	// "db master ok". The error it returns must be safe to show to a
	// client: it becomes the result's Output, shortened if long.
	Run func(ctx context.Context) (output string, err error)

	// OnRun, when not nil, is called with the outcome each time the
	// check really ran, never for a result served from cache. The
	// replica check uses it to set or clear the shared force-primary
	// flag: if cached results also touched the flag, instances whose
	// caches expire at different times would make it flap.
	OnRun func(passed bool)
}

// Options configure a Checker. The zero value is usable.
type Options struct {
	// SuccessTTL is how long a passed result is served from cache.
	// Zero means DefaultTTL.
	SuccessTTL time.Duration

	// FailureTTL is how long a failed result is served from cache.
	// Zero means DefaultTTL.
	FailureTTL time.Duration

	// Now returns the current time; it decides freshness and the
	// results' timestamps. Nil means time.Now.
	Now func() time.Time

	// Logger receives one record per check that ran and one per call
	// for the results served from cache, both at Info. Nil discards
	// them.
	Logger *slog.Logger
}

// Checker runs a fixed set of checks and caches their results. It is safe
// for concurrent use.
type Checker struct {
	checks     []Check
	successTTL time.Duration
	failureTTL time.Duration
	now        func() time.Time
	log        *slog.Logger

	// flights shares one run of an expired check among its callers; the
	// key is the check's index, since names need not be unique.
	flights singleflight.Group

	mu    sync.Mutex
	cache []eleanor.CheckResult // by check index; zero until first run
}

// New returns a Checker for the checks, which it runs in the given order.
func New(checks []Check, o Options) *Checker {
	c := &Checker{
		checks:     append([]Check(nil), checks...),
		successTTL: orDefault(o.SuccessTTL, DefaultTTL),
		failureTTL: orDefault(o.FailureTTL, DefaultTTL),
		now:        o.Now,
		log:        o.Logger,
		cache:      make([]eleanor.CheckResult, len(checks)),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "health")
	return c
}

// Check runs all checks concurrently and returns their results in the
// order of the checks, and whether all of them passed. A fresh result is
// served from cache without calling the dependency. When ctx ends first,
// the checks still running are reported as failed for this caller only.
func (c *Checker) Check(
	ctx context.Context,
) (results []eleanor.CheckResult, ok bool) {
	results = make([]eleanor.CheckResult, len(c.checks))
	fromCache := make([]bool, len(c.checks))

	var wg sync.WaitGroup
	for i := range c.checks {
		wg.Go(func() { results[i], fromCache[i] = c.one(ctx, i) })
	}
	wg.Wait()

	c.logCacheHits(results, fromCache)
	ok = true
	for _, r := range results {
		ok = ok && r.Passed
	}
	return results, ok
}

// logCacheHits writes one line for the results served from cache, so
// that an audience sees the cache at work without a line per check.
func (c *Checker) logCacheHits(results []eleanor.CheckResult,
	fromCache []bool) {
	var names []string
	var first time.Time
	for i, r := range results {
		if !fromCache[i] {
			continue
		}
		names = append(names, r.Checker)
		if first.IsZero() || r.Expires.Before(first) {
			first = r.Expires
		}
	}
	if len(names) == 0 {
		return
	}
	c.log.Info("served from cache", "checkers", names,
		"expires_in", first.Sub(c.now()).Round(time.Millisecond))
}

// one returns the result of check i, from cache when fresh, else from a
// run shared with any other caller waiting for the same check; cached
// tells which.
func (c *Checker) one(ctx context.Context,
	i int) (r eleanor.CheckResult, cached bool) {
	if r, fresh := c.cached(i); fresh {
		return r, true
	}

	// The run is detached from ctx: the caller that happens to start it
	// must not be able to cut it short for everyone else waiting on it.
	detached := context.WithoutCancel(ctx)
	ch := c.flights.DoChan(strconv.Itoa(i), func() (any, error) {
		return c.refresh(detached, i), nil
	})

	select {
	case res := <-ch:
		return res.Val.(eleanor.CheckResult), false
	case <-ctx.Done():
		now := c.now()
		return eleanor.CheckResult{
			Checker:   c.checks[i].Name,
			Output:    "check still running",
			Timestamp: now,
			Expires:   now,
		}, false
	}
}

// cached returns the last result of check i and whether it is still fresh.
func (c *Checker) cached(i int) (eleanor.CheckResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	r := c.cache[i]
	return r, !r.Expires.IsZero() && c.now().Before(r.Expires)
}

// refresh runs check i unless a run that finished a moment ago already
// refreshed it, stores the result and reports it.
func (c *Checker) refresh(ctx context.Context, i int) eleanor.CheckResult {
	// A flight is forgotten as soon as it finishes, so a caller that saw
	// the stale entry just before may start a new one: look again.
	if r, fresh := c.cached(i); fresh {
		return r
	}

	chk := c.checks[i]
	r, took := c.run(ctx, chk)

	c.mu.Lock()
	c.cache[i] = r
	c.mu.Unlock()

	c.logRun(r, took)
	if chk.OnRun != nil {
		chk.OnRun(r.Passed)
	}
	return r
}

// run calls the check once, bounded by its timeout, and builds its result.
func (c *Checker) run(
	ctx context.Context,
	chk Check,
) (eleanor.CheckResult, time.Duration) {
	timeout := orDefault(chk.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := c.now()
	out, err := c.callBounded(ctx, chk, timeout)
	took := c.now().Sub(start)

	r := eleanor.CheckResult{
		Checker:   chk.Name,
		Output:    out,
		Passed:    err == nil,
		Timestamp: start,
		Expires:   start.Add(c.successTTL),
	}
	if err != nil {
		r.Output = truncate(err.Error())
		r.Expires = start.Add(c.failureTTL)
	}
	return r, took
}

// callBounded calls run in its own goroutine and waits for it at most until
// ctx ends, so that a check that ignores its context still cannot hold up
// the health response. Such a check's goroutine lives on until it returns.
func (c *Checker) callBounded(
	ctx context.Context,
	chk Check,
	timeout time.Duration,
) (string, error) {
	out, err := bounded.Call(ctx, func() (string, error) {
		return c.callSafely(ctx, chk)
	})
	switch {
	case err == nil || ctx.Err() == nil:
		return truncate(out), err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "", fmt.Errorf("check timed out after %s", timeout)
	}
	return "", errors.New("check canceled")
}

// callSafely calls the check's Run and turns a panic into an error, because
// a broken check must fail its result, not crash the process.
func (c *Checker) callSafely(ctx context.Context,
	chk Check) (out string, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("check panicked", "checker", chk.Name,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out, err = "", errors.New("check panicked")
		}
	}()
	return chk.Run(ctx)
}

// logRun records a check that really ran; failures carry their output so
// that an audience can see why.
func (c *Checker) logRun(r eleanor.CheckResult, took time.Duration) {
	attrs := []any{"checker", r.Checker, "passed", r.Passed,
		"duration", took}
	if !r.Passed {
		attrs = append(attrs, "output", r.Output)
	}
	c.log.Info("check ran", attrs...)
}

// truncate shortens s to at most maxOutput bytes without splitting a
// multi-byte character.
func truncate(s string) string {
	if len(s) <= maxOutput {
		return s
	}
	cut := maxOutput - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// orDefault returns d when v is zero or negative, else v.
func orDefault(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}
