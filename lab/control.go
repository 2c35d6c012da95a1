package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Actions that Control accepts, besides "status".
var actions = map[string]func(p *Process, ctx context.Context) error{
	"stop":    (*Process).Stop,
	"start":   (*Process).Start,
	"restart": (*Process).Restart,
	"freeze":  func(p *Process, _ context.Context) error { return p.Freeze() },
	"thaw":    func(p *Process, _ context.Context) error { return p.Thaw() },
	"kill":    func(p *Process, _ context.Context) error { return p.Kill() },
}

// Actions lists the actions Control accepts on a component.
func Actions() []string {
	return []string{"stop", "start", "restart", "freeze", "thaw", "kill"}
}

// controlSocket is where a running lab listens for control requests. The
// folder is made absolute first, so that a relative and an absolute
// spelling of it agree even when the socket must live elsewhere.
func controlSocket(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return socketPath(dir, "lab.sock")
}

// ListenControl opens the control socket of the lab in dir, for
// ServeControl. Control requests sent once it returns are answered.
func ListenControl(dir string) (net.Listener, error) {
	path := controlSocket(dir)
	_ = os.Remove(path) // left by a lab that crashed
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// ServeControl answers the requests of Control on ln until ctx ends. The
// lab running in the foreground owns every process; another terminal
// only asks it to act, so that a component restarted from there keeps
// streaming its log to the lab's terminal.
func (s *Stack) ServeControl(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		s.writeStatus(w)
	})
	mux.HandleFunc("POST /{action}/{component}", s.act)
	mux.HandleFunc("PUT /faults/{target}", s.inject)
	mux.HandleFunc("DELETE /faults", s.clear)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Stack) act(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("component"), r.PathValue("action")
	fn, ok := actions[action]
	if !ok {
		http.Error(w, fmt.Sprintf("unknown action %q: want one of %s",
			action, strings.Join(Actions(), ", ")), http.StatusBadRequest)
		return
	}
	p, ok := s.Component(name)
	if !ok {
		http.Error(w, fmt.Sprintf("unknown component %q: want one of %s",
			name, strings.Join(names(s.Components()), ", ")),
			http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	if err := fn(p, ctx); err != nil {
		http.Error(w, fmt.Sprintf("%s %s: %v", action, name, err),
			http.StatusConflict)
		return
	}
	fmt.Fprintf(w, "%s: %s done\n", name, action)
}

func (s *Stack) inject(w http.ResponseWriter, r *http.Request) {
	target := r.PathValue("target")
	fault, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		err = s.InjectFault(r.Context(), target, fault)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("inject %s: %v", target, err),
			http.StatusConflict)
		return
	}
	fmt.Fprintf(w, "%s: fault in force on %s\n", target,
		strings.Join(names(s.APIs), ", "))
}

func (s *Stack) clear(w http.ResponseWriter, r *http.Request) {
	if err := s.ClearFaults(r.Context()); err != nil {
		http.Error(w, fmt.Sprintf("clear: %v", err), http.StatusConflict)
		return
	}
	fmt.Fprintf(w, "faults cleared on %s\n",
		strings.Join(names(s.APIs), ", "))
}

// names returns the names of the processes.
func names(ps []*Process) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return out
}

// writeStatus writes a table of every component's state.
func (s *Stack) writeStatus(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tPID\tADDRESS")
	for _, p := range s.Components() {
		state, pid := "stopped", "-"
		if p.Running() {
			state, pid = "running", fmt.Sprint(p.PID())
		}
		if p.Frozen() {
			state = "frozen"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name(), state, pid,
			s.Addr(p.Name()))
	}
	tw.Flush()
}

// Control asks the lab running in dir to act on a component, or to
// report its status when action is "status", and returns its answer.
func Control(ctx context.Context, dir, action, component string) (string,
	error) {
	if action == "status" {
		return send(ctx, dir, "GET", "/status", nil)
	}
	return send(ctx, dir, "POST", "/"+action+"/"+component, nil)
}

// Inject asks the lab running in dir to put a fault in force for target
// on every API instance (see Stack.InjectFault), and returns its answer.
func Inject(ctx context.Context, dir, target string,
	fault []byte) (string, error) {
	return send(ctx, dir, "PUT", "/faults/"+url.PathEscape(target), fault)
}

// Clear asks the lab running in dir to clear every fault on every API
// instance, and returns its answer.
func Clear(ctx context.Context, dir string) (string, error) {
	return send(ctx, dir, "DELETE", "/faults", nil)
}

// send makes one request to the control socket of the lab in dir.
func send(ctx context.Context, dir, method, path string,
	body []byte) (string, error) {
	socket := controlSocket(dir)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, method, "http://lab"+path,
		bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("no lab answers in %s (start one with "+
			"eleanor lab --dir %s): %w", dir, dir, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(strings.TrimSpace(string(answer)))
	}
	return string(answer), nil
}
