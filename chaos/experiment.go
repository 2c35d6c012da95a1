package chaos

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eleanor-lab/eleanor/lab"
)

// Phase names.
const (
	Steady   = "steady"
	Fault    = "fault"
	Recovery = "recovery"
)

// Experiment is one failure, injected under load.
type Experiment struct {
	Name string

	// Break breaks the lab at the start of the fault phase; Mend mends
	// it at the start of the recovery phase.
	Break, Mend func(ctx context.Context, e *Env) error

	// DegradedLog is a piece of a log line that shows the service has
	// entered its degraded mode, such as the router's "database down".
	// DegradedSample, when set, tells a request that shows it instead.
	DegradedLog    string
	DegradedSample func(Sample) bool

	// WorkerEnv holds extra settings for the worker.
	WorkerEnv []string

	// TaskDrain bounds the wait, after the load, for every accepted
	// task to succeed. Zero means 30s.
	TaskDrain time.Duration

	// Promises returns the promises of the spec that the result breaks,
	// one line each; none means the experiment passed.
	Promises func(r *Result) []string

	// Long marks experiments that only the full suite runs.
	Long bool

	// NeedsNginx marks experiments that mean nothing with a single API
	// instance: a lab without nginx cannot run them.
	NeedsNginx bool
}

// Env is what Break and Mend act on.
type Env struct {
	Stack *lab.Stack
}

// Component returns the lab component called name.
func (e *Env) Component(name string) *lab.Process {
	p, ok := e.Stack.Component(name)
	if !ok {
		panic("chaos: no component " + name)
	}
	return p
}

// Options configure Run.
type Options struct {
	Dir                     string // the lab's folder; required
	Binary                  string // the eleanor binary; required
	Steady, Fault, Recovery time.Duration
	Rate                    int       // requests a second; zero means 20
	Logs                    io.Writer // the lab's logs, or nil
}

// Run starts a lab in o.Dir, runs the experiment on it and closes it.
func Run(ctx context.Context, x Experiment, o Options) (*Result, error) {
	logs := &stampedLog{copyTo: o.Logs}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	stack, err := lab.StartStack(startCtx, lab.StackOptions{
		Options:    lab.Options{Dir: o.Dir, Out: logs},
		Binary:     o.Binary,
		AdminToken: "chaos-admin-token",
		Env: []string{
			"ELEANOR_HEALTH_SUCCESS_TTL=2s",
			"ELEANOR_HEALTH_FAILURE_TTL=2s",
			// One client sends the whole load: limits that let it
			// through, but still ask Redis for every request.
			"ELEANOR_RATE_READ=5000/s",
			"ELEANOR_RATE_WRITE=5000/s",
			"ELEANOR_RATE_HEALTH=5000/s",
		},
		WorkerEnv: x.WorkerEnv,
	})
	cancel()
	if err != nil {
		return nil, err
	}
	defer stack.Close()

	rate := o.Rate
	if rate == 0 {
		rate = 20
	}
	load := NewLoad(stack.URL, rate, 10*time.Second)
	if err := load.Seed(ctx, 20); err != nil {
		return nil, err
	}
	env := &Env{Stack: stack}
	r := &Result{Name: x.Name}
	if err := r.run(ctx, x, o, env, load); err != nil {
		return nil, err
	}
	r.drainTasks(ctx, load, x.TaskDrain)
	r.summarise(x, load.Samples(), logs)
	return r, nil
}

// run drives the three phases while the load runs throughout.
func (r *Result) run(ctx context.Context, x Experiment, o Options, env *Env,
	load *Load) error {
	var phase atomic.Value
	phase.Store(Steady)
	loadCtx, stopLoad := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		load.Run(loadCtx, func() string { return phase.Load().(string) })
		close(done)
	}()
	defer func() { stopLoad(); <-done }()

	sleep(ctx, o.Steady)
	phase.Store(Fault)
	r.FaultAt = time.Now()
	if err := x.Break(ctx, env); err != nil {
		return fmt.Errorf("%s: break: %w", x.Name, err)
	}
	sleep(ctx, o.Fault-time.Since(r.FaultAt))

	phase.Store(Recovery)
	r.RepairAt = time.Now()
	if err := x.Mend(ctx, env); err != nil {
		return fmt.Errorf("%s: mend: %w", x.Name, err)
	}
	sleep(ctx, o.Recovery-time.Since(r.RepairAt))
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// drainTasks waits until every task the service accepted has succeeded,
// or the bound passes, and counts them.
func (r *Result) drainTasks(ctx context.Context, load *Load,
	within time.Duration) {
	if within == 0 {
		within = 30 * time.Second
	}
	pending := load.Tasks()
	r.TasksSubmitted = len(pending)
	deadline := time.Now().Add(within)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		pending = slices.DeleteFunc(pending, func(id string) bool {
			return load.TaskDone(ctx, id)
		})
		if len(pending) > 0 {
			sleep(ctx, 500*time.Millisecond)
		}
	}
	r.TasksDone = r.TasksSubmitted - len(pending)
	r.TasksLost = len(pending)
}

// stampedLog keeps the lab's log lines with the time each arrived.
type stampedLog struct {
	copyTo io.Writer

	mu    sync.Mutex
	lines []stampedLine
	part  bytes.Buffer
}

type stampedLine struct {
	at   time.Time
	text string
}

func (l *stampedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.copyTo != nil {
		_, _ = l.copyTo.Write(p)
	}
	l.part.Write(p)
	sc := bufio.NewScanner(bytes.NewReader(l.part.Bytes()))
	var rest []byte
	for sc.Scan() {
		l.lines = append(l.lines, stampedLine{time.Now(), sc.Text()})
	}
	if !bytes.HasSuffix(l.part.Bytes(), []byte("\n")) && len(l.lines) > 0 {
		last := l.lines[len(l.lines)-1]
		l.lines = l.lines[:len(l.lines)-1]
		rest = []byte(last.text)
	}
	l.part.Reset()
	l.part.Write(rest)
	return len(p), nil
}

// first returns when the first line containing text arrived at or after
// since.
func (l *stampedLog) first(text string, since time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if !line.at.Before(since) && strings.Contains(line.text, text) {
			return line.at, true
		}
	}
	return time.Time{}, false
}
