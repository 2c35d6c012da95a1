// Package faults injects latency and errors into the calls eleanor makes
// to its dependencies, at run time: chaos for the places where a process
// cannot be stopped or frozen, such as a managed database or a cluster.
// The HTTP layer exposes it only behind an admin token.
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrInjected is the error of an injected failure. Callers treat it as an
// unreachable dependency.
var ErrInjected = errors.New("injected fault")

// MaxLatency bounds an injected latency.
const MaxLatency = time.Minute

// Fault describes what happens to the calls made to one dependency.
type Fault struct {
	// Target is the dependency: "primary", "replica" (every replica),
	// "replica-1" and so on, "cache" or "queue".
	Target string `json:"target"`

	// Rate is the fraction of calls affected, from 0 to 1.
	Rate float64 `json:"rate"`

	// Latency is added to every affected call, before it is made.
	Latency Duration `json:"latency"`

	// Error makes every affected call fail with ErrInjected, after the
	// latency.
	Error bool `json:"error"`
}

// Duration is a time.Duration written in JSON as a string such as
// "500ms".
type Duration time.Duration

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%q", time.Duration(d).String()), nil
}

// UnmarshalJSON reads a string such as "500ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("latency %s is not a duration such as \"500ms\"",
			b)
	}
	*d = Duration(v)
	return nil
}

// Validate reports what is wrong with f, given the known targets.
func (f Fault) Validate(targets []string) error {
	var problems []string
	if !slices.Contains(targets, f.Target) {
		problems = append(problems, fmt.Sprintf("target %q is not one of %s",
			f.Target, strings.Join(targets, ", ")))
	}
	if f.Rate <= 0 || f.Rate > 1 {
		problems = append(problems, "rate must be above 0 and at most 1")
	}
	if f.Latency < 0 || time.Duration(f.Latency) > MaxLatency {
		problems = append(problems, "latency must be between 0 and 1m")
	}
	if f.Latency == 0 && !f.Error {
		problems = append(problems, "a fault needs a latency, an error or both")
	}
	if problems != nil {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Injector holds the faults in force. The zero value is not usable; call
// New. Its methods are safe for concurrent use.
type Injector struct {
	targets []string
	rand    func() float64

	mu     sync.RWMutex
	faults map[string]Fault
}

// New returns an injector for the given targets, with no fault in force.
// rand returns numbers in [0, 1); nil means math/rand/v2.
func New(targets []string, rand func() float64) *Injector {
	if rand == nil {
		rand = randFloat
	}
	return &Injector{targets: targets, rand: rand,
		faults: map[string]Fault{}}
}

func randFloat() float64 { return rand.Float64() }

// Targets returns the targets faults may name.
func (in *Injector) Targets() []string { return in.targets }

// Set puts f in force, replacing any fault on the same target.
func (in *Injector) Set(f Fault) error {
	if err := f.Validate(in.targets); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults[f.Target] = f
	return nil
}

// Clear removes the fault on target, or every fault when target is "".
func (in *Injector) Clear(target string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if target == "" {
		clear(in.faults)
		return
	}
	delete(in.faults, target)
}

// List returns the faults in force, sorted by target.
func (in *Injector) List() []Fault {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := make([]Fault, 0, len(in.faults))
	for _, f := range in.faults {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Fault) int {
		return strings.Compare(a.Target, b.Target)
	})
	return out
}

// Apply is called before each call to dependency target ("replica-2"
// matches the faults on "replica-2" and on "replica"). It waits the
// injected latency, bounded by ctx, and returns ErrInjected when the
// fault injects errors. A nil Injector injects nothing.
func (in *Injector) Apply(ctx context.Context, target string) error {
	if in == nil {
		return nil
	}
	f, ok := in.lookup(target)
	if !ok || in.rand() >= f.Rate {
		return nil
	}
	if f.Latency > 0 {
		t := time.NewTimer(time.Duration(f.Latency))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	if f.Error {
		return fmt.Errorf("%s: %w", target, ErrInjected)
	}
	return nil
}

func (in *Injector) lookup(target string) (Fault, bool) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if f, ok := in.faults[target]; ok {
		return f, true
	}
	if strings.HasPrefix(target, "replica-") {
		f, ok := in.faults["replica"]
		return f, ok
	}
	return Fault{}, false
}
