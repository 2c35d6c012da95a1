package backoff_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eleanor-lab/eleanor/backoff"
)

// fixedRand returns a Rand that always answers r.
func fixedRand(r float64) func() float64 {
	return func() float64 { return r }
}

func TestFixedIsConstant(t *testing.T) {
	p := backoff.Fixed(time.Second)

	var got []time.Duration
	for attempt := range 5 {
		got = append(got, p.Delay(attempt))
	}

	want := []time.Duration{
		time.Second, time.Second, time.Second, time.Second, time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Fixed delays (-want +got):\n%s", diff)
	}
}

func TestExponentialCeiling(t *testing.T) {
	// A Rand just under 1 returns the ceiling minus a hair, which shows
	// the doubling and the cap; the hair is cut off by rounding to ms.
	p := backoff.Exponential{
		Base: time.Second,
		Cap:  60 * time.Second,
		Rand: fixedRand(0.999999999),
	}

	var got []time.Duration
	for attempt := range 9 {
		got = append(got, p.Delay(attempt).Round(time.Millisecond))
	}

	want := []time.Duration{
		1 * time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 32 * time.Second,
		60 * time.Second, 60 * time.Second, 60 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ceilings (-want +got):\n%s", diff)
	}
}

func TestExponentialBounds(t *testing.T) {
	tests := []struct {
		name    string
		rand    float64
		attempt int
		want    time.Duration
	}{
		{"zero rand gives zero", 0, 3, 0},
		{"half of the first window", 0.5, 0, 500 * time.Millisecond},
		{"half of the third window", 0.5, 2, 2 * time.Second},
		{"half of the capped window", 0.5, 10, 30 * time.Second},
		{"negative attempt counts as 0", 0.5, -4, 500 * time.Millisecond},
		{"overflow is capped", 0.5, 1000, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := backoff.Exponential{
				Base: time.Second,
				Cap:  60 * time.Second,
				Rand: fixedRand(tt.rand),
			}

			got := p.Delay(tt.attempt)

			if got != tt.want {
				t.Errorf("Delay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestExponentialWithoutCapDoesNotOverflow(t *testing.T) {
	p := backoff.Exponential{Base: time.Second, Rand: fixedRand(0.5)}

	for _, attempt := range []int{40, 62, 63, 64, 1000} {
		got := p.Delay(attempt)

		if got <= 0 {
			t.Errorf("Delay(%d) = %v, want a positive delay", attempt, got)
		}
	}
}

func TestExponentialZeroBase(t *testing.T) {
	p := backoff.Exponential{Cap: time.Minute, Rand: fixedRand(0.5)}

	if got := p.Delay(5); got != 0 {
		t.Errorf("Delay(5) with zero Base = %v, want 0", got)
	}
}

func TestExponentialDefaultRandStaysInWindow(t *testing.T) {
	p := backoff.Exponential{Base: time.Second, Cap: 60 * time.Second}

	for attempt := range 12 {
		for range 100 {
			got := p.Delay(attempt)

			ceiling := min(time.Second<<attempt, 60*time.Second)
			if got < 0 || got >= ceiling {
				t.Fatalf("Delay(%d) = %v, want in [0, %v)",
					attempt, got, ceiling)
			}
		}
	}
}

func BenchmarkExponentialDelay(b *testing.B) {
	p := backoff.Exponential{Base: time.Second, Cap: 60 * time.Second}

	for i := 0; b.Loop(); i++ {
		p.Delay(i % 16)
	}
}
