//go:build unix && !linux

package lab

import "syscall"

// sysProcAttr puts the child in its own process group; without Linux's
// parent-death signal, children outlive a supervisor that crashes.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
