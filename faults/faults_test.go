package faults_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/eleanor-lab/eleanor/faults"
	"github.com/google/go-cmp/cmp"
)

var targets = []string{"primary", "replica", "replica-1", "cache", "queue"}

func TestValidate(t *testing.T) {
	tests := []struct {
		fault faults.Fault
		ok    bool
	}{
		{faults.Fault{Target: "primary", Rate: 1, Error: true}, true},
		{faults.Fault{Target: "cache", Rate: 0.5,
			Latency: faults.Duration(time.Second)}, true},
		{faults.Fault{Target: "nowhere", Rate: 1, Error: true}, false},
		{faults.Fault{Target: "primary", Rate: 0, Error: true}, false},
		{faults.Fault{Target: "primary", Rate: 1.5, Error: true}, false},
		{faults.Fault{Target: "primary", Rate: 1}, false},
		{faults.Fault{Target: "primary", Rate: 1,
			Latency: faults.Duration(2 * time.Minute)}, false},
	}
	for _, tt := range tests {
		if err := tt.fault.Validate(targets); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tt.fault, err, tt.ok)
		}
	}
}

func TestApplyRate(t *testing.T) {
	draws := []float64{0.1, 0.6, 0.29, 0.3}
	next := func() float64 { v := draws[0]; draws = draws[1:]; return v }
	in := faults.New(targets, next)
	if err := in.Set(faults.Fault{Target: "cache", Rate: 0.3,
		Error: true}); err != nil {
		t.Fatal(err)
	}

	var got []bool
	for range 4 {
		err := in.Apply(context.Background(), "cache")
		got = append(got, errors.Is(err, faults.ErrInjected))
	}
	if diff := cmp.Diff([]bool{true, false, true, false}, got); diff != "" {
		t.Errorf("calls failed (-want +got):\n%s", diff)
	}
	if err := in.Apply(context.Background(), "queue"); err != nil {
		t.Errorf("queue has no fault, got %v", err)
	}
}

func TestReplicaMatchesEveryReplica(t *testing.T) {
	in := faults.New(targets, func() float64 { return 0 })
	_ = in.Set(faults.Fault{Target: "replica", Rate: 1, Error: true})
	if err := in.Apply(context.Background(), "replica-1"); err == nil {
		t.Error(`a fault on "replica" spared replica-1`)
	}
	if err := in.Apply(context.Background(), "primary"); err != nil {
		t.Errorf(`a fault on "replica" hit the primary: %v`, err)
	}
}

func TestLatencyEndsWithContext(t *testing.T) {
	in := faults.New(targets, func() float64 { return 0 })
	_ = in.Set(faults.Fault{Target: "primary", Rate: 1,
		Latency: faults.Duration(time.Minute)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := in.Apply(ctx, "primary"); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context = %v", err)
	}
}

func TestClearAndList(t *testing.T) {
	in := faults.New(targets, nil)
	_ = in.Set(faults.Fault{Target: "queue", Rate: 1, Error: true})
	_ = in.Set(faults.Fault{Target: "cache", Rate: 1, Error: true})
	var names []string
	for _, f := range in.List() {
		names = append(names, f.Target)
	}
	if diff := cmp.Diff([]string{"cache", "queue"}, names); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	in.Clear("cache")
	if got := len(in.List()); got != 1 {
		t.Errorf("after Clear(cache): %d faults", got)
	}
	in.Clear("")
	if got := len(in.List()); got != 0 {
		t.Errorf("after Clear(): %d faults", got)
	}
	var nilInjector *faults.Injector
	if err := nilInjector.Apply(context.Background(), "primary"); err != nil {
		t.Errorf("nil injector: %v", err)
	}
}

func TestFaultJSON(t *testing.T) {
	var f faults.Fault
	err := json.Unmarshal([]byte(`{"rate": 0.5, "latency": "250ms"}`), &f)
	if err != nil || time.Duration(f.Latency) != 250*time.Millisecond {
		t.Fatalf("unmarshal: %+v %v", f, err)
	}
	b, _ := json.Marshal(f)
	if want := `{"target":"","rate":0.5,"latency":"250ms","error":false}`; string(b) != want {
		t.Errorf("marshal = %s, want %s", b, want)
	}
	if err := json.Unmarshal([]byte(`{"latency": "soon"}`), &f); err == nil {
		t.Error("latency \"soon\" accepted")
	}
}
