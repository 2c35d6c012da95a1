package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

// startRedis starts a cache Redis (no persistence) on a free loopback port
// and stops it when the test ends. It skips the test under -short or when
// redis-server is not installed.
//
// It builds the server with the lab's own code rather than
// labtest.Start, which would also start and replicate MariaDB: seconds of
// work per test that the limiter has no use for.
func startRedis(t *testing.T) *lab.Redis {
	t.Helper()

	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	if err := lab.Require("redis-server"); err != nil {
		t.Skipf("lab: %v", err)
	}

	srv, err := lab.NewRedis(lab.RedisConfig{
		Name: "cache",
		Dir:  t.TempDir(),
		Port: labtest.FreePort(t),
	})
	if err != nil {
		t.Fatalf("lab: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		// Kill, not Stop: there is nothing to save, and it ends a
		// frozen server as well.
		if err := srv.Kill(); err != nil {
			t.Errorf("lab: %v", err)
		}
	})
	return srv
}

// client returns a client of srv, closed when the test ends.
func client(t *testing.T, srv *lab.Redis) *redis.Client {
	t.Helper()

	rdb := srv.Client()
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
