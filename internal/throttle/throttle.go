// Package throttle keeps repeated log messages from flooding the logs
// while a dependency is down: a loop that fails ten times a second should
// say so once every few seconds, with a count of what it held back.
package throttle

import (
	"sync"
	"sync/atomic"
	"time"
)

// Throttle lets a repeated message through at most once per interval and
// counts the ones it held back. It also remembers whether the failures
// have stopped, so that the recovery can be logged exactly once.
type Throttle struct {
	now   func() time.Time
	every time.Duration

	// failing is read on every successful request, so it is an atomic
	// rather than a field under mu.
	failing atomic.Bool

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// New returns a Throttle that lets a message through once per every;
// now nil means time.Now.
func New(now func() time.Time, every time.Duration) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, every: every}
}

// Allow records a failure and reports whether to log it, with how many
// failures went unlogged since the last message.
func (t *Throttle) Allow() (ok bool, skipped int) {
	t.failing.Store(true)

	t.mu.Lock()
	defer t.mu.Unlock()

	now := t.now()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		t.skipped++
		return false, 0
	}
	skipped, t.skipped = t.skipped, 0
	t.last = now
	return true, skipped
}

// Recovered records a success and reports whether it ends a run of
// failures.
func (t *Throttle) Recovered() bool {
	return t.failing.Load() && t.failing.CompareAndSwap(true, false)
}
