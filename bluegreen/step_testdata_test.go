package bluegreen

import (
	"testing"

	"github.com/raftshift/raftshift/internal/stepcase"
)

// TestStepTestdata replays every case directory of testdata/step from its
// files alone (spec.json, observation.json, status.json) against its
// decision.golden; -update rewrites them from the table of TestStepTable.
func TestStepTestdata(t *testing.T) {
	var cases []stepcase.Case[Spec]
	for _, c := range stepTableCases() {
		spec := baseSpec()
		if c.spec != nil {
			c.spec(&spec)
		}
		cases = append(cases, stepcase.Case[Spec]{Name: c.name, Spec: spec, Obs: c.obs, Status: c.status})
	}
	stepcase.Run(t, "testdata/step", *update, cases, Step)
}
