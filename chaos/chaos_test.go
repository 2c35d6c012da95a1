package chaos_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/chaos"
	"github.com/eleanor-lab/eleanor/internal/testbin"
	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

var (
	full = flag.Bool("chaos.full", false,
		"run every experiment with long phases (make chaos)")
	out = flag.String("chaos.out", "",
		"also write the results table to this file")
	only = flag.String("chaos.only", "",
		"run only the experiments whose name contains this")
)

// TestChaos runs the chaos experiments and checks the spec's promises on
// each. By default it runs a short version, in make test; -chaos.full
// runs them all with long phases.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a lab per experiment; skipped with -short")
	}
	labtest.Require(t, lab.TopologyPrograms()...)
	binary, err := testbin.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	opts := chaos.Options{Binary: binary, Steady: 3 * time.Second,
		Fault: 6 * time.Second, Recovery: 6 * time.Second}
	if *full {
		opts.Steady, opts.Fault, opts.Recovery =
			10*time.Second, 20*time.Second, 20*time.Second
	}

	var results []*chaos.Result
	for _, x := range chaos.Experiments() {
		if (x.Long && !*full) || !strings.Contains(x.Name, *only) {
			continue
		}
		t.Run(strings.ReplaceAll(x.Name, " ", "_"), func(t *testing.T) {
			if err := lab.Require(lab.NginxName); x.NeedsNginx &&
				err != nil {
				t.Skipf("runs two API instances behind nginx: %v", err)
			}
			r := runOne(t, x, opts)
			if r != nil {
				results = append(results, r)
			}
		})
	}

	var table bytes.Buffer
	chaos.WriteTable(&table, results)
	fmt.Printf("\nchaos results (phases %v / %v / %v, 20 requests/s):\n\n%s\n",
		opts.Steady, opts.Fault, opts.Recovery, table.String())
	if *out != "" {
		if err := os.WriteFile(*out, table.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func runOne(t *testing.T, x chaos.Experiment, opts chaos.Options) *chaos.Result {
	t.Helper()
	var logs bytes.Buffer
	opts.Dir, opts.Logs = t.TempDir(), &syncBuffer{buf: &logs}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	r, err := chaos.Run(ctx, x, opts)
	if err != nil {
		t.Fatalf("%s: %v\n%s", x.Name, err, tail(logs.String(), 60))
	}
	if broken := x.Promises(r); len(broken) > 0 {
		t.Errorf("%s broke %d promises:\n  %s\nlab logs:\n%s", x.Name,
			len(broken), strings.Join(first(broken, 10), "\n  "),
			tail(logs.String(), 120))
	}
	return r
}

func first(lines []string, n int) []string { return lines[:min(n, len(lines))] }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
