package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// settings is a flag set whose every flag can also be given as an
// environment variable: -http-addr is ELEANOR_HTTP_ADDR. Flags override
// the environment, which overrides the defaults.
type settings struct {
	fs *flag.FlagSet
}

// newSettings returns the settings of command name; its usage, and the
// errors of its flags, go to w.
func newSettings(name, summary string, w io.Writer) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	s := &settings{fs: fs}
	fs.Usage = func() { s.usage(fs.Output(), summary) }
	return s
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "ELEANOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (s *settings) String(p *string, name, def, usage string) {
	s.fs.StringVar(p, name, def, usage)
}

func (s *settings) Duration(p *time.Duration, name string,
	def time.Duration, usage string) {
	s.fs.DurationVar(p, name, def, usage)
}

func (s *settings) Int(p *int, name string, def int, usage string) {
	s.fs.IntVar(p, name, def, usage)
}

func (s *settings) Bool(p *bool, name string, def bool, usage string) {
	s.fs.BoolVar(p, name, def, usage)
}

// start parses args and returns the command's logger, writing to w and
// also carrying what the Redis and MySQL clients print on their own.
func (s *settings) start(args []string, logs *logFlags,
	w io.Writer) (*slog.Logger, error) {
	if err := s.parse(args); err != nil {
		return nil, err
	}
	log, err := logs.logger(w)
	if err != nil {
		return nil, err
	}
	quietLibraryLogs(log)
	return log, nil
}

// parse applies the environment, then the command line.
func (s *settings) parse(args []string) error {
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value: %w",
				envName(f.Name), err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return s.fs.Parse(args)
}

func (s *settings) usage(w io.Writer, summary string) {
	fmt.Fprintf(w, "usage: eleanor %s [flags]\n\n%s\n\n", s.fs.Name(), summary)
	fmt.Fprintf(w, "Each flag may also be set by the environment variable "+
		"shown; flags win.\n\n")
	s.fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  -%s  (%s)\n", f.Name, envName(f.Name))
		fmt.Fprintf(w, "        %s", f.Usage)
		if f.DefValue != "" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
