package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the schema on the primary. Each file in
// migrations/ is one version, named NNN_description.sql and applied once,
// in order; the versions applied are kept in schema_migrations. Running it
// again is harmless, and a MySQL named lock keeps two concurrent runs (two
// instances starting at once) from applying the same version twice.
func Migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close()

	var locked sql.NullInt64
	err = conn.QueryRowContext(ctx,
		"SELECT GET_LOCK('eleanor_migrate', 30)").Scan(&locked)
	if err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if locked.Int64 != 1 {
		return errors.New("migrate: another migration holds the lock")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx),
		"SELECT RELEASE_LOCK('eleanor_migrate')")

	_, err = conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS
		schema_migrations (
			version    INT         NOT NULL PRIMARY KEY,
			applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
		) ENGINE = InnoDB`)
	if err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}

	files, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := apply(ctx, conn, f, log); err != nil {
			return err
		}
	}
	return nil
}

type migration struct {
	version int
	name    string
}

func migrationFiles() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrate: list: %w", err)
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migrate: %s: no version number", base)
		}
		out = append(out, migration{version: v, name: name})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].version < out[j].version
	})
	return out, nil
}

// apply runs one migration unless it is recorded as applied. MySQL commits
// DDL implicitly, so the statements cannot share a transaction with the
// record of the version: each file must therefore be safe to run again
// (CREATE TABLE IF NOT EXISTS and the like) should a run stop between the
// two.
func apply(ctx context.Context, conn *sql.Conn, m migration,
	log *slog.Logger) error {
	var n int
	err := conn.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM schema_migrations WHERE version = ?",
		m.version).Scan(&n)
	if err != nil {
		return fmt.Errorf("migrate: read version %d: %w", m.version, err)
	}
	if n > 0 {
		log.Debug("migration already applied", "component", "migrate",
			"version", m.version)
		return nil
	}

	body, err := migrations.ReadFile(m.name)
	if err != nil {
		return fmt.Errorf("migrate: read %s: %w", m.name, err)
	}
	for _, stmt := range splitStatements(string(body)) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: version %d: %w", m.version, err)
		}
	}
	_, err = conn.ExecContext(ctx,
		"INSERT INTO schema_migrations (version) VALUES (?)", m.version)
	if err != nil {
		return fmt.Errorf("migrate: record version %d: %w", m.version, err)
	}
	log.Info("migration applied", "component", "migrate",
		"version", m.version, "file", m.name)
	return nil
}

// splitStatements splits a migration file on semicolons at line ends and
// drops comment lines. The migrations are ours, so this need not handle
// semicolons inside strings.
func splitStatements(body string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for line := range strings.Lines(body) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, stmt)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
