package lab_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/eleanor-lab/eleanor/lab"
)

// TestPrefixWriter checks line splitting and flushing on Close.
func TestPrefixWriter(t *testing.T) {
	var buf bytes.Buffer
	w := lab.PrefixWriter(&buf, "db")
	for _, s := range []string{"a\nb", "c\n", "\nd"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "db | a\ndb | bc\ndb | \ndb | d\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestPrefixWriterConcurrent checks that writers sharing one buffer
// never interleave lines.
func TestPrefixWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		w := lab.PrefixWriter(&buf, fmt.Sprint(i))
		wg.Go(func() {
			for range 200 {
				fmt.Fprintf(w, "%d%d\n", i, i)
			}
		})
	}
	wg.Wait()

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if l[0] != l[4] || l[4] != l[5] || len(l) != 6 {
			t.Fatalf("mixed line %q", l)
		}
	}
}
