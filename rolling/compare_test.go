package rolling

import (
	"fmt"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// upgradeMetrics runs one 5-member upgrade on a fake seeded with seed, after
// a step-down that puts the initial leader at a seed-dependent ordinal, and
// summarises the history of the upgrade itself.
func upgradeMetrics(t *testing.T, seed uint64, targeted bool) (fake.Metrics, string) {
	t.Helper()
	c := fake.New(fake.Config{Seed: seed, Replicas: 5, TargetedTransfer: targeted})
	if _, err := c.Apply([]upgrade.Action{upgrade.StepDown{Member: "bao-0"}}); err != nil {
		t.Fatal(err)
	}
	c.Run(30)
	start := len(c.History())
	o := c.Truth()
	first, _ := o.Leader()
	spec := Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0"}
	h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) },
		upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
	if _, err := h.RunUntilIdle(2000); err != nil {
		t.Fatalf("seed %d targeted=%v: %v", seed, targeted, err)
	}
	return fake.Summarize(c.History()[start:]), first.Name
}

// TestLeaderChangesTargetedVsStepDown compares, over the same 20 seeds,
// targeted leadership transfer with the naive baseline (an untargeted
// step-down whenever the pod to restart leads).
func TestLeaderChangesTargetedVsStepDown(t *testing.T) {
	const seeds = 20
	type agg struct{ changes, leaderless, elections, worst int }
	var res [2]agg
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %-8s %-28s %-28s\n", "seed", "leader", "targeted (changes/leaderless s)", "step-down (changes/leaderless s)")
	for seed := uint64(1); seed <= seeds; seed++ {
		var row [2]fake.Metrics
		var first string
		for i, targeted := range []bool{true, false} {
			m, l := upgradeMetrics(t, seed, targeted)
			first = l
			row[i] = m
			res[i].changes += m.LeaderChanges
			res[i].leaderless += m.TicksWithoutLeader
			res[i].elections += m.Elections
			res[i].worst = max(res[i].worst, m.LeaderChanges)
		}
		fmt.Fprintf(&b, "%-6d %-8s %-28s %-28s\n", seed, first,
			fmt.Sprintf("%d / %d", row[0].LeaderChanges, row[0].TicksWithoutLeader),
			fmt.Sprintf("%d / %d", row[1].LeaderChanges, row[1].TicksWithoutLeader))
		// exactly one leadership change, or two when the first leader sits
		// at the highest ordinal (it restarts first, before any voter runs
		// the target version, so its successor restarts later as well)
		want := 1
		if first == "bao-4" {
			want = 2
		}
		if row[0].LeaderChanges != want || row[0].TicksWithoutLeader != 0 {
			t.Errorf("seed %d: targeted transfer made %d leader changes and %d leaderless seconds", seed, row[0].LeaderChanges, row[0].TicksWithoutLeader)
		}
	}
	avg := func(n int) float64 { return float64(n) / seeds }
	fmt.Fprintf(&b, "average: targeted %.2f leader changes, %.2f s without leader (worst %d changes); "+
		"step-down %.2f leader changes, %.2f s without leader (worst %d changes)",
		avg(res[0].changes), avg(res[0].leaderless), res[0].worst, avg(res[1].changes), avg(res[1].leaderless), res[1].worst)
	t.Log("\n" + b.String())
	if res[0].changes > res[1].changes || res[0].leaderless > res[1].leaderless {
		t.Errorf("targeted transfer is not better than the step-down baseline")
	}
}
