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

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1.
// Another program may take one before it is used; lab checks again at
// start.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			return nil, fmt.Errorf("free port: none found in %d-%d",
				minFreePort, maxFreePort)
		}
		port := minFreePort + rand.IntN(maxFreePort-minFreePort)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		// Keep it open until all are chosen, so none repeats.
		defer l.Close()
		ports = append(ports, port)
	}
	return ports, nil
}
