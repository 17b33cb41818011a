package rolling

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/raftshift/raftshift/internal/stepcase"
	"github.com/raftshift/raftshift/upgrade"
)

const stepTestdata = "testdata/step"

// TestStepTestdata replays every case directory of testdata/step from its
// files alone (spec.json, observation.json, status.json) and compares the
// decision with decision.golden. With -update the directories are written
// from the Go table of TestStep first, after checking that the JSON inputs
// decide exactly as the Go values do.
func TestStepTestdata(t *testing.T) {
	if *update {
		if err := os.RemoveAll(stepTestdata); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, tc := range stepCases() {
			if other, dup := seen[stepcase.Slug(tc.name)]; dup {
				t.Fatalf("cases %q and %q share a directory name", other, tc.name)
			}
			seen[stepcase.Slug(tc.name)] = tc.name
			dir, err := stepcase.Write(stepTestdata, tc.name, tc.spec, tc.obs, tc.status)
			if err != nil {
				t.Fatal(err)
			}
			want := stepcase.Render(Step(tc.spec, tc.obs, tc.status))
			if err := os.WriteFile(filepath.Join(dir, stepcase.DecisionFile), []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dirs, err := stepcase.Dirs(stepTestdata)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < len(stepCases()) {
		t.Fatalf("%d case directories for %d table cases: run go test ./rolling -run TestStepTestdata -update", len(dirs), len(stepCases()))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var spec Spec
			var obs upgrade.Observation
			var st upgrade.Status
			if err := stepcase.Read(dir, &spec, &obs, &st); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, stepcase.DecisionFile))
			if err != nil {
				t.Fatal(err)
			}
			if got := stepcase.Render(Step(spec, obs, st)); got != string(want) {
				t.Errorf("decision differs from %s (run with -update to accept):\n%s", dir, got)
			}
		})
	}
}
