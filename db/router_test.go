package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor"
	"github.com/eleanor-lab/eleanor/db"
	"github.com/eleanor-lab/eleanor/internal/logrec"
	"github.com/eleanor-lab/eleanor/internal/waitfor"
	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/lab/labtest"
)

// Bounds of these tests. They are generous on purpose: they separate
// "fails fast" from "hangs on a timeout", not fast from slightly faster.
const (
	queryTimeout  = 2 * time.Second // the default; shorter would flake on a busy machine
	checkInterval = 200 * time.Millisecond
	maxLag        = 2 * time.Second
	fastFail      = 500 * time.Millisecond // a refused write, no waiting
	recoverWithin = 20 * time.Second       // from repair to normal mode
)

// env is a topology with a router and a store on it.
type env struct {
	top    *lab.Topology
	router *db.Router
	store  *db.ProductStore
	logs   *logrec.Recorder
}

// TestWithDatabases runs every database scenario on one topology, in
// order: each subtest mends what it broke.
func TestWithDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers; skipped with -short")
	}
	e := newEnv(t)

	t.Run("MigrateTwice", e.testMigrateTwice)
	t.Run("CreateAndFind", e.testCreateAndFind)
	t.Run("CreateRace", e.testCreateRace)
	t.Run("ReadBackWhileReplicationStopped", e.testReadBack)
	t.Run("SchemaNotYetOnReplica", e.testSchemaBehind)
	t.Run("ReplicaLagging", e.testReplicaLagging)
	t.Run("ReplicaStopped", e.testReplicaStopped)
	t.Run("ReplicaFrozen", e.testReplicaFrozen)
	t.Run("PrimaryStopped", e.testPrimaryStopped)
	t.Run("PrimaryFrozen", e.testPrimaryFrozen)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	top := labtest.Start(t, lab.Options{})
	logs := logrec.New(testWriter{t})

	open := func(name, dsn string) *db.Node {
		pool, err := db.Open(dsn, queryTimeout, queryTimeout)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		t.Cleanup(func() { pool.Close() })
		return db.NewNode(name, pool)
	}
	primary := open("primary", top.Primary.DSN(lab.Database))
	replica := open("replica-1", top.Replicas[0].DSN(lab.Database))
	router := db.NewRouter(primary, []*db.Node{replica}, nil,
		db.RouterConfig{
			QueryTimeout:  queryTimeout,
			MaxLag:        maxLag,
			CheckInterval: checkInterval,
			RetryAfter:    time.Second,
		}, logs.Logger())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { router.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := db.Migrate(ctx, primary.DB(), logs.Logger()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return &env{top: top, router: router, logs: logs,
		store: db.NewProductStore(router, nil)}
}

// testWriter sends the logs to the test log, to read on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func (e *env) testMigrateTwice(t *testing.T) {
	ctx := context.Background()
	if err := db.Migrate(ctx, e.router.Primary().DB(), e.logs.Logger()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	err := e.router.Primary().DB().QueryRowContext(ctx,
		"SELECT COUNT(*) FROM schema_migrations").Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("schema_migrations has %d rows (%v), want 1", n, err)
	}
}

func (e *env) create(t *testing.T, name string) string {
	t.Helper()
	id, err := e.store.CreateProduct(context.Background(),
		eleanor.ProductInput{Name: name, Type: "tv", Price: "564.00"})
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	return id
}

func (e *env) testCreateAndFind(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Millisecond)
	id := e.create(t, "Samsung TV multicolor")

	p, err := e.store.FindProduct(context.Background(), id)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if p.ID != id || p.Name != "Samsung TV multicolor" || p.Type != "tv" ||
		p.Price.String() != "564.00" {
		t.Errorf("found %+v", p)
	}
	if p.CreatedAt.Before(before) || time.Since(p.CreatedAt) > time.Minute {
		t.Errorf("created at %v, want about %v", p.CreatedAt, before)
	}

	again := e.create(t, "Samsung TV multicolor")
	if again != id {
		t.Errorf("second create returned %s, want the first id %s", again, id)
	}

	_, err = e.store.FindProduct(context.Background(),
		"00000000000000000000000000000000")
	if eleanor.ErrorCode(err) != eleanor.ENOTFOUND {
		t.Errorf("find unknown id: %v, want not found", err)
	}
}

func (e *env) testCreateRace(t *testing.T) {
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i] = e.create(t, "raced product") })
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing creates returned different ids: %v", ids)
		}
	}
	var count int
	err := e.router.Primary().DB().QueryRow("SELECT COUNT(*) FROM products " +
		"WHERE product_name = 'raced product'").Scan(&count)
	if err != nil || count != 1 {
		t.Errorf("%d rows for the raced name (%v), want 1", count, err)
	}
}

// mend runs fn at the end of the test, failing it if fn fails.
func mend(t *testing.T, what string, fn func(ctx context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := fn(ctx); err != nil {
			t.Errorf("mend: %s: %v", what, err)
		}
	})
}

func (e *env) replica() *lab.MariaDB { return e.top.Replicas[0] }

// routedTo waits until the router believes the replica is up or down.
func (e *env) waitReplicaUp(t *testing.T, up bool) {
	t.Helper()
	waitfor.Until(t, fmt.Sprintf("replica up=%v", up), recoverWithin, func() bool {
		return e.router.Replicas()[0].Up() == up
	})
}

func (e *env) testReadBack(t *testing.T) {
	ctx := context.Background()
	if err := e.replica().StopReplication(ctx); err != nil {
		t.Fatal(err)
	}
	mend(t, "start replication", e.replica().StartReplication)

	for i := range 5 {
		id := e.create(t, fmt.Sprintf("just written %d", i))
		p, err := e.store.FindProduct(ctx, id)
		if err != nil || p.ID != id {
			t.Fatalf("read back %s at once: %+v, %v", id, p, err)
		}
	}
}

// testSchemaBehind reads a table the replica does not have (created with
// the binary log off, so it never replicates): the read is answered by
// the primary, as one after a fresh migration would be.
func (e *env) testSchemaBehind(t *testing.T) {
	ctx := context.Background()
	conn, err := e.router.Primary().DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The connection goes back to the pool: it must log again.
	defer conn.Close()
	defer conn.ExecContext(ctx, "SET sql_log_bin = 1")
	for _, q := range []string{"SET sql_log_bin = 0",
		"CREATE TABLE primary_only (id INT PRIMARY KEY)",
		"INSERT INTO primary_only VALUES (1)"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	e.logs.Reset()
	var n int
	err = e.router.Read(ctx, func(ctx context.Context, db *sql.DB) error {
		return db.QueryRowContext(ctx,
			"SELECT COUNT(*) FROM primary_only").Scan(&n)
	})
	if err != nil || n != 1 {
		t.Fatalf("read of a table only the primary has: %d, %v", n, err)
	}
	if e.logs.Count("read retried on primary", map[string]string{
		"reason": "schema not yet on replica-1"}) != 1 {
		t.Error("no log line shows the read retried on the primary")
	}
}

func (e *env) testReplicaLagging(t *testing.T) {
	ctx := context.Background()
	id := e.create(t, "lag probe")
	if err := e.replica().StopReplication(ctx); err != nil {
		t.Fatal(err)
	}
	mend(t, "start replication", e.replica().StartReplication)

	e.logs.Reset()
	waitfor.Until(t, "reads routed to the primary for lag", recoverWithin,
		func() bool {
			if _, err := e.store.FindProduct(ctx, id); err != nil {
				t.Fatalf("read while lagging: %v", err)
			}
			return e.logs.Count("read from primary",
				map[string]string{"reason": "replica lagging"}) > 0
		})

	if err := e.replica().StartReplication(ctx); err != nil {
		t.Fatal(err)
	}
	e.logs.Reset()
	waitfor.Until(t, "reads back on the replica", recoverWithin, func() bool {
		if _, err := e.store.FindProduct(ctx, id); err != nil {
			t.Fatalf("read after catching up: %v", err)
		}
		return e.logs.Count("read from replica", nil) > 0
	})
}

// readsNeverFail reads id n times and fails the test on any error or on
// a read slower than slowest.
func (e *env) readsNeverFail(t *testing.T, id string, n int,
	slowest time.Duration) {
	t.Helper()
	for i := range n {
		start := time.Now()
		p, err := e.store.FindProduct(context.Background(), id)
		if err != nil || p.ID != id {
			t.Fatalf("read %d: %+v, %v", i, p, err)
		}
		if d := time.Since(start); d > slowest {
			t.Errorf("read %d took %v, want under %v", i, d, slowest)
		}
	}
}

func (e *env) testReplicaStopped(t *testing.T) {
	id := e.create(t, "replica stop probe")
	if err := e.replica().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mend(t, "start replica", e.replica().Start)

	// No health check runs here: the router finds out by itself.
	e.readsNeverFail(t, id, 50, 2*queryTimeout)
	e.waitReplicaUp(t, false)

	if err := e.replica().Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitReplicaUp(t, true)
	e.logs.Reset()
	waitfor.Until(t, "reads back on the replica", recoverWithin, func() bool {
		e.readsNeverFail(t, id, 1, 2*queryTimeout)
		return e.logs.Count("read from replica", nil) > 0
	})
}

func (e *env) testReplicaFrozen(t *testing.T) {
	id := e.create(t, "replica freeze probe")
	if err := e.replica().Freeze(); err != nil {
		t.Fatal(err)
	}
	mend(t, "thaw replica", func(context.Context) error {
		return e.replica().Thaw()
	})

	// At most one read waits for the query timeout before the replica
	// is avoided; none fails.
	e.readsNeverFail(t, id, 30, queryTimeout+time.Second)
	e.waitReplicaUp(t, false)

	if err := e.replica().Thaw(); err != nil {
		t.Fatal(err)
	}
	e.waitReplicaUp(t, true)
}

// write tries to create a product and returns the error and how long it
// took.
func (e *env) write(name string) (time.Duration, error) {
	start := time.Now()
	_, err := e.store.CreateProduct(context.Background(),
		eleanor.ProductInput{Name: name, Type: "t", Price: "1"})
	return time.Since(start), err
}

func (e *env) testPrimaryStopped(t *testing.T) {
	id := e.create(t, "primary stop probe")
	waitfor.Until(t, "replicated", recoverWithin, func() bool {
		return lab.WaitReplicated(context.Background(), e.top.Primary,
			e.replica()) == nil
	})
	if err := e.top.Primary.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mend(t, "start primary", e.top.Primary.Start)

	e.readsNeverFail(t, id, 30, 2*queryTimeout)
	e.assertReadOnly(t, queryTimeout+time.Second)

	// A product missing on the replica may be a write it never got:
	// with the primary down, that is "retry", not "not found".
	_, err := e.store.FindProduct(context.Background(),
		"0123456789abcdef0123456789abcdef")
	if eleanor.ErrorCode(err) != eleanor.EUNAVAILABLE {
		t.Errorf("unknown product with the primary down: %v, want "+
			"unavailable", err)
	}

	if err := e.top.Primary.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, "writes accepted again", recoverWithin, func() bool {
		_, err := e.write("after the primary came back")
		return err == nil
	})
	e.readsNeverFail(t, id, 5, 2*queryTimeout)
}

// assertReadOnly checks that writes answer "unavailable" with a
// Retry-After, the first within firstWithin and the next ones at once.
func (e *env) assertReadOnly(t *testing.T, firstWithin time.Duration) {
	t.Helper()
	for i := range 5 {
		d, err := e.write(fmt.Sprintf("refused %d", i))
		var ee *eleanor.Error
		if eleanor.ErrorCode(err) != eleanor.EUNAVAILABLE {
			t.Fatalf("write %d: %v, want unavailable", i, err)
		}
		if !errors.As(err, &ee) || ee.RetryAfter <= 0 {
			t.Errorf("write %d: no Retry-After in %v", i, err)
		}
		bound := fastFail
		if i == 0 {
			bound = firstWithin
		}
		if d > bound {
			t.Errorf("write %d refused after %v, want within %v", i, d, bound)
		}
	}
}

func (e *env) testPrimaryFrozen(t *testing.T) {
	id := e.create(t, "primary freeze probe")
	// The replica must be serving reads again after the previous test,
	// replication included: a replica whose replication is down counts
	// as lagging, and its reads go to the primary.
	e.logs.Reset()
	waitfor.Until(t, "reads on the replica", recoverWithin, func() bool {
		e.readsNeverFail(t, id, 1, 2*queryTimeout)
		return e.logs.Count("read from replica", nil) > 0
	})
	if err := e.top.Primary.Freeze(); err != nil {
		t.Fatal(err)
	}
	mend(t, "thaw primary", func(context.Context) error {
		return e.top.Primary.Thaw()
	})

	// Reads do not need the primary: they are not slowed.
	e.readsNeverFail(t, id, 30, queryTimeout)
	e.assertReadOnly(t, queryTimeout+time.Second)

	if err := e.top.Primary.Thaw(); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, "writes accepted again", recoverWithin, func() bool {
		_, err := e.write("after the primary thawed")
		return err == nil
	})
}

// TestReadsSpreadOverReplicas: with two replicas, reads go to both, and
// keep going when one stops.
func TestReadsSpreadOverReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB servers; skipped with -short")
	}
	top := labtest.Start(t, lab.Options{Replicas: 2})
	logs := logrec.New(nil)
	var nodes []*db.Node
	for i, m := range append([]*lab.MariaDB{top.Primary}, top.Replicas...) {
		pool, err := db.Open(m.DSN(lab.Database), queryTimeout, queryTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Close() })
		name := "primary"
		if i > 0 {
			name = lab.ReplicaName(i)
		}
		nodes = append(nodes, db.NewNode(name, pool))
	}
	router := db.NewRouter(nodes[0], nodes[1:], nil, db.RouterConfig{
		QueryTimeout: queryTimeout, CheckInterval: checkInterval,
	}, logs.Logger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { router.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := db.Migrate(ctx, nodes[0].DB(), logs.Logger()); err != nil {
		t.Fatal(err)
	}
	store := db.NewProductStore(router, nil)
	id, err := store.CreateProduct(ctx, eleanor.ProductInput{Name: "spread",
		Type: "t", Price: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range top.Replicas {
		if err := lab.WaitReplicated(ctx, top.Primary, r); err != nil {
			t.Fatal(err)
		}
	}

	read := func(n int) {
		t.Helper()
		for i := range n {
			if _, err := store.FindProduct(ctx, id); err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
		}
	}
	read(20)
	for _, name := range []string{"replica-1", "replica-2"} {
		if n := logs.Count("read from replica", map[string]string{
			"db": name}); n < 5 {
			t.Errorf("%s served %d of 20 reads, want a fair share", name, n)
		}
	}

	if err := top.Replicas[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	read(20)
	logs.Reset()
	read(10)
	if n := logs.Count("read from replica", map[string]string{
		"db": "replica-2"}); n != 10 {
		t.Errorf("replica-2 served %d of 10 reads with replica-1 down, "+
			"want all", n)
	}
}
