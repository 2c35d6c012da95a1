package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eleanor-lab/eleanor/faults"
	"github.com/eleanor-lab/eleanor/lab"
)

const labSummary = `Start the whole topology on this machine, in the foreground: a
MariaDB primary and a replica, a cache Redis and a queue Redis, two API
instances behind nginx (one without nginx) and a worker.

  eleanor lab [flags]                      start it; Ctrl-C stops it
  eleanor lab status [flags]               show every component
  eleanor lab ACTION COMPONENT [flags]     break or mend a component
  eleanor lab inject TARGET [latency=D] [error] [rate=R] [flags]
  eleanor lab clear [flags]                remove every injected fault

ACTION is one of stop, start, restart, freeze (a hung process), thaw or
kill (a crash). COMPONENT is one of primary, replica, cache, queue,
worker, api-1, api-2, nginx.

inject makes every API instance delay by D, or fail (error), or both,
the share R (default 1, all) of its calls to TARGET: primary, replica,
replica-N, cache or queue. It is chaos without stopping a process:
eleanor lab inject replica latency=3s rate=0.5`

// labFlags are the settings of eleanor lab.
type labFlags struct {
	dir      string
	port     int
	replicas int
	noNginx  bool
	workFor  time.Duration
}

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c labFlags
	s := newSettings("lab", labSummary, stderr)
	s.String(&c.dir, "dir", ".lab", "folder of the lab's data and logs")
	s.Int(&c.port, "port", 8080, "front port; the API instances take the "+
		"next ones, the databases and Redis servers port+10 and up")
	s.Int(&c.replicas, "replicas", 1, "number of MariaDB replicas")
	s.Bool(&c.noNginx, "no-nginx", false, "run one API instance without nginx")
	s.Duration(&c.workFor, "task-work", 0, "how long the normal task "+
		"pretends to work, to kill the worker in the middle of one")
	words, err := parseInterspersed(s, args)
	if err != nil {
		return err
	}

	switch {
	case len(words) == 0:
		return runLabForeground(ctx, &c, stdout)
	case words[0] == "status" && len(words) == 1:
		return labControl(ctx, c.dir, "status", "", stdout)
	case slices.Contains(lab.Actions(), words[0]) && len(words) == 2:
		return labControl(ctx, c.dir, words[0], words[1], stdout)
	case words[0] == "inject" && len(words) >= 2:
		fault, err := parseFault(words[2:])
		if err != nil {
			return fmt.Errorf("lab inject: %w", err)
		}
		return labAnswer(ctx, stdout, func(ctx context.Context) (string, error) {
			return lab.Inject(ctx, c.dir, words[1], fault)
		})
	case words[0] == "clear" && len(words) == 1:
		return labAnswer(ctx, stdout, func(ctx context.Context) (string, error) {
			return lab.Clear(ctx, c.dir)
		})
	}
	s.fs.Usage()
	return fmt.Errorf("lab: unexpected %q: %w", strings.Join(words, " "),
		errUsage)
}

// parseInterspersed parses flags placed before, between or after the
// words of the command line, as in "eleanor lab stop primary --dir x".
func parseInterspersed(s *settings, args []string) ([]string, error) {
	var words []string
	for {
		if err := s.parse(args); err != nil {
			return nil, err
		}
		rest := s.fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		words, args = append(words, rest[0]), rest[1:]
	}
}

func labControl(ctx context.Context, dir, action, component string,
	stdout io.Writer) error {
	return labAnswer(ctx, stdout, func(ctx context.Context) (string, error) {
		return lab.Control(ctx, dir, action, component)
	})
}

// labAnswer asks the running lab, through ask, and prints its answer.
func labAnswer(ctx context.Context, stdout io.Writer,
	ask func(context.Context) (string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	answer, err := ask(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, answer)
	return nil
}

// parseFault turns the words of "eleanor lab inject TARGET ..." after the
// target into the JSON of a faults.Fault. The API instances check the
// values; this only checks the words.
func parseFault(words []string) ([]byte, error) {
	f := faults.Fault{Rate: 1}
	for _, w := range words {
		key, value, _ := strings.Cut(w, "=")
		var err error
		switch key {
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(value)
			f.Latency = faults.Duration(d)
		case "rate":
			f.Rate, err = strconv.ParseFloat(value, 64)
		case "error":
			f.Error = value == "" || value == "true"
			if value != "" && value != "true" && value != "false" {
				err = errors.New("want error, error=true or error=false")
			}
		default:
			return nil, fmt.Errorf("%w: unexpected %q, want latency=D, "+
				"error or rate=R", errUsage, w)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w, err)
		}
	}
	return json.Marshal(f)
}

func runLabForeground(ctx context.Context, c *labFlags, stdout io.Writer) error {
	// The lab owns every process of the topology, so it must live to
	// stop them in order, even when its output is piped (make lab | tee)
	// and Ctrl-C has already ended the reader: without this, the first
	// line written to the broken pipe would kill it with SIGPIPE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	stdout = &lossyWriter{w: stdout}

	if err := lab.Require(lab.TopologyPrograms()...); err != nil {
		return err
	}
	if err := noLabRunning(ctx, c.dir); err != nil {
		return err
	}
	if !c.noNginx && lab.Require("nginx") != nil {
		fmt.Fprintln(stdout, "nginx is not installed: running one API "+
			"instance without it (apt-get install nginx for two behind "+
			"a load balancer)")
	}
	binary, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab: find the eleanor binary: %w", err)
	}
	var workerEnv []string
	if c.workFor > 0 {
		workerEnv = []string{"ELEANOR_TASK_WORK=" + c.workFor.String()}
	}

	token, err := labAdminToken(c.dir)
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "starting the lab in %s ...\n", c.dir)
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	stack, err := lab.StartStack(startCtx, lab.StackOptions{
		Options:    lab.Options{Dir: c.dir, Out: stdout, Replicas: c.replicas},
		Binary:     binary,
		Port:       c.port,
		NoNginx:    c.noNginx,
		AdminToken: token,
		WorkerEnv:  workerEnv,
	})
	if errors.Is(err, lab.ErrPortsInUse) {
		return fmt.Errorf("%w; another program listens there: start "+
			"the lab on other ports with --port N (or ELEANOR_PORT=N "+
			"make lab)", err)
	}
	if err != nil {
		return err
	}

	ln, err := lab.ListenControl(c.dir)
	if err != nil {
		return errors.Join(err, stack.Close())
	}
	controlErr := make(chan error, 1)
	go func() { controlErr <- stack.ServeControl(ctx, ln) }()
	printBanner(stdout, stack, c.dir, token)

	select {
	case <-ctx.Done():
	case err = <-controlErr:
	}
	fmt.Fprintln(stdout, "stopping the lab ...")
	return errors.Join(err, stack.Close())
}

// noLabRunning fails when a lab already answers on the control socket of
// dir: a second one would find its own ports taken, or worse, start a
// second server on the same data folder.
func noLabRunning(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := lab.Control(ctx, dir, "status", ""); err != nil {
		return nil
	}
	return fmt.Errorf("a lab is already running in %s: use it (eleanor "+
		"lab status --dir %s), stop it with Ctrl-C in its terminal, or "+
		"start another with its own --dir and --port", dir, dir)
}

// lossyWriter writes to w until a write fails, and from then on drops
// what it is given: the lab's streamed logs are worth less than the
// orderly shutdown of its components.
type lossyWriter struct {
	w      io.Writer
	failed atomic.Bool
}

func (l *lossyWriter) Write(p []byte) (int, error) {
	if !l.failed.Load() {
		if _, err := l.w.Write(p); err != nil {
			l.failed.Store(true)
		}
	}
	return len(p), nil
}

// labAdminToken returns the lab's admin token, kept in the lab's folder
// so that it survives restarts, and made at random the first time. It
// enables the fault injection endpoints of the lab's API instances.
func labAdminToken(dir string) (string, error) {
	path := filepath.Join(dir, "admin-token")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return token, os.WriteFile(path, []byte(token+"\n"), 0o600)
}

func printBanner(w io.Writer, s *lab.Stack, dir, token string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\neleanor lab is up. Data and logs: %s\n\n", dir)
	front := "API"
	if s.Nginx != nil {
		front = "nginx"
	}
	fmt.Fprintf(&b, "  %-10s %s\n", front, s.URL)
	for _, p := range s.APIs {
		if s.Nginx != nil {
			fmt.Fprintf(&b, "  %-10s http://%s\n", p.Name(), s.Addr(p.Name()))
		}
	}
	fmt.Fprintf(&b, "  %-10s http://%s/dashboard  (live, for the stage)\n",
		"dashboard", s.Addr(s.APIs[0].Name()))
	fmt.Fprintf(&b, "  %-10s http://%s/metrics and http://%s/metrics\n",
		"metrics", s.Addr(s.APIs[0].Name()), s.Addr(lab.WorkerName))
	dbs := append([]*lab.MariaDB{s.Primary}, s.Replicas...)
	for _, m := range dbs {
		fmt.Fprintf(&b, "  %-10s mariadb -h 127.0.0.1 -P %d -u root %s\n",
			m.Name(), m.Port, lab.Database)
	}
	for _, r := range []*lab.Redis{s.Cache, s.Queue} {
		fmt.Fprintf(&b, "  %-10s redis-cli -p %d\n", r.Name(), r.Port)
	}

	fmt.Fprintf(&b, "\nTry the walkthrough:\n")
	fmt.Fprintf(&b, "  curl -i -X POST -H \"Content-Type: application/json\" "+
		"-d '{\"product_name\": \"Samsung TV multicolor\", \"product_type\": "+
		"\"consumer good\", \"price\": \"564.00\"}' %s/api/product\n", s.URL)
	fmt.Fprintf(&b, "  curl -i %s/api/product/PRODUCT_ID\n", s.URL)
	fmt.Fprintf(&b, "  curl -i %s/api/health\n", s.URL)
	fmt.Fprintf(&b, "  curl -i -X PUT %s/api/task\n", s.URL)

	// Show the command as it was typed: bin/eleanor under make lab.
	self := os.Args[0]
	fmt.Fprintf(&b, "\nBreak things from another terminal:\n")
	fmt.Fprintf(&b, "  %s lab stop primary --dir %s   "+
		"(or start, restart, freeze, thaw, kill)\n", self, dir)
	fmt.Fprintf(&b, "  %s lab status --dir %s\n", self, dir)

	fmt.Fprintf(&b, "\nInject faults where stopping a process is not "+
		"enough, into every API instance:\n")
	fmt.Fprintf(&b, "  %s lab inject replica latency=3s rate=0.5 --dir %s   "+
		"(or error, and primary, cache, queue)\n", self, dir)
	fmt.Fprintf(&b, "  %s lab clear --dir %s\n", self, dir)
	fmt.Fprintf(&b, "or one instance at a time, through its admin API:\n")
	fmt.Fprintf(&b, "  curl -H 'Authorization: Bearer %s' http://%s/admin/faults\n",
		token, s.Addr(s.APIs[0].Name()))
	fmt.Fprintf(&b, "\nCtrl-C stops everything.\n\n")
	io.WriteString(w, b.String())
}
