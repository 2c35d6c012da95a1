package lab

import (
	"context"
	"database/sql"
	"fmt"
)

// The replication account replicas use to read the primary's binary
// log. It exists only on loopback servers of a lab.
const (
	replUser     = "repl"
	replPassword = "repl"
)

// SetupReplication makes replica follow primary by GTID, both running.
// It creates the replication account on the primary, then points the
// replica at it and starts replication. It is idempotent: a replica
// already following primary is only made sure to run, so a topology
// restarted on its folder resumes where it stopped.
func SetupReplication(ctx context.Context, primary, replica *MariaDB) error {
	account := fmt.Sprintf("'%s'@'127.0.0.1'", replUser)
	err := primary.exec(ctx,
		fmt.Sprintf("CREATE USER IF NOT EXISTS %s IDENTIFIED BY '%s'",
			account, replPassword),
		"GRANT REPLICATION SLAVE ON *.* TO "+account)
	if err != nil {
		return fmt.Errorf("create replication user: %w", err)
	}

	status, err := replica.replicaStatus(ctx)
	if err != nil {
		return fmt.Errorf("replica status of %s: %w", replica.Name(), err)
	}
	if status["Master_Port"] == fmt.Sprint(primary.Port) {
		return replica.StartReplication(ctx)
	}
	if err := replica.exec(ctx, "STOP SLAVE", changeMaster(primary)); err != nil {
		return fmt.Errorf("configure %s: %w", replica.Name(), err)
	}
	return replica.StartReplication(ctx)
}

// changeMaster renders the statement pointing a replica at primary. A
// retry of one second lets replication resume quickly after the
// primary restarts; the default is a minute.
func changeMaster(primary *MariaDB) string {
	return fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='127.0.0.1', "+
		"MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
		"MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos",
		primary.Port, replUser, replPassword)
}

// StartReplication starts the replica's replication threads; starting
// running threads does nothing.
func (m *MariaDB) StartReplication(ctx context.Context) error {
	if err := m.exec(ctx, "START SLAVE"); err != nil {
		return fmt.Errorf("start replication on %s: %w", m.Name(), err)
	}
	return nil
}

// StopReplication stops the replica's replication threads, so that it
// falls behind its primary until StartReplication.
func (m *MariaDB) StopReplication(ctx context.Context) error {
	if err := m.exec(ctx, "STOP SLAVE"); err != nil {
		return fmt.Errorf("stop replication on %s: %w", m.Name(), err)
	}
	return nil
}

// replicaStatus returns SHOW SLAVE STATUS as column → value, empty when
// replication was never configured.
func (m *MariaDB) replicaStatus(
	ctx context.Context) (map[string]string, error) {
	db, err := m.Open("")
	if err != nil {
		return nil, err
	}
	defer db.Close()

	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanFirstRow(rows)
}

// scanFirstRow reads the first row of rows as column → value.
func scanFirstRow(rows *sql.Rows) (map[string]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	status := map[string]string{}
	if !rows.Next() {
		return status, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, c := range cols {
		status[c] = vals[i].String
	}
	return status, nil
}

// WaitReplicated waits until replica has applied everything primary had
// written when it was called: the replica's GTID position reaches the
// primary's @@gtid_binlog_pos. It gives up when ctx ends.
func WaitReplicated(ctx context.Context, primary, replica *MariaDB) error {
	var pos string
	err := primary.queryRow(ctx, "SELECT @@GLOBAL.gtid_binlog_pos", &pos)
	if err != nil {
		return fmt.Errorf("primary position: %w", err)
	}
	if pos == "" {
		return nil
	}

	db, err := replica.Open("")
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		// MASTER_GTID_WAIT answers 0 once reached, -1 after its timeout;
		// the short timeout keeps ctx in charge of the overall wait.
		var res int
		err := db.QueryRowContext(ctx,
			"SELECT MASTER_GTID_WAIT(?, 0.5)", pos).Scan(&res)
		if err != nil {
			return fmt.Errorf("wait for %s to reach %s: %w",
				replica.Name(), pos, err)
		}
		if res == 0 {
			return nil
		}
	}
}
