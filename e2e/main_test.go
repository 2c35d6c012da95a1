// Package e2e_test starts the built eleanor binary as processes, against
// a private topology of real servers, and checks what a user of the
// walkthrough sees: the seed's requests, then each "let's break things"
// step of the spec.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/internal/testbin"
	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

// binary is the eleanor binary under test, built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "eleanor-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	if binary, err = testbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// service is a topology with eleanor serve and eleanor worker on it.
type service struct {
	top    *lab.Topology
	api    *lab.Process
	worker *lab.Process
	url    string
	logs   *logBuffer // the output of serve and worker
}

// options change how the service starts.
type options struct {
	env       []string // extra settings for serve and worker
	workerEnv []string // extra settings for the worker
}

func start(t *testing.T, o options) *service {
	t.Helper()
	top := labtest.Start(t, lab.Options{})
	s := &service{top: top, logs: &logBuffer{}}

	env := append([]string{
		"ELEANOR_PRIMARY_DSN=" + top.Primary.DSN(lab.Database),
		"ELEANOR_REPLICA_DSNS=" + top.Replicas[0].DSN(lab.Database),
		"ELEANOR_CACHE_REDIS=" + top.Cache.URL(),
		"ELEANOR_QUEUE_REDIS=" + top.Queue.URL(),
		"ELEANOR_LOG_LEVEL=debug",
	}, o.env...)

	migrate := exec.Command(binary, "migrate")
	migrate.Env = append(os.Environ(), env...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("eleanor migrate: %v\n%s", err, out)
	}

	port := labtest.FreePort(t)
	s.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.api = lab.NewProcess(lab.Spec{
		Name: "api",
		Argv: []string{binary, "serve"},
		Env: append(env, fmt.Sprintf("ELEANOR_HTTP_ADDR=127.0.0.1:%d",
			port)),
		Out:   lab.PrefixWriter(io.MultiWriter(s.logs, testOut(t)), "api"),
		Ready: httpReady(s.url + "/api/echo"),
		Port:  port,
	})
	s.worker = lab.NewProcess(lab.Spec{
		Name: "worker",
		Argv: []string{binary, "worker"},
		Env:  append(env, o.workerEnv...),
		Out: lab.PrefixWriter(io.MultiWriter(s.logs, testOut(t)),
			"worker"),
	})
	for _, p := range []*lab.Process{s.api, s.worker} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := p.Start(ctx)
		cancel()
		if err != nil {
			t.Fatalf("start %s: %v", p.Name(), err)
		}
		t.Cleanup(func() { stopProcess(t, p) })
	}
	return s
}

func stopProcess(t *testing.T, p *lab.Process) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Errorf("stop %s: %v", p.Name(), err)
	}
}

func httpReady(url string) lab.ReadyFunc {
	return func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// testOut writes to the test log until the test ends.
func testOut(t *testing.T) io.Writer {
	w := &gatedWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return w
}

type gatedWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// logBuffer keeps the processes' output for assertions on the logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines that contain every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.Lines(b.buf.String()) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// logLatency bounds how long a process's log line may take to reach a
// logBuffer after the answer it goes with: the pipe from the process is
// read by another goroutine, so a line written before a response was sent
// can arrive after the test has read the response.
const logLatency = 5 * time.Second

// expect waits up to logLatency for a line that contains every one of
// parts, and fails the test with "no log line shows what" if none comes.
func (b *logBuffer) expect(t *testing.T, what string, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(logLatency)
	for len(b.lines(parts...)) == 0 {
		if time.Now().After(deadline) {
			t.Errorf("no log line shows %s", what)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// response is an HTTP answer with its body decoded.
type response struct {
	err    error     // set by doQuiet only
	at     time.Time // when the answer came; set by doQuiet only
	status int
	header http.Header
	body   map[string]any
	raw    string
	took   time.Duration
}

// do sends a request with an optional JSON body and decodes the answer.
func (s *service) do(t *testing.T, method, path, body string) response {
	t.Helper()
	return s.doType(t, method, path, body, "application/json")
}

func (s *service) doType(t *testing.T, method, path, body,
	contentType string) response {
	t.Helper()
	return s.send(t, method, path, body, map[string]string{
		"Content-Type": contentType})
}

// doHeader sends a JSON body with extra headers.
func (s *service) doHeader(t *testing.T, method, path, body string,
	header map[string]string) response {
	t.Helper()
	all := map[string]string{"Content-Type": "application/json"}
	for k, v := range header {
		all[k] = v
	}
	return s.send(t, method, path, body, all)
}

func (s *service) send(t *testing.T, method, path, body string,
	header map[string]string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path,
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k != "Content-Type" || body != "" {
			req.Header.Set(k, v)
		}
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header,
		raw: string(raw), took: time.Since(start)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return r
}

// doQuiet sends a request from a goroutine other than the test's: it
// reports a failure in the response instead of failing the test.
func (s *service) doQuiet(method, path string) response {
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		return response{err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, err: err,
		at: time.Now()}
}

// text GETs path and returns its body, failing the test unless it is 200.
func (s *service) text(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return string(body)
}
