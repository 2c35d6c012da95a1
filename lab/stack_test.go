package lab_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/internal/testbin"
	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

// TestStack starts the whole lab from the built binary, as eleanor lab
// does, and drives it through its control socket, as a second terminal
// does.
func TestStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole lab; skipped with -short")
	}
	labtest.Require(t, lab.TopologyPrograms()...)
	binary, err := testbin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stack, err := lab.StartStack(ctx, lab.StackOptions{
		Options:    lab.Options{Dir: dir},
		Binary:     binary,
		AdminToken: adminToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stack.Close(); err != nil {
			t.Error(err)
		}
	})
	ln, err := lab.ListenControl(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctlCtx, stopCtl := context.WithCancel(context.Background())
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- stack.ServeControl(ctlCtx, ln) }()
	t.Cleanup(func() {
		stopCtl()
		if err := <-ctlDone; err != nil {
			t.Error(err)
		}
	})

	if status := get(t, stack.URL+"/api/echo"); status != 200 {
		t.Fatalf("echo through the front: %d", status)
	}
	wantAPIs := 1
	if stack.Nginx != nil {
		wantAPIs = 2
	}
	if len(stack.APIs) != wantAPIs {
		t.Errorf("%d API instances, want %d", len(stack.APIs), wantAPIs)
	}
	for _, api := range stack.APIs {
		url := "http://" + stack.Addr(api.Name()) + "/api/health"
		if got := healthHostname(t, url); got != api.Name() {
			t.Errorf("%s reports hostname %q, want its name", api.Name(), got)
		}
	}

	control(t, dir, "stop", "cache", "cache: stop done")
	if out := control(t, dir, "status", "", ""); !hasLine(out, "cache", "stopped") {
		t.Errorf("status after stop cache:\n%s", out)
	}
	control(t, dir, "start", "cache", "cache: start done")
	control(t, dir, "freeze", "worker", "worker: freeze done")
	if out := control(t, dir, "status", "", ""); !hasLine(out, "worker", "frozen") {
		t.Errorf("status after freeze worker:\n%s", out)
	}
	control(t, dir, "thaw", "worker", "worker: thaw done")

	testFaults(t, stack, dir)

	_, err = lab.Control(ctx, dir, "stop", "moon")
	if err == nil || !strings.Contains(err.Error(), "unknown component") {
		t.Errorf("stop moon: %v, want an unknown component error", err)
	}
	_, err = lab.Control(ctx, dir, "explode", "cache")
	if err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Errorf("explode cache: %v, want an unknown action error", err)
	}
}

const adminToken = "stack-test-token"

// testFaults injects a fault through the control socket, as eleanor lab
// inject does, and finds it in force on every API instance; then clears
// it. A fault the instances refuse comes back with their reason.
func testFaults(t *testing.T, stack *lab.Stack, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fault := `{"rate": 0.5, "latency": "10ms"}`
	if _, err := lab.Inject(ctx, dir, "cache", []byte(fault)); err != nil {
		t.Fatalf("inject: %v", err)
	}
	for _, api := range stack.APIs {
		if got := faultTargets(t, stack, api.Name()); !slices.Equal(got,
			[]string{"cache"}) {
			t.Errorf("%s: faults on %v after inject, want [cache]",
				api.Name(), got)
		}
	}

	_, err := lab.Inject(ctx, dir, "moon", []byte(fault))
	if err == nil || !strings.Contains(err.Error(), `target "moon"`) {
		t.Errorf("inject moon: %v, want the instances' refusal", err)
	}

	if _, err := lab.Clear(ctx, dir); err != nil {
		t.Fatalf("clear: %v", err)
	}
	for _, api := range stack.APIs {
		if got := faultTargets(t, stack, api.Name()); len(got) != 0 {
			t.Errorf("%s: faults on %v after clear, want none",
				api.Name(), got)
		}
	}

	err = (&lab.Stack{}).InjectFault(ctx, "cache", []byte(fault))
	if !errors.Is(err, lab.ErrNoAdminToken) {
		t.Errorf("inject without a token: %v, want ErrNoAdminToken", err)
	}
}

// faultTargets returns the targets of the faults in force on an API
// instance.
func faultTargets(t *testing.T, stack *lab.Stack, api string) []string {
	t.Helper()
	req, err := http.NewRequest("GET",
		"http://"+stack.Addr(api)+"/admin/faults", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Faults []struct{ Target string } }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s faults: %v", api, err)
	}
	targets := []string{}
	for _, f := range body.Faults {
		targets = append(targets, f.Target)
	}
	return targets
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// healthHostname returns the hostname a deep health check reports,
// whether it passed or not.
func healthHostname(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Hostname string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body.Hostname
}

// control sends an action to the lab in dir and checks its answer.
func control(t *testing.T, dir, action, component, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := lab.Control(ctx, dir, action, component)
	if err != nil {
		t.Fatalf("%s %s: %v", action, component, err)
	}
	if want != "" && strings.TrimSpace(out) != want {
		t.Errorf("%s %s answered %q, want %q", action, component, out, want)
	}
	return out
}

// hasLine reports whether a status table has a row for name in state.
func hasLine(table, name, state string) bool {
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == name && f[1] == state {
			return true
		}
	}
	return false
}
