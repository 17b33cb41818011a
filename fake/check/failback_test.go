package check_test

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// TestFailbackIsNotBlind shows S8 flags deliberately bad Decisions, and
// accepts the good ones next to them.
func TestFailbackIsNotBlind(t *testing.T) {
	obs := healthy()
	leader, _ := obs.Leader()
	var old, upgraded string
	for i := range obs.Members {
		m := &obs.Members[i]
		switch {
		case m.Name == leader.Name:
			m.Version = "2.4.0"
		case upgraded == "":
			m.Version, upgraded = "2.4.0", m.Name
		default:
			m.Version, old = "2.3.0", m.Name
		}
	}
	inFlight := func(hw string) upgrade.Status {
		return upgrade.Status{Upgrade: &upgrade.UpgradeStatus{Strategy: upgrade.StrategyRolling, Phase: "Rolling",
			FromVersion: "2.3.0", TargetVersion: "2.4.0", LeaderHighWater: hw}}
	}
	regressed := func(st upgrade.Status) upgrade.Status {
		upgrade.SetCondition(&st.Conditions, upgrade.ConditionLeaderVersion, metav1.ConditionTrue,
			upgrade.ReasonLeaderVersionRegressed, "regressed", obs.Now, 0)
		return st
	}
	rollback := func() upgrade.Status {
		st := inFlight("2.4.0")
		st.Upgrade.FromVersion, st.Upgrade.TargetVersion = "2.4.0", "2.3.0"
		st.CurrentVersion = "2.4.0"
		return st
	}
	oldLeader := obs.DeepCopy()
	for i := range oldLeader.Members {
		if m := &oldLeader.Members[i]; m.Name == leader.Name {
			m.Version = "2.3.0"
		}
	}
	allOld := oldLeader.DeepCopy() // every upgraded pod came back at the old revision
	for i := range allOld.Members {
		allOld.Members[i].Version = "2.3.0"
	}
	tests := []struct {
		name string
		obs  upgrade.Observation
		prev upgrade.Status
		d    upgrade.Decision
		bad  bool
	}{
		{name: "transfer to an older member", obs: obs, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.TransferLeadership{From: leader.Name, To: old}}, Status: inFlight("2.4.0")}, bad: true},
		{name: "step-down while an older voter could win", obs: obs, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.StepDown{Member: leader.Name}}, Status: inFlight("2.4.0")}, bad: true},
		{name: "transfer to an upgraded member", obs: obs, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.TransferLeadership{From: leader.Name, To: upgraded}}, Status: inFlight("2.4.0")}},
		{name: "a regressed leader, silently", obs: *oldLeader, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Status: inFlight("2.4.0")}, bad: true},
		{name: "a regressed leader, a transfer to an old member", obs: *oldLeader, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.TransferLeadership{From: leader.Name, To: old}}, Status: regressed(inFlight("2.4.0")),
				Gate: &upgrade.Gate{Reason: upgrade.ReasonLeaderVersionRegressed}}, bad: true},
		{name: "a regressed leader, raised and corrected", obs: *oldLeader, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.TransferLeadership{From: leader.Name, To: upgraded}}, Status: regressed(inFlight("2.4.0")),
				Gate: &upgrade.Gate{Reason: upgrade.ReasonLeaderVersionRegressed}}},
		{name: "a regressed leader with no upgraded voter left, a transfer to an equally old member", obs: *allOld, prev: inFlight("2.4.0"),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.TransferLeadership{From: leader.Name, To: old}}, Status: regressed(inFlight("2.4.0")),
				Gate: &upgrade.Gate{Reason: upgrade.ReasonLeaderVersionRegressed}}},
		{name: "an old leader before the target led", obs: *oldLeader, prev: inFlight("2.3.0"),
			d: upgrade.Decision{Status: inFlight("2.3.0")}},
		{name: "a rollback moves leadership down", obs: obs, prev: rollback(),
			d: upgrade.Decision{Actions: []upgrade.Action{upgrade.TransferLeadership{From: leader.Name, To: old}}, Status: rollback()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check.Transition(tt.prev, tt.d, "", tt.obs, upgrade.CatchUp{})
			var v *check.Violation
			switch {
			case tt.bad && (!errors.As(err, &v) || v.Rule != "S8"):
				t.Fatalf("S8 missed it: %v", err)
			case !tt.bad && err != nil:
				t.Fatalf("false alarm: %v", err)
			}
		})
	}
}
