package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestMutantsApply keeps every mutant's snippet present exactly once, so the
// harness stays runnable as the code changes.
func TestMutantsApply(t *testing.T) {
	if len(mutants) < 25 {
		t.Fatalf("%d mutants, the harness promises at least 25", len(mutants))
	}
	names := map[string]bool{}
	for _, m := range mutants {
		if names[m.Name] {
			t.Errorf("duplicate mutant %q", m.Name)
		}
		names[m.Name] = true
		raw, err := os.ReadFile(filepath.Join("..", "..", m.File))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(raw, []byte(m.Old)); n != 1 {
			t.Errorf("mutant %q: snippet occurs %d times in %s", m.Name, n, m.File)
		}
		if m.Old == m.New || len(m.Packages) == 0 {
			t.Errorf("mutant %q changes nothing or names no tests", m.Name)
		}
	}
}
