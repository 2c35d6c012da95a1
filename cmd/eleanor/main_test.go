package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/lab"
	"github.com/eleanor-lab/eleanor/ratelimit"
	"github.com/google/go-cmp/cmp"
)

func TestSettingsPrecedence(t *testing.T) {
	t.Setenv("ELEANOR_HTTP_ADDR", ":9000")
	t.Setenv("ELEANOR_QUERY_TIMEOUT", "3s")

	var c serveFlags
	s := newSettings("serve", "", io.Discard)
	c.register(s)
	if err := s.parse([]string{"-query-timeout", "4s"}); err != nil {
		t.Fatal(err)
	}
	if c.addr != ":9000" {
		t.Errorf("addr = %q, want the environment's :9000", c.addr)
	}
	if c.queryTimeout != 4*time.Second {
		t.Errorf("query timeout = %v, want the flag's 4s", c.queryTimeout)
	}
	if c.maxLag != 5*time.Second {
		t.Errorf("max lag = %v, want the default 5s", c.maxLag)
	}
}

func TestSettingsBadEnvironment(t *testing.T) {
	t.Setenv("ELEANOR_QUERY_TIMEOUT", "soon")
	var c serveFlags
	s := newSettings("serve", "", io.Discard)
	c.register(s)
	err := s.parse(nil)
	if err == nil || !strings.Contains(err.Error(), "ELEANOR_QUERY_TIMEOUT") {
		t.Errorf("parse = %v, want an error naming the variable", err)
	}
}

func TestParseLimit(t *testing.T) {
	for spec, want := range map[string]ratelimit.Limit{
		"100/s": {Rate: 100, Period: time.Second, Burst: 100},
		"600/m": {Rate: 600, Period: time.Minute, Burst: 600},
	} {
		got, err := parseLimit(spec)
		if diff := cmp.Diff(want, got); err != nil || diff != "" {
			t.Errorf("parseLimit(%q) %v (-want +got):\n%s", spec, err, diff)
		}
	}
	for _, spec := range []string{"", "100", "x/s", "-1/s", "10/d"} {
		if _, err := parseLimit(spec); err == nil {
			t.Errorf("parseLimit(%q): no error", spec)
		}
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"serve", "worker", "migrate", "lab"} {
		if !strings.Contains(out.String(), cmd) {
			t.Errorf("help does not mention %s", cmd)
		}
	}

	out.Reset()
	err := run(context.Background(), []string{"help", "serve"}, &out, &out)
	if err != nil {
		t.Errorf("help serve: %v", err)
	}
	for _, env := range []string{"ELEANOR_HTTP_ADDR", "ELEANOR_PRIMARY_DSN",
		"ELEANOR_REPLICA_DSNS", "ELEANOR_CACHE_REDIS", "ELEANOR_QUEUE_REDIS",
		"ELEANOR_ADMIN_TOKEN"} {
		if !strings.Contains(out.String(), env) {
			t.Errorf("serve -h does not list %s", env)
		}
	}
}

func TestRedaction(t *testing.T) {
	if got := redactURL("redis://:hunter2@cache:6379/0"); strings.Contains(got, "hunter2") {
		t.Errorf("redactURL leaks the password: %s", got)
	}
	_, err := openRedis("redis://:hunter2@cache:6379/x", time.Second)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("openRedis error %v: want one without the password", err)
	}
}

// TestBadSettingsAreRefusedCleanly checks that every subcommand answers a
// malformed DSN or URL with an error that names the setting and hides the
// password, and does not panic on the way out.
func TestBadSettingsAreRefusedCleanly(t *testing.T) {
	const badRedis = "redis://:hunter2@127.0.0.1:1/x"
	const badDSN = "root:hunter2@tcp(127.0.0.1:1"
	for _, args := range [][]string{
		{"serve", "-cache-redis", badRedis},
		{"serve", "-queue-redis", badRedis},
		{"serve", "-primary-dsn", badDSN},
		{"serve", "-replica-dsns", badDSN},
		{"worker", "-queue-redis", badRedis},
		{"migrate", "-primary-dsn", badDSN},
	} {
		var out bytes.Buffer
		args = append(args, "-log-level", "error")
		err := run(context.Background(), args, &out, &out)
		if err == nil {
			t.Errorf("%v: no error", args)
			continue
		}
		if msg := err.Error() + out.String(); strings.Contains(msg, "hunter2") {
			t.Errorf("%v: the password leaks: %s", args, msg)
		}
	}
}

// TestLabRefusesASecondLabInTheSameFolder checks that eleanor lab does not
// start over a lab that already answers in its folder, and that a folder
// without one is no obstacle.
func TestLabRefusesASecondLabInTheSameFolder(t *testing.T) {
	dir := t.TempDir()
	ln, err := lab.ListenControl(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&lab.Stack{}).ServeControl(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	err = noLabRunning(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("with a lab in the folder: %v, want an error saying "+
			"one runs already", err)
	}
	if err := noLabRunning(context.Background(), t.TempDir()); err != nil {
		t.Errorf("with no lab in the folder: %v", err)
	}
}

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"latency=3s"},
			`{"target":"","rate":1,"latency":"3s","error":false}`},
		{[]string{"error", "rate=0.5"},
			`{"target":"","rate":0.5,"latency":"0s","error":true}`},
		{[]string{"latency=200ms", "error=true", "rate=0.1"},
			`{"target":"","rate":0.1,"latency":"200ms","error":true}`},
	} {
		got, err := parseFault(tc.words)
		if err != nil || string(got) != tc.want {
			t.Errorf("parseFault(%q) = %s, %v; want %s", tc.words, got,
				err, tc.want)
		}
	}
	for _, words := range [][]string{{"speed=3"}, {"latency=soon"},
		{"rate=half"}, {"error=maybe"}} {
		if _, err := parseFault(words); err == nil {
			t.Errorf("parseFault(%q): no error", words)
		}
	}
}
