// Package metrics exposes, in Prometheus format, what eleanor decides and
// what it believes of its dependencies: requests by route and status,
// each routing decision with its reason, the state and lag of every
// database, the outcome of each health check that ran, and tasks by
// outcome. The packages that decide stay free of Prometheus: they offer
// hooks, and this package fills them.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds eleanor's metrics in a registry of their own.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	routes   *prometheus.CounterVec
	checks   *prometheus.GaugeVec
	tasks    *prometheus.CounterVec
}

// New returns the metrics, with the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eleanor_http_requests_total",
			Help: "HTTP requests answered, by route, method and status.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eleanor_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		routes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eleanor_db_routing_total",
			Help: "Routing decisions of the read/write router, by " +
				"operation (read, retry, write, refused), database and reason.",
		}, []string{"op", "db", "reason"}),
		checks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eleanor_health_check_passed",
			Help: "1 when the last run of the deep health check passed.",
		}, []string{"checker"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eleanor_tasks_total",
			Help: "Task attempts run by the worker, by kind and outcome " +
				"(success, retry, failure).",
		}, []string{"kind", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.routes, m.checks, m.tasks,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Route counts one routing decision: the router's hook.
func (m *Metrics) Route(op, db, reason string) {
	m.routes.WithLabelValues(op, db, reason).Inc()
}

// CheckRan records the outcome of a health check that ran.
func (m *Metrics) CheckRan(checker string, passed bool) {
	v := 0.0
	if passed {
		v = 1
	}
	m.checks.WithLabelValues(checker).Set(v)
}

// Task counts one task attempt: the worker's hook.
func (m *Metrics) Task(kind, outcome string) {
	m.tasks.WithLabelValues(kind, outcome).Inc()
}

// Database exposes whether the router sends queries to a database (1 or
// 0). up is called at each scrape.
func (m *Metrics) Database(name string, up func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "eleanor_db_up",
		Help:        "1 while the router sends queries to the database.",
		ConstLabels: prometheus.Labels{"db": name},
	}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}

// Replica exposes a replica's replication lag as last measured, in
// seconds, or -1 when unknown (replication not running). lag is called at
// each scrape.
func (m *Metrics) Replica(name string, lag func() (time.Duration, bool)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "eleanor_db_replication_lag_seconds",
		Help:        "Replication lag of a replica; -1 when unknown.",
		ConstLabels: prometheus.Labels{"db": name},
	}, func() float64 {
		d, known := lag()
		if !known {
			return -1
		}
		return d.Seconds()
	}))
}

// Request counts and times one answered request: the HTTP server's hook.
// route is the pattern the request matched, such as
// "GET /api/product/{id}", so that ids do not each make a time series.
func (m *Metrics) Request(route, method string, status int,
	took time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}
