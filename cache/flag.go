// Package cache is eleanor's adapter for the cache Redis: the state that
// API instances share. Today that is the force-primary flag; the rate
// limiter's counters live there too (package ratelimit).
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// FlagKey is the Redis key of the force-primary flag.
const FlagKey = "eleanor:force_primary"

// FlagConfig tunes a Flag. The zero value of each field selects the
// default given in its comment.
type FlagConfig struct {
	// TTL is how long a set flag lives in Redis unless set again, so
	// that a flag nobody clears does not pin reads to the primary
	// forever. Default 60s.
	TTL time.Duration

	// Refresh is how often the local copy is refreshed from Redis.
	// Default 1s.
	Refresh time.Duration

	// Timeout bounds each Redis call. Default 200ms.
	Timeout time.Duration
}

// Flag is the force-primary flag shared by all API instances through the
// cache Redis. The deep health check sets it when the replica check fails
// and clears it when it passes; the router reads it on every read, from a
// local copy, so that a slow or dead Redis never slows a read. While
// Redis is unreachable the local copy stands in: it keeps the last value
// seen and takes this instance's own updates.
type Flag struct {
	rdb   redis.UniversalClient
	cfg   FlagConfig
	log   *slog.Logger
	local atomic.Bool
	fresh atomic.Bool // whether the last refresh reached Redis

	// mu serialises Set and refresh, each a Redis call bounded by the
	// timeout: a refresh that read Redis just before a Set wrote it
	// would otherwise undo the Set.
	mu sync.Mutex
}

// NewFlag returns the flag kept in rdb.
func NewFlag(rdb redis.UniversalClient, cfg FlagConfig,
	log *slog.Logger) *Flag {
	if cfg.TTL <= 0 {
		cfg.TTL = time.Minute
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 200 * time.Millisecond
	}
	f := &Flag{rdb: rdb, cfg: cfg, log: log.With("component", "flag")}
	f.fresh.Store(true)
	return f
}

// ForcePrimary reports whether reads must go to the primary. It never
// calls Redis.
func (f *Flag) ForcePrimary() bool { return f.local.Load() }

// Set sets or clears the flag, locally at once and in Redis. reason is
// logged when the value changes. An error means only the local copy
// changed.
func (f *Flag) Set(ctx context.Context, on bool, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.local.Swap(on) != on {
		f.log.Info("force-primary flag changed", "on", on, "reason", reason)
	}

	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	var err error
	if on {
		err = f.rdb.Set(ctx, FlagKey, "1", f.cfg.TTL).Err()
	} else {
		err = f.rdb.Del(ctx, FlagKey).Err()
	}
	if err != nil {
		return fmt.Errorf("set force-primary flag: %w", err)
	}
	return nil
}

// Run refreshes the local copy from Redis until ctx ends.
func (f *Flag) Run(ctx context.Context) {
	tick := time.NewTicker(f.cfg.Refresh)
	defer tick.Stop()
	for {
		f.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (f *Flag) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()

	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := f.rdb.Exists(ctx, FlagKey).Result()
	if err != nil && !errors.Is(err, context.Canceled) {
		if f.fresh.Swap(false) {
			f.log.Warn("cache unreachable: force-primary flag kept locally",
				"on", f.local.Load(), "err", err)
		}
		return
	}
	if !f.fresh.Swap(true) {
		f.log.Info("cache reachable again: force-primary flag shared")
	}
	on := v > 0
	if f.local.Swap(on) != on {
		f.log.Info("force-primary flag changed", "on", on,
			"reason", "set by another instance")
	}
}
