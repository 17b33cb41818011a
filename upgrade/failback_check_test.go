package upgrade_test

import (
	"errors"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// upgradedLeader is a 3-voter cluster mid-upgrade: raft-0 leads on the
// target 2.4.0 (update revision raft-2), raft-1 and raft-2 still run 2.3.0.
func upgradedLeader() upgrade.Observation {
	obs := cluster(3, 0)
	l := member(&obs, "raft-0")
	l.Version, l.Revision = "2.4.0", "raft-2"
	return obs
}

// TestCheckS8 pins Safety.Check's failback rule (S8), decided from the
// observation alone.
func TestCheckS8(t *testing.T) {
	rule := func(err error) string {
		var se *upgrade.SafetyError
		if errors.As(err, &se) {
			return se.Rule
		}
		return ""
	}
	tests := []struct {
		name    string
		obs     func() upgrade.Observation
		safety  upgrade.Safety
		actions []upgrade.Action
		want    string
	}{
		{name: "transfer to an older voter", obs: upgradedLeader,
			actions: []upgrade.Action{upgrade.TransferLeadership{From: "raft-0", To: "raft-1"}}, want: "S8"},
		{name: "step-down while an older voter could win", obs: upgradedLeader,
			actions: []upgrade.Action{upgrade.StepDown{Member: "raft-0"}}, want: "S8"},
		{name: "transfer to an upgraded voter", obs: func() upgrade.Observation {
			o := upgradedLeader()
			member(&o, "raft-1").Version, member(&o, "raft-1").Revision = "2.4.0", "raft-2"
			return o
		}, actions: []upgrade.Action{upgrade.TransferLeadership{From: "raft-0", To: "raft-1"}}},
		{name: "step-down when every other voter is as new", obs: func() upgrade.Observation {
			o := upgradedLeader()
			for _, n := range []string{"raft-1", "raft-2"} {
				member(&o, n).Version, member(&o, n).Revision = "2.4.0", "raft-2"
			}
			return o
		}, actions: []upgrade.Action{upgrade.StepDown{Member: "raft-0"}}},
		{name: "old leader to old voter is no failback", obs: func() upgrade.Observation { return cluster(3, 0) },
			actions: []upgrade.Action{upgrade.StepDown{Member: "raft-0"}}},
		{name: "rollback: the older voter runs the update revision", obs: func() upgrade.Observation {
			o := upgradedLeader()
			member(&o, "raft-0").Revision = "raft-1"
			member(&o, "raft-1").Revision = "raft-2"
			return o
		}, actions: []upgrade.Action{upgrade.TransferLeadership{From: "raft-0", To: "raft-1"}}},
		{name: "AllowFailback lifts it", obs: upgradedLeader, safety: upgrade.Safety{AllowFailback: true},
			actions: []upgrade.Action{upgrade.StepDown{Member: "raft-0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.safety.Check(tt.obs(), tt.actions)
			if got := rule(err); got != tt.want {
				t.Fatalf("Check = %v (rule %q), want rule %q", err, got, tt.want)
			}
			if tt.want != "" && !errors.Is(err, upgrade.ErrUnsafe) {
				t.Fatalf("%v does not wrap ErrUnsafe", err)
			}
		})
	}
	obs := upgradedLeader()
	if _, ok := (upgrade.Safety{}).BestTransferTarget(&obs, "2.4.0", nil); ok {
		t.Error("BestTransferTarget offered an older voter than the leader")
	}
	if upgrade.StepDownAllowed(&obs, *member(&obs, "raft-0")) {
		t.Error("StepDownAllowed with older voters")
	}
}

func TestRegressedLeader(t *testing.T) {
	obs := cluster(3, 0) // raft-0 leads on 2.3.0
	u := &upgrade.UpgradeStatus{FromVersion: "2.3.0", TargetVersion: "2.4.0"}
	if upgrade.RecordLeaderVersion(u, &obs); u.LeaderHighWater != "2.3.0" {
		t.Fatalf("high-water %q", u.LeaderHighWater)
	}
	if _, ok := upgrade.RegressedLeader(u, &obs); ok {
		t.Fatal("regressed before the target led")
	}
	u.LeaderHighWater = "2.4.0"
	l, ok := upgrade.RegressedLeader(u, &obs)
	if !ok || l.Name != "raft-0" {
		t.Fatalf("RegressedLeader = %s, %v", l.Name, ok)
	}
	if g := upgrade.RegressionGate(u, l); g.Reason != upgrade.ReasonLeaderVersionRegressed {
		t.Fatalf("gate %v", g)
	}
	if upgrade.RecordLeaderVersion(u, &obs) || u.LeaderHighWater != "2.4.0" {
		t.Fatal("the high-water mark went down")
	}
}
