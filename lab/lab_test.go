package lab_test

import (
	"context"
	"database/sql"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

// TestMain fails the tests if supervision goroutines outlive them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestTopology breaks and mends a real topology, then restarts it on
// its folder.
func TestTopology(t *testing.T) {
	dir := t.TempDir()
	top := labtest.Start(t, lab.Options{Dir: dir})

	t.Run("replicates", func(t *testing.T) {
		exec(t, top.Primary, "CREATE TABLE t (id INT PRIMARY KEY)")
		exec(t, top.Primary, "INSERT INTO t VALUES (1)")
		waitReplicated(t, top)
		if n := count(t, top.Replicas[0]); n != 1 {
			t.Fatalf("replica has %d rows, want 1", n)
		}
	})
	t.Run("frozen replica times out", func(t *testing.T) {
		testFrozen(t, top.Replicas[0])
	})
	t.Run("replication resumes after primary restart", func(t *testing.T) {
		restart(t, top.Primary.Process)
		exec(t, top.Primary, "INSERT INTO t VALUES (2)")
		waitReplicated(t, top)
		if n := count(t, top.Replicas[0]); n != 2 {
			t.Fatalf("replica has %d rows, want 2", n)
		}
	})
	t.Run("lag while replication is stopped", func(t *testing.T) {
		testLag(t, top)
	})
	t.Run("crashed cache restarts empty", func(t *testing.T) {
		testCrash(t, top.Cache)
	})
	t.Run("queue keeps keys across restart", func(t *testing.T) {
		testQueuePersists(t, top.Queue)
	})
	t.Run("close stops everything", func(t *testing.T) {
		testClose(t, top)
	})
	t.Run("start again on the same folder", func(t *testing.T) {
		testReuse(t, dir, top.Primary.Port)
	})
}

// testFrozen shows that a frozen server makes queries time out, and
// that it answers again once thawed.
func testFrozen(t *testing.T, m *lab.MariaDB) {
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if !m.Frozen() {
		t.Error("Frozen() = false after Freeze")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := queryCount(ctx, m)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query on frozen server: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("query on frozen server took %s", d)
	}

	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, m); n != 1 {
		t.Errorf("thawed replica has %d rows, want 1", n)
	}
}

// testLag stops replication, writes, sees the replica behind, then
// starts replication and sees it catch up.
func testLag(t *testing.T, top *lab.Topology) {
	ctx := context.Background()
	replica := top.Replicas[0]
	if err := replica.StopReplication(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, top.Primary, "INSERT INTO t VALUES (100)")
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := lab.WaitReplicated(short, top.Primary, replica)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReplicated while stopped: %v, want deadline", err)
	}

	if err := replica.StartReplication(ctx); err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, top)
	exec(t, top.Primary, "DELETE FROM t WHERE id = 100")
	waitReplicated(t, top)
}

// testCrash kills the cache and starts it again, without its data.
func testCrash(t *testing.T, r *lab.Redis) {
	ctx := context.Background()
	c := r.Client()
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if r.Running() || r.PID() != 0 {
		t.Fatalf("running after Kill, pid %d", r.PID())
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET k after crash: %v, want redis.Nil", err)
	}
}

// testQueuePersists writes a key, restarts the queue and reads it back.
func testQueuePersists(t *testing.T, r *lab.Redis) {
	ctx := context.Background()
	c := r.Client()
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	restart(t, r.Process)
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("after restart, GET k = %q, %v; want \"v\"", got, err)
	}
}

// testClose closes the topology and checks that no process is left.
func testClose(t *testing.T, top *lab.Topology) {
	var pids []int
	for _, p := range top.Components() {
		pids = append(pids, p.PID())
	}
	if err := top.Components()[1].Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := top.Close(); err != nil {
		t.Fatal(err)
	}
	for i, p := range top.Components() {
		if p.Running() {
			t.Errorf("%s still running", p.Name())
		}
		if err := syscall.Kill(pids[i], 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists: %v", p.Name(), pids[i], err)
		}
	}
}

// testReuse starts a topology again on dir and finds the data and the
// ports of the first start.
func testReuse(t *testing.T, dir string, port int) {
	top := labtest.Start(t, lab.Options{Dir: dir})
	if top.Primary.Port != port {
		t.Errorf("primary port %d, want %d", top.Primary.Port, port)
	}
	exec(t, top.Primary, "INSERT INTO t VALUES (3)")
	waitReplicated(t, top)
	if n := count(t, top.Replicas[0]); n != 3 {
		t.Fatalf("replica has %d rows, want 3", n)
	}
}

// restart restarts p within 30s.
func restart(t *testing.T, p *lab.Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitReplicated waits up to 10s for every replica.
func waitReplicated(t *testing.T, top *lab.Topology) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range top.Replicas {
		if err := lab.WaitReplicated(ctx, top.Primary, r); err != nil {
			t.Fatal(err)
		}
	}
}

// exec runs a statement in the eleanor database.
func exec(t *testing.T, m *lab.MariaDB, stmt string) {
	t.Helper()
	db := open(t, m)
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// count returns the number of rows of table t.
func count(t *testing.T, m *lab.MariaDB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := queryCount(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// queryCount counts the rows of table t.
func queryCount(ctx context.Context, m *lab.MariaDB) (int, error) {
	db, err := m.Open(lab.Database)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n)
	return n, err
}

// open opens the eleanor database and closes it with the test.
func open(t *testing.T, m *lab.MariaDB) *sql.DB {
	t.Helper()
	db, err := m.Open(lab.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestRequire names the Debian packages of missing programs.
func TestRequire(t *testing.T) {
	err := lab.Require("sh", "no-such-program-x")
	var missing *lab.MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("Require = %v, want a *MissingError", err)
	}
	want := []string{"no-such-program-x"}
	if diff := cmp.Diff(want, missing.Programs); diff != "" {
		t.Errorf("missing programs (-want +got):\n%s", diff)
	}

	err = &lab.MissingError{Programs: []string{
		"mariadbd", "mariadb-install-db", "redis-server"}}
	msg := "missing mariadbd, mariadb-install-db, redis-server: " +
		"install with apt-get install mariadb-server redis-server"
	if err.Error() != msg {
		t.Errorf("Error() = %q, want %q", err, msg)
	}
}
