package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-nodes", "4"},
		{"-strategy", "canary"},
		{"-strategy", "baseline"},
		{"-no-such-flag"},
		{"-compare", "-bad-target"},
		{"-ordering", "random"},
		{"-leader", "3"},
		{"-leader", "-1"},
		{"-nodes", "5", "-leader", "first"},
		{"-runs", "0"},
		{"-targeted=maybe"},
		{"rolling"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
		if out.Len() != 0 {
			t.Errorf("run(%v) printed %q", args, out.String())
		}
	}
}

func TestRunRolling3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real cluster")
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"-nodes", "3", "-strategy", "rolling", "-start-delay", "200ms", "-nosync"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"strategy", "rolling", "outcome Succeeded", "leaders raft-"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
