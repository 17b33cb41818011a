package main

import (
	"bytes"
	"strings"
	"testing"
)

// The example observation, planned: a healthy cluster would act at once,
// restarts every member once and changes leader once.
func TestPlanTheExample(t *testing.T) {
	var obs bytes.Buffer
	if err := run([]string{"-example"}, nil, &obs); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run([]string{"-observation", "-", "-version", "2.4.0", "-image", "openbao/openbao:2.4.0"},
		bytes.NewReader(obs.Bytes()), &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"would act now:", "restart order: bao-2, bao-1, bao-0", "leader changes: 1", "outcome: Succeeded 2.3.0 -> 2.4.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-observation", "-", "-version", "2.4.0", "-image", "x", "-strategy", "canary"},
		{"-observation", "-", "-version", "2.4.0", "-image", "x", "-ordering", "random"},
	} {
		if err := run(args, strings.NewReader("{}"), &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if err := run([]string{"-observation", "-", "-version", "2.4.0", "-image", "x"}, strings.NewReader(`{"bogus": 1}`), &bytes.Buffer{}); err == nil {
		t.Error("unknown observation field accepted")
	}
}
