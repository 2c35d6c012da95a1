package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/eleanor-lab/eleanor/db"
)

func runMigrate(ctx context.Context, args []string,
	stdout, stderr io.Writer) error {
	var (
		logs    logFlags
		dbs     dbFlags
		timeout time.Duration
	)
	s := newSettings("migrate", "Create or upgrade the schema on the "+
		"primary. Running it again is harmless.", stderr)
	logs.register(s)
	dbs.register(s)
	s.Duration(&timeout, "migrate-timeout", 60*time.Second,
		"bound on the whole migration, waiting for the primary included")
	log, err := s.start(args, &logs, stderr)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := db.Open(dbs.primary, dbs.dialTimeout, 30*time.Second)
	if err != nil {
		return err
	}
	defer pool.Close()
	log.Info("migrating", "component", "migrate",
		"primary", db.RedactDSN(dbs.primary))
	// The primary may still be starting (in the lab, or in a
	// docker-compose where everything starts at once): retry until the
	// bound rather than fail on the first refused connection.
	for {
		err = db.Migrate(ctx, pool, log)
		if err == nil || ctx.Err() != nil {
			break
		}
		log.Warn("migration failed, retrying in 1s", "component", "migrate",
			"err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "schema up to date")
	return nil
}
