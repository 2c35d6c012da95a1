package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Names of the stack's own components, beside the topology's.
const (
	WorkerName = "worker"
	NginxName  = "nginx"
)

// APIName returns the name of API instance i, counted from 1.
func APIName(i int) string { return fmt.Sprintf("api-%d", i) }

// StackOptions configures StartStack.
type StackOptions struct {
	Options

	// Binary is the eleanor binary the stack runs; required.
	Binary string

	// Port is the front port, where clients connect: nginx's, or the
	// only API instance's without nginx. API instance i listens on
	// Port+i, and the topology starts at Port+10 (see Options.PortBase)
	// unless PortBase is set. Zero picks free ports.
	Port int

	// APIs is the number of API instances. Zero means two behind nginx
	// when nginx is installed, one otherwise.
	APIs int

	// NoNginx runs without nginx even when it is installed.
	NoNginx bool

	// Env holds extra settings (ELEANOR_...=...) for every eleanor
	// process; WorkerEnv for the worker only.
	Env, WorkerEnv []string

	// AdminToken enables the fault injection endpoints of the API
	// instances, which InjectFault and ClearFaults drive. Empty: none.
	AdminToken string
}

// Stack is the whole lab: the topology, the API instances, the worker and
// nginx in front.
type Stack struct {
	*Topology

	// APIs are the eleanor serve instances.
	APIs []*Process
	// Worker is the eleanor worker.
	Worker *Process
	// Nginx load-balances the APIs; nil when the stack runs without.
	Nginx *Process
	// URL is the front URL, such as http://127.0.0.1:8080.
	URL string

	addrs      map[string]string // component name -> address, for status
	adminToken string
}

// StartStack starts the topology, migrates the schema, then starts the
// API instances, the worker and nginx. On error it stops whatever it
// started.
func StartStack(ctx context.Context, o StackOptions) (*Stack, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("start lab: %w", err)
	}
	o.Dir = dir
	s, err := buildStack(o)
	if err != nil {
		return nil, fmt.Errorf("start lab: %w", err)
	}
	if err := s.start(ctx, o); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("start lab: %w", err)
	}
	return s, nil
}

func buildStack(o StackOptions) (*Stack, error) {
	if o.Binary == "" {
		return nil, errors.New("no eleanor binary")
	}
	return &Stack{addrs: map[string]string{}, adminToken: o.AdminToken}, nil
}

// plan settles the front port, the API instances' ports and the port of
// the worker's metrics (Port+5). Without nginx the only API instance
// listens on the front port itself.
func (o *StackOptions) plan(withNginx bool) (apiPorts []int, metricsPort int,
	err error) {
	if o.APIs <= 0 {
		o.APIs = 1
		if withNginx {
			o.APIs = 2
		}
	}
	if o.Port == 0 {
		ports, err := FreePorts(o.APIs + 2)
		if err != nil {
			return nil, 0, err
		}
		o.Port, metricsPort, apiPorts = ports[0], ports[1], ports[2:]
	} else {
		if o.PortBase == 0 {
			o.PortBase = o.Port + 10
		}
		for i := 1; i <= o.APIs; i++ {
			apiPorts = append(apiPorts, o.Port+i)
		}
		metricsPort = o.Port + 5
	}
	if !withNginx {
		apiPorts = []int{o.Port}
	}
	return apiPorts, metricsPort, nil
}

func (s *Stack) start(ctx context.Context, o StackOptions) error {
	withNginx := !o.NoNginx && Require(NginxName) == nil
	apiPorts, metricsPort, err := o.plan(withNginx)
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", o.Port)
	ports := map[string]int{WorkerName + " metrics": metricsPort}
	for i, port := range apiPorts {
		ports[APIName(i+1)] = port
	}
	if withNginx {
		ports[NginxName] = o.Port
	}
	if err := checkPorts(ports); err != nil {
		return err
	}

	top, err := Start(ctx, o.Options)
	if err != nil {
		return err
	}
	s.Topology = top
	for _, p := range top.Components() {
		s.addrs[p.Name()] = fmt.Sprintf("127.0.0.1:%d", p.spec.Port)
	}

	env := append(s.Settings(), o.Env...)
	if o.AdminToken != "" {
		env = append(env, "ELEANOR_ADMIN_TOKEN="+o.AdminToken)
	}
	if err := s.migrate(ctx, o.Binary, env); err != nil {
		return err
	}
	s.buildEleanor(o, env, apiPorts, metricsPort)
	if withNginx {
		if err := s.buildNginx(o); err != nil {
			return err
		}
	}
	for _, p := range s.eleanorAndNginx() {
		if err := p.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", p.Name(), err)
		}
	}
	return nil
}

// buildEleanor prepares the API instances and the worker.
func (s *Stack) buildEleanor(o StackOptions, env []string, apiPorts []int,
	metricsPort int) {
	for i, port := range apiPorts {
		name := APIName(i + 1)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		s.addrs[name] = addr
		s.APIs = append(s.APIs, NewProcess(Spec{
			Name: name,
			Argv: []string{o.Binary, "serve"},
			// Both instances run on one machine: the health check
			// names the instance, so that a caller behind nginx can
			// tell which cache answered.
			Env: append([]string{"ELEANOR_HTTP_ADDR=" + addr,
				"ELEANOR_HOSTNAME=" + name}, env...),
			Out:   s.logTo(o.Out, name),
			Ready: HTTPReady("http://" + addr + "/api/echo"),
			Port:  port,
		}))
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", metricsPort)
	s.addrs[WorkerName] = metrics
	s.Worker = NewProcess(Spec{
		Name: WorkerName,
		Argv: []string{o.Binary, "worker"},
		Env: append(append([]string{"ELEANOR_METRICS_ADDR=" + metrics},
			env...), o.WorkerEnv...),
		Out: s.logTo(o.Out, WorkerName),
	})
}

// buildNginx writes nginx's configuration and prepares it.
func (s *Stack) buildNginx(o StackOptions) error {
	dir := filepath.Join(o.Dir, NginxName)
	var upstreams []string
	for _, p := range s.APIs {
		upstreams = append(upstreams, s.addrs[p.Name()])
	}
	if err := writeNginxConf(dir, o.Port, upstreams); err != nil {
		return err
	}
	s.addrs[NginxName] = fmt.Sprintf("127.0.0.1:%d", o.Port)
	s.Nginx = NewProcess(Spec{
		Name: NginxName,
		Argv: []string{"nginx", "-p", dir, "-c",
			filepath.Join(dir, "nginx.conf"), "-e", "stderr"},
		Out:   s.logTo(o.Out, NginxName),
		Ready: HTTPReady(s.URL + "/api/echo"),
		Port:  o.Port,
	})
	return nil
}

func (s *Stack) logTo(out io.Writer, name string) io.Writer {
	if out == nil {
		return nil
	}
	return PrefixWriter(out, fmt.Sprintf("%-9s", name))
}

// Settings returns the environment that points eleanor at the topology.
func (s *Stack) Settings() []string {
	var replicas []string
	for _, r := range s.Replicas {
		replicas = append(replicas, r.DSN(Database))
	}
	return []string{
		"ELEANOR_PRIMARY_DSN=" + s.Primary.DSN(Database),
		"ELEANOR_REPLICA_DSNS=" + strings.Join(replicas, ","),
		"ELEANOR_CACHE_REDIS=" + s.Cache.URL(),
		"ELEANOR_QUEUE_REDIS=" + s.Queue.URL(),
		// nginx sets X-Forwarded-For to the client's address, so the
		// rate limiter sees clients rather than nginx.
		"ELEANOR_TRUST_PROXY=true",
	}
}

func (s *Stack) migrate(ctx context.Context, binary string,
	env []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "migrate")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("migrate: %w: %s", err, out)
	}
	return nil
}

// eleanorAndNginx lists the stack's own processes in start order.
func (s *Stack) eleanorAndNginx() []*Process {
	ps := append([]*Process{}, s.APIs...)
	if s.Worker != nil {
		ps = append(ps, s.Worker)
	}
	if s.Nginx != nil {
		ps = append(ps, s.Nginx)
	}
	return ps
}

// Components returns every process of the stack, topology included.
func (s *Stack) Components() []*Process {
	var ps []*Process
	if s.Topology != nil {
		ps = s.Topology.Components()
	}
	return append(ps, s.eleanorAndNginx()...)
}

// Component returns the process called name: a topology component,
// "api-1", "api-2", "worker" or "nginx".
func (s *Stack) Component(name string) (*Process, bool) {
	if s.Topology != nil {
		if p, ok := s.Topology.Component(name); ok {
			return p, true
		}
	}
	for _, p := range s.eleanorAndNginx() {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Addr returns the address a component listens on, or "".
func (s *Stack) Addr(name string) string { return s.addrs[name] }

// Close stops the stack, front first, so that no request reaches a
// component whose dependencies are already gone: nginx, the APIs, the
// worker (which puts unfinished tasks back in the queue), then the
// topology.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWithin)
	defer cancel()
	var errs []error
	order := append([]*Process{s.Nginx}, s.APIs...)
	for _, p := range append(order, s.Worker) {
		if p == nil {
			continue
		}
		if err := p.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", p.Name(), err))
		}
	}
	if s.Topology != nil {
		errs = append(errs, s.Topology.Close())
	}
	return errors.Join(errs...)
}
