package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisConfig describes a Redis server for NewRedis.
type RedisConfig struct {
	// Name identifies the server in errors and logs; empty means
	// "redis".
	Name string
	// Dir is the server's working folder, where an append-only file is
	// kept; required.
	Dir string
	// Port is the TCP port on 127.0.0.1; required.
	Port int
	// Persist keeps every write in an append-only file synced each
	// second, so that a stop and start loses nothing. When false the
	// server keeps nothing on disk.
	Persist bool
	// Out receives the server's log; nil discards it.
	Out io.Writer
}

// Redis is a private Redis server without a password.
type Redis struct {
	*Process
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir is the server's working folder.
	Dir string
}

// NewRedis prepares a stopped server and creates its folder.
func NewRedis(c RedisConfig) (*Redis, error) {
	if c.Name == "" {
		c.Name = "redis"
	}
	if c.Dir == "" || c.Port == 0 {
		return nil, fmt.Errorf("new %s: dir and port are required", c.Name)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("new %s: %w", c.Name, err)
	}

	r := &Redis{Port: c.Port, Dir: c.Dir}
	r.Process = NewProcess(Spec{
		Name:  c.Name,
		Argv:  redisArgv(c),
		Dir:   c.Dir,
		Out:   c.Out,
		Ready: r.ping,
		Port:  c.Port,
	})
	return r, nil
}

// redisArgv builds the command line; no configuration file is read.
func redisArgv(c RedisConfig) []string {
	argv := []string{"redis-server",
		"--port", strconv.Itoa(c.Port),
		"--bind", "127.0.0.1",
		"--dir", c.Dir,
		"--daemonize", "no",
		"--save", "",
	}
	if c.Persist {
		return append(argv, "--appendonly", "yes",
			"--appendfsync", "everysec")
	}
	return append(argv, "--appendonly", "no")
}

// URL returns the server's address as a redis:// URL for database 0.
func (r *Redis) URL() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port)
}

// Client returns a client for database 0; the caller closes it.
func (r *Redis) Client() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:            fmt.Sprintf("127.0.0.1:%d", r.Port),
		DisableIdentity: true,
		// Redis 7.0 does not know the handshake; asking only adds noise.
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
}

// ping is the readiness check: the server answers PING.
func (r *Redis) ping(ctx context.Context) error {
	c := r.Client()
	defer c.Close()
	return c.Ping(ctx).Err()
}
