package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/eleanor-lab/eleanor/db"
)

// logFlags are the logging settings every command shares.
type logFlags struct {
	level  string
	format string
}

func (c *logFlags) register(s *settings) {
	s.String(&c.level, "log-level", "info",
		"log level: debug, info, warn or error")
	s.String(&c.format, "log-format", "text", "log format: text or json")
}

func (c *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.level)); err != nil {
		return nil, fmt.Errorf("log-level: %q is not a level", c.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is neither text nor json", c.format)
}

// dbFlags locate the databases.
type dbFlags struct {
	primary     string
	replicas    string
	dialTimeout time.Duration
}

// register registers the primary's settings; registerReplicas those of
// the replicas, which only serve needs.
func (c *dbFlags) register(s *settings) {
	s.String(&c.primary, "primary-dsn", "root@tcp(127.0.0.1:3306)/eleanor",
		"MySQL DSN of the primary (go-sql-driver/mysql syntax)")
	s.Duration(&c.dialTimeout, "db-dial-timeout", time.Second,
		"bound on connecting to a database")
}

func (c *dbFlags) registerReplicas(s *settings) {
	s.String(&c.replicas, "replica-dsns", "",
		"comma-separated MySQL DSNs of the replicas; none: reads go to "+
			"the primary")
}

// replicaList splits the replica DSNs.
func (c *dbFlags) replicaList() []string {
	var out []string
	for _, d := range strings.Split(c.replicas, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// openRedis returns a client for a redis:// URL whose every call fails
// within timeout when the server is down or frozen, without retries: the
// callers decide what to do about a failure, and retrying inside the
// client would only multiply the wait.
func openRedis(rawURL string, timeout time.Duration) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// The parser's message may quote the URL, password included.
		return nil, fmt.Errorf("invalid redis URL %s", redactURL(rawURL))
	}
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	// Redis before 7.2 knows neither the client-name handshake nor the
	// maintenance notifications: asking only adds noise.
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{
		Mode: maintnotifications.ModeDisabled,
	}
	// Honour the callers' context deadlines too, not only the timeouts.
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// redactURL hides the password of a URL, for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// quietLibraryLogs sends what the Redis and MySQL clients print on their
// own, such as "failed to dial after 5 attempts", to log at Debug level:
// eleanor reports the same failures once, in its own words, where it
// decides what to do about them.
func quietLibraryLogs(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
	db.QuietDriverLogs(log)
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "go-redis")
}
