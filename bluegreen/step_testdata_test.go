package bluegreen

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
// from the Go table of TestStepTable first.
func TestStepTestdata(t *testing.T) {
	cases := stepTableCases()
	if *update {
		if err := os.RemoveAll(stepTestdata); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, c := range cases {
			if other, dup := seen[stepcase.Slug(c.name)]; dup {
				t.Fatalf("cases %q and %q share a directory name", other, c.name)
			}
			seen[stepcase.Slug(c.name)] = c.name
			spec := baseSpec()
			if c.spec != nil {
				c.spec(&spec)
			}
			dir, err := stepcase.Write(stepTestdata, c.name, spec, c.obs, c.status)
			if err != nil {
				t.Fatal(err)
			}
			want := stepcase.Render(Step(spec, c.obs, c.status))
			if err := os.WriteFile(filepath.Join(dir, stepcase.DecisionFile), []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dirs, err := stepcase.Dirs(stepTestdata)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < len(cases) {
		t.Fatalf("%d case directories for %d table cases: run go test ./bluegreen -run TestStepTestdata -update", len(dirs), len(cases))
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
