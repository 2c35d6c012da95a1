package ratelimit_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

// startRedis starts a cache Redis (no persistence) on a free loopback port
// and stops it when the test ends. It skips the test under -short.
func startRedis(t *testing.T) *lab.Redis {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs redis-server")
	}
	return labtest.StartRedis(t, "cache")
}

// client returns a client of srv, closed when the test ends.
func client(t *testing.T, srv *lab.Redis) *redis.Client {
	t.Helper()

	rdb := srv.Client()
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
