package lab

import (
	"errors"
	"net"
	"strconv"
	"strings"
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

// TestCheckPortsNamesBusyPorts checks that a lab refuses to start when
// one of its ports is taken, naming the port and its component, and
// starts when all are free.
func TestCheckPortsNamesBusyPorts(t *testing.T) {
	ports, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPorts(map[string]int{"a": ports[0], "b": ports[1]}); err != nil {
		t.Fatalf("free ports: %v", err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1",
		strconv.Itoa(ports[1])))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = checkPorts(map[string]int{"a": ports[0], "b": ports[1]})
	want := strconv.Itoa(ports[1]) + " (b)"
	if !errors.Is(err, ErrPortsInUse) || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("one busy port: got %v, want ErrPortsInUse ending in %q",
			err, want)
	}
}
