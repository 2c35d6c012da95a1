// Package chaostoolkit_test checks the Chaos Toolkit experiment files of
// this folder: that each is valid JSON of the format Chaos Toolkit reads,
// and that every action it runs is one eleanor lab accepts.
package chaostoolkit_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eleanor-lab/eleanor/lab"
)

// components are the names eleanor lab accepts (with one replica).
var components = []string{"primary", "replica", "replica-1", "cache",
	"queue", "worker", "api-1", "api-2", "nginx"}

func TestExperimentFiles(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no experiment files (%v)", err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var x map[string]any
			if err := json.Unmarshal(raw, &x); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			for _, problem := range checkExperiment(x) {
				t.Error(problem)
			}
		})
	}
}

// checkExperiment returns what is wrong with an experiment, following the
// Chaos Toolkit's experiment format: a title, a description and a
// non-empty method are required; a steady-state hypothesis has a title
// and probes with a tolerance; every activity is a probe or an action
// with a name and a provider.
func checkExperiment(x map[string]any) []string {
	var problems []string
	for _, key := range []string{"title", "description"} {
		if s, _ := x[key].(string); s == "" {
			problems = append(problems, "no "+key)
		}
	}
	method, _ := x["method"].([]any)
	if len(method) == 0 {
		problems = append(problems, "no method")
	}
	problems = append(problems, checkActivities("method", method, false)...)

	if h, ok := x["steady-state-hypothesis"]; ok {
		hyp, _ := h.(map[string]any)
		if s, _ := hyp["title"].(string); s == "" {
			problems = append(problems, "steady-state-hypothesis: no title")
		}
		probes, _ := hyp["probes"].([]any)
		problems = append(problems,
			checkActivities("steady-state-hypothesis", probes, true)...)
	}
	rollbacks, _ := x["rollbacks"].([]any)
	return append(problems, checkActivities("rollbacks", rollbacks, false)...)
}

func checkActivities(where string, list []any, hypothesis bool) []string {
	var problems []string
	for i, item := range list {
		a, _ := item.(map[string]any)
		at := fmt.Sprintf("%s[%d]", where, i)
		if _, ok := a["ref"]; ok {
			continue
		}
		kind, _ := a["type"].(string)
		if kind != "probe" && kind != "action" {
			problems = append(problems, at+": type is neither probe nor action")
		}
		if s, _ := a["name"].(string); s == "" {
			problems = append(problems, at+": no name")
		}
		if _, ok := a["tolerance"]; hypothesis && !ok {
			problems = append(problems, at+": a hypothesis probe needs a "+
				"tolerance")
		}
		if p, ok := a["pauses"].(map[string]any); ok {
			for k, v := range p {
				if _, isNum := v.(float64); !isNum || (k != "before" &&
					k != "after") {
					problems = append(problems, at+": bad pause "+k)
				}
			}
		}
		provider, _ := a["provider"].(map[string]any)
		problems = append(problems, checkProvider(at, provider)...)
	}
	return problems
}

func checkProvider(at string, p map[string]any) []string {
	if p == nil {
		return []string{at + ": no provider"}
	}
	switch p["type"] {
	case "http":
		if url, _ := p["url"].(string); !strings.HasPrefix(url, "http") {
			return []string{at + ": an http provider needs a url"}
		}
	case "process":
		return checkProcess(at, p)
	case "python":
		if p["module"] == nil || p["func"] == nil {
			return []string{at + ": a python provider needs module and func"}
		}
	default:
		return []string{fmt.Sprintf("%s: provider type %v", at, p["type"])}
	}
	return nil
}

// faultTargets are the targets eleanor lab inject accepts (with one
// replica).
var faultTargets = []string{"primary", "replica", "replica-1", "cache",
	"queue"}

// checkProcess checks that a process provider runs either eleanor lab with
// an action and a component it knows, or a script of this folder.
func checkProcess(at string, p map[string]any) []string {
	path, _ := p["path"].(string)
	args, _ := p["arguments"].(string)
	switch {
	case path == "bin/eleanor":
		if !labCommand(strings.Fields(args)) {
			return []string{fmt.Sprintf("%s: %q is not eleanor lab ACTION "+
				"COMPONENT, inject TARGET ... or clear, with --dir DIR",
				at, args)}
		}
	case strings.HasPrefix(path, "chaostoolkit/"):
		info, err := os.Stat(filepath.Base(path))
		if err != nil || info.Mode()&0o111 == 0 {
			return []string{at + ": " + path + " is not an executable here"}
		}
	default:
		return []string{at + ": unexpected process " + path}
	}
	return nil
}

// labCommand reports whether f is a command line eleanor lab accepts from
// another terminal, ending with --dir DIR.
func labCommand(f []string) bool {
	n := len(f)
	if n < 4 || f[0] != "lab" || f[n-2] != "--dir" {
		return false
	}
	words := f[1 : n-2]
	switch {
	case len(words) == 2 && slices.Contains(lab.Actions(), words[0]):
		return slices.Contains(components, words[1])
	case len(words) == 1:
		return words[0] == "clear"
	case len(words) < 3 || words[0] != "inject" ||
		!slices.Contains(faultTargets, words[1]):
		return false
	}
	for _, w := range words[2:] {
		key, _, _ := strings.Cut(w, "=")
		if key != "latency" && key != "rate" && key != "error" {
			return false
		}
	}
	return true
}

// TestCheckerCatchesMistakes keeps the checker honest: it must refuse
// what Chaos Toolkit or eleanor lab would refuse.
func TestCheckerCatchesMistakes(t *testing.T) {
	bad := `{"title": "t", "method": [
		{"type": "action", "name": "a",
		 "provider": {"type": "process", "path": "bin/eleanor",
		              "arguments": "lab explode primary --dir .lab"}},
		{"type": "action", "name": "b",
		 "provider": {"type": "process", "path": "bin/eleanor",
		              "arguments": "lab inject moon speed=3 --dir .lab"}},
		{"type": "probe", "provider": {"type": "http"}}],
		"steady-state-hypothesis": {"probes": [{"type": "probe",
		 "name": "p", "provider": {"type": "http", "url": "http://x"}}]}}`
	var x map[string]any
	if err := json.Unmarshal([]byte(bad), &x); err != nil {
		t.Fatal(err)
	}
	got := checkExperiment(x)
	want := []string{
		"no description",
		`method[0]: "lab explode primary --dir .lab" is not eleanor lab ` +
			"ACTION COMPONENT, inject TARGET ... or clear, with --dir DIR",
		`method[1]: "lab inject moon speed=3 --dir .lab" is not eleanor ` +
			"lab ACTION COMPONENT, inject TARGET ... or clear, with --dir DIR",
		"method[2]: no name",
		"method[2]: an http provider needs a url",
		"steady-state-hypothesis: no title",
		"steady-state-hypothesis[0]: a hypothesis probe needs a tolerance",
	}
	if !slices.Equal(got, want) {
		t.Errorf("checkExperiment found:\n%s\nwant:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
