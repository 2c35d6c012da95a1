package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eleanor-lab/eleanor/cache"
	"github.com/eleanor-lab/eleanor/db"
	"github.com/eleanor-lab/eleanor/faults"
	"github.com/eleanor-lab/eleanor/health"
	"github.com/eleanor-lab/eleanor/httpapi"
	"github.com/eleanor-lab/eleanor/metrics"
	"github.com/eleanor-lab/eleanor/queue"
	"github.com/eleanor-lab/eleanor/ratelimit"
	"github.com/redis/go-redis/v9"
)

// serveFlags are the settings of eleanor serve.
type serveFlags struct {
	logs logFlags
	dbs  dbFlags

	addr           string
	cacheRedis     string
	queueRedis     string
	redisTimeout   time.Duration
	queryTimeout   time.Duration
	maxLag         time.Duration
	checkInterval  time.Duration
	healthOK       time.Duration
	healthFail     time.Duration
	healthTimeout  time.Duration
	probeTimeout   time.Duration
	rateLimit      bool
	rateRead       string
	rateWrite      string
	rateHealth     string
	trustProxy     bool
	maxBody        int
	requestTimeout time.Duration
	drain          time.Duration
	adminToken     string
	hostname       string
}

func (c *serveFlags) register(s *settings) {
	c.logs.register(s)
	c.dbs.register(s)
	c.dbs.registerReplicas(s)
	s.String(&c.addr, "http-addr", ":8080", "address the API listens on")
	s.String(&c.cacheRedis, "cache-redis", "redis://127.0.0.1:6379/0",
		"URL of the cache Redis (shared route flag, rate limits)")
	s.String(&c.queueRedis, "queue-redis", "redis://127.0.0.1:6379/0",
		"URL of the queue Redis (tasks); may be the cache's server")
	s.Duration(&c.redisTimeout, "redis-timeout", 500*time.Millisecond,
		"bound on each Redis call")
	s.Duration(&c.queryTimeout, "query-timeout", 2*time.Second,
		"bound on each query attempt on one database")
	s.Duration(&c.maxLag, "max-replica-lag", 5*time.Second,
		"replication lag beyond which reads avoid a replica")
	s.Duration(&c.checkInterval, "db-check-interval", time.Second,
		"how often the router pings the databases and measures lag")
	s.Duration(&c.healthOK, "health-success-ttl", 15*time.Second,
		"how long a passed health check is served from cache")
	s.Duration(&c.healthFail, "health-failure-ttl", 15*time.Second,
		"how long a failed health check is served from cache")
	s.Duration(&c.healthTimeout, "health-timeout", 2*time.Second,
		"bound on each database and cache health check")
	s.Duration(&c.probeTimeout, "health-task-timeout", 3*time.Second,
		"bound on the task queue round trip of the health check")
	s.Bool(&c.rateLimit, "rate-limit", true,
		"limit request rates per client and route class")
	s.String(&c.rateRead, "rate-read", "200/s",
		"rate limit of product and task reads per client (N/s, N/m, N/h)")
	s.String(&c.rateWrite, "rate-write", "50/s",
		"rate limit of product creations and task submissions per client")
	s.String(&c.rateHealth, "rate-health", "20/s",
		"rate limit of deep health checks per client")
	s.Bool(&c.trustProxy, "trust-proxy", false,
		"identify clients by X-Forwarded-For (only behind a proxy "+
			"such as the lab's nginx)")
	s.Int(&c.maxBody, "max-body", 64<<10, "largest request body, in bytes")
	s.Duration(&c.requestTimeout, "request-timeout", 10*time.Second,
		"bound on handling one request")
	s.Duration(&c.drain, "shutdown-timeout", 10*time.Second,
		"bound on finishing in-flight requests at shutdown")
	s.String(&c.adminToken, "admin-token", "",
		"enables the fault injection endpoints under /admin, which "+
			"demand it as a bearer token; empty: no admin endpoints")
	s.String(&c.hostname, "hostname", "",
		"name /api/health reports, to tell instances apart; empty: the "+
			"machine's hostname")
}

func runServe(ctx context.Context, args []string,
	stdout, stderr io.Writer) error {
	var c serveFlags
	s := newSettings("serve", "Serve the HTTP API.", stderr)
	c.register(s)
	log, err := s.start(args, &c.logs, stderr)
	if err != nil {
		return err
	}
	limits, err := c.limits()
	if err != nil {
		return err
	}

	app, err := newApp(&c, log)
	if err != nil {
		return err
	}
	defer app.close()

	return app.run(ctx, &c, limits)
}

// app is the wired service: every dependency opened, every component
// built.
type app struct {
	log      *slog.Logger
	pools    []*sql.DB
	cacheRdb *redis.Client
	queueRdb *redis.Client
	router   *db.Router
	flag     *cache.Flag
	tasks    *queue.Client
	checker  *health.Checker
	products *db.ProductStore
	faults   *faults.Injector // nil without an admin token
	metrics  *metrics.Metrics
}

// newApp opens every dependency (lazily: nothing connects yet) and builds
// the components on them.
func newApp(c *serveFlags, log *slog.Logger) (_ *app, err error) {
	a := &app{log: log, metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	primary, err := a.node("primary", c.dbs.primary, c)
	if err != nil {
		return nil, err
	}
	var replicas []*db.Node
	for i, dsn := range c.dbs.replicaList() {
		n, err := a.node(fmt.Sprintf("replica-%d", i+1), dsn, c)
		if err != nil {
			return nil, err
		}
		replicas = append(replicas, n)
	}
	if a.cacheRdb, err = openRedis(c.cacheRedis, c.redisTimeout); err != nil {
		return nil, fmt.Errorf("cache-redis: %w", err)
	}
	if a.queueRdb, err = openRedis(c.queueRedis, c.redisTimeout); err != nil {
		return nil, fmt.Errorf("queue-redis: %w", err)
	}
	log.Info("starting", "component", "serve", "addr", c.addr,
		"primary", db.RedactDSN(c.dbs.primary), "replicas", len(replicas),
		"cache", redactURL(c.cacheRedis), "queue", redactURL(c.queueRedis),
		"admin", c.adminToken != "")

	a.build(c, primary, replicas)
	return a, nil
}

// build wires the components on the opened dependencies.
func (a *app) build(c *serveFlags, primary *db.Node, replicas []*db.Node) {
	var inject func(context.Context, string) error
	if c.adminToken != "" {
		a.faults = newInjector(len(replicas))
		a.cacheRdb.AddHook(a.faults.RedisHook("cache"))
		a.queueRdb.AddHook(a.faults.RedisHook("queue"))
		inject = a.faults.Apply
	}

	a.flag = cache.NewFlag(a.cacheRdb, cache.FlagConfig{
		Timeout: c.redisTimeout}, a.log)
	a.router = db.NewRouter(primary, replicas, a.flag, db.RouterConfig{
		QueryTimeout:  c.queryTimeout,
		MaxLag:        c.maxLag,
		CheckInterval: c.checkInterval,
		Inject:        inject,
		OnRoute:       a.metrics.Route,
	}, a.log)
	a.metrics.Database(primary.Name(), primary.Up)
	for _, n := range replicas {
		a.metrics.Database(n.Name(), n.Up)
		a.metrics.Replica(n.Name(), n.Lag)
	}
	a.products = db.NewProductStore(a.router, nil)
	a.tasks = queue.NewClient(a.queueRdb, queue.Config{
		Timeout:      c.redisTimeout * 2,
		ProbeTimeout: c.probeTimeout,
	}, a.log)
	a.checker = health.New(a.checks(c), health.Options{
		SuccessTTL: c.healthOK,
		FailureTTL: c.healthFail,
		Logger:     a.log,
	})
}

func (a *app) node(name, dsn string, c *serveFlags) (*db.Node, error) {
	pool, err := db.Open(dsn, c.dbs.dialTimeout, c.queryTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	a.pools = append(a.pools, pool)
	return db.NewNode(name, pool), nil
}

func (a *app) close() {
	for _, p := range a.pools {
		p.Close()
	}
	for _, r := range []*redis.Client{a.cacheRdb, a.queueRdb} {
		if r != nil {
			r.Close()
		}
	}
}

func (a *app) run(ctx context.Context, c *serveFlags,
	limits map[string]ratelimit.Limit) error {
	deps := httpapi.Deps{
		Products: a.products,
		Tasks:    a.tasks,
		Health:   a.checker,
		Faults:   a.faults,
		Log:      a.log,
		Observe:  a.metrics.Request,
		Metrics:  a.metrics.Handler(),
	}
	if c.rateLimit {
		lim := ratelimit.New(a.cacheRdb, ratelimit.Options{
			Timeout: c.redisTimeout / 2,
			Logger:  a.log,
		})
		classify := func(r *http.Request) (string, ratelimit.Limit, bool) {
			class := httpapi.RouteClass(r)
			l, ok := limits[class]
			return class, l, ok
		}
		deps.Limit = lim.Middleware(classify, httpapi.WriteRateLimited,
			c.trustProxy)
	}
	srv := httpapi.NewServer(deps, httpapi.Config{
		MaxBodyBytes:   int64(c.maxBody),
		RequestTimeout: c.requestTimeout,
		AdminToken:     c.adminToken,
		Hostname:       c.hostname,
	})

	// The monitors stop with the server, after it has drained.
	bg, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.router.Run(bg) })
	wg.Go(func() { a.flag.Run(bg) })
	defer wg.Wait()
	defer stop()

	return srv.ListenAndServe(ctx, c.addr, c.drain)
}

// checks are the deep health checks: the primary, each replica, the cache
// Redis and a round trip through the task queue.
func (a *app) checks(c *serveFlags) []health.Check {
	t := c.healthTimeout
	checks := []health.Check{
		{Name: "db_master_check", Timeout: t,
			Run: a.pingDB(a.router.Primary(), "db master")},
	}
	replicas := a.router.Replicas()
	failing := &replicaFailures{flag: a.flag, total: len(replicas),
		failed: map[string]bool{}}
	for i, n := range replicas {
		name := "db_slave_check"
		if len(replicas) > 1 {
			name += "_" + strconv.Itoa(i+1)
		}
		checks = append(checks, health.Check{Name: name, Timeout: t,
			Run:   a.pingDB(n, "db slave"),
			OnRun: func(passed bool) { failing.record(n.Name(), passed) },
		})
	}
	checks = append(checks,
		health.Check{Name: "redis_check", Timeout: t,
			Run: func(ctx context.Context) (string, error) {
				if err := a.cacheRdb.Ping(ctx).Err(); err != nil {
					return "", fmt.Errorf("redis failed: %w", err)
				}
				return "redis ok", nil
			}},
		health.Check{Name: "task_check", Timeout: c.probeTimeout,
			Run: func(ctx context.Context) (string, error) {
				if err := a.tasks.Probe(ctx); err != nil {
					return "", fmt.Errorf("tasks failed: %w", err)
				}
				return "tasks ok", nil
			}},
	)
	for i := range checks {
		checks[i].OnRun = a.recordRun(checks[i].Name, checks[i].OnRun)
	}
	return checks
}

// recordRun returns an OnRun hook that records the outcome in the
// metrics, then calls next, if any.
func (a *app) recordRun(name string, next func(bool)) func(bool) {
	return func(passed bool) {
		a.metrics.CheckRan(name, passed)
		if next != nil {
			next(passed)
		}
	}
}

func (a *app) pingDB(n *db.Node,
	what string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		var one int
		err := a.faults.Apply(ctx, n.Name())
		if err == nil {
			err = n.DB().QueryRowContext(ctx, "SELECT 1").Scan(&one)
		}
		if err != nil {
			return "", fmt.Errorf("%s failed: %w", what, err)
		}
		return what + " ok", nil
	}
}

// newInjector returns a fault injector whose targets are this
// instance's dependencies.
func newInjector(replicas int) *faults.Injector {
	targets := []string{"primary"}
	if replicas > 0 {
		targets = append(targets, "replica")
	}
	for i := range replicas {
		targets = append(targets, fmt.Sprintf("replica-%d", i+1))
	}
	return faults.New(append(targets, "cache", "queue"), nil)
}

// replicaFailures turns the replica checks into the force-primary flag, as
// the seed did: when every replica fails its check, reads are forced to
// the primary for all instances; as soon as one passes, the flag clears.
type replicaFailures struct {
	flag  *cache.Flag
	total int

	mu     sync.Mutex
	failed map[string]bool

	// setting serialises the updates of the flag, each computed from
	// the latest results, so that the last one applied is the latest.
	setting sync.Mutex
}

func (f *replicaFailures) record(name string, passed bool) {
	f.mu.Lock()
	f.failed[name] = !passed
	f.mu.Unlock()

	// The flag's Redis call is bounded by its own timeout; the health
	// check that reported must not wait for it.
	go func() {
		f.setting.Lock()
		defer f.setting.Unlock()
		force := f.allFailing()
		reason := "replica check passed"
		if force {
			reason = "every replica failed its health check"
		}
		_ = f.flag.Set(context.Background(), force, reason)
	}()
}

func (f *replicaFailures) allFailing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, failed := range f.failed {
		if failed {
			n++
		}
	}
	return n == f.total
}

// limits parses the rate limit settings.
func (c *serveFlags) limits() (map[string]ratelimit.Limit, error) {
	out := map[string]ratelimit.Limit{}
	for class, spec := range map[string]string{
		httpapi.ClassRead:   c.rateRead,
		httpapi.ClassWrite:  c.rateWrite,
		httpapi.ClassHealth: c.rateHealth,
	} {
		l, err := parseLimit(spec)
		if err != nil {
			return nil, fmt.Errorf("rate-%s: %w", class, err)
		}
		out[class] = l
	}
	return out, nil
}

// parseLimit parses "N/s", "N/m" or "N/h". The burst equals N: a client
// may spend a whole period's allowance at once.
func parseLimit(spec string) (ratelimit.Limit, error) {
	num, unit, ok := strings.Cut(spec, "/")
	n, err := strconv.Atoi(num)
	periods := map[string]time.Duration{
		"s": time.Second, "m": time.Minute, "h": time.Hour}
	period, known := periods[unit]
	if !ok || err != nil || n <= 0 || !known {
		return ratelimit.Limit{}, errors.New(
			"want a rate such as 100/s, 600/m or 1000/h, got " +
				strconv.Quote(spec))
	}
	return ratelimit.Limit{Rate: n, Period: period, Burst: n}, nil
}
