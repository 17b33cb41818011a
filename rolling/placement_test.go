package rolling

import (
	"testing"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// TestLeaderPlacementOrder runs a 5-member upgrade with bao-0 leading in
// both placements. Last: bao-0 leads on 2.3.0 until its own pod is next
// (every other member upgraded), then hands over to the upgraded voter up
// the longest (bao-4, the first restarted).
// Early: leadership moves to bao-4, the first upgraded voter, right after it
// restarted and caught up, and stays on upgraded voters: no old member
// leads after that.
func TestLeaderPlacementOrder(t *testing.T) {
	for _, p := range []upgrade.LeaderPlacement{upgrade.PlacementLast, upgrade.PlacementEarly} {
		c := fake.New(fake.Config{Seed: 3, Replicas: 5, TargetedTransfer: true})
		if err := c.ElectLeader("bao-0"); err != nil {
			t.Fatal(err)
		}
		c.Run(10)
		start := len(c.History())
		spec := Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0", LeaderPlacement: p}
		h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) },
			upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
		if _, err := h.RunUntilIdle(3000); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var leaders []string
		for _, r := range c.History()[start:] {
			for _, e := range r.Elections {
				leaders = append(leaders, e.Leader)
			}
		}
		m := fake.Summarize(c.History()[start:])
		t.Logf("%s: leaders after bao-0: %v (%d changes, %d s without leader)", p, leaders, m.LeaderChanges, m.TicksWithoutLeader)
		if len(leaders) != 1 || m.TicksWithoutLeader != 0 {
			t.Fatalf("%s: leaders %v, %d s without leader; want one transfer", p, leaders, m.TicksWithoutLeader)
		}
		// Early: the first upgraded voter, which then never restarts. Last:
		// only when bao-0 is next, every other member upgraded, to the one
		// up the longest: bao-4 again.
		want := "bao-4"
		if leaders[0] != want {
			t.Errorf("%s: leadership went to %s, want %s", p, leaders[0], want)
		}
	}
}
