package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/faults"
	"github.com/eleanor-lab/eleanor/httpapi"
	"github.com/google/go-cmp/cmp"
)

// These tests check the HTTP layer alone: paths, status codes, JSON
// shapes and validation. The services behind it are stand-ins; the
// behaviours of the real ones are tested against real servers in their
// own packages and end to end.

type products struct {
	created []eleanor.ProductInput
	err     error
}

func (p *products) CreateProduct(_ context.Context,
	in eleanor.ProductInput) (string, error) {
	if _, err := in.Validate(); err != nil {
		return "", err
	}
	if p.err != nil {
		return "", p.err
	}
	p.created = append(p.created, in)
	return strings.Repeat("a", 32), nil
}

func (p *products) FindProduct(_ context.Context,
	id string) (*eleanor.Product, error) {
	if id == "panic" {
		panic("boom: secret DSN root:pw@tcp(db)")
	}
	if id != strings.Repeat("a", 32) {
		return nil, eleanor.Errorf(eleanor.ENOTFOUND, "product %q not found", id)
	}
	return &eleanor.Product{ID: id, Name: "TV", Type: "good", Price: 56400,
		CreatedAt: time.Date(2019, 3, 18, 15, 2, 36, 0, time.UTC)}, nil
}

type tasks struct{}

func (tasks) Enqueue(_ context.Context, kind eleanor.TaskKind) (string, error) {
	return "id-" + string(kind), nil
}

func (tasks) TaskStatus(_ context.Context,
	id string) (*eleanor.TaskStatus, error) {
	switch id {
	case "done":
		return &eleanor.TaskStatus{ID: id, State: eleanor.TaskSuccess,
			Result: "40"}, nil
	case "waiting":
		return &eleanor.TaskStatus{ID: id, State: eleanor.TaskPending}, nil
	}
	return nil, eleanor.Errorf(eleanor.ENOTFOUND, "task %q not found", id)
}

type checker struct{ ok bool }

func (c checker) Check(context.Context) ([]eleanor.CheckResult, bool) {
	now := time.Unix(1552921952, 500_000_000)
	return []eleanor.CheckResult{{Checker: "db_master_check",
		Output: "db master ok", Passed: c.ok, Timestamp: now,
		Expires: now.Add(15 * time.Second)}}, c.ok
}

func newServer(t *testing.T, p *products, healthy bool) http.Handler {
	t.Helper()
	in := faults.New([]string{"primary", "cache"}, nil)
	return httpapi.NewServer(httpapi.Deps{
		Products: p,
		Tasks:    tasks{},
		Health:   checker{ok: healthy},
		Faults:   in,
		Log:      slog.New(slog.DiscardHandler),
	}, httpapi.Config{MaxBodyBytes: 1024, Hostname: "test",
		AdminToken: "s3cret"})
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, h http.Handler, method, path, body string,
	header map[string]string) answer {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	raw, _ := io.ReadAll(w.Body)
	a := answer{status: w.Code, header: w.Header()}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object", method, path, raw)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return a
}

func TestSeedShapes(t *testing.T) {
	h := newServer(t, &products{}, true)
	tests := []struct {
		method, path, body string
		want               map[string]any
	}{
		{"GET", "/api/echo", "", map[string]any{"Status": "Up and running!"}},
		{"POST", "/api/product", `{"product_name": "TV", ` +
			`"product_type": "good", "price": "564.00"}`,
			map[string]any{"product_id": strings.Repeat("a", 32),
				"status": "success"}},
		{"GET", "/api/product/" + strings.Repeat("a", 32), "",
			map[string]any{"id": strings.Repeat("a", 32), "price": "564.00",
				"product_name": "TV", "product_type": "good",
				"timestamp": "2019-03-18 15:02:36.000"}},
		{"PUT", "/api/task", "", map[string]any{"Task ID": "id-add"}},
		{"PUT", "/api/taskretry", "", map[string]any{"Task ID": "id-add_retry"}},
		{"PUT", "/api/taskexpo", "", map[string]any{"Task ID": "id-add_expo"}},
		{"GET", "/api/task/done", "", map[string]any{
			"done": []any{"SUCCESS", "40"}}},
		{"GET", "/api/task/waiting", "", map[string]any{
			"waiting": []any{"PENDING", nil}}},
		{"GET", "/api/health", "", map[string]any{"hostname": "test",
			"status": "success", "results": []any{map[string]any{
				"checker": "db_master_check", "output": "db master ok",
				"passed": true, "timestamp": 1552921952.5,
				"expires": 1552921967.5}}}},
	}
	for _, tt := range tests {
		a := call(t, h, tt.method, tt.path, tt.body, nil)
		if diff := cmp.Diff(tt.want, a.body); a.status != 200 || diff != "" {
			t.Errorf("%s %s: %d (-want +got):\n%s", tt.method, tt.path,
				a.status, diff)
		}
	}
}

func TestErrors(t *testing.T) {
	p := &products{}
	h := newServer(t, p, true)
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		details                  []string
	}{
		{"unknown path", "GET", "/nowhere", "", nil, 404, nil},
		{"unknown product", "GET", "/api/product/123", "", nil, 404, nil},
		{"unknown task", "GET", "/api/task/x", "", nil, 404, nil},
		{"wrong method", "DELETE", "/api/echo", "", nil, 405, nil},
		{"no body", "POST", "/api/product", "", map[string]string{
			"Content-Type": "application/json"}, 400, nil},
		{"not JSON", "POST", "/api/product", "{", nil, 400, nil},
		{"an array", "POST", "/api/product", "[1]", nil, 400, nil},
		{"a number as name", "POST", "/api/product",
			`{"product_name": 1}`, nil, 400, nil},
		{"trailing data", "POST", "/api/product", `{} x`, nil, 400, nil},
		{"invalid fields", "POST", "/api/product",
			`{"product_name": "", "product_type": "t", "price": "1.234"}`,
			nil, 400, []string{"product_name is required",
				`price "1.234" is not a non-negative amount with at most two decimals`}},
		{"content type", "POST", "/api/product", `{}`, map[string]string{
			"Content-Type": "text/plain"}, 415, nil},
		{"too large", "POST", "/api/product", `{"product_name": "` +
			strings.Repeat("x", 2000) + `"}`, nil, 413, nil},
		{"panic", "GET", "/api/product/panic", "", nil, 500, nil},
	}
	for _, tt := range tests {
		a := call(t, h, tt.method, tt.path, tt.body, tt.header)
		if a.status != tt.status || a.body["code"] != float64(tt.status) ||
			a.body["message"] == "" {
			t.Errorf("%s: %d %v, want %d in the error shape", tt.name,
				a.status, a.body, tt.status)
		}
		if tt.details != nil {
			if diff := cmp.Diff(tt.details,
				toStrings(a.body["errors"])); diff != "" {
				t.Errorf("%s: errors (-want +got):\n%s", tt.name, diff)
			}
		}
		if strings.Contains(a.body["message"].(string), "pw@") {
			t.Errorf("%s: the answer leaks a secret: %v", tt.name, a.body)
		}
	}
	if len(p.created) != 0 {
		t.Errorf("invalid requests created %d products", len(p.created))
	}
	if a := call(t, h, "DELETE", "/api/echo", "", nil); a.header.Get("Allow") != "GET" {
		t.Errorf("405 Allow header = %q, want GET", a.header.Get("Allow"))
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

func TestUnavailable(t *testing.T) {
	h := newServer(t, &products{err: eleanor.Unavailable("read-only",
		3*time.Second, errors.New("dial tcp: connection refused"))}, false)
	a := call(t, h, "POST", "/api/product",
		`{"product_name": "n", "product_type": "t", "price": "1"}`, nil)
	if a.status != 503 || a.header.Get("Retry-After") != "3" ||
		a.body["message"] != "read-only" {
		t.Errorf("unavailable write: %d %v %v", a.status, a.header, a.body)
	}
	a = call(t, h, "GET", "/api/health", "", nil)
	if a.status != 503 || a.body["status"] != "failure" ||
		a.header.Get("Retry-After") == "" {
		t.Errorf("failing health: %d %v %v", a.status, a.header, a.body)
	}
}

func TestAdmin(t *testing.T) {
	h := newServer(t, &products{}, true)
	fault := `{"rate": 1, "latency": "100ms", "error": true}`
	auth := map[string]string{"Authorization": "Bearer s3cret"}

	for _, hdr := range []map[string]string{nil,
		{"Authorization": "Bearer guess"}, {"Authorization": "s3cret"}} {
		a := call(t, h, "PUT", "/admin/faults/primary", fault, hdr)
		if a.status != 401 {
			t.Errorf("PUT with %v: %d, want 401", hdr, a.status)
		}
	}
	if a := call(t, h, "GET", "/admin/faults", "", auth); len(a.body["faults"].([]any)) != 0 {
		t.Errorf("unauthorised requests changed the faults: %v", a.body)
	}

	a := call(t, h, "PUT", "/admin/faults/primary", fault, auth)
	want := []any{map[string]any{"target": "primary", "rate": 1.0,
		"latency": "100ms", "error": true}}
	if diff := cmp.Diff(want, a.body["faults"]); a.status != 200 || diff != "" {
		t.Errorf("PUT fault: %d (-want +got):\n%s", a.status, diff)
	}
	if a := call(t, h, "PUT", "/admin/faults/moon", fault, auth); a.status != 400 {
		t.Errorf("PUT on an unknown target: %d, want 400", a.status)
	}
	a = call(t, h, "DELETE", "/admin/faults", "", auth)
	if a.status != 200 || len(a.body["faults"].([]any)) != 0 {
		t.Errorf("DELETE all: %d %v", a.status, a.body)
	}
}

func TestNoAdminWithoutToken(t *testing.T) {
	h := httpapi.NewServer(httpapi.Deps{Products: &products{},
		Tasks: tasks{}, Health: checker{ok: true},
		Faults: faults.New([]string{"primary"}, nil),
		Log:    slog.New(slog.DiscardHandler)}, httpapi.Config{})
	a := call(t, h, "GET", "/admin/faults", "", map[string]string{
		"Authorization": "Bearer "})
	if a.status != 404 {
		t.Errorf("admin without a token configured: %d, want 404", a.status)
	}
}

func TestRouteClass(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/api/echo", ""},
		{"GET", "/api/health", httpapi.ClassHealth},
		{"GET", "/api/product/x", httpapi.ClassRead},
		{"POST", "/api/product", httpapi.ClassWrite},
		{"PUT", "/api/task", httpapi.ClassWrite},
	} {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if got := httpapi.RouteClass(r); got != tt.want {
			t.Errorf("RouteClass(%s %s) = %q, want %q", tt.method, tt.path,
				got, tt.want)
		}
	}
}

func TestMetricsAndDashboard(t *testing.T) {
	type seen struct {
		route, method string
		status        int
	}
	var observed []seen
	h := httpapi.NewServer(httpapi.Deps{Products: &products{},
		Tasks: tasks{}, Health: checker{ok: true},
		Log: slog.New(slog.DiscardHandler),
		Observe: func(route, method string, status int, _ time.Duration) {
			observed = append(observed, seen{route, method, status})
		},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "eleanor_up 1\n")
		}),
	}, httpapi.Config{})

	call(t, h, "GET", "/api/product/"+strings.Repeat("a", 32), "", nil)
	call(t, h, "GET", "/nowhere", "", nil)
	want := []seen{{"GET /api/product/{id}", "GET", 200}, {"/", "GET", 404}}
	if diff := cmp.Diff(want, observed,
		cmp.AllowUnexported(seen{})); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}

	for path, wantType := range map[string]string{
		"/metrics":   "",
		"/dashboard": "text/html; charset=utf-8",
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 || (wantType != "" &&
			w.Header().Get("Content-Type") != wantType) {
			t.Errorf("GET %s: %d %q", path, w.Code,
				w.Header().Get("Content-Type"))
		}
	}
}
