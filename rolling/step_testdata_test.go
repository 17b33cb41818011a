package rolling

import (
	"testing"

	"github.com/raftshift/raftshift/internal/stepcase"
)

// TestStepTestdata replays every case directory of testdata/step from its
// files alone (spec.json, observation.json, status.json) against its
// decision.golden; -update rewrites them from the table of TestStep.
func TestStepTestdata(t *testing.T) {
	var cases []stepcase.Case[Spec]
	for _, tc := range stepCases() {
		cases = append(cases, stepcase.Case[Spec]{Name: tc.name, Spec: tc.spec, Obs: tc.obs, Status: tc.status})
	}
	stepcase.Run(t, "testdata/step", *update, cases, Step)
}
