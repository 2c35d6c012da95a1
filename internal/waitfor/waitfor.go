// Package waitfor polls, in tests, for a condition that a real server
// reaches in its own time: a replica catching up, a database answering
// again.
package waitfor

import (
	"testing"
	"time"
)

// Until polls cond every 50ms until it holds, and fails the test if it
// still does not after within. what names the condition in the failure.
func Until(t testing.TB, what string, within time.Duration,
	cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
