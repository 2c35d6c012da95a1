package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The router's monitor: it pings every server and measures each replica's
// lag once per check interval, so that the router's beliefs follow the
// servers without client traffic having to find out: a server marked down
// by a failed query is routed to again as soon as it answers a check.

// Run monitors the servers until ctx ends: every CheckInterval it pings
// each one and measures each replica's lag, and marks servers up or down.
func (r *Router) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.CheckInterval)
	defer tick.Stop()
	for {
		r.checkAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *Router) checkAll(ctx context.Context) {
	timeout := min(r.cfg.CheckInterval, r.cfg.QueryTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var wg sync.WaitGroup
	wg.Go(func() { r.checkPrimary(ctx) })
	for _, n := range r.replicas {
		wg.Go(func() { r.checkReplica(ctx, n) })
	}
	wg.Wait()
}

func (r *Router) checkPrimary(ctx context.Context) {
	err := r.inject(ctx, r.primary)
	if err == nil {
		err = r.primary.db.PingContext(ctx)
	}
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) {
			r.markDown(r.primary, err)
		}
		return
	}
	r.markUp(r.primary)
}

func (r *Router) checkReplica(ctx context.Context, n *Node) {
	var (
		lag   time.Duration
		known bool
	)
	err := r.inject(ctx, n)
	if err == nil {
		lag, known, err = replicaLag(ctx, n.db)
	}
	if isConnError(err) {
		if !errors.Is(ctx.Err(), context.Canceled) {
			r.markDown(n, err)
		}
		return
	}
	r.markUp(n)
	if err != nil {
		// The server answers but will not say how far behind it is,
		// for example for want of a privilege: treat its lag as
		// unknown, which keeps reads on the primary while it is up.
		lag, known = 0, false
	}

	n.mu.Lock()
	n.lag, n.lagKnown = lag, known
	n.mu.Unlock()

	lagging := !known || lag > r.cfg.MaxLag
	if was, _ := r.lastLag.Swap(n.name, lagging); was != lagging {
		if lagging {
			r.log.Warn("replica lagging: reads avoid it while the "+
				"primary is up", "db", n.name,
				"lag", describeLag(lag, known), "max_lag", r.cfg.MaxLag)
		} else if was != nil {
			r.log.Info("replica caught up", "db", n.name, "lag", lag)
		}
	}
}

func describeLag(lag time.Duration, known bool) string {
	if !known {
		return "unknown (replication not running)"
	}
	return lag.String()
}

// replicaLag returns how far the server behind db lags its primary. known
// is false when replication is not running, which MySQL reports as a NULL
// lag. The statement and column names differ between MariaDB, MySQL 8.0
// and later versions, so it tries both spellings.
func replicaLag(ctx context.Context, db *sql.DB) (lag time.Duration,
	known bool, err error) {
	rows, err := db.QueryContext(ctx, "SHOW REPLICA STATUS")
	if err != nil {
		rows, err = db.QueryContext(ctx, "SHOW SLAVE STATUS")
	}
	if err != nil {
		return 0, false, fmt.Errorf("replica status: %w", err)
	}
	defer rows.Close()

	cols, err := rows.Columns()
	if err != nil {
		return 0, false, fmt.Errorf("replica status columns: %w", err)
	}
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return 0, false, fmt.Errorf("scan replica status: %w", err)
	}
	for i, c := range cols {
		if c != "Seconds_Behind_Master" && c != "Seconds_Behind_Source" {
			continue
		}
		if !vals[i].Valid {
			return 0, false, nil
		}
		var secs int64
		if _, err := fmt.Sscan(vals[i].String, &secs); err != nil {
			return 0, false, fmt.Errorf("parse lag %q: %w",
				vals[i].String, err)
		}
		return time.Duration(secs) * time.Second, true, nil
	}
	return 0, false, nil
}
