package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Component names, as used in Component, in log prefixes and as
// folder names inside Options.Dir. Replicas are "replica-1",
// "replica-2" and so on.
const (
	PrimaryName = "primary"
	CacheName   = "cache"
	QueueName   = "queue"
)

// Database is the database Start creates on the primary.
const Database = "eleanor"

// Port offsets from Options.PortBase.
const (
	cacheOffset = 10
	queueOffset = 11
	maxReplicas = cacheOffset - 1
)

// closeWithin bounds Close, SIGKILL included.
const closeWithin = 20 * time.Second

// Options configures Start.
type Options struct {
	// Dir holds the whole topology, one folder per component plus
	// ports.json; required. Data in it is reused by the next Start.
	Dir string
	// Out receives every component's log, each line prefixed with the
	// component's name; nil discards them.
	Out io.Writer
	// Replicas is the number of MariaDB replicas; zero means 1, at
	// most 9.
	Replicas int
	// PortBase places the primary on PortBase, replica i on
	// PortBase+i, the cache on PortBase+10 and the queue on
	// PortBase+11. Zero picks free ports. Either way, the ports first
	// chosen for a folder are recorded in it and kept on later starts.
	PortBase int
}

// Topology is a running lab: a MariaDB primary with replicas, a cache
// Redis that keeps nothing on disk and a queue Redis that persists.
type Topology struct {
	// Primary is the MariaDB server that accepts writes.
	Primary *MariaDB
	// Replicas follow Primary by GTID replication.
	Replicas []*MariaDB
	// Cache is a Redis without persistence.
	Cache *Redis
	// Queue is a Redis with an append-only file.
	Queue *Redis

	logs []io.WriteCloser
}

// ReplicaName returns the name of replica i, counted from 1.
func ReplicaName(i int) string { return fmt.Sprintf("replica-%d", i) }

// Start prepares the folder (initialising data folders that are missing
// and reusing the others), starts every component, creates the database
// "eleanor" on the primary, sets up replication and returns once the
// replicas caught up. On error it stops whatever it started.
func Start(ctx context.Context, o Options) (*Topology, error) {
	t, err := build(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("start lab: %w", err)
	}
	if err := t.start(ctx); err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("start lab: %w", err)
	}
	return t, nil
}

// build checks o and the programs, assigns ports and prepares every
// component's folder.
func build(ctx context.Context, o Options) (*Topology, error) {
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Dir == "" || o.Replicas < 0 || o.Replicas > maxReplicas {
		return nil, fmt.Errorf("need a dir and 1 to %d replicas",
			maxReplicas)
	}
	if err := Require(TopologyPrograms()...); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := assignPorts(o.Dir, portOffsets(o.Replicas), o.PortBase)
	if err != nil {
		return nil, err
	}

	t := &Topology{Replicas: make([]*MariaDB, o.Replicas)}
	log := t.logWriters(o)
	err = t.buildRedis(o.Dir, ports, log)
	if err == nil {
		err = t.buildMariaDB(ctx, o.Dir, ports, log)
	}
	if err != nil {
		t.closeLogs()
		return nil, err
	}
	return t, nil
}

// portOffsets maps each component to its offset from Options.PortBase.
func portOffsets(replicas int) map[string]int {
	offsets := map[string]int{
		PrimaryName: 0, CacheName: cacheOffset, QueueName: queueOffset,
	}
	for i := 1; i <= replicas; i++ {
		offsets[ReplicaName(i)] = i
	}
	return offsets
}

// logWriters returns a function giving each component its prefixed log
// writer, names padded to one width so that the lines align.
func (t *Topology) logWriters(o Options) func(name string) io.Writer {
	width := len(ReplicaName(o.Replicas))
	return func(name string) io.Writer {
		if o.Out == nil {
			return nil
		}
		w := PrefixWriter(o.Out, fmt.Sprintf("%-*s", width, name))
		t.logs = append(t.logs, w)
		return w
	}
}

// buildRedis prepares the cache and the queue.
func (t *Topology) buildRedis(dir string, ports map[string]int,
	log func(string) io.Writer) error {
	var err1, err2 error
	t.Cache, err1 = NewRedis(RedisConfig{
		Name: CacheName, Dir: filepath.Join(dir, CacheName),
		Port: ports[CacheName], Out: log(CacheName),
	})
	t.Queue, err2 = NewRedis(RedisConfig{
		Name: QueueName, Dir: filepath.Join(dir, QueueName),
		Port: ports[QueueName], Persist: true, Out: log(QueueName),
	})
	return errors.Join(err1, err2)
}

// buildMariaDB prepares the primary and the replicas concurrently,
// since initialising a data folder takes a moment.
func (t *Topology) buildMariaDB(ctx context.Context, dir string,
	ports map[string]int, log func(string) io.Writer) error {
	configs := []MariaDBConfig{{Name: PrimaryName}}
	for i := range t.Replicas {
		configs = append(configs,
			MariaDBConfig{Name: ReplicaName(i + 1), Replica: true})
	}

	servers := make([]*MariaDB, len(configs))
	var fns []func() error
	for i, c := range configs {
		c.Dir, c.Port = filepath.Join(dir, c.Name), ports[c.Name]
		c.ServerID, c.Out = i+1, log(c.Name)
		fns = append(fns, func() (err error) {
			servers[i], err = NewMariaDB(ctx, c)
			return err
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	t.Primary = servers[0]
	copy(t.Replicas, servers[1:])
	return nil
}

// start starts every component, then prepares the primary and
// replication.
func (t *Topology) start(ctx context.Context) error {
	ports := map[string]int{}
	for _, p := range t.Components() {
		ports[p.Name()] = p.spec.Port
	}
	if err := checkPorts(ports); err != nil {
		return err
	}

	var fns []func() error
	for _, p := range t.Components() {
		fns = append(fns, func() error { return p.Start(ctx) })
	}
	if err := parallel(fns...); err != nil {
		return err
	}

	err := t.Primary.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+Database)
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	for _, r := range t.Replicas {
		if err := SetupReplication(ctx, t.Primary, r); err != nil {
			return fmt.Errorf("set up replication: %w", err)
		}
	}
	for _, r := range t.Replicas {
		if err := WaitReplicated(ctx, t.Primary, r); err != nil {
			return err
		}
	}
	return nil
}

// Components returns every component's process: the primary, the
// replicas in order, the cache and the queue.
func (t *Topology) Components() []*Process {
	var ps []*Process
	if t.Primary != nil {
		ps = append(ps, t.Primary.Process)
	}
	for _, r := range t.Replicas {
		if r != nil {
			ps = append(ps, r.Process)
		}
	}
	for _, r := range []*Redis{t.Cache, t.Queue} {
		if r != nil {
			ps = append(ps, r.Process)
		}
	}
	return ps
}

// Component returns the process of the component called name:
// "primary", "replica-1" (or just "replica"), "replica-2" and so on,
// "cache" or "queue".
func (t *Topology) Component(name string) (*Process, bool) {
	if name == "replica" {
		name = ReplicaName(1)
	}
	for _, p := range t.Components() {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Close stops every component concurrently, thawing frozen ones first,
// with SIGKILL for any still running after a bound. The data stays in
// Options.Dir for the next Start. Closing twice is harmless.
func (t *Topology) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWithin)
	defer cancel()

	var fns []func() error
	for _, p := range t.Components() {
		fns = append(fns, func() error { return p.Stop(ctx) })
	}
	err := parallel(fns...)
	t.closeLogs()
	if err != nil {
		return fmt.Errorf("close lab: %w", err)
	}
	return nil
}

// closeLogs flushes partial log lines.
func (t *Topology) closeLogs() {
	for _, w := range t.logs {
		_ = w.Close()
	}
}

// parallel runs fns concurrently and joins their errors.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, f := range fns {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
