package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on waiting for a process to go away.
const (
	// killAfter is how long Stop waits after SIGTERM before SIGKILL.
	killAfter = 15 * time.Second
	// reapWithin is how long to wait for exit after SIGKILL.
	reapWithin = 5 * time.Second
	// pollEvery is the pause between readiness checks.
	pollEvery = 50 * time.Millisecond
	// checkWithin bounds one readiness check.
	checkWithin = time.Second
)

// ReadyFunc reports whether a started process serves requests. It
// should answer quickly; Start calls it repeatedly until it returns nil.
type ReadyFunc func(ctx context.Context) error

// Spec describes a program for NewProcess.
type Spec struct {
	// Name identifies the process in errors and logs.
	Name string
	// Argv is the program and its arguments; Argv[0] is looked up with
	// LookPath.
	Argv []string
	// Env holds extra KEY=VALUE pairs added to the current environment.
	// Nil adds none.
	Env []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Out receives the process's stdout and stderr; nil discards them.
	Out io.Writer
	// Ready reports readiness; nil means ready as soon as it started.
	Ready ReadyFunc
	// Port, when not zero, must be free on 127.0.0.1 before a start, so
	// that a stray server on it is never mistaken for this one.
	Port int
}

// Process supervises one long-running program: it starts it, waits
// until it is ready, and stops, kills, freezes or thaws it on request.
// A Process can be started again after it stopped. Its methods are safe
// for concurrent use.
//
// Each child runs in its own process group, so a terminal's Ctrl-C
// reaches only the supervisor, which decides the order of shutdown.
// On Linux the child also gets SIGKILL when the supervisor dies: the
// signal is tied to the OS thread that started the child, so that
// thread stays locked to a goroutine that waits for the child's exit.
type Process struct {
	spec Spec

	mu     sync.Mutex
	run    *run
	frozen bool
}

// run is one execution of the program.
type run struct {
	pid  int
	done chan struct{} // closed after exit
	err  error         // exit error, set before done is closed
}

// NewProcess returns a stopped Process for spec.
func NewProcess(spec Spec) *Process {
	return &Process{spec: spec}
}

// Name returns the process's name.
func (p *Process) Name() string { return p.spec.Name }

// PID returns the operating system's id of the running program, or 0.
func (p *Process) PID() int {
	r := p.current()
	if r == nil {
		return 0
	}
	return r.pid
}

// Running reports whether the program runs, frozen or not.
func (p *Process) Running() bool { return p.current() != nil }

// Frozen reports whether Freeze stopped the program.
func (p *Process) Frozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen && p.live()
}

// Done returns a channel closed when the current run ends; it is
// already closed when nothing runs. The lab command uses it to notice a
// component that died by itself.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.run.done
}

// Err returns how the last run ended: nil while running or after a
// clean exit.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.run == nil || p.live() {
		return nil
	}
	return p.run.err
}

// current returns the live run, or nil.
func (p *Process) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live() {
		return nil
	}
	return p.run
}

// live reports whether p.run is still running; p.mu must be held.
func (p *Process) live() bool {
	if p.run == nil {
		return false
	}
	select {
	case <-p.run.done:
		return false
	default:
		return true
	}
}

// Start starts the program unless it runs, then waits until it is ready
// or ctx ends; on a running program it only waits. If a program it
// started is not ready by then, or exits first, Start kills it and
// returns an error.
func (p *Process) Start(ctx context.Context) error {
	r, started, err := p.launch()
	if err != nil {
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	if err := p.waitReady(ctx, r); err != nil {
		if started {
			_ = p.Kill()
		}
		return fmt.Errorf("start %s: %w", p.spec.Name, err)
	}
	return nil
}

// launch starts the program, or returns the live run with started
// false.
func (p *Process) launch() (r *run, started bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live() {
		return p.run, false, nil
	}
	if err := portFree(p.spec.Port); err != nil {
		return nil, false, err
	}
	cmd, err := p.command()
	if err != nil {
		return nil, false, err
	}
	r = &run{done: make(chan struct{})}
	ok := make(chan error)
	go supervise(cmd, r, ok)
	if err := <-ok; err != nil {
		return nil, false, err
	}
	p.run, p.frozen = r, false
	return r, true, nil
}

// command builds the exec.Cmd for one run.
func (p *Process) command() (*exec.Cmd, error) {
	if len(p.spec.Argv) == 0 {
		return nil, errors.New("no program given")
	}
	path, err := LookPath(p.spec.Argv[0])
	if err != nil {
		return nil, &MissingError{Programs: p.spec.Argv[:1]}
	}
	cmd := exec.Command(path, p.spec.Argv[1:]...)
	cmd.Dir = p.spec.Dir
	if p.spec.Env != nil {
		cmd.Env = append(os.Environ(), p.spec.Env...)
	}
	out := orDiscard(p.spec.Out)
	cmd.Stdout, cmd.Stderr = out, out
	// A grandchild keeping the output pipe open must not block Wait.
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = sysProcAttr()
	return cmd, nil
}

// supervise starts cmd and waits for its exit on one locked OS thread,
// so that the parent-death signal set in sysProcAttr stays armed for
// the child's whole life.
func supervise(cmd *exec.Cmd, r *run, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	r.pid = cmd.Process.Pid
	started <- nil

	r.err = cmd.Wait()
	close(r.done)
}

// waitReady polls the ready check until it passes, the run ends or ctx
// ends.
func (p *Process) waitReady(ctx context.Context, r *run) error {
	if p.spec.Ready == nil {
		return nil
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, checkWithin)
		err := p.spec.Ready(cctx)
		cancel()
		if err == nil {
			return nil
		}

		select {
		case <-r.done:
			return fmt.Errorf("exited before ready: %w", r.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last check: %w)",
				ctx.Err(), err)
		case <-time.After(pollEvery):
		}
	}
}

// Stop ends the program with SIGTERM, thawing it first if frozen, and
// waits for its exit. After ctx ends or a bound of 15s, whichever comes
// first, it sends SIGKILL. Stopping a stopped process does nothing.
func (p *Process) Stop(ctx context.Context) error {
	r := p.current()
	if r == nil {
		return nil
	}
	err := p.Thaw()
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", p.spec.Name, err)
	}
	if err := signal(r, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", p.spec.Name, err)
	}

	bound := time.NewTimer(killAfter)
	defer bound.Stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
	case <-bound.C:
	}
	if err := p.Kill(); err != nil {
		return fmt.Errorf("stop %s: %w", p.spec.Name, err)
	}
	return nil
}

// Kill ends the program with SIGKILL, as a crash would, and waits until
// it is gone.
func (p *Process) Kill() error {
	r := p.current()
	if r == nil {
		return nil
	}
	if err := signal(r, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.spec.Name, err)
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(reapWithin):
		return fmt.Errorf("kill %s: still running after %s",
			p.spec.Name, reapWithin)
	}
}

// Freeze stops the program with SIGSTOP, as a hung process: its ports
// accept connections that never get an answer.
func (p *Process) Freeze() error {
	return p.pause(syscall.SIGSTOP, true)
}

// Thaw resumes a frozen program with SIGCONT.
func (p *Process) Thaw() error {
	return p.pause(syscall.SIGCONT, false)
}

// pause sends SIGSTOP or SIGCONT and records the frozen state.
func (p *Process) pause(sig syscall.Signal, frozen bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live() {
		return fmt.Errorf("%s: %w", p.spec.Name, ErrNotRunning)
	}
	if err := signal(p.run, sig); err != nil {
		return fmt.Errorf("%s: %w", p.spec.Name, err)
	}
	p.frozen = frozen
	return nil
}

// Restart stops the program and starts it again.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Stop(ctx); err != nil {
		return err
	}
	return p.Start(ctx)
}

// ErrNotRunning is returned when signalling a process that is not
// running.
var ErrNotRunning = errors.New("not running")

// signal sends sig to the run's whole process group.
func signal(r *run, sig syscall.Signal) error {
	err := syscall.Kill(-r.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // exited meanwhile; Wait will tell
	}
	if err != nil {
		return fmt.Errorf("signal %s: %w", sig, err)
	}
	return nil
}

// ErrPortsInUse is wrapped by the error of a lab that refuses to start
// because something already listens on one of its ports.
var ErrPortsInUse = errors.New("ports already in use")

// checkPorts fails, naming each, when something already listens on any of
// the named ports. It runs before anything is started, so that a lab whose
// ports are taken refuses at once instead of failing half way up.
func checkPorts(ports map[string]int) error {
	var busy []string
	for _, name := range slices.Sorted(maps.Keys(ports)) {
		if portFree(ports[name]) != nil {
			busy = append(busy, fmt.Sprintf("%d (%s)", ports[name], name))
		}
	}
	if busy == nil {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrPortsInUse, strings.Join(busy, ", "))
}

// portFree fails when something listens on 127.0.0.1:port.
func portFree(port int) error {
	if port == 0 {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return nil
	}
	_ = c.Close()
	return fmt.Errorf("port %d already in use", port)
}

// TCPReady returns a ReadyFunc that passes once addr accepts a TCP
// connection.
func TCPReady(addr string) ReadyFunc {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// HTTPReady returns a ReadyFunc that passes once a GET of url answers
// 200.
func HTTPReady(url string) ReadyFunc {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}
