package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSoak(t *testing.T) {
	var out bytes.Buffer
	if err := soak(&out, options{runs: 200, workers: 2, seed: 1, strategy: "both", maxSteps: 100, odds: 3}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "violations=0") || !strings.Contains(out.String(), "runs/s=") {
		t.Fatalf("output:\n%s", out.String())
	}
	// every run with the per-Step contract checks
	out.Reset()
	if err := soak(&out, options{runs: 20, workers: 2, seed: 1, strategy: "both", maxSteps: 100, odds: 3, contract: 1}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "contract=20/20") {
		t.Fatalf("output:\n%s", out.String())
	}
	if err := soak(&out, options{runs: 1, workers: 1, strategy: "nope"}); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}
