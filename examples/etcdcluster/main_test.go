package main

import (
	"bytes"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-members", "4"},
		{"-members", "3,x"},
		{"-runs", "canary"},
		{"-runs", "baseline,"},
		{"-repeat", "0"},
		{"-leader", "3"},
		{"-leader", "-1"},
		{"-members", "5", "-leader", "first"},
		{"-no-such-flag"},
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

func TestScenarios(t *testing.T) {
	for _, k := range Kinds {
		sc, err := Scenario(k, 5, "dir")
		if err != nil || sc.Members != 5 || sc.Dir != "dir" || sc.Strategy == "" {
			t.Errorf("%s: %+v, %v", k, sc, err)
		}
	}
}
