package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/metrics"
)

func TestExposition(t *testing.T) {
	m := metrics.New()
	m.Route("read", "replica-1", "replica healthy")
	m.Route("read", "replica-1", "replica healthy")
	m.CheckRan("db_slave_check", false)
	m.Task("add_expo", "retry")
	m.Request("GET /api/product/{id}", "GET", 200, 3*time.Millisecond)
	m.Database("primary", func() bool { return false })
	m.Replica("replica-1", func() (time.Duration, bool) { return 0, false })

	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`eleanor_db_routing_total{db="replica-1",op="read",reason="replica healthy"} 2`,
		`eleanor_health_check_passed{checker="db_slave_check"} 0`,
		`eleanor_tasks_total{kind="add_expo",outcome="retry"} 1`,
		`eleanor_http_requests_total{code="200",method="GET",route="GET /api/product/{id}"} 1`,
		`eleanor_http_request_duration_seconds_count{route="GET /api/product/{id}"} 1`,
		`eleanor_db_up{db="primary"} 0`,
		`eleanor_db_replication_lag_seconds{db="replica-1"} -1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
