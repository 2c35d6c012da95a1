package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/eleanor-lab/eleanor/backoff"
	"github.com/eleanor-lab/eleanor/metrics"
	"github.com/eleanor-lab/eleanor/queue"
)

// workerFlags are the settings of eleanor worker.
type workerFlags struct {
	logs         logFlags
	queueRedis   string
	redisTimeout time.Duration
	cfg          queue.WorkerConfig
	retryDelay   time.Duration
	expo         backoff.Exponential
	metricsAddr  string
}

func (c *workerFlags) register(s *settings) {
	c.logs.register(s)
	s.String(&c.queueRedis, "queue-redis", "redis://127.0.0.1:6379/0",
		"URL of the queue Redis")
	s.Duration(&c.redisTimeout, "redis-timeout", 2*time.Second,
		"bound on each Redis call")
	s.Int(&c.cfg.Concurrency, "worker-concurrency", queue.DefaultConcurrency,
		"tasks run at once")
	s.Duration(&c.cfg.ShutdownTimeout, "shutdown-timeout",
		queue.DefaultShutdownTimeout,
		"time running tasks get to finish at shutdown before they go "+
			"back to the queue")
	s.Duration(&c.retryDelay, "retry-delay", time.Second,
		"delay between the retries of /api/taskretry (the dangerous "+
			"fixed policy)")
	s.Duration(&c.expo.Base, "backoff-base", time.Second,
		"first delay bound of /api/taskexpo's exponential backoff")
	s.Duration(&c.expo.Cap, "backoff-cap", 60*time.Second,
		"largest delay bound of /api/taskexpo's exponential backoff")
	s.Duration(&c.cfg.WorkDuration, "task-work", 0,
		"how long the normal task pretends to work (to kill a worker "+
			"mid-task in a demo)")
	s.Duration(&c.cfg.PollInterval, "poll-interval",
		queue.DefaultPollInterval,
		"how often the worker looks for due retries and new tasks")
	s.String(&c.metricsAddr, "metrics-addr", "",
		"address serving the worker's metrics at /metrics; empty: none")
}

func runWorker(ctx context.Context, args []string,
	stdout, stderr io.Writer) error {
	var c workerFlags
	s := newSettings("worker", "Run tasks from the queue. SIGINT or "+
		"SIGTERM lets running tasks finish, or puts them back in the "+
		"queue, before it exits.", stderr)
	c.register(s)
	log, err := s.start(args, &c.logs, stderr)
	if err != nil {
		return err
	}

	rdb, err := openRedis(c.queueRedis, c.redisTimeout)
	if err != nil {
		return fmt.Errorf("queue-redis: %w", err)
	}
	defer rdb.Close()
	log.Info("starting", "component", "worker",
		"queue", redactURL(c.queueRedis), "retry_delay", c.retryDelay,
		"backoff_base", c.expo.Base, "backoff_cap", c.expo.Cap)

	m := metrics.New()
	cfg := c.cfg
	cfg.RetryPolicy = backoff.Fixed(c.retryDelay)
	cfg.ExpoPolicy = c.expo
	cfg.OnAttempt = m.Task
	if c.metricsAddr != "" {
		stop, err := serveMetrics(c.metricsAddr, m, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return queue.NewWorker(rdb, cfg, log).Run(ctx)
}

// serveMetrics serves m at addr/metrics in the background, and returns a
// function that stops it.
func serveMetrics(addr string, m *metrics.Metrics,
	log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("serving metrics", "component", "worker", "addr", addr)
	return func() { srv.Close() }, nil
}
