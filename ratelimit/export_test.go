package ratelimit

// WaitProbes waits until the background probe of Redis, if one runs, has
// finished, so that tests can look at its outcome.
func (l *Limiter) WaitProbes() { l.probes.Wait() }
