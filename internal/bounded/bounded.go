// Package bounded calls functions that may not honour a context, and
// stops waiting for them when the context ends: a dependency call that
// hangs past its timeout must not hold up the request that made it.
package bounded

import "context"

// Call runs fn in its own goroutine and returns its results, or ctx's
// error as soon as ctx ends. A call abandoned that way runs on until fn
// returns; its results are then dropped.
func Call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type answer struct {
		v   T
		err error
	}
	// Buffered, so that a late answer is delivered with no reader and
	// its goroutine ends.
	done := make(chan answer, 1)
	go func() {
		v, err := fn()
		done <- answer{v, err}
	}()

	select {
	case a := <-done:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
