// Package backoff holds the retry policies of eleanor: how long a failed
// task waits before its next attempt. The two demo tasks of the
// walkthrough use one policy each, so that an audience can watch the
// difference: Fixed, the dangerous pattern, and Exponential, the good one.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy computes the delay before a retry. Attempt 0 is the delay before
// the first retry, attempt 1 the delay before the second, and so on.
type Policy interface {
	Delay(attempt int) time.Duration
}

// Fixed waits the same delay before every retry.
//
// It is the dangerous pattern, kept to be shown: when a dependency fails,
// every client that saw the failure retries after exactly the same delay,
// so the retries arrive together, in waves, at the moment the dependency
// is trying to recover. Those synchronized waves can knock it down again
// and keep it down for as long as the clients keep retrying.
type Fixed time.Duration

// Delay returns the fixed delay, whatever the attempt.
func (f Fixed) Delay(attempt int) time.Duration {
	return time.Duration(f)
}

// Exponential is capped exponential backoff with full jitter:
//
//	delay = random in [0, min(Cap, Base·2^attempt))
//
// The exponential growth gives a struggling dependency more room after
// every failure; the cap bounds the wait of a client that keeps failing;
// the jitter spreads the clients' retries over the whole window, so they
// stop arriving together. Full jitter (the whole window, not a small
// noise around the ceiling) is what breaks the synchronization best.
type Exponential struct {
	// Base is the ceiling of the first delay. Zero or negative means no
	// delay at all.
	Base time.Duration

	// Cap is the largest ceiling. Zero or negative means no cap.
	Cap time.Duration

	// Rand returns a number in [0, 1). Nil means math/rand/v2's
	// Float64; tests inject a fixed sequence to make delays predictable.
	Rand func() float64
}

// Delay returns a random delay in [0, min(Cap, Base·2^attempt)).
// A negative attempt counts as attempt 0.
func (e Exponential) Delay(attempt int) time.Duration {
	ceiling := e.ceiling(attempt)
	if ceiling <= 0 {
		return 0
	}

	random := e.Rand
	if random == nil {
		random = rand.Float64
	}
	d := time.Duration(random() * float64(ceiling))

	// Float rounding, or an injected Rand outside [0, 1), could land on
	// or past the edge of the window; keep the promise of the formula.
	return max(0, min(d, ceiling-1))
}

// ceiling returns min(Cap, Base·2^attempt) without overflowing: the
// doubling stops as soon as it reaches the cap or would pass the largest
// Duration, which a large attempt such as 1000 would otherwise wrap into a
// negative number.
func (e Exponential) ceiling(attempt int) time.Duration {
	const maxDuration = time.Duration(1<<63 - 1)

	limit := e.Cap
	if limit <= 0 {
		limit = maxDuration
	}
	c := min(e.Base, limit)
	for i := 0; i < attempt && c < limit; i++ {
		if c > maxDuration/2 {
			return limit
		}
		c = min(2*c, limit)
	}
	return c
}
