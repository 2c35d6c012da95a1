// Package chaos runs eleanor's chaos experiments: each starts a fresh lab,
// puts it under a steady load of mixed requests, breaks one component,
// mends it, and reports what the clients saw in each phase (requests,
// errors by kind, latency percentiles, how long the service took to
// degrade and to recover, and whether any task was lost). The
// experiments themselves, and the promises they check, are in
// experiments.go.
package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of a request of the load.
type Kind string

// The request kinds of the load.
const (
	Read     Kind = "read"     // GET of an existing product
	Create   Kind = "create"   // POST of a new product
	ReadBack Kind = "readback" // GET of the product just created
	Task     Kind = "task"     // PUT /api/task
	Health   Kind = "health"   // GET /api/health
)

// mix is the load's request mix, one entry per tick, repeated.
var mix = []Kind{Read, Read, Create, Read, Task, Read, Read, Health, Read,
	Create}

// Sample is one request and what came of it.
type Sample struct {
	Kind   Kind
	Phase  string
	Start  time.Time
	Took   time.Duration
	Status int    // 0 when no answer came
	Err    string // the transport error, if any
}

// End returns when the answer came.
func (s Sample) End() time.Time { return s.Start.Add(s.Took) }

// OK reports whether the request succeeded.
func (s Sample) OK() bool { return s.Status >= 200 && s.Status < 300 }

// Outcome names the sample's result: "ok", a status code, "timeout" or
// "conn".
func (s Sample) Outcome() string {
	switch {
	case s.OK():
		return "ok"
	case s.Status != 0:
		return fmt.Sprint(s.Status)
	case strings.Contains(s.Err, "Timeout") ||
		strings.Contains(s.Err, "deadline"):
		return "timeout"
	}
	return "conn"
}

// Load sends a steady, bounded load of mixed requests to one URL.
type Load struct {
	url    string
	rate   int
	client *http.Client

	mu       sync.Mutex
	samples  []Sample
	products []string // ids of existing products
	tasks    []string // ids of accepted tasks
	seq      int
}

// NewLoad returns a load of rate requests a second on url. Each request
// is bounded by timeout.
func NewLoad(url string, rate int, timeout time.Duration) *Load {
	return &Load{url: url, rate: rate,
		client: &http.Client{Timeout: timeout}}
}

// Seed creates n products for the reads to read.
func (l *Load) Seed(ctx context.Context, n int) error {
	for range n {
		s, id := l.create(ctx, "seed")
		if !s.OK() {
			return fmt.Errorf("seed: create product: %s %s", s.Outcome(),
				s.Err)
		}
		l.mu.Lock()
		l.products = append(l.products, id)
		l.mu.Unlock()
	}
	return nil
}

// Run sends requests at the load's rate until ctx ends, recording each
// under the phase that phase returns when it is sent, and returns when
// every request sent has been answered.
func (l *Load) Run(ctx context.Context, phase func() string) {
	tick := time.NewTicker(time.Second / time.Duration(l.rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.mu.Lock()
		kind := mix[l.seq%len(mix)]
		l.seq++
		l.mu.Unlock()
		// The requests outlive the load's context: one sent just
		// before the end is answered, not cancelled.
		p := phase()
		wg.Go(func() { l.one(context.WithoutCancel(ctx), p, kind) })
	}
}

func (l *Load) one(ctx context.Context, phase string, kind Kind) {
	switch kind {
	case Read:
		l.record(phase, l.read(ctx, Read, l.someProduct()))
	case Create:
		s, id := l.create(ctx, phase)
		l.record(phase, s)
		if s.OK() {
			// Read it back at once, through whatever instance answers:
			// a 404 here is a stale read.
			l.record(phase, l.read(ctx, ReadBack, id))
			l.mu.Lock()
			l.products = append(l.products, id)
			l.mu.Unlock()
		}
	case Task:
		s, body := l.do(ctx, Task, "PUT", "/api/task", "")
		l.record(phase, s)
		if id, _ := body["Task ID"].(string); s.OK() && id != "" {
			l.mu.Lock()
			l.tasks = append(l.tasks, id)
			l.mu.Unlock()
		}
	case Health:
		s, _ := l.do(ctx, Health, "GET", "/api/health", "")
		l.record(phase, s)
	}
}

func (l *Load) someProduct() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.products[l.seq%len(l.products)]
}

func (l *Load) read(ctx context.Context, kind Kind, id string) Sample {
	s, _ := l.do(ctx, kind, "GET", "/api/product/"+id, "")
	return s
}

func (l *Load) create(ctx context.Context, phase string) (Sample, string) {
	l.mu.Lock()
	l.seq++
	name := fmt.Sprintf("chaos %s %d %d", phase, l.seq, time.Now().UnixNano())
	l.mu.Unlock()
	body := fmt.Sprintf(`{"product_name": %q, "product_type": "chaos", `+
		`"price": "9.99"}`, name)
	s, answer := l.do(ctx, Create, "POST", "/api/product", body)
	id, _ := answer["product_id"].(string)
	return s, id
}

// do sends one request and decodes its JSON answer.
func (l *Load) do(ctx context.Context, kind Kind, method, path,
	body string) (Sample, map[string]any) {
	s := Sample{Kind: kind, Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, method, l.url+path,
		strings.NewReader(body))
	if err != nil {
		s.Err = err.Error()
		return s, nil
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	if err != nil {
		s.Took, s.Err = time.Since(s.Start), err.Error()
		return s, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	s.Took, s.Status = time.Since(s.Start), resp.StatusCode
	var answer map[string]any
	_ = json.Unmarshal(raw, &answer)
	return s, answer
}

func (l *Load) record(phase string, s Sample) {
	s.Phase = phase
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

// Samples returns every sample so far.
func (l *Load) Samples() []Sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Sample(nil), l.samples...)
}

// Tasks returns the ids of the tasks the service accepted.
func (l *Load) Tasks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tasks...)
}

// TaskDone reports whether task id has succeeded.
func (l *Load) TaskDone(ctx context.Context, id string) bool {
	_, body := l.do(ctx, "status", "GET", "/api/task/"+id, "")
	pair, _ := body[id].([]any)
	return len(pair) == 2 && pair[0] == "SUCCESS"
}
