package proptest_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake/proptest"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

func rollingSpec() rolling.Spec {
	return rolling.Spec{Version: scenario.To, Image: scenario.Image(scenario.To)}
}

func TestRolling(t *testing.T) {
	var st proptest.Stats
	proptest.Run(t, proptest.Config{
		Strategy: func(proptest.Cluster) scenario.Strategy { return scenario.Rolling(rollingSpec()) },
		Report:   st.Report,
	})
	if st.Runs == 0 || st.Steps < st.Runs || st.Outcomes[upgrade.OutcomeSucceeded] == 0 {
		t.Fatalf("statistics of a passing run: %s", &st)
	}
	t.Log(&st)
}

func TestBlueGreen(t *testing.T) {
	proptest.Run(t, proptest.Config{
		Replicas: []int{3},
		OpenBao:  true,
		// Faults hit blue and green members alike.
		Members: func(c proptest.Cluster) []string {
			green := bluegreen.GreenName("bao", scenario.To, scenario.Image(scenario.To))
			var out []string
			for i := range c.Replicas {
				out = append(out, fmt.Sprintf("bao-%d", i), fmt.Sprintf("%s-%d", green, i))
			}
			return out
		},
		Strategy: func(proptest.Cluster) scenario.Strategy {
			return scenario.BlueGreen(bluegreen.Spec{Version: scenario.To, Image: scenario.Image(scenario.To),
				Workload: "bao", Service: "bao", AutoPromote: true})
		},
	})
}

// A host bug the kit must find: a wrapper that "helps" by restarting the
// leader's pod whenever the strategy waits for a pod.
func TestFindsAHostThatRestartsTheLeader(t *testing.T) {
	careless := func(next scenario.StepFunc) scenario.StepFunc {
		return func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			d, err := next(obs, st)
			if l, ok := obs.Leader(); ok && st.Upgrade != nil && len(d.Actions) == 0 {
				d.Actions = append(d.Actions, upgrade.DeletePod{Member: l.Name, UID: l.Pod.UID})
			}
			return d, err
		}
	}
	cfg := proptest.Config{
		Replicas: []int{3},
		Strategy: func(proptest.Cluster) scenario.Strategy {
			return scenario.Wrap(scenario.Rolling(rollingSpec()), careless)
		},
	}
	gen := rapid.Custom(func(rt *rapid.T) scenario.Scenario { return proptest.Draw(rt, cfg) })
	for seed := range 50 {
		if res := scenario.Run(gen.Example(seed)); res.Violation != nil {
			t.Logf("seed %d: %v", seed, res.Violation)
			return
		}
	}
	t.Fatal("50 drawn scenarios never caught a host that restarts the leader")
}
