package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eleanor-lab/eleanor"
)

// The read/write router.
//
// Writes go to the primary. While the primary is known to be down, a write
// fails at once with a 503 and a Retry-After instead of waiting for a
// connection timeout: the monitor, not client traffic, finds out when the
// primary is back, so writes resume within one check interval of its
// return.
//
// Reads go to a replica that is up and not lagging, spread round-robin
// over several. A read that fails on a replica for a connection-level
// reason is retried on the next server within the same request, and that
// replica is avoided until the monitor sees it answer again: nobody has to
// call /api/health for reads to survive a replica outage. Reads go to the
// primary instead when the shared force-primary flag is set or when every
// replica is down or lags more than MaxLag; when the primary is down too,
// a lagging replica is still better than an error.

// RouterConfig tunes the router. The zero value of each field selects the
// default given in its comment.
type RouterConfig struct {
	// QueryTimeout bounds each attempt of a query on one server.
	// Default 2s.
	QueryTimeout time.Duration

	// MaxLag is the replication lag beyond which a replica is avoided
	// while the primary is up. Default 5s.
	MaxLag time.Duration

	// CheckInterval is how often the monitor pings every server and
	// measures replica lag. Default 1s.
	CheckInterval time.Duration

	// RetryAfter is what writes tell clients to wait while the primary
	// is down. Default 2s.
	RetryAfter time.Duration

	// Inject, when not nil, is called before every query and check with
	// the node's name; an error it returns stands for an unreachable
	// server. It is the fault injector's hook.
	Inject func(ctx context.Context, node string) error

	// OnRoute, when not nil, is told of every routing decision: the
	// operation ("read", "retry", "write" or "refused"), the database
	// and the reason. Metrics hook in here.
	OnRoute func(op, db, reason string)
}

func (c *RouterConfig) setDefaults() {
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 2 * time.Second
	}
	if c.MaxLag <= 0 {
		c.MaxLag = 5 * time.Second
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 2 * time.Second
	}
}

// Flag tells whether reads must go to the primary: the force-primary flag
// that the deep health check sets when it finds the replica failing. It
// must answer from memory: it is asked on every read.
type Flag interface {
	ForcePrimary() bool
}

// Node is one database server and what the router believes of it.
type Node struct {
	name string
	db   *sql.DB

	up       atomic.Bool
	mu       sync.Mutex
	lag      time.Duration // replicas only; valid when lagKnown
	lagKnown bool
}

// NewNode returns a node named name (such as "primary" or "replica-1")
// for the pool db. A node is believed up until a query or a check fails.
func NewNode(name string, db *sql.DB) *Node {
	n := &Node{name: name, db: db}
	n.up.Store(true)
	return n
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// DB returns the node's connection pool.
func (n *Node) DB() *sql.DB { return n.db }

// Up reports whether the router currently sends queries to the node.
func (n *Node) Up() bool { return n.up.Load() }

// Lag returns the node's replication lag as last measured; known is false
// for the primary, and for a replica whose replication is not running.
func (n *Node) Lag() (lag time.Duration, known bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lag, n.lagKnown
}

// Router sends each query to the right server. Create it with NewRouter
// and start its monitor with Run.
type Router struct {
	primary  *Node
	replicas []*Node
	flag     Flag
	cfg      RouterConfig
	log      *slog.Logger
	next     atomic.Uint64 // round-robin position among replicas

	lastLag sync.Map // replica name -> bool: was it lagging at last check
}

// NewRouter returns a router over one primary and zero or more replicas.
// With no replica, reads go to the primary. flag may be nil.
func NewRouter(primary *Node, replicas []*Node, flag Flag,
	cfg RouterConfig, log *slog.Logger) *Router {
	cfg.setDefaults()
	return &Router{
		primary:  primary,
		replicas: replicas,
		flag:     flag,
		cfg:      cfg,
		log:      log.With("component", "router"),
	}
}

// Primary returns the primary node.
func (r *Router) Primary() *Node { return r.primary }

// Replicas returns the replica nodes.
func (r *Router) Replicas() []*Node { return r.replicas }

// Write runs fn on the primary, bounded by the query timeout. It fails at
// once with EUNAVAILABLE while the primary is known to be down.
func (r *Router) Write(ctx context.Context,
	fn func(ctx context.Context, db *sql.DB) error) error {
	if !r.primary.Up() {
		r.log.Warn("write refused: primary down", "db", r.primary.name,
			"reason", "primary down")
		r.observe("refused", r.primary.name, "primary down")
		return r.readOnly(nil)
	}

	r.log.Info("write to primary", "db", r.primary.name)
	r.observe("write", r.primary.name, "")
	err := r.attempt(ctx, r.primary, fn)
	if isConnError(err) && ctx.Err() == nil {
		r.markDown(r.primary, err)
		return r.readOnly(err)
	}
	return err
}

func (r *Router) observe(op, db, reason string) {
	if r.cfg.OnRoute != nil {
		r.cfg.OnRoute(op, db, reason)
	}
}

func (r *Router) readOnly(cause error) error {
	return eleanor.Unavailable(
		"the primary database is unavailable: the service is read-only "+
			"for now, retry later", r.cfg.RetryAfter, cause)
}

// isNotFound is how Read recognises a row missing on a replica: fn
// signals it by returning an error with code ENOTFOUND.
func isNotFound(err error) bool {
	return eleanor.ErrorCode(err) == eleanor.ENOTFOUND
}

// Read runs fn on the server the routing rules choose. A connection-level
// failure moves on to the next server of the plan; so does a row not found
// on a replica, because it may not have been replicated yet: a product just
// created can be read back at once, through any API instance. When the
// primary is down, a row missing on the replicas is answered "unavailable"
// rather than "not found", since it may be a write they have not received.
func (r *Router) Read(ctx context.Context,
	fn func(ctx context.Context, db *sql.DB) error) error {
	plan := r.plan()
	var err error
	for i, step := range plan {
		if i == 0 {
			r.log.Info("read from "+step.role(), "db", step.node.name,
				"reason", step.reason)
			r.observe("read", step.node.name, step.reason)
		}

		err = r.attempt(ctx, step.node, fn)
		var (
			why   string
			level = slog.LevelWarn
		)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return err
		case isConnError(err):
			r.markDown(step.node, err)
			why = step.node.name + " failed"
		case isNotFound(err) && step.node != r.primary:
			why = "not found on " + step.node.name + ", maybe not " +
				"replicated yet"
			level = slog.LevelInfo
		case isSchemaBehind(err) && step.node != r.primary:
			why = "schema not yet on " + step.node.name
			level = slog.LevelInfo
		default:
			return err
		}
		if i+1 < len(plan) {
			next := plan[i+1].node
			r.log.Log(ctx, level, "read retried on "+next.name,
				"db", next.name, "reason", why, "err", err)
			r.observe("retry", next.name, why)
		}
	}
	switch {
	case isConnError(err):
		return eleanor.Unavailable("no database can serve the read",
			r.cfg.RetryAfter, err)
	case isNotFound(err) && !plan[len(plan)-1].primary:
		// Only replicas were asked, the primary being down: a row
		// written just before it went down may not have reached them.
		// "Not found" would be a guess; "try again" is the truth.
		return eleanor.Unavailable("not found on the replica, and the "+
			"primary is unavailable to confirm it: retry later",
			r.cfg.RetryAfter, err)
	}
	return err
}

func (r *Router) attempt(ctx context.Context, n *Node,
	fn func(ctx context.Context, db *sql.DB) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.QueryTimeout)
	defer cancel()
	if err := r.inject(ctx, n); err != nil {
		return err
	}
	return fn(ctx, n.db)
}

// inject applies the injected faults on n, if any. The error it returns
// is one isConnError recognises.
func (r *Router) inject(ctx context.Context, n *Node) error {
	if r.cfg.Inject == nil {
		return nil
	}
	if err := r.cfg.Inject(ctx, n.name); err != nil {
		return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
	}
	return nil
}

func (r *Router) markDown(n *Node, err error) {
	if n.up.Swap(false) {
		r.log.Warn("database down: avoiding it until it answers again",
			"db", n.name, "err", err)
	}
}

func (r *Router) markUp(n *Node) {
	if !n.up.Swap(true) {
		r.log.Info("database answers again: routing to it", "db", n.name)
	}
}

// step is one server to try in a read plan, and why.
type step struct {
	node    *Node
	primary bool
	reason  string
}

func (s step) role() string {
	if s.primary {
		return "primary"
	}
	return "replica"
}

func (r *Router) plan() []step {
	states := make([]nodeState, len(r.replicas))
	for i, n := range r.replicas {
		lag, known := n.Lag()
		states[i] = nodeState{up: n.Up(), lag: lag, lagKnown: known}
	}
	force := r.flag != nil && r.flag.ForcePrimary()
	start := int(r.next.Add(1))

	idx := planRead(r.primary.Up(), force, states, r.cfg.MaxLag, start)
	plan := make([]step, len(idx))
	for i, t := range idx {
		n := r.primary
		if t.replica >= 0 {
			n = r.replicas[t.replica]
		}
		plan[i] = step{node: n, primary: n == r.primary, reason: t.reason}
	}
	return plan
}

// Reasons for a routing decision, as they appear in the logs.
const (
	reasonReplica       = "replica healthy"
	reasonNoReplica     = "no replica configured"
	reasonFlag          = "force-primary flag set"
	reasonReplicaDown   = "replica down"
	reasonReplicaLag    = "replica lagging"
	reasonFallback      = "fallback"
	reasonPrimaryDown   = "primary down, replica may be stale"
	reasonLastResort    = "nothing believed up, trying anyway"
	reasonNotGoodEnough = "replica lag unknown"
)

// nodeState is what planRead needs to know of a replica.
type nodeState struct {
	up       bool
	lag      time.Duration
	lagKnown bool
}

// target is one entry of a read plan: a replica's index, or -1 for the
// primary.
type target struct {
	replica int
	reason  string
}

// planRead orders the servers a read should try. It is pure, so that the
// routing rules can be tested without databases. start rotates the order
// of fresh replicas to spread the load.
func planRead(primaryUp, forcePrimary bool, replicas []nodeState,
	maxLag time.Duration, start int) []target {
	var fresh, stale []int
	for i, s := range replicas {
		switch {
		case !s.up:
		case s.lagKnown && s.lag <= maxLag:
			fresh = append(fresh, i)
		default:
			stale = append(stale, i)
		}
	}
	if len(fresh) > 1 {
		k := start % len(fresh)
		fresh = append(fresh[k:len(fresh):len(fresh)], fresh[:k]...)
	}
	add := func(plan []target, idx []int, reason string) []target {
		for _, i := range idx {
			plan = append(plan, target{i, reason})
		}
		return plan
	}

	var plan []target
	switch {
	case len(replicas) == 0:
		return []target{{-1, reasonNoReplica}}
	case forcePrimary && primaryUp:
		plan = append(plan, target{-1, reasonFlag})
		plan = add(plan, fresh, reasonFallback)
		plan = add(plan, stale, reasonFallback)
	case len(fresh) > 0:
		plan = add(plan, fresh, reasonReplica)
		if primaryUp {
			plan = append(plan, target{-1, reasonFallback})
		}
		plan = add(plan, stale, reasonFallback)
	case primaryUp:
		// A stale replica stays in the plan as a last fallback: the
		// primary may have died since the monitor last looked.
		reason := reasonReplicaDown
		if len(stale) > 0 {
			reason = reasonReplicaLag
		}
		plan = append(plan, target{-1, reason})
		plan = add(plan, stale, reasonFallback)
	default:
		plan = add(plan, stale, reasonPrimaryDown)
	}
	if len(plan) == 0 {
		// Beliefs lag reality by up to one check interval: rather than
		// fail without trying, try every server once.
		plan = append(plan, target{-1, reasonLastResort})
		for i := range replicas {
			plan = append(plan, target{i, reasonLastResort})
		}
	}
	return plan
}
