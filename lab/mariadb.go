package lab

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	// The driver behind Open and the readiness check.
	_ "github.com/go-sql-driver/mysql"
)

// maxSocketPath keeps unix socket paths under the kernel's limit of
// 107 bytes, which a deep t.TempDir() can exceed.
const maxSocketPath = 100

// MariaDBConfig describes a MariaDB server for NewMariaDB.
type MariaDBConfig struct {
	// Name identifies the server in errors and logs; empty means
	// "mariadb".
	Name string
	// Dir holds the generated my.cnf and the data folder; required.
	Dir string
	// Port is the TCP port on 127.0.0.1; required.
	Port int
	// ServerID is the replication server id; zero means 1. Every server
	// of a topology needs its own.
	ServerID int
	// Replica makes a read-only server with a relay log; otherwise the
	// server writes a row-based binary log for replicas to follow.
	Replica bool
	// Out receives the server's log; nil discards it.
	Out io.Writer
}

// MariaDB is a private MariaDB server. Root has an empty password and
// is reached over TCP on 127.0.0.1.
type MariaDB struct {
	*Process
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir is the server's folder.
	Dir string
}

// NewMariaDB prepares a stopped server: it writes Dir/my.cnf and, when
// Dir/data does not exist yet, initialises it with mariadb-install-db.
// An existing data folder is reused as it is.
func NewMariaDB(ctx context.Context, c MariaDBConfig) (*MariaDB, error) {
	if c.Name == "" {
		c.Name = "mariadb"
	}
	if c.ServerID == 0 {
		c.ServerID = 1
	}
	if c.Dir == "" || c.Port == 0 {
		return nil, fmt.Errorf("new %s: dir and port are required", c.Name)
	}
	if err := prepareMariaDB(ctx, c); err != nil {
		return nil, fmt.Errorf("new %s: %w", c.Name, err)
	}

	m := &MariaDB{Port: c.Port, Dir: c.Dir}
	m.Process = NewProcess(Spec{
		Name:  c.Name,
		Argv:  []string{"mariadbd", "--defaults-file=" + m.confPath()},
		Dir:   c.Dir,
		Out:   c.Out,
		Ready: m.ping,
		Port:  c.Port,
	})
	return m, nil
}

// prepareMariaDB writes the configuration and initialises the data.
func prepareMariaDB(ctx context.Context, c MariaDBConfig) error {
	// Each server gets its own tmpdir: in the shared /tmp, concurrent
	// bootstraps were seen to lose their temporary tables.
	tmp := filepath.Join(c.Dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(c.Dir, "my.cnf")
	if err := os.WriteFile(conf, []byte(mariaDBConf(c)), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return installDB(ctx, c)
}

// mariaDBConf renders my.cnf, tuned to start fast and use little memory
// rather than to survive a machine crash.
func mariaDBConf(c MariaDBConfig) string {
	lines := []string{
		"[mariadbd]",
		"datadir=" + filepath.Join(c.Dir, "data"),
		"socket=" + socketPath(c.Dir, "mariadbd.sock"),
		"pid-file=" + filepath.Join(c.Dir, "mariadbd.pid"),
		"tmpdir=" + filepath.Join(c.Dir, "tmp"),
		fmt.Sprintf("port=%d", c.Port),
		"bind-address=127.0.0.1",
		fmt.Sprintf("server-id=%d", c.ServerID),
		"skip-name-resolve",
		"innodb-buffer-pool-size=64M",
		"innodb-log-file-size=16M",
		"innodb-flush-log-at-trx-commit=2",
	}
	if os.Geteuid() == 0 {
		lines = append(lines, "user=root")
	}
	if c.Replica {
		lines = append(lines, "relay-log=relay-bin", "read-only=1")
	} else {
		lines = append(lines, "log-bin=mysql-bin", "binlog-format=ROW")
	}
	return strings.Join(lines, "\n") + "\n"
}

// socketPath returns a unix socket path short enough to bind: in dir
// when possible, otherwise in the temporary folder under a name derived
// from dir, so that restarts agree on it.
func socketPath(dir, name string) string {
	p := filepath.Join(dir, name)
	if len(p) <= maxSocketPath {
		return p
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(dir))
	name = fmt.Sprintf("lab-%x-%s", h.Sum64(), name)
	return filepath.Join(os.TempDir(), name)
}

// installDB initialises Dir/data unless it exists. It works in a
// scratch folder renamed at the end, so an interrupted run is never
// mistaken for a usable data folder. No binary log is written here:
// replicas start from the primary's first binary log and must not
// replay the system tables' creation.
func installDB(ctx context.Context, c MariaDBConfig) error {
	data := filepath.Join(c.Dir, "data")
	if _, err := os.Stat(data); err == nil {
		return nil
	}
	scratch := data + ".init"
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	prog, err := LookPath("mariadb-install-db")
	if err != nil {
		return &MissingError{Programs: []string{"mariadb-install-db"}}
	}

	args := []string{"--no-defaults", "--datadir=" + scratch,
		"--tmpdir=" + filepath.Join(c.Dir, "tmp"),
		"--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	// Its output is a page of advice for a production install (set a
	// root password, start it at boot): noise in a lab's log, so it is
	// kept only to explain a failure.
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_, _ = orDiscard(c.Out).Write(out.Bytes())
		return fmt.Errorf("mariadb-install-db: %w", err)
	}
	fmt.Fprintf(orDiscard(c.Out), "data folder initialised by %s\n",
		filepath.Base(prog))
	return os.Rename(scratch, data)
}

// confPath returns the path of the generated my.cnf.
func (m *MariaDB) confPath() string {
	return filepath.Join(m.Dir, "my.cnf")
}

// DSN returns a go-sql-driver/mysql data source name for database, as
// root over TCP; database may be empty.
func (m *MariaDB) DSN(database string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", m.Port, database)
}

// Open returns a connection pool to database, as root; the caller
// closes it.
func (m *MariaDB) Open(database string) (*sql.DB, error) {
	return sql.Open("mysql", m.DSN(database))
}

// ping is the readiness check: the server answers a query.
func (m *MariaDB) ping(ctx context.Context) error {
	var one int
	return m.queryRow(ctx, "SELECT 1", &one)
}

// exec runs statements in order on a fresh connection.
func (m *MariaDB) exec(ctx context.Context, stmts ...string) error {
	db, err := m.Open("")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// queryRow runs a query returning one row and scans it into dest.
func (m *MariaDB) queryRow(ctx context.Context, q string, dest ...any) error {
	db, err := m.Open("")
	if err != nil {
		return err
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, q).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%q returned no row", q)
	}
	return err
}

// orDiscard returns w, or io.Discard when w is nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
