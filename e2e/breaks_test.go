package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/cache"
	"github.com/eleanor-lab/eleanor/internal/waitfor"
	"github.com/eleanor-lab/eleanor/lab"
)

// Bounds of the break steps, generous on purpose: they tell "degrades
// within its timeouts" from "hangs", not fast from slightly faster.
const (
	// fastAnswer bounds an answer that must not wait for a dead
	// dependency: echo, a read from the other database, a refused write.
	fastAnswer = time.Second
	// degradeWithin bounds an answer that may wait once for a dependency
	// call to time out (the longest timeout is the 3s task probe).
	degradeWithin = 5 * time.Second
	// recoverWithin bounds the return to normal after a repair.
	recoverWithin = 30 * time.Second
)

// breakComponent runs action on a component and mends it when the test
// ends, whatever happens.
func (s *service) breakComponent(t *testing.T, p *lab.Process,
	action string) {
	t.Helper()
	var err error
	switch action {
	case "stop":
		err = p.Stop(context.Background())
	case "freeze":
		err = p.Freeze()
	case "kill":
		err = p.Kill()
	}
	if err != nil {
		t.Fatalf("%s %s: %v", action, p.Name(), err)
	}
	t.Cleanup(func() { mend(t, p) })
}

// mend thaws or starts p if needed.
func mend(t *testing.T, p *lab.Process) {
	if p.Frozen() {
		if err := p.Thaw(); err != nil {
			t.Errorf("thaw %s: %v", p.Name(), err)
		}
	}
	if !p.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Start(ctx); err != nil {
			t.Errorf("start %s: %v", p.Name(), err)
		}
	}
}

// assertProductsWork creates and reads a product, both within bound.
func (s *service) assertProductsWork(t *testing.T, name string,
	bound time.Duration) {
	t.Helper()
	r := s.do(t, "POST", "/api/product", fmt.Sprintf(
		`{"product_name": %q, "product_type": "t", "price": "1.50"}`, name))
	if r.status != 200 || r.took > bound {
		t.Fatalf("create %q: %d in %v: %s", name, r.status, r.took, r.raw)
	}
	id := r.body["product_id"].(string)
	r = s.do(t, "GET", "/api/product/"+id, "")
	if r.status != 200 || r.took > bound {
		t.Fatalf("read %q: %d in %v: %s", name, r.status, r.took, r.raw)
	}
}

func (s *service) testCacheStopped(t *testing.T) {
	s.breakComponent(t, s.top.Cache.Process, "stop")

	// Products and tasks do not need the cache; rate limiting fails
	// open, so these requests pass.
	s.assertProductsWork(t, "cache down", degradeWithin)
	id := s.enqueue(t, "/api/task")
	s.waitTask(t, id, "SUCCESS", "40", 15*time.Second)

	// Health reports the cache, and serves that failure from its cache.
	var results []any
	waitfor.Until(t, "health reports the cache", recoverWithin, func() bool {
		r := s.do(t, "GET", "/api/health", "")
		if r.status != 503 {
			return false
		}
		results = s.health(t, 503)
		return !checkPassed(results, "redis_check")
	})
	if !checkPassed(results, "db_master_check") {
		t.Error("health: db_master_check failed while only the cache is down")
	}

	mend(t, s.top.Cache.Process)
	waitfor.Until(t, "health passes again", recoverWithin, func() bool {
		return s.do(t, "GET", "/api/health", "").status == 200
	})
}

func (s *service) testQueueStopped(t *testing.T) {
	s.breakComponent(t, s.top.Queue.Process, "stop")

	r := s.do(t, "PUT", "/api/task", "")
	if r.status != 503 || r.took > degradeWithin ||
		r.header.Get("Retry-After") == "" {
		t.Errorf("PUT task with the queue down: %d in %v: %s", r.status,
			r.took, r.raw)
	}
	s.assertProductsWork(t, "queue down", fastAnswer)

	mend(t, s.top.Queue.Process)
	waitfor.Until(t, "tasks accepted again", recoverWithin, func() bool {
		return s.do(t, "PUT", "/api/task", "").status == 200
	})
}

func (s *service) testWorkerStopped(t *testing.T) {
	s.breakComponent(t, s.worker, "stop")

	id := s.enqueue(t, "/api/task")
	time.Sleep(time.Second)
	if state, _ := s.taskState(t, id); state != "PENDING" {
		t.Errorf("task with no worker: %s, want PENDING", state)
	}

	mend(t, s.worker)
	s.waitTask(t, id, "SUCCESS", "40", recoverWithin)
}

func (s *service) testPrimaryStopped(t *testing.T) {
	id := s.createProduct(t, "before the primary stops")
	waitfor.Until(t, "replicated", recoverWithin, func() bool {
		return lab.WaitReplicated(context.Background(), s.top.Primary,
			s.top.Replicas[0]) == nil
	})
	s.breakComponent(t, s.top.Primary.Process, "stop")

	for i := range 20 {
		r := s.do(t, "GET", "/api/product/"+id, "")
		if r.status != 200 {
			t.Fatalf("read %d with the primary down: %d %s", i, r.status, r.raw)
		}
	}
	for i := range 5 {
		r := s.do(t, "POST", "/api/product", fmt.Sprintf(
			`{"product_name": "refused %d", "product_type": "t", "price": "1"}`, i))
		if r.status != 503 || r.header.Get("Retry-After") == "" ||
			r.took > degradeWithin {
			t.Errorf("write %d with the primary down: %d in %v, %v: %s", i,
				r.status, r.took, r.header, r.raw)
		}
	}

	mend(t, s.top.Primary.Process)
	waitfor.Until(t, "writes accepted again", recoverWithin, func() bool {
		r := s.do(t, "POST", "/api/product",
			`{"product_name": "after", "product_type": "t", "price": "1"}`)
		return r.status == 200
	})
}

func (s *service) testReplicaStopped(t *testing.T) {
	id := s.createProduct(t, "before the replica stops")
	s.breakComponent(t, s.top.Replicas[0].Process, "stop")

	// Nobody calls /api/health: the router finds out by itself.
	for i := range 50 {
		r := s.do(t, "GET", "/api/product/"+id, "")
		if r.status != 200 {
			t.Fatalf("read %d with the replica down: %d %s", i, r.status, r.raw)
		}
	}
	// The health check reports the replica, and its failing check sets
	// the shared force-primary flag, as in the seed.
	rdb := s.top.Cache.Client()
	defer rdb.Close()
	flagSet := func() bool {
		n, err := rdb.Exists(context.Background(), cache.FlagKey).Result()
		return err == nil && n == 1
	}
	waitfor.Until(t, "health reports the replica", recoverWithin, func() bool {
		r := s.do(t, "GET", "/api/health", "")
		return r.status == 503 && flagSet()
	})

	mend(t, s.top.Replicas[0].Process)
	waitfor.Until(t, "health passes and clears the flag", recoverWithin,
		func() bool {
			r := s.do(t, "GET", "/api/health", "")
			return r.status == 200 && !flagSet()
		})
	waitfor.Until(t, "reads back on the replica", recoverWithin, func() bool {
		before := len(s.logs.lines("read from replica"))
		s.do(t, "GET", "/api/product/"+id, "")
		return len(s.logs.lines("read from replica")) > before
	})
}

// testFrozen freezes each dependency in turn: paths that do not need it
// are not slowed, and the others degrade within their timeouts.
func (s *service) testFrozen(t *testing.T) {
	id := s.createProduct(t, "before the freeze")
	waitfor.Until(t, "replicated", recoverWithin, func() bool {
		return lab.WaitReplicated(context.Background(), s.top.Primary,
			s.top.Replicas[0]) == nil
	})
	for _, p := range []*lab.Process{s.top.Cache.Process,
		s.top.Queue.Process, s.top.Primary.Process} {
		t.Run(p.Name(), func(t *testing.T) {
			s.breakComponent(t, p, "freeze")
			for i := range 10 {
				r := s.do(t, "GET", "/api/echo", "")
				if r.status != 200 || r.took > fastAnswer {
					t.Errorf("echo %d: %d in %v", i, r.status, r.took)
				}
				r = s.do(t, "GET", "/api/product/"+id, "")
				if r.status != 200 || r.took > fastAnswer {
					t.Errorf("read %d: %d in %v", i, r.status, r.took)
				}
			}
			r := s.do(t, "GET", "/api/health", "")
			if r.took > degradeWithin {
				t.Errorf("health took %v", r.took)
			}
		})
	}
}

// TestWorkerKilledMidTask kills the worker while it runs a task: the task
// is not lost, and completes on the next worker. asynq reclaims a task
// whose worker died once its lease has expired, which takes one to two
// minutes; the test runs beside the others.
func TestWorkerKilledMidTask(t *testing.T) {
	if testing.Short() {
		t.Skip("takes up to two minutes; skipped with -short")
	}
	t.Parallel()
	s := start(t, options{workerEnv: []string{"ELEANOR_TASK_WORK=5s"}})

	id := s.enqueue(t, "/api/task")
	s.waitTask(t, id, "STARTED", "", 10*time.Second)
	s.breakComponent(t, s.worker, "kill")
	mend(t, s.worker)

	s.waitTask(t, id, "SUCCESS", "40", 3*time.Minute)
}

// testInjectedFaults drives the fault injector through the admin
// endpoints: chaos without stopping any process.
func (s *service) testInjectedFaults(t *testing.T) {
	id := s.createProduct(t, "before the injected faults")
	auth := map[string]string{"Authorization": "Bearer " + adminToken}

	r := s.doHeader(t, "PUT", "/admin/faults/replica",
		`{"rate": 1, "error": true}`, nil)
	if r.status != 401 {
		t.Fatalf("PUT fault without the token: %d, want 401", r.status)
	}
	r = s.doHeader(t, "PUT", "/admin/faults/replica",
		`{"rate": 1, "error": true}`, auth)
	if r.status != 200 {
		t.Fatalf("PUT fault: %d %s", r.status, r.raw)
	}
	t.Cleanup(func() { s.doHeader(t, "DELETE", "/admin/faults", "", auth) })

	// Every replica read fails: reads go on, from the primary.
	for i := range 20 {
		if r := s.do(t, "GET", "/api/product/"+id, ""); r.status != 200 {
			t.Fatalf("read %d with replica errors injected: %d %s", i,
				r.status, r.raw)
		}
	}

	// A slow cache slows nothing but what needs it.
	r = s.doHeader(t, "PUT", "/admin/faults/cache",
		`{"rate": 1, "latency": "3s"}`, auth)
	if r.status != 200 {
		t.Fatalf("PUT fault: %d %s", r.status, r.raw)
	}
	for i := range 5 {
		if r := s.do(t, "GET", "/api/echo", ""); r.took > fastAnswer {
			t.Errorf("echo %d took %v with a slow cache", i, r.took)
		}
		if r := s.do(t, "GET", "/api/product/"+id, ""); r.status != 200 ||
			r.took > fastAnswer {
			t.Errorf("read %d with a slow cache: %d in %v", i, r.status,
				r.took)
		}
	}
}

// testGracefulShutdown stops the API with SIGTERM while a request is in
// flight: the request is answered, not cut off.
func (s *service) testGracefulShutdown(t *testing.T) {
	// A frozen queue makes the health check's task probe wait its 3s
	// bound: a request still in flight when SIGTERM arrives.
	time.Sleep(2500 * time.Millisecond) // let cached health results expire
	s.breakComponent(t, s.top.Queue.Process, "freeze")

	answered := make(chan response, 1)
	go func() { answered <- s.doQuiet("GET", "/api/health") }()
	time.Sleep(500 * time.Millisecond)
	sigterm := time.Now()
	if err := s.api.Stop(context.Background()); err != nil {
		t.Fatalf("stop api: %v", err)
	}
	r := <-answered
	if r.at.Before(sigterm) {
		t.Fatal("the request was answered before SIGTERM: nothing tested")
	}
	if r.status != 200 && r.status != 503 {
		t.Errorf("in-flight request at SIGTERM: status %d, err %v", r.status,
			r.err)
	}
	s.logs.expect(t, "the API draining its requests",
		"shutting down: draining requests")
}
