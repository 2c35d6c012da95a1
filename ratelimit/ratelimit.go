// Package ratelimit limits how often clients may call the API. The counters
// live in the cache Redis, so that every API instance behind the load
// balancer enforces one shared limit rather than one each.
//
// The algorithm is GCRA, as implemented by go-redis/redis_rate: a single
// Lua script per request, no background work, and a smooth refill instead
// of a window that resets all at once.
//
// The limiter fails open. Rate limiting protects the service; it is not
// worth refusing every request because its own store is down, nor slowing
// every request because that store hangs. So a Redis error or timeout
// allows the request, marks the decision as degraded and logs a warning,
// at most once per LogEvery so that an outage does not flood the logs.
//
// After such a failure no request waits for Redis again until Redis is
// known to answer: requests are allowed at once, and a single probe in
// the background, at most one per Cooldown, asks Redis whether it is back.
// Only the requests that were waiting for Redis when it failed pay the
// timeout.
package ratelimit

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/eleanor-lab/eleanor/internal/bounded"
	"github.com/eleanor-lab/eleanor/internal/throttle"
)

// KeyPrefix starts the name of every Redis key the limiter writes.
const KeyPrefix = "eleanor:rl:"

const (
	// DefaultTimeout bounds each call to Redis when Options set none.
	DefaultTimeout = 100 * time.Millisecond

	// LogEvery is the least time between two warnings that the limiter
	// fails open; the warnings held back in between are counted.
	LogEvery = 10 * time.Second
)

// Limit is how many requests a client may make: Rate per Period on
// average, and at most Burst at once.
type Limit struct {
	Rate   int
	Period time.Duration

	// Burst is the most requests allowed at once, after a quiet spell.
	// Zero means Rate.
	Burst int
}

// Options configure a Limiter. The zero value is usable.
type Options struct {
	// Timeout bounds each call to Redis. Zero means DefaultTimeout: a
	// limiter must never slow down the request it guards.
	Timeout time.Duration

	// Logger receives a warning when the limiter fails open and a note
	// when Redis answers again. Nil discards them.
	Logger *slog.Logger

	// Now returns the current time; it decides when the next warning may
	// be logged and when Redis is asked again. Nil means time.Now.
	Now func() time.Time

	// Cooldown is the least time between two background probes of a
	// Redis that failed; requests fail open at once meanwhile. Zero
	// means DefaultCooldown.
	Cooldown time.Duration
}

// DefaultCooldown is the default of Options.Cooldown.
const DefaultCooldown = time.Second

// Decision is the outcome of one request to the limiter.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool

	// Limit is the limit's burst: the most requests allowed at once.
	// Remaining is how many more are allowed right now.
	Limit, Remaining int

	// RetryAfter is how long to wait before the next request can be
	// allowed; zero when this one was. ResetAfter is how long until
	// the client's full burst is available again.
	RetryAfter, ResetAfter time.Duration

	// Degraded is true when Redis could not be asked and the request was
	// allowed anyway. The other counts are then meaningless.
	Degraded bool
}

// Limiter decides whether requests are allowed, with counters shared by
// every instance that uses the same Redis. It is safe for concurrent use.
type Limiter struct {
	gcra     *redis_rate.Limiter
	timeout  time.Duration
	cooldown time.Duration
	now      func() time.Time
	log      *slog.Logger
	warn     *throttle.Throttle

	// down is set when a call to Redis fails and cleared when a probe
	// finds Redis answering again; while it is set, requests do not ask
	// Redis.
	down atomic.Bool

	// nextProbe is when the next probe may start, in Unix nanoseconds;
	// probing tells whether one is running.
	nextProbe atomic.Int64
	probing   atomic.Bool
	probes    sync.WaitGroup
}

// New returns a Limiter that keeps its counters in rdb.
func New(rdb redis.UniversalClient, o Options) *Limiter {
	l := &Limiter{
		gcra:     redis_rate.NewLimiter(prefixed{rdb}),
		timeout:  o.Timeout,
		log:      o.Logger,
		warn:     throttle.New(o.Now, LogEvery),
		now:      o.Now,
		cooldown: o.Cooldown,
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.cooldown <= 0 {
		l.cooldown = DefaultCooldown
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("component", "ratelimit")
	return l
}

// Allow counts one request against key under lim and reports whether it
// may proceed. The counter is stored in Redis as KeyPrefix+key. A limit
// with no positive Rate or Period is no limit: every request is allowed.
// Allow never fails: when Redis does not answer within the timeout, the
// request is allowed and the decision is Degraded, and so are the
// requests after it, at once, until a probe finds Redis answering.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) Decision {
	if lim.Rate <= 0 || lim.Period <= 0 {
		return Decision{Allowed: true}
	}
	gl := redis_rate.Limit{Rate: lim.Rate, Period: lim.Period,
		Burst: lim.Burst}
	if gl.Burst <= 0 {
		gl.Burst = gl.Rate
	}

	if l.down.Load() {
		l.probe(key, gl)
		return Decision{Allowed: true, Degraded: true}
	}
	res, err := l.ask(ctx, key, gl)
	if err != nil {
		return l.failOpen(ctx, key, err)
	}

	return Decision{
		Allowed:    res.Allowed > 0,
		Limit:      gl.Burst,
		Remaining:  res.Remaining,
		RetryAfter: max(res.RetryAfter, 0),
		ResetAfter: max(res.ResetAfter, 0),
	}
}

// ask runs the GCRA script, waiting at most the limiter's timeout. The call
// runs in its own goroutine because a Redis client that does not apply
// context deadlines to socket reads (go-redis without
// ContextTimeoutEnabled) would otherwise hold the request for its own,
// much longer, read timeout when Redis hangs.
func (l *Limiter) ask(
	ctx context.Context,
	key string,
	lim redis_rate.Limit,
) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	return bounded.Call(ctx, func() (*redis_rate.Result, error) {
		return l.gcra.Allow(ctx, key, lim)
	})
}

// failOpen allows a request that Redis could not rule on, and warns unless
// a warning went out recently.
func (l *Limiter) failOpen(
	ctx context.Context,
	key string,
	err error,
) Decision {
	// A caller that went away, or ran out of its own time, is no sign
	// of trouble with Redis: nothing to warn about.
	if ctx.Err() != nil {
		return Decision{Allowed: true, Degraded: true}
	}

	l.markDown(key, err)
	return Decision{Allowed: true, Degraded: true}
}

// markDown records a failed call to Redis: requests stop asking it, and
// the next probe waits for the cooldown.
func (l *Limiter) markDown(key string, err error) {
	l.nextProbe.Store(l.now().Add(l.cooldown).UnixNano())
	l.down.Store(true)
	if ok, skipped := l.warn.Allow(); ok {
		l.log.Warn("rate limiter failing open: redis unavailable",
			"key", KeyPrefix+key, "err", err, "suppressed", skipped)
	}
}

// probe asks Redis in the background whether it answers again, unless a
// probe runs already or the cooldown has not passed. It counts the
// request that started it against key, as Allow would have: the request
// happened, even if it was let through unchecked.
func (l *Limiter) probe(key string, lim redis_rate.Limit) {
	if l.now().UnixNano() < l.nextProbe.Load() ||
		!l.probing.CompareAndSwap(false, true) {
		return
	}

	l.probes.Add(1)
	go func() {
		defer l.probes.Done()
		defer l.probing.Store(false)

		if _, err := l.ask(context.Background(), key, lim); err != nil {
			l.markDown(key, err)
			return
		}
		l.down.Store(false)
		if l.warn.Recovered() {
			l.log.Info("rate limiter recovered: redis answers again")
		}
	}()
}

// prefixed renames the keys redis_rate writes, which it prefixes with
// "rate:", so that all of eleanor's limiter keys share KeyPrefix and can
// be found, and cleared, together on the shared cache Redis.
type prefixed struct{ redis.UniversalClient }

func (p prefixed) Eval(
	ctx context.Context, script string, keys []string, args ...any,
) *redis.Cmd {
	return p.UniversalClient.Eval(ctx, script, rename(keys), args...)
}

func (p prefixed) EvalSha(
	ctx context.Context, sha1 string, keys []string, args ...any,
) *redis.Cmd {
	return p.UniversalClient.EvalSha(ctx, sha1, rename(keys), args...)
}

func (p prefixed) EvalRO(
	ctx context.Context, script string, keys []string, args ...any,
) *redis.Cmd {
	return p.UniversalClient.EvalRO(ctx, script, rename(keys), args...)
}

func (p prefixed) EvalShaRO(
	ctx context.Context, sha1 string, keys []string, args ...any,
) *redis.Cmd {
	return p.UniversalClient.EvalShaRO(ctx, sha1, rename(keys), args...)
}

func (p prefixed) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return p.UniversalClient.Del(ctx, rename(keys)...)
}

// rename swaps redis_rate's key prefix for KeyPrefix.
func rename(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		if rest, ok := strings.CutPrefix(k, "rate:"); ok {
			k = KeyPrefix + rest
		}
		out[i] = k
	}
	return out
}
