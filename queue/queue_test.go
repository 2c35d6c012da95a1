package queue_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/backoff"
	"github.com/eleanor-lab/eleanor/internal/logrec"
	"github.com/eleanor-lab/eleanor/queue"
)

func TestAddSucceeds(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r)
	log, rec := newLogger()
	c := queue.NewClient(rdb, queue.Config{}, log)
	startWorker(t, rdb, queue.WorkerConfig{}, log)

	id, err := c.Enqueue(context.Background(), eleanor.TaskAdd)
	if err != nil {
		t.Fatal(err)
	}
	got := waitState(t, c, id, eleanor.TaskSuccess, 5*time.Second)

	want := &eleanor.TaskStatus{ID: id, State: eleanor.TaskSuccess,
		Result: "40"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TaskStatus (-want +got):\n%s", diff)
	}
	logged := rec.Find("task enqueued", map[string]string{
		"component": "queue", "task_id": id, "kind": "add"})
	if len(logged) != 1 {
		t.Errorf("enqueue logged %d times, want once", len(logged))
	}
}

func TestEnqueueUnknownKind(t *testing.T) {
	r := startRedis(t)
	c := queue.NewClient(newRedisClient(t, r), queue.Config{}, nil)

	_, err := c.Enqueue(context.Background(), "mul")

	if got := eleanor.ErrorCode(err); got != eleanor.EINVALID {
		t.Errorf("Enqueue(mul) code = %q, want %q (err %v)",
			got, eleanor.EINVALID, err)
	}
}

func TestRetryEverySecond(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r)
	log, rec := newLogger()
	c := queue.NewClient(rdb, queue.Config{
		MaxRetry: map[eleanor.TaskKind]int{eleanor.TaskRetry: 3},
	}, log)
	startWorker(t, rdb, queue.WorkerConfig{}, log)

	id, err := c.Enqueue(context.Background(), eleanor.TaskRetry)
	if err != nil {
		t.Fatal(err)
	}
	retrying := waitState(t, c, id, eleanor.TaskRetried, 3*time.Second)
	final := waitState(t, c, id, eleanor.TaskFailure, 8*time.Second)

	wantErr := "add_retry: empty range for randrange()"
	if retrying.Result != wantErr || final.Result != wantErr {
		t.Errorf("results %q then %q, want %q",
			retrying.Result, final.Result, wantErr)
	}
	retries := rec.Find("task failed, retry scheduled",
		map[string]string{"task_id": id, "component": "worker"})
	var delays []string
	for _, e := range retries {
		delays = append(delays, e.Attrs["delay"])
	}
	want := []string{"1s", "1s", "1s"}
	if diff := cmp.Diff(want, delays); diff != "" {
		t.Errorf("logged delays (-want +got):\n%s", diff)
	}
	last := rec.Find("task failed for good, no retry left",
		map[string]string{"task_id": id, "attempt": "4"})
	checkGaps(t, slices.Concat(retries, last), []time.Duration{
		time.Second, time.Second, time.Second,
	})
}

func TestExpoFollowsPolicy(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r)
	log, rec := newLogger()
	c := queue.NewClient(rdb, queue.Config{
		MaxRetry: map[eleanor.TaskKind]int{eleanor.TaskExpo: 3},
	}, log)
	// A Rand near 1 draws each delay at the top of its window.
	policy := backoff.Exponential{
		Base: time.Second,
		Cap:  2 * time.Second,
		Rand: func() float64 { return 0.9999 },
	}
	startWorker(t, rdb, queue.WorkerConfig{ExpoPolicy: policy}, log)

	id, err := c.Enqueue(context.Background(), eleanor.TaskExpo)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, eleanor.TaskFailure, 9*time.Second)

	retries := rec.Find("task failed, retry scheduled",
		map[string]string{"task_id": id, "kind": "add_expo"})
	var got []string
	for _, e := range retries {
		got = append(got, e.Attrs["attempt"]+" "+e.Attrs["delay"])
	}
	want := []string{"1 1s", "2 2s", "3 2s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged attempts and delays (-want +got):\n%s", diff)
	}
	last := rec.Find("task failed for good, no retry left",
		map[string]string{"task_id": id})
	checkGaps(t, slices.Concat(retries, last), []time.Duration{
		time.Second, 2 * time.Second, 2 * time.Second,
	})
}

// checkGaps checks that the failed attempts, seen through their log
// entries, are spaced by the policy's delays: asynq's whole seconds allow
// half a second either way, the worker's polling adds up to 0.15s, and a
// busy machine needs a margin.
func checkGaps(t *testing.T, attempts []logrec.Record, delays []time.Duration) {
	t.Helper()

	if len(attempts) != len(delays)+1 {
		t.Fatalf("saw %d failed attempts, want %d",
			len(attempts), len(delays)+1)
	}
	for i, d := range delays {
		gap := attempts[i+1].Time.Sub(attempts[i].Time)
		t.Logf("gap before attempt %d: %v (policy %v)", i+2, gap, d)
		lo, hi := d-550*time.Millisecond, d+800*time.Millisecond
		if gap < lo || gap > hi {
			t.Errorf("gap before attempt %d = %v, want in [%v, %v]",
				i+2, gap, lo, hi)
		}
	}
}

func TestUnknownIDIsNotFound(t *testing.T) {
	r := startRedis(t)
	c := queue.NewClient(newRedisClient(t, r), queue.Config{}, nil)
	ctx := context.Background()

	// Before the first task the queue itself is unknown to asynq.
	_, errBefore := c.TaskStatus(ctx, uuid.NewString())
	if _, err := c.Enqueue(ctx, eleanor.TaskAdd); err != nil {
		t.Fatal(err)
	}
	_, errAfter := c.TaskStatus(ctx, uuid.NewString())

	for _, err := range []error{errBefore, errAfter} {
		if got := eleanor.ErrorCode(err); got != eleanor.ENOTFOUND {
			t.Errorf("TaskStatus(unknown) code = %q, want %q (err %v)",
				got, eleanor.ENOTFOUND, err)
		}
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	r := startRedis(t)
	c := queue.NewClient(newRedisClient(t, r),
		queue.Config{Timeout: time.Second, ProbeTimeout: time.Second}, nil)
	ctx := context.Background()
	id, err := c.Enqueue(ctx, eleanor.TaskAdd)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}

	calls := map[string]func() error{
		"Enqueue": func() error {
			_, err := c.Enqueue(ctx, eleanor.TaskAdd)
			return err
		},
		"TaskStatus": func() error {
			_, err := c.TaskStatus(ctx, id)
			return err
		},
		"Probe": func() error { return c.Probe(ctx) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)

		if got := eleanor.ErrorCode(err); got != eleanor.EUNAVAILABLE {
			t.Errorf("%s code = %q, want %q (err %v)",
				name, got, eleanor.EUNAVAILABLE, err)
		}
		t.Logf("%s answered %v in %v", name, err, took)
		if took > 2*time.Second {
			t.Errorf("%s took %v, want at most 2s", name, took)
		}
	}
}

func TestProbe(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r)
	c := queue.NewClient(rdb,
		queue.Config{ProbeTimeout: 500 * time.Millisecond}, nil)
	ctx := context.Background()

	errNoWorker := c.Probe(ctx)
	startWorker(t, rdb, queue.WorkerConfig{}, nil)
	errWorker := c.Probe(ctx)

	if !strings.Contains(eleanor.ErrorMessage(errNoWorker), "no worker") {
		t.Errorf("Probe without worker = %v, want \"no worker ...\"",
			errNoWorker)
	}
	if errWorker != nil {
		t.Errorf("Probe with a worker = %v, want nil", errWorker)
	}
}

func TestShutdownMidTaskLosesNothing(t *testing.T) {
	r := startRedis(t)
	rdb := newRedisClient(t, r)
	c := queue.NewClient(rdb, queue.Config{}, nil)
	first := queue.NewWorker(rdb, queue.WorkerConfig{
		WorkDuration:    2 * time.Second,
		ShutdownTimeout: 200 * time.Millisecond,
	}, nil)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}

	id, err := c.Enqueue(context.Background(), eleanor.TaskAdd)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, eleanor.TaskStarted, 3*time.Second)
	first.Shutdown()
	requeued := waitState(t, c, id, eleanor.TaskPending, time.Second)
	startWorker(t, rdb, queue.WorkerConfig{}, nil)
	got := waitState(t, c, id, eleanor.TaskSuccess, 5*time.Second)

	want := &eleanor.TaskStatus{ID: id, State: eleanor.TaskSuccess,
		Result: "40"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a new worker (-want +got):\n%s", diff)
	}
	if requeued.Result != "" {
		t.Errorf("requeued task has result %q, want none", requeued.Result)
	}
}

func TestWorkerShutdownLeaksNoGoroutine(t *testing.T) {
	r := startRedis(t)
	// The Redis server's supervisor goroutines belong to the test.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rdb := newRedisClient(t, r)
	c := queue.NewClient(rdb, queue.Config{}, nil)
	w := queue.NewWorker(rdb, queue.WorkerConfig{
		WorkDuration:    time.Second,
		ShutdownTimeout: 100 * time.Millisecond,
	}, nil)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}

	id, err := c.Enqueue(context.Background(), eleanor.TaskAdd)
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, eleanor.TaskStarted, 3*time.Second)
	w.Shutdown()
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
}
