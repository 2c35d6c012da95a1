// Command eleanor is the eleanor service: an HTTP API, a task worker and
// the tools around them, in one binary.
//
//	eleanor serve     the HTTP API
//	eleanor worker    the task worker
//	eleanor migrate   create or upgrade the schema on the primary
//	eleanor lab       the whole topology on this machine, to break
//	eleanor help      this text; eleanor CMD -h describes CMD's settings
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "Serve the HTTP API.", runServe},
		{"worker", "Run tasks from the queue.", runWorker},
		{"migrate", "Create or upgrade the schema on the primary.", runMigrate},
		{"lab", "Start the whole topology locally, and break it.", runLab},
	}
}

func main() {
	// SIGINT and SIGTERM cancel ctx; every subcommand shuts down
	// gracefully from there.
	ctx, stop := signal.NotifyContext(context.Background(),
		os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "eleanor:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			err := run(ctx, []string{rest[0], "-h"}, stdout, stdout)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, rest, stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q: %w", name, errUsage)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "eleanor demonstrates, tests and measures the patterns that")
	fmt.Fprintln(w, "keep a service up when its dependencies fail.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: eleanor COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-9s %s\n", "help", "Show this, or `help COMMAND` for "+
		"a command's settings.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every setting is a flag and an environment variable; "+
		"eleanor COMMAND -h lists them with their defaults.")
}
