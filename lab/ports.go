package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
)

// portsFile records a topology's ports in its folder, so that a restart
// on the same folder, and replicas configured with the primary's port,
// keep working.
const portsFile = "ports.json"

// assignPorts returns a port for every name of offsets. Ports recorded
// in dir are kept; the others are base plus the name's offset, or free
// ports chosen by the kernel when base is zero. The result is recorded.
func assignPorts(dir string, offsets map[string]int,
	base int) (map[string]int, error) {
	path := filepath.Join(dir, portsFile)
	ports, err := loadPorts(path)
	if err != nil {
		return nil, err
	}

	var missing []string
	for _, name := range slices.Sorted(maps.Keys(offsets)) {
		if ports[name] == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return ports, nil
	}

	if err := fillPorts(ports, missing, offsets, base); err != nil {
		return nil, err
	}
	return ports, savePorts(path, ports)
}

// fillPorts gives each missing name base plus its offset, or a free
// port when base is zero.
func fillPorts(ports map[string]int, missing []string,
	offsets map[string]int, base int) error {
	if base != 0 {
		for _, name := range missing {
			ports[name] = base + offsets[name]
		}
		return nil
	}
	free, err := FreePorts(len(missing))
	if err != nil {
		return err
	}
	for i, name := range missing {
		ports[name] = free[i]
	}
	return nil
}

// loadPorts reads a ports file; a missing file gives an empty map.
func loadPorts(path string) (map[string]int, error) {
	ports := map[string]int{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ports, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &ports); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ports, nil
}

// savePorts writes a ports file.
func savePorts(path string, ports map[string]int) error {
	b, err := json.MarshalIndent(ports, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Free ports are drawn below the kernel's ephemeral range (32768 and up
// on Linux), where the source ports of outgoing connections and the
// ports of other programs that ask for "any port" come from: a server of
// the lab stopped by a test must find its port still free when it starts
// again.
const (
	minFreePort = 20000
	maxFreePort = 32000
)

// reserved holds the ports this process has handed out, each with the
// lock file that keeps other processes off it. A port is chosen some
// seconds before its server binds it, and stays needed while a test stops
// and restarts that server: in both windows another process looking for
// a free port (another test package, running in parallel) must not take
// it. The locks are released when the process exits.
var reserved = struct {
	sync.Mutex
	ports map[int]*os.File
}{ports: map[int]*os.File{}}

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1
// and that no other process using this package has reserved. They stay
// reserved for this process until it exits.
func FreePorts(n int) ([]int, error) {
	reserved.Lock()
	defer reserved.Unlock()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			return nil, fmt.Errorf("free port: none found in %d-%d",
				minFreePort, maxFreePort)
		}
		port := minFreePort + rand.IntN(maxFreePort-minFreePort)
		if reserved.ports[port] != nil || !reserve(port) {
			continue
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// reserve takes the lock of port, shared by all processes on this
// machine, and checks that nothing listens on it.
func reserve(port int) bool {
	dir := filepath.Join(os.TempDir(), "eleanor-lab-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return false
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)),
		os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return false
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err != nil {
		f.Close()
		return false
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		f.Close() // closing the file releases the lock
		return false
	}
	l.Close()
	reserved.ports[port] = f
	return true
}
