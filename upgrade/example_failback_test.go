package upgrade_test

import (
	"fmt"

	"github.com/raftshift/raftshift/internal/fixture"
	"github.com/raftshift/raftshift/upgrade"
)

// S8: once a newer version leads, Safety.Check refuses a transfer back to
// an older voter and a step-down an older voter could win.
func ExampleSafety_Check_failback() {
	obs := fixture.Cluster(now, 3, 0) // raft-0 leads; all run 2.3.0
	l := fixture.Member(&obs, "raft-0")
	l.Version, l.Revision = "2.4.0", "raft-2" // the leader was upgraded
	leader, _ := obs.Leader()

	fmt.Println(upgrade.StepDownAllowed(&obs, leader))
	fmt.Println(upgrade.Safety{}.Check(obs, []upgrade.Action{upgrade.TransferLeadership{From: "raft-0", To: "raft-1"}}))
	// Output:
	// false
	// S8: action 0 (transfer leadership from raft-0 to raft-1): transfer target raft-1 runs 2.3.0, older than the leader raft-0 (2.4.0)
}

// An upgrade records the highest version that has led; once the target
// has led, a leader older than the target is a regression to report.
func ExampleRegressedLeader() {
	obs := fixture.Cluster(now, 3, 0) // raft-0 leads on 2.3.0
	u := &upgrade.UpgradeStatus{FromVersion: "2.3.0", TargetVersion: "2.4.0", LeaderHighWater: "2.4.0"}
	if l, ok := upgrade.RegressedLeader(u, &obs); ok {
		fmt.Println(upgrade.RegressionGate(u, l).Reason, l.Name, l.Version)
	}
	fmt.Println(upgrade.VersionOlder("2.3.0", "2.4.0"), upgrade.HigherVersion("2.4.0", "v2.10.0"))
	// Output:
	// LeaderVersionRegressed raft-0 2.3.0
	// true v2.10.0
}
