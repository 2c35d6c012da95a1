package chaos

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/eleanor-lab/eleanor/lab"
)

// Bounds of the promises, generous on purpose: they tell "degrades within
// its timeouts" from "hangs", and "recovers by itself" from "needs a
// restart", on a busy two-core machine.
const (
	// RefuseWithin bounds a refused write or task: a 503 must come
	// within the query timeout (2s) and a margin, not after a hang.
	RefuseWithin = 4 * time.Second
	// RecoverWithin bounds the time from a repair to the last failed
	// request.
	RecoverWithin = 20 * time.Second
	// UnslowedWithin bounds the requests whose path does not need the
	// frozen dependency. Only the first request of each instance to meet
	// a frozen cache waits for the rate limiter's 250ms timeout; the
	// margin is for a busy machine.
	UnslowedWithin = time.Second
)

// Experiments returns every experiment of the suite, in order.
func Experiments() []Experiment {
	replicaDown := `database down: avoiding it until it answers again" ` +
		`component=router db=replica-1`
	return []Experiment{{
		Name:           "primary stopped",
		Break:          stop(lab.PrimaryName),
		Mend:           start(lab.PrimaryName),
		DegradedSample: refused(Create),
		Promises: all(noFailure(Read, Task), refusedFast(Create),
			recovers),
	}, {
		Name:           "primary frozen",
		Break:          freeze(lab.PrimaryName),
		Mend:           thaw(lab.PrimaryName),
		DegradedSample: refused(Create),
		Promises: all(noFailure(Read, Task), refusedFast(Create),
			recovers, fastDuringFault(UnslowedWithin, Read, Task)),
	}, {
		Name:        "replica stopped",
		Break:       stop("replica-1"),
		Mend:        start("replica-1"),
		DegradedLog: replicaDown,
		Promises:    all(noFailure(Read, ReadBack, Create, Task)),
	}, {
		Name:        "replica frozen",
		Break:       freeze("replica-1"),
		Mend:        thaw("replica-1"),
		DegradedLog: replicaDown,
		Promises: all(noFailure(Read, ReadBack, Create, Task),
			fastDuringFault(UnslowedWithin, Create, Task)),
	}, {
		Name: "replication stopped (lag)",
		Break: func(ctx context.Context, e *Env) error {
			return e.Stack.Replicas[0].StopReplication(ctx)
		},
		Mend: func(ctx context.Context, e *Env) error {
			return e.Stack.Replicas[0].StartReplication(ctx)
		},
		DegradedLog: "replica lagging: reads avoid it",
		Promises:    all(noFailure(Read, ReadBack, Create, Task)),
	}, {
		Name: "replica latency injected (3s)",
		Break: func(ctx context.Context, e *Env) error {
			return e.Stack.InjectFault(ctx, "replica",
				[]byte(`{"rate": 1, "latency": "3s"}`))
		},
		Mend: func(ctx context.Context, e *Env) error {
			return e.Stack.ClearFaults(ctx)
		},
		DegradedLog: replicaDown,
		Promises:    all(noFailure(Read, ReadBack, Create, Task)),
	}, {
		Name:           "cache stopped",
		Break:          stop(lab.CacheName),
		Mend:           start(lab.CacheName),
		DegradedSample: refused(Health),
		Promises:       all(noFailure(Read, ReadBack, Create, Task)),
	}, {
		Name:           "cache frozen",
		Break:          freeze(lab.CacheName),
		Mend:           thaw(lab.CacheName),
		DegradedSample: refused(Health),
		Promises: all(noFailure(Read, ReadBack, Create, Task),
			fastDuringFault(UnslowedWithin, Read, ReadBack,
				Create, Task)),
	}, {
		// nginx sends the requests that meet the dead instance to the
		// other one, except a creation already sent to it: that one is
		// not retried, since a POST may not be safe to send twice.
		Name: "api instance killed",
		Break: func(_ context.Context, e *Env) error {
			return e.Component(lab.APIName(1)).Kill()
		},
		Mend:        start(lab.APIName(1)),
		DegradedLog: "while connecting to upstream",
		Promises: all(noFailure(Read, ReadBack, Task), refusedFast(Create),
			recovers),
		NeedsNginx: true,
	}, {
		Name:           "queue restarted",
		Break:          stop(lab.QueueName),
		Mend:           start(lab.QueueName),
		DegradedSample: refused(Task),
		Promises: all(noFailure(Read, ReadBack, Create), refusedFast(Task),
			recovers),
	}, {
		Name:           "queue frozen",
		Break:          freeze(lab.QueueName),
		Mend:           thaw(lab.QueueName),
		DegradedSample: refused(Task),
		Promises: all(noFailure(Read, ReadBack, Create), refusedFast(Task),
			recovers, fastDuringFault(UnslowedWithin, Read, ReadBack,
				Create)),
	}, {
		Name:           "worker stopped",
		Break:          stop(lab.WorkerName),
		Mend:           start(lab.WorkerName),
		DegradedSample: refused(Health),
		Promises:       all(noFailure(Read, ReadBack, Create, Task)),
	}, {
		Name: "worker killed mid-task",
		Break: func(ctx context.Context, e *Env) error {
			return e.Component(lab.WorkerName).Kill()
		},
		Mend:           start(lab.WorkerName),
		DegradedSample: refused(Health),
		// Each task works 2s, so the kill always interrupts some.
		WorkerEnv: []string{"ELEANOR_TASK_WORK=2s"},
		// asynq reclaims a dead worker's tasks once their lease has
		// expired: one to two minutes.
		TaskDrain: 4 * time.Minute,
		Promises:  all(noFailure(Read, ReadBack, Create, Task)),
		Long:      true,
	}}
}

func stop(name string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		return e.Component(name).Stop(ctx)
	}
}

func start(name string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		return e.Component(name).Start(ctx)
	}
}

func freeze(name string) func(context.Context, *Env) error {
	return func(_ context.Context, e *Env) error {
		return e.Component(name).Freeze()
	}
}

func thaw(name string) func(context.Context, *Env) error {
	return func(_ context.Context, e *Env) error {
		return e.Component(name).Thaw()
	}
}

// refused tells a request of the kind answered 503: the degraded mode of
// a write path.
func refused(kind Kind) func(Sample) bool {
	return func(s Sample) bool { return s.Kind == kind && s.Status == 503 }
}

// promise checks one promise and returns how the result breaks it.
type promise func(r *Result) []string

// all returns the experiment's promises plus those every experiment
// keeps: no task lost, no stale read.
func all(ps ...promise) func(r *Result) []string {
	ps = append(ps, noTaskLost, noStaleRead)
	return func(r *Result) []string {
		var broken []string
		for _, p := range ps {
			broken = append(broken, p(r)...)
		}
		return broken
	}
}

func noFailure(kinds ...Kind) promise {
	return func(r *Result) []string {
		var broken []string
		for _, s := range r.Failed(kinds...) {
			broken = append(broken, fmt.Sprintf("%s failed in the %s "+
				"phase: %s after %v %s", s.Kind, s.Phase, s.Outcome(),
				s.Took.Round(time.Millisecond), s.Err))
		}
		return broken
	}
}

// refusedFast: requests of the kind either succeed or are refused with a
// 503 within RefuseWithin.
func refusedFast(kind Kind) promise {
	return func(r *Result) []string {
		var broken []string
		for _, s := range r.Failed(kind) {
			if s.Status != 503 || s.Took > RefuseWithin {
				broken = append(broken, fmt.Sprintf("%s in the %s phase: "+
					"%s after %v, want a 503 within %v", s.Kind, s.Phase,
					s.Outcome(), s.Took.Round(time.Millisecond),
					RefuseWithin))
			}
		}
		return broken
	}
}

// fastDuringFault: every request of the kinds made while the fault
// lasts is answered within d.
func fastDuringFault(d time.Duration, kinds ...Kind) promise {
	return func(r *Result) []string {
		var broken []string
		for _, s := range r.Samples {
			if s.Phase == Fault && slices.Contains(kinds, s.Kind) &&
				s.Took > d {
				broken = append(broken, fmt.Sprintf("%s during the "+
					"fault took %v, want under %v", s.Kind,
					s.Took.Round(time.Millisecond), d))
			}
		}
		return broken
	}
}

func recovers(r *Result) []string {
	if r.ToNormal > RecoverWithin {
		return []string{fmt.Sprintf("requests failed %v after the repair, "+
			"want under %v", r.ToNormal.Round(time.Millisecond),
			RecoverWithin)}
	}
	return nil
}

func noTaskLost(r *Result) []string {
	if r.TasksLost > 0 {
		return []string{fmt.Sprintf("%d of %d accepted tasks never "+
			"succeeded", r.TasksLost, r.TasksSubmitted)}
	}
	return nil
}

func noStaleRead(r *Result) []string {
	if r.StaleReads > 0 {
		return []string{fmt.Sprintf("%d products could not be read back "+
			"right after their creation", r.StaleReads)}
	}
	return nil
}
