package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunRolling(t *testing.T) {
	var out bytes.Buffer
	o := options{replicas: 3, from: "2.3.0", to: "2.4.0", strategy: "rolling", seed: 1, targeted: true, maxTicks: 600}
	if err := run(&out, o); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"set partition of bao to 3", "transfer leadership", "current version:     2.4.0", "leader changes:      1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunBlueGreenWithFaultsAndSVG(t *testing.T) {
	var out bytes.Buffer
	svg := filepath.Join(t.TempDir(), "t.svg")
	o := options{replicas: 3, from: "2.3.0", to: "2.4.0", strategy: "bluegreen", seed: 3, targeted: false,
		maxTicks: 1200, autoPromote: true, faults: "kill-pod=bao-1@3,stale=2@8", svg: svg}
	if err := run(&out, o); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "fault: kill pod bao-1") && !strings.Contains(out.String(), "fault:") {
		t.Errorf("fault not shown:\n%s", out.String())
	}
	raw, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(raw); !strings.HasPrefix(s, "<svg") || !strings.Contains(s, "version 2.4.0") || !strings.Contains(s, "</svg>") {
		t.Errorf("svg looks wrong: %.200s", s)
	}
}

func TestCompare(t *testing.T) {
	var out bytes.Buffer
	o := options{replicas: 5, from: "2.3.0", to: "2.4.0", strategy: "rolling", seed: 2, maxTicks: 1200, compare: true}
	if err := run(&out, o); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "targeted transfer") || !strings.Contains(out.String(), "naive baseline") {
		t.Errorf("comparison table missing:\n%s", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, o := range []options{
		{replicas: 0, strategy: "rolling"},
		{replicas: 3, strategy: "bogus", from: "2.3.0", to: "2.4.0", maxTicks: 5},
		{replicas: 3, strategy: "rolling", faults: "kill-leader"},
		{replicas: 3, strategy: "rolling", faults: "nope@3"},
		{replicas: 3, strategy: "rolling", faults: "kill-pod@3"},
	} {
		if err := run(&bytes.Buffer{}, o); err == nil {
			t.Errorf("run(%+v) succeeded, want an error", o)
		}
	}
}

func TestParseFaults(t *testing.T) {
	fs, err := parseFaults("kill-leader@20, isolate=bao-1@40,heal=bao-1@60")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 || fs[1].kind != "isolate" || fs[1].arg != "bao-1" || fs[2].at != 60 {
		t.Fatalf("parsed %+v", fs)
	}
}

func TestRunOpenBaoLike(t *testing.T) {
	for _, join := range []string{"self", "api"} {
		var out strings.Builder
		err := run(&out, options{replicas: 3, from: "2.3.0", to: "2.4.0", strategy: "bluegreen", seed: 1, maxTicks: 600,
			autoPromote: true, openbao: true, join: join})
		if err != nil {
			t.Fatalf("join %s: %v\n%s", join, err, out.String())
		}
		if got := strings.Contains(out.String(), "UnexpectedPromotion"); got != (join == "api") {
			t.Errorf("join %s: unexpected promotion reported %v\n%s", join, got, out.String())
		}
	}
	if err := run(&strings.Builder{}, options{replicas: 3, strategy: "rolling", join: "nope"}); err == nil {
		t.Error("bad -join accepted")
	}
}

func TestRunOrderings(t *testing.T) {
	for _, ordering := range []string{"partition", "ondelete"} {
		var out strings.Builder
		if err := run(&out, options{replicas: 5, from: "2.3.0", to: "2.4.0", strategy: "rolling", seed: 1, maxTicks: 600,
			targeted: true, ordering: ordering}); err != nil {
			t.Fatalf("%s: %v\n%s", ordering, err, out.String())
		}
		if !strings.Contains(out.String(), "leader changes:      1") {
			t.Errorf("%s: want one leader change\n%s", ordering, out.String())
		}
		if ordering == "ondelete" && strings.Contains(out.String(), "set partition") {
			t.Errorf("ondelete set a partition\n%s", out.String())
		}
	}
	if err := run(&strings.Builder{}, options{replicas: 3, strategy: "rolling", ordering: "sideways"}); err == nil {
		t.Error("bad -ordering accepted")
	}
}

func TestRunWindowGated(t *testing.T) {
	for _, strategy := range []string{"rolling", "bluegreen"} {
		var out bytes.Buffer
		o := options{replicas: 3, from: "2.3.0", to: "2.4.0", strategy: strategy, seed: 1, targeted: true, maxTicks: 600,
			autoPromote: true, window: "0 2 * * *", windowDuration: 2 * time.Hour}
		if err := run(&out, o); err != nil {
			t.Fatalf("%s: run: %v\n%s", strategy, err, out.String())
		}
		for _, want := range []string{"waiting on MaintenanceWindow (OutsideMaintenanceWindow)", "next window opens at 2026-01-01T02:00:00Z",
			"host sleeps", "UpgradeResumed", " 02:00:00 ", "current version:     2.4.0", "held for windows:"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: output lacks %q:\n%s", strategy, want, out.String())
			}
		}
	}
	var out bytes.Buffer
	o := options{replicas: 3, from: "2.3.0", to: "2.4.0", strategy: "rolling", seed: 1, maxTicks: 60, window: "0 2 * *", windowDuration: 2 * time.Hour}
	if err := run(&out, o); err == nil || !strings.Contains(err.Error(), "invalid maintenance window") {
		t.Errorf("malformed window: err %v", err)
	}
}
