// Package httpapi is eleanor's HTTP adapter: the seed-compatible JSON API
// under /api, its error answers and its middleware (recovery, request
// logs, rate limits, body limits). It knows the domain only through the
// interfaces of package eleanor.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/faults"
)

// HealthChecker runs the deep health check.
type HealthChecker interface {
	Check(ctx context.Context) ([]eleanor.CheckResult, bool)
}

// Config tunes the server. The zero value of each field selects the
// default given in its comment.
type Config struct {
	// MaxBodyBytes is the largest request body accepted; larger ones
	// get 413. Default 64 KiB.
	MaxBodyBytes int64

	// RequestTimeout bounds the handling of one request, all
	// dependency calls included. Default 10s.
	RequestTimeout time.Duration

	// Hostname is reported by /api/health. Default os.Hostname.
	Hostname string

	// AdminToken enables the admin endpoints of the fault injector,
	// which then demand it as a bearer token. Empty: no admin
	// endpoints at all.
	AdminToken string
}

// Deps are the services the API serves. Limit, if not nil, wraps every
// route: it is the rate limiter.
type Deps struct {
	Products eleanor.ProductService
	Tasks    eleanor.TaskService
	Health   HealthChecker
	Limit    func(http.Handler) http.Handler
	Faults   *faults.Injector // nil: no fault injection
	Log      *slog.Logger

	// Observe, if not nil, is told of every answered request: the
	// pattern it matched ("/" for unknown paths), its method, status
	// and duration. Metrics hook in here.
	Observe func(route, method string, status int, took time.Duration)

	// Metrics, if not nil, serves GET /metrics, and enables the live
	// dashboard at GET /dashboard that reads it.
	Metrics http.Handler
}

// Server is the HTTP API.
type Server struct {
	deps    Deps
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
}

// NewServer returns the API server for deps.
func NewServer(deps Deps, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	s := &Server{deps: deps, cfg: cfg, log: deps.Log.With("component", "http")}
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// route is one endpoint of the API.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

func (s *Server) routes() http.Handler {
	table := []route{
		{"GET", "/api/echo", s.echo},
		{"GET", "/api/health", s.health},
		{"POST", "/api/product", s.createProduct},
		{"GET", "/api/product/{id}", s.getProduct},
		{"PUT", "/api/task", s.enqueue(eleanor.TaskAdd)},
		{"PUT", "/api/taskretry", s.enqueue(eleanor.TaskRetry)},
		{"PUT", "/api/taskexpo", s.enqueue(eleanor.TaskExpo)},
		{"GET", "/api/task/{id}", s.taskStatus},
	}
	table = append(table, s.adminRoutes()...)
	if s.deps.Metrics != nil {
		table = append(table,
			route{"GET", "/metrics", s.deps.Metrics.ServeHTTP},
			route{"GET", "/dashboard", s.dashboard})
	}

	mux := http.NewServeMux()
	s.mux = mux
	// paths knows every path whatever the method, to tell a wrong method
	// (405) from an unknown path (404) in JSON: the mux's own answers
	// are plain text.
	paths := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range table {
		mux.Handle(rt.method+" "+rt.path, rt.handler)
		if allowed[rt.path] == nil {
			paths.Handle(rt.path, http.NotFoundHandler())
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(allowed[pattern], ", "))
			writeError(w, r, s.log, eleanor.Errorf(eleanor.EMETHOD,
				"method %s not allowed on %s", r.Method, r.URL.Path))
			return
		}
		writeError(w, r, s.log, eleanor.Errorf(eleanor.ENOTFOUND,
			"no such path: %s", r.URL.Path))
	})

	var h http.Handler = mux
	if s.deps.Limit != nil {
		h = s.deps.Limit(h)
	}
	return s.recoverer(s.observe(s.withTimeout(h)))
}

// ListenAndServe serves on addr until ctx ends, then shuts down
// gracefully: in-flight requests get up to drain to finish.
func (s *Server) ListenAndServe(ctx context.Context, addr string,
	drain time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, drain)
}

// Serve is ListenAndServe on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener,
	drain time.Duration) error {
	srv := &http.Server{
		Handler: s,
		// Slow or stalled clients must not hold connections forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining requests", "within", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
