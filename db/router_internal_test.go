package db

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPlanRead(t *testing.T) {
	const maxLag = 5 * time.Second
	fresh := nodeState{up: true, lag: time.Second, lagKnown: true}
	lagging := nodeState{up: true, lag: time.Minute, lagKnown: true}
	unknown := nodeState{up: true}
	down := nodeState{up: false, lagKnown: true}

	tests := []struct {
		name      string
		primaryUp bool
		force     bool
		replicas  []nodeState
		start     int
		want      []target
	}{{
		name:      "no replica reads the primary",
		primaryUp: true,
		want:      []target{{-1, reasonNoReplica}},
	}, {
		name:      "healthy replica first, primary as fallback",
		primaryUp: true,
		replicas:  []nodeState{fresh},
		want:      []target{{0, reasonReplica}, {-1, reasonFallback}},
	}, {
		name:      "replicas rotate",
		primaryUp: true,
		replicas:  []nodeState{fresh, fresh, fresh},
		start:     4,
		want: []target{{1, reasonReplica}, {2, reasonReplica},
			{0, reasonReplica}, {-1, reasonFallback}},
	}, {
		name:      "down replica skipped",
		primaryUp: true,
		replicas:  []nodeState{down, fresh},
		want:      []target{{1, reasonReplica}, {-1, reasonFallback}},
	}, {
		name:      "flag sends reads to the primary",
		primaryUp: true,
		force:     true,
		replicas:  []nodeState{fresh},
		want:      []target{{-1, reasonFlag}, {0, reasonFallback}},
	}, {
		name:      "flag ignored while the primary is down",
		primaryUp: false,
		force:     true,
		replicas:  []nodeState{fresh},
		want:      []target{{0, reasonReplica}},
	}, {
		name:      "replica down reads the primary",
		primaryUp: true,
		replicas:  []nodeState{down},
		want:      []target{{-1, reasonReplicaDown}},
	}, {
		name:      "lagging replica avoided, kept as last fallback",
		primaryUp: true,
		replicas:  []nodeState{lagging},
		want:      []target{{-1, reasonReplicaLag}, {0, reasonFallback}},
	}, {
		name:      "unknown lag counts as lagging",
		primaryUp: true,
		replicas:  []nodeState{unknown},
		want:      []target{{-1, reasonReplicaLag}, {0, reasonFallback}},
	}, {
		name:      "primary down: a stale replica beats an error",
		primaryUp: false,
		replicas:  []nodeState{unknown},
		want:      []target{{0, reasonPrimaryDown}},
	}, {
		name:      "nothing believed up: try everything",
		primaryUp: false,
		replicas:  []nodeState{down, down},
		want: []target{{-1, reasonLastResort}, {0, reasonLastResort},
			{1, reasonLastResort}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planRead(tt.primaryUp, tt.force, tt.replicas, maxLag,
				tt.start)
			if diff := cmp.Diff(tt.want, got,
				cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("planRead (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	body := "-- a comment\nCREATE TABLE a (x INT);\n\nINSERT INTO a\n" +
		"VALUES (1);\nSELECT 1"
	want := []string{"CREATE TABLE a (x INT)", "INSERT INTO a\nVALUES (1)",
		"SELECT 1"}
	if diff := cmp.Diff(want, splitStatements(body)); diff != "" {
		t.Errorf("splitStatements (-want +got):\n%s", diff)
	}
}

func TestRedactDSN(t *testing.T) {
	got := RedactDSN("app:s3cret@tcp(db:3306)/eleanor")
	if want := "app:xxxxx@tcp(db:3306)/eleanor"; got != want {
		t.Errorf("RedactDSN = %q, want %q", got, want)
	}
	if got := RedactDSN("app:s3cret@nonsense"); got != "(unparsable DSN)" {
		t.Errorf("RedactDSN(bad) = %q", got)
	}
}

// BenchmarkPlanRead measures the routing decision, made on every read.
func BenchmarkPlanRead(b *testing.B) {
	replicas := []nodeState{
		{up: true, lag: time.Second, lagKnown: true},
		{up: false},
		{up: true, lag: time.Second, lagKnown: true},
	}
	for i := 0; b.Loop(); i++ {
		planRead(true, false, replicas, 5*time.Second, i)
	}
}
