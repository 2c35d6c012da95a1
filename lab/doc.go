// Package lab starts and controls a private database and cache topology
// built from programs installed on the machine: a MariaDB primary with
// replicas, a cache Redis and a queue Redis, each in a folder of its own
// and listening on loopback ports.
//
// Integration tests use it to break and mend real dependencies, and the
// "eleanor lab" command uses it to run the whole topology in the
// foreground. Nothing depends on system services already running on the
// usual ports, everything works as root, and a topology stopped and
// started again on the same folder reuses its data and its ports.
package lab
