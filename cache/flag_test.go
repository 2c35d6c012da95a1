package cache_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/cache"
	"github.com/eleanor-lab/eleanor/lab/labtest"
	"github.com/redis/go-redis/v9"
)

func newFlag(t *testing.T, rdb redis.UniversalClient) *cache.Flag {
	t.Helper()
	f := cache.NewFlag(rdb, cache.FlagConfig{
		TTL:     time.Minute,
		Refresh: 20 * time.Millisecond,
		Timeout: 200 * time.Millisecond,
	}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func waitFlag(t *testing.T, f *cache.Flag, want bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.ForcePrimary() != want {
		if time.Now().After(deadline) {
			t.Fatalf("flag still %v, want %v", !want, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFlagIsShared: what one API instance sets, the others see.
func TestFlagIsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("needs redis-server")
	}
	srv := labtest.StartRedis(t, "cache")
	one, two := srv.Client(), srv.Client()
	t.Cleanup(func() { one.Close(); two.Close() })
	a, b := newFlag(t, one), newFlag(t, two)

	if err := a.Set(context.Background(), true, "test"); err != nil {
		t.Fatal(err)
	}
	if !a.ForcePrimary() {
		t.Error("Set(true) did not change the local copy at once")
	}
	waitFlag(t, b, true)

	ttl, err := one.TTL(context.Background(), cache.FlagKey).Result()
	if err != nil || ttl <= 0 {
		t.Errorf("the flag has no expiry in Redis: %v %v", ttl, err)
	}

	if err := b.Set(context.Background(), false, "test"); err != nil {
		t.Fatal(err)
	}
	waitFlag(t, a, false)
}

// TestFlagFallsBackToLocalState: with Redis down, the flag keeps its last
// value and takes this instance's own changes.
func TestFlagFallsBackToLocalState(t *testing.T) {
	if testing.Short() {
		t.Skip("needs redis-server")
	}
	srv := labtest.StartRedis(t, "cache")
	rdb := srv.Client()
	t.Cleanup(func() { rdb.Close() })
	f := newFlag(t, rdb)
	if err := f.Set(context.Background(), true, "test"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}

	time.Sleep(100 * time.Millisecond) // a few failed refreshes
	if !f.ForcePrimary() {
		t.Error("the flag was lost when Redis went down")
	}
	start := time.Now()
	if err := f.Set(context.Background(), false, "test"); err == nil {
		t.Error("Set with Redis down: want an error saying it stayed local")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Set with Redis down took %v", took)
	}
	if f.ForcePrimary() {
		t.Error("Set(false) with Redis down did not change the local copy")
	}
}
