package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/internal/waitfor"
	"github.com/eleanor-lab/eleanor/lab"
	"github.com/google/go-cmp/cmp"

	_ "github.com/go-sql-driver/mysql"
)

var (
	hexID  = regexp.MustCompile(`^[0-9a-f]{32}$`)
	uuidID = regexp.MustCompile(
		`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	millis = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`)
)

// TestService replays the seed walkthrough, then breaks each component
// in turn. The subtests share one service and run in order; each mends
// what it broke.
func TestService(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole topology; skipped with -short")
	}
	s := start(t, options{env: []string{
		// Short health TTLs keep the break steps quick; the cache
		// itself is what is checked, not its default length.
		"ELEANOR_HEALTH_SUCCESS_TTL=2s",
		"ELEANOR_HEALTH_FAILURE_TTL=2s",
		"ELEANOR_RATE_HEALTH=20/s",
		"ELEANOR_ADMIN_TOKEN=" + adminToken,
	}})

	t.Run("Walkthrough", s.testWalkthrough)
	t.Run("Errors", s.testErrors)
	t.Run("RateLimit", s.testRateLimit)
	t.Run("CacheStopped", s.testCacheStopped)
	t.Run("QueueStopped", s.testQueueStopped)
	t.Run("WorkerStopped", s.testWorkerStopped)
	t.Run("PrimaryStopped", s.testPrimaryStopped)
	t.Run("ReplicaStopped", s.testReplicaStopped)
	t.Run("DependencyFrozen", s.testFrozen)
	t.Run("InjectedFaults", s.testInjectedFaults)
	// Last: it stops the API.
	t.Run("GracefulShutdown", s.testGracefulShutdown)
}

// adminToken enables the fault injection endpoints in these tests.
const adminToken = "e2e-admin-token"

func (s *service) createProduct(t *testing.T, name string) string {
	t.Helper()
	r := s.do(t, "POST", "/api/product", fmt.Sprintf(
		`{"product_name": %q, "product_type": "consumer good", `+
			`"price": "564.00"}`, name))
	if r.status != 200 || r.body["status"] != "success" {
		t.Fatalf("create %q: %d %s", name, r.status, r.raw)
	}
	id, _ := r.body["product_id"].(string)
	if !hexID.MatchString(id) {
		t.Fatalf("product_id %q is not 32 hex digits", id)
	}
	return id
}

func (s *service) testWalkthrough(t *testing.T) {
	id := s.createProduct(t, "Samsung TV multicolor")
	s.logs.expect(t, "the write going to the primary",
		"write to primary", "db=primary")

	// The row is on the primary, and replicated to the replica.
	s.assertRow(t, s.top.Primary, id)
	waitfor.Until(t, "replicated", 10*time.Second, func() bool {
		return lab.WaitReplicated(context.Background(), s.top.Primary,
			s.top.Replicas[0]) == nil
	})
	s.assertRow(t, s.top.Replicas[0], id)

	r := s.do(t, "GET", "/api/product/"+id, "")
	want := map[string]any{
		"id":           id,
		"price":        "564.00",
		"product_name": "Samsung TV multicolor",
		"product_type": "consumer good",
		"timestamp":    r.body["timestamp"],
	}
	if diff := cmp.Diff(want, r.body); r.status != 200 || diff != "" {
		t.Errorf("GET product: %d (-want +got):\n%s", r.status, diff)
	}
	if ts, _ := r.body["timestamp"].(string); !millis.MatchString(ts) {
		t.Errorf("timestamp %q, want like 2019-03-18 15:02:36.000", ts)
	}
	s.logs.expect(t, "the read going to the replica",
		"read from replica", "db=replica-1")

	r = s.do(t, "GET", "/api/echo", "")
	if diff := cmp.Diff(map[string]any{"Status": "Up and running!"},
		r.body); r.status != 200 || diff != "" {
		t.Errorf("echo: %d (-want +got):\n%s", r.status, diff)
	}

	first := s.health(t, 200)
	second := s.health(t, 200)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second health check not served from cache "+
			"(-first +second):\n%s", diff)
	}
	s.logs.expect(t, "the health results served from cache",
		"served from cache", "task_check")

	taskID := s.enqueue(t, "/api/task")
	s.waitTask(t, taskID, "SUCCESS", "40", 15*time.Second)

	retryID := s.enqueue(t, "/api/taskretry")
	s.waitTask(t, retryID, "RETRY", "", 15*time.Second)
	waitfor.Until(t, "two retries logged at 1s", 15*time.Second, func() bool {
		return len(s.logs.lines("retry scheduled", retryID, "delay=1s")) >= 2
	})

	expoID := s.enqueue(t, "/api/taskexpo")
	s.waitTask(t, expoID, "RETRY", "", 15*time.Second)
	waitfor.Until(t, "expo retry logged", 15*time.Second, func() bool {
		return len(s.logs.lines("retry scheduled", expoID, "delay=")) >= 1
	})

	// The decisions the logs showed are counted in the metrics too.
	metrics := s.text(t, "/metrics")
	for _, want := range []string{
		`eleanor_db_routing_total{db="primary",op="write",reason=""}`,
		`eleanor_db_routing_total{db="replica-1",op="read",` +
			`reason="replica healthy"}`,
		`eleanor_health_check_passed{checker="task_check"} 1`,
		`eleanor_db_up{db="replica-1"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// assertRow checks with SQL that the product row is on server m.
func (s *service) assertRow(t *testing.T, m *lab.MariaDB, id string) {
	t.Helper()
	pool, err := sql.Open("mysql", m.DSN(lab.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var name, price string
	err = pool.QueryRow("SELECT product_name, price FROM products "+
		"WHERE id = ?", id).Scan(&name, &price)
	if err != nil || name != "Samsung TV multicolor" || price != "564.00" {
		t.Errorf("row on port %d: %q %q %v", m.Port, name, price, err)
	}
}

// health calls /api/health, checks its shape and status, and returns its
// results.
func (s *service) health(t *testing.T, status int) []any {
	t.Helper()
	r := s.do(t, "GET", "/api/health", "")
	if r.status != status {
		t.Fatalf("health: %d, want %d: %s", r.status, status, r.raw)
	}
	results, _ := r.body["results"].([]any)
	var names []string
	for _, res := range results {
		m, _ := res.(map[string]any)
		names = append(names, fmt.Sprint(m["checker"]))
		for _, k := range []string{"output", "passed", "timestamp", "expires"} {
			if _, ok := m[k]; !ok {
				t.Errorf("health result %v has no %q", m["checker"], k)
			}
		}
	}
	want := []string{"db_master_check", "db_slave_check", "redis_check",
		"task_check"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("health checkers (-want +got):\n%s", diff)
	}
	wantStatus := map[int]string{200: "success", 503: "failure"}[status]
	if r.body["status"] != wantStatus || r.body["hostname"] == "" {
		t.Errorf("health status %v hostname %v", r.body["status"],
			r.body["hostname"])
	}
	if status == 503 && r.header.Get("Retry-After") == "" {
		t.Error("health 503 without Retry-After")
	}
	return results
}

// checkPassed returns whether the named check passed in results.
func checkPassed(results []any, name string) bool {
	for _, res := range results {
		m, _ := res.(map[string]any)
		if m["checker"] == name {
			return m["passed"] == true
		}
	}
	return false
}

func (s *service) enqueue(t *testing.T, path string) string {
	t.Helper()
	r := s.do(t, "PUT", path, "")
	id, _ := r.body["Task ID"].(string)
	if r.status != 200 || !uuidID.MatchString(id) {
		t.Fatalf("PUT %s: %d %s", path, r.status, r.raw)
	}
	return id
}

// taskState returns the state and result of a task.
func (s *service) taskState(t *testing.T, id string) (string, any) {
	t.Helper()
	r := s.do(t, "GET", "/api/task/"+id, "")
	pair, _ := r.body[id].([]any)
	if r.status != 200 || len(pair) != 2 {
		t.Fatalf("GET task: %d %s", r.status, r.raw)
	}
	return fmt.Sprint(pair[0]), pair[1]
}

func (s *service) waitTask(t *testing.T, id, state, result string,
	within time.Duration) {
	t.Helper()
	var (
		got string
		res any
	)
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		got, res = s.taskState(t, id)
		if got == state && (result == "" || res == result) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("task %s: %s %v, want %s %q within %v", id, got, res, state,
		result, within)
}

func (s *service) testErrors(t *testing.T) {
	long := strings.Repeat("x", 121)
	tests := []struct {
		name, method, path, body, contentType string
		status                                int
	}{
		{"unknown path", "GET", "/api/nothing", "", "", 404},
		{"unknown product", "GET", "/api/product/" + strings.Repeat("0", 32),
			"", "", 404},
		{"malformed product id", "GET", "/api/product/xyz", "", "", 404},
		{"unknown task", "GET", "/api/task/nope", "", "", 404},
		{"wrong method", "DELETE", "/api/product", "", "", 405},
		{"invalid JSON", "POST", "/api/product", "{", "application/json", 400},
		{"not an object", "POST", "/api/product", "[]", "application/json",
			400},
		{"missing fields", "POST", "/api/product", "{}", "application/json",
			400},
		{"name too long", "POST", "/api/product", `{"product_name": "` +
			long + `", "product_type": "t", "price": "1"}`,
			"application/json", 400},
		{"negative price", "POST", "/api/product", `{"product_name": "n",` +
			` "product_type": "t", "price": "-1"}`, "application/json", 400},
		{"three decimals", "POST", "/api/product", `{"product_name": "n",` +
			` "product_type": "t", "price": "1.001"}`, "application/json", 400},
		{"trailing data", "POST", "/api/product", `{"product_name": "n",` +
			` "product_type": "t", "price": "1"} {}`, "application/json", 400},
		{"wrong content type", "POST", "/api/product", `{}`, "text/plain", 415},
		{"body too large", "POST", "/api/product", `{"product_name": "` +
			strings.Repeat("x", 70<<10) + `"}`, "application/json", 413},
	}
	for _, tt := range tests {
		r := s.doType(t, tt.method, tt.path, tt.body, tt.contentType)
		code, _ := r.body["code"].(float64)
		_, hasErrors := r.body["errors"].([]any)
		if r.status != tt.status || int(code) != tt.status ||
			r.body["message"] == "" || !hasErrors {
			t.Errorf("%s: %d %s, want %d in the error shape", tt.name,
				r.status, r.raw, tt.status)
		}
	}

	// Bad input changes nothing.
	var n int
	pool, err := sql.Open("mysql", s.top.Primary.DSN(lab.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = pool.QueryRow("SELECT COUNT(*) FROM products WHERE " +
		"product_name = 'n' OR product_name LIKE 'xxx%'").Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("invalid requests stored %d products (%v)", n, err)
	}
}

func (s *service) testRateLimit(t *testing.T) {
	var limited response
	for range 100 {
		if r := s.do(t, "GET", "/api/health", ""); r.status == 429 {
			limited = r
			break
		}
	}
	if limited.status != 429 {
		t.Fatal("100 health checks in a row were never limited at 20/s")
	}
	if limited.header.Get("Retry-After") == "" ||
		limited.body["code"] != float64(429) {
		t.Errorf("429 answer: %v %s", limited.header, limited.raw)
	}
	// The shallow check is never limited.
	for range 50 {
		if r := s.do(t, "GET", "/api/echo", ""); r.status != 200 {
			t.Fatalf("echo: %d", r.status)
		}
	}
	time.Sleep(2 * time.Second) // let the health allowance refill
}
