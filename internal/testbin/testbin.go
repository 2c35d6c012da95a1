// Package testbin builds the eleanor binary for the tests that run it as
// a process, as users do.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles ./cmd/eleanor of the module into dir and returns the
// binary's path.
func Build(dir string) (string, error) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: %w", err)
	}
	bin := filepath.Join(dir, "eleanor")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/eleanor")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build eleanor: %w", err)
	}
	return bin, nil
}
