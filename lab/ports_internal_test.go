package lab

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAssignPorts checks the PortBase layout and that a folder keeps
// the ports it was first given.
func TestAssignPorts(t *testing.T) {
	dir := t.TempDir()
	got, err := assignPorts(dir, portOffsets(2), 20000)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"primary": 20000, "replica-1": 20001,
		"replica-2": 20002, "cache": 20010, "queue": 20011}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}

	again, err := assignPorts(dir, portOffsets(3), 0)
	if err != nil {
		t.Fatal(err)
	}
	if again["primary"] != 20000 || again["replica-3"] == 0 {
		t.Errorf("second assignment %v keeps no ports or misses one",
			again)
	}
}
