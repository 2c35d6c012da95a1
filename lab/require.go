package lab

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// packages maps each program lab may run to the Debian package that
// installs it, so that a missing program gives an actionable error.
var packages = map[string]string{
	"mariadbd":           "mariadb-server",
	"mariadb-install-db": "mariadb-server",
	"redis-server":       "redis-server",
	"nginx":              "nginx",
}

// sbinDirs are searched after PATH because a normal user's PATH often
// lacks them while mariadbd and nginx are installed there.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// MissingError reports programs that are not installed.
type MissingError struct {
	// Programs are the missing programs, in the order asked for.
	Programs []string
}

// Error names the missing programs and the Debian packages to install.
func (e *MissingError) Error() string {
	var pkgs []string
	for _, p := range e.Programs {
		pkg, ok := packages[p]
		if !ok {
			pkg = p
		}
		if !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	return fmt.Sprintf("missing %s: install with apt-get install %s",
		strings.Join(e.Programs, ", "), strings.Join(pkgs, " "))
}

// Require returns a *MissingError naming every program that cannot be
// found, or nil when all are installed.
func Require(programs ...string) error {
	var missing []string
	for _, p := range programs {
		if _, err := LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Programs: missing}
	}
	return nil
}

// TopologyPrograms returns the programs Start needs.
func TopologyPrograms() []string {
	return []string{"mariadbd", "mariadb-install-db", "redis-server"}
}

// LookPath finds a program in PATH, then in the sbin folders.
func LookPath(program string) (string, error) {
	path, err := exec.LookPath(program)
	if err == nil {
		return path, nil
	}
	for _, dir := range sbinDirs {
		p, e := exec.LookPath(filepath.Join(dir, program))
		if e == nil {
			return p, nil
		}
	}
	return "", err
}
