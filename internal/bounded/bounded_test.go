package bounded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/internal/bounded"
)

func TestCallReturnsTheAnswer(t *testing.T) {
	v, err := bounded.Call(context.Background(), func() (int, error) {
		return 40, nil
	})
	if v != 40 || err != nil {
		t.Errorf("Call = %d, %v", v, err)
	}
}

func TestCallStopsWaitingWhenTheContextEnds(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()

	_, err := bounded.Call(ctx, func() (int, error) {
		<-release // a call that ignores its context
		return 0, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call = %v, want the context's deadline", err)
	}
}
