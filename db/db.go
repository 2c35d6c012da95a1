// Package db is eleanor's MySQL adapter: the read/write router that sends
// each query to the right server (router.go), the product store on top of
// it (products.go) and the embedded schema migrations (migrate.go). It
// works with MariaDB and MySQL 8 alike through go-sql-driver/mysql.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Open returns a connection pool for dsn, a go-sql-driver/mysql DSN. It
// adds the timeouts that keep a dead or frozen server from hanging a
// request: connect within dialTimeout, and read or write any packet
// within ioTimeout. It does not connect; the router's monitor does.
func Open(dsn string, dialTimeout, ioTimeout time.Duration) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's message can quote the DSN, password included.
		return nil, errors.New("parse mysql dsn: malformed DSN")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = dialTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = ioTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = ioTimeout
	}
	cfg.Loc = time.UTC
	cfg.ParseTime = true

	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(8)
	// Recycle connections so that a server restarted behind the same
	// address is reached on fresh connections soon after.
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetConnMaxIdleTime(30 * time.Second)
	return db, nil
}

// RedactDSN returns dsn with its password masked, for logs and help
// output. A DSN that does not parse is masked whole.
func RedactDSN(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if cfg.Passwd != "" {
		cfg.Passwd = "xxxxx"
	}
	return cfg.FormatDSN()
}

// QuietDriverLogs sends the driver's own messages, such as "closing bad
// idle connection", to log at Debug level instead of standard error: they
// repeat what the router already reports once, in its own words.
func QuietDriverLogs(log *slog.Logger) {
	_ = mysql.SetLogger(driverLogger{log})
}

type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprint(v...)), "component", "mysql")
}

// isSchemaBehind reports whether err says a table or column is missing:
// on a replica, a migration the primary ran may not have arrived yet, as
// any other write, and the primary can answer instead.
func isSchemaBehind(err error) bool {
	var mysqlErr *mysql.MySQLError
	return errors.As(err, &mysqlErr) &&
		(mysqlErr.Number == 1146 || // no such table
			mysqlErr.Number == 1054) // unknown column
}

// isConnError reports whether err says the server could not be reached or
// stopped answering, rather than that the query itself was wrong. Only
// such errors make the router avoid a server.
func isConnError(err error) bool {
	var (
		netErr   net.Error
		mysqlErr *mysql.MySQLError
	)
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, mysql.ErrInvalidConn),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	case errors.As(err, &mysqlErr):
		switch mysqlErr.Number {
		case 1040, // too many connections
			1053, // server shutdown in progress
			1077, // normal shutdown
			1290, // running with --read-only
			1836, // running in read-only mode
			1927: // connection was killed
			return true
		}
	}
	return false
}
