package throttle_test

import (
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/internal/fakeclock"
	"github.com/eleanor-lab/eleanor/internal/throttle"
)

func TestAllowOncePerInterval(t *testing.T) {
	clk := fakeclock.New()
	th := throttle.New(clk.Now, 10*time.Second)

	if ok, skipped := th.Allow(); !ok || skipped != 0 {
		t.Fatalf("first failure: %v %d, want logged", ok, skipped)
	}
	for range 3 {
		clk.Add(time.Second)
		if ok, _ := th.Allow(); ok {
			t.Fatal("a failure within the interval was let through")
		}
	}
	clk.Add(7 * time.Second)
	if ok, skipped := th.Allow(); !ok || skipped != 3 {
		t.Errorf("after the interval: %v %d, want logged with 3 held back",
			ok, skipped)
	}
}

func TestRecoveredOnce(t *testing.T) {
	th := throttle.New(nil, time.Second)
	if th.Recovered() {
		t.Error("recovered before any failure")
	}
	th.Allow()
	if !th.Recovered() {
		t.Error("no recovery after a failure")
	}
	if th.Recovered() {
		t.Error("the same recovery reported twice")
	}
}
