package chaos

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one experiment measured.
type Result struct {
	Name     string
	Phases   []PhaseStats
	FaultAt  time.Time
	RepairAt time.Time

	// ToDegraded is the time from the fault to the first sign of the
	// degraded mode; negative when none was seen.
	ToDegraded time.Duration
	// ToNormal is the time from the repair to the end of the last
	// failed request, health checks aside (their failures are cached
	// on purpose); zero when no request failed after the repair.
	ToNormal time.Duration

	TasksSubmitted, TasksDone, TasksLost int

	// StaleReads counts products that could not be read back at once
	// after they were created.
	StaleReads int

	Samples []Sample
}

// PhaseStats sums up one phase.
type PhaseStats struct {
	Phase         string
	Requests, OK  int
	Errors        map[string]int // outcome -> count
	P50, P99, Max time.Duration
}

func (r *Result) summarise(x Experiment, samples []Sample, logs *stampedLog) {
	r.Samples = samples
	for _, phase := range []string{Steady, Fault, Recovery} {
		r.Phases = append(r.Phases, phaseStats(phase, samples))
	}

	r.ToDegraded = -1
	if x.DegradedLog != "" {
		if at, ok := logs.first(x.DegradedLog, r.FaultAt); ok {
			r.ToDegraded = at.Sub(r.FaultAt)
		}
	}
	for _, s := range samples {
		if x.DegradedSample != nil && s.Phase != Steady &&
			x.DegradedSample(s) {
			d := s.End().Sub(r.FaultAt)
			if r.ToDegraded < 0 || d < r.ToDegraded {
				r.ToDegraded = d
			}
		}
		if s.Kind == ReadBack && s.Status == 404 {
			r.StaleReads++
		}
		if s.Phase == Recovery && s.Kind != Health && !s.OK() {
			r.ToNormal = max(r.ToNormal, s.End().Sub(r.RepairAt))
		}
	}
}

func phaseStats(phase string, samples []Sample) PhaseStats {
	ps := PhaseStats{Phase: phase, Errors: map[string]int{}}
	var took []time.Duration
	for _, s := range samples {
		if s.Phase != phase {
			continue
		}
		ps.Requests++
		took = append(took, s.Took)
		if s.OK() {
			ps.OK++
		} else {
			ps.Errors[string(s.Kind)+":"+s.Outcome()]++
		}
	}
	if len(took) > 0 {
		slices.Sort(took)
		ps.P50 = took[len(took)*50/100]
		ps.P99 = took[min(len(took)-1, len(took)*99/100)]
		ps.Max = took[len(took)-1]
	}
	return ps
}

// Failed returns the samples of the given kinds that did not succeed.
func (r *Result) Failed(kinds ...Kind) []Sample {
	var out []Sample
	for _, s := range r.Samples {
		if !s.OK() && slices.Contains(kinds, s.Kind) {
			out = append(out, s)
		}
	}
	return out
}

// WriteTable writes the results as a Markdown table, one row per phase.
func WriteTable(w io.Writer, results []*Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| experiment\t phase\t requests\t ok\t errors\t "+
		"p50\t p99\t max\t to degraded\t to normal\t tasks sent/done/lost\t "+
		"stale reads\t")
	fmt.Fprintln(tw, "|---\t---\t---:\t---:\t---\t---:\t---:\t---:\t---:\t"+
		"---:\t---:\t---:\t")
	for _, r := range results {
		for _, p := range r.Phases {
			degraded, normal, tasks, stale := "", "", "", ""
			if p.Phase == Fault {
				degraded = formatSince(r.ToDegraded)
			}
			if p.Phase == Recovery {
				normal = formatSince(r.ToNormal)
				tasks = fmt.Sprintf("%d/%d/%d", r.TasksSubmitted,
					r.TasksDone, r.TasksLost)
				stale = fmt.Sprint(r.StaleReads)
			}
			fmt.Fprintf(tw, "| %s\t %s\t %d\t %d\t %s\t %s\t %s\t %s\t %s\t "+
				"%s\t %s\t %s\t\n", r.Name, p.Phase, p.Requests, p.OK,
				formatErrors(p.Errors), ms(p.P50), ms(p.P99), ms(p.Max),
				degraded, normal, tasks, stale)
		}
	}
	tw.Flush()
}

func formatErrors(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	var parts []string
	for k, n := range errs {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func formatSince(d time.Duration) string {
	if d < 0 {
		return "not seen"
	}
	return d.Round(10 * time.Millisecond).String()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
