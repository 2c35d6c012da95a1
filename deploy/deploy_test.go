// Package deploy_test checks the deployment files against the binary they
// deploy: no Docker engine or cluster runs here, so the tests read the
// files and check what can drift.
package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/eleanor-lab/eleanor/internal/testbin"
)

var settingPattern = regexp.MustCompile(`ELEANOR_[A-Z_]+`)

// knownSettings lists every ELEANOR_ variable the binary knows, as its
// help prints them. It builds the binary once for all tests.
var knownSettings = sync.OnceValues(func() (map[string]bool, error) {
	dir, err := os.MkdirTemp("", "eleanor-deploy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := testbin.Build(dir)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, cmd := range []string{"serve", "worker", "migrate"} {
		out, err := exec.Command(bin, "help", cmd).Output()
		if err != nil {
			return nil, err
		}
		for _, v := range settingPattern.FindAll(out, -1) {
			known[string(v)] = true
		}
	}
	return known, nil
})

func settings(t *testing.T) map[string]bool {
	t.Helper()
	known, err := knownSettings()
	if err != nil {
		t.Fatal(err)
	}
	return known
}

// unknownSettings returns the ELEANOR_ variables of a file that the binary
// does not know: a typo there would be ignored in silence.
func unknownSettings(t *testing.T, file string, known map[string]bool) []string {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var unknown []string
	for _, v := range settingPattern.FindAll(body, -1) {
		if !known[string(v)] {
			unknown = append(unknown, string(v))
		}
	}
	return unknown
}

func TestComposeFile(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Image       string
			Command     any
			Environment map[string]string
		}
	}
	decode(t, "docker-compose.yml", &compose)

	for _, name := range []string{"primary", "replica", "cache", "queue",
		"migrate", "api", "worker", "nginx"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("no service %q", name)
		}
	}
	if got := compose.Services["replica"].Environment["MARIADB_MASTER_HOST"]; got != "primary" {
		t.Errorf("the replica replicates from %q, want primary", got)
	}
	if cmd := commandLine(compose.Services["queue"].Command); !strings.Contains(cmd, "appendonly yes") {
		t.Errorf("the queue Redis does not persist: %s", cmd)
	}
	if got := compose.Services["api"].Environment["ELEANOR_PRIMARY_DSN"]; got == "" {
		t.Error("the API instances do not inherit the database settings")
	}
	if bad := unknownSettings(t, "docker-compose.yml", settings(t)); bad != nil {
		t.Errorf("settings eleanor does not know: %v", bad)
	}
}

func TestKubernetesManifests(t *testing.T) {
	f, err := os.Open("k8s/eleanor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	kinds := map[string]bool{}
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string
			Metadata   struct{ Name string }
			Spec       struct {
				Template struct {
					Spec struct {
						Grace      int `yaml:"terminationGracePeriodSeconds"`
						Containers []struct {
							ReadinessProbe *probe `yaml:"readinessProbe"`
							LivenessProbe  *probe `yaml:"livenessProbe"`
						}
					}
				}
			}
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("k8s/eleanor.yaml: %v", err)
		}
		if doc.APIVersion == "" || doc.Kind == "" || doc.Metadata.Name == "" {
			t.Errorf("a document lacks apiVersion, kind or name: %+v", doc)
		}
		kinds[doc.Kind+"/"+doc.Metadata.Name] = true
		if doc.Kind != "Deployment" {
			continue
		}
		if doc.Spec.Template.Spec.Grace <= 10 {
			t.Errorf("%s: a grace period of %ds does not cover the 10s "+
				"shutdown timeout", doc.Metadata.Name, doc.Spec.Template.Spec.Grace)
		}
		for _, c := range doc.Spec.Template.Spec.Containers {
			for _, p := range []*probe{c.ReadinessProbe, c.LivenessProbe} {
				// A probe of the deep check would take the whole fleet
				// out of the Service when a shared database fails.
				if p != nil && p.HTTPGet.Path == "/api/health" {
					t.Errorf("%s probes the deep health check", doc.Metadata.Name)
				}
			}
		}
	}
	for _, want := range []string{"Secret/eleanor", "Job/eleanor-migrate",
		"Deployment/eleanor-api", "Service/eleanor-api",
		"Deployment/eleanor-worker"} {
		if !kinds[want] {
			t.Errorf("no %s", want)
		}
	}
	if bad := unknownSettings(t, "k8s/eleanor.yaml", settings(t)); bad != nil {
		t.Errorf("settings eleanor does not know: %v", bad)
	}
}

type probe struct {
	HTTPGet struct{ Path string } `yaml:"httpGet"`
}

func decode(t *testing.T, file string, v any) {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// commandLine formats a compose command, a string or a list, as one string.
func commandLine(cmd any) string {
	if list, ok := cmd.([]any); ok {
		var parts []string
		for _, p := range list {
			parts = append(parts, p.(string))
		}
		return strings.Join(parts, " ")
	}
	s, _ := cmd.(string)
	return s
}
