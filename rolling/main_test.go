package rolling

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// stepsGenerated counts the Step calls made by the property tests.
var stepsGenerated atomic.Int64

// regressionsSeen counts the property Steps that observed a regressed
// leader (an election failed back after the target led; S8).
var regressionsSeen atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if n := stepsGenerated.Load(); n > 0 && testing.Verbose() {
		fmt.Printf("rolling: property tests generated %d steps\n", n)
	}
	os.Exit(code)
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run go test -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
