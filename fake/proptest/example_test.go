package proptest_test

import (
	"fmt"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake/proptest"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// An operator's own defaults around rolling.Step, checked on one drawn
// scenario; in a test, proptest.Run(t, cfg) draws hundreds and shrinks any
// failure.
func Example() {
	myDefaults := func(next scenario.StepFunc) scenario.StepFunc {
		return func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return next(obs, st) // e.g. fill spec defaults, filter the observation
		}
	}
	cfg := proptest.Config{
		Replicas: []int{3, 5},
		Strategy: func(proptest.Cluster) scenario.Strategy {
			spec := rolling.Spec{Version: scenario.To, Image: scenario.Image(scenario.To)}
			return scenario.Wrap(scenario.Rolling(spec), myDefaults)
		},
	}
	gen := rapid.Custom(func(rt *rapid.T) scenario.Scenario { return proptest.Draw(rt, cfg) })
	res := scenario.Run(gen.Example(1))
	fmt.Println("violation:", res.Violation)
	// Output: violation: <nil>
}
