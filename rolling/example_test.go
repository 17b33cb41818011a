package rolling_test

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// exampleCluster is a healthy three-member OpenBao cluster on 2.3.0, led by
// bao-0.
func exampleCluster(now time.Time) upgrade.Observation {
	obs := upgrade.Observation{
		Now: now,
		Workloads: []upgrade.Workload{{
			Name: "bao", Replicas: 3, CurrentRevision: "bao-1a", UpdateRevision: "bao-1a",
			Generation: 1, ObservedGeneration: 1, Image: "openbao/openbao:2.3.0", Version: "2.3.0",
		}},
		Raft: upgrade.RaftView{Known: true, LeaderID: "bao-0", Term: 4, FailureTolerance: 1, AutopilotHealthy: true},
	}
	for i := range 3 {
		name := fmt.Sprintf("bao-%d", i)
		obs.Members = append(obs.Members, upgrade.Member{
			Name: name, Workload: "bao", Ordinal: int32(i), Revision: "bao-1a",
			Version: "2.3.0", Image: "openbao/openbao:2.3.0",
			Pod: upgrade.PodStatus{Exists: true, UID: name + "-a", Ready: true, Phase: upgrade.PodRunning},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Leader: i == 0,
				Healthy: true, LastIndex: 812, LastTerm: 4, StableSince: now.Add(-time.Hour)},
		})
	}
	return obs
}

func ExampleStep() {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	spec := rolling.Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0"}
	status := upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"}

	d, err := rolling.Step(spec, exampleCluster(now), status)
	if err != nil {
		panic(err)
	}
	fmt.Println(upgrade.FormatActions(d.Actions))
	for _, ev := range d.Events {
		fmt.Println(ev)
	}
	fmt.Println("phase:", d.Status.Upgrade.Phase, "current:", d.Status.CurrentVersion, "requeue:", d.RequeueAfter)

	// A downgrade is refused by policy, with no action.
	d, _ = rolling.Step(rolling.Spec{Version: "2.2.0", Image: "openbao/openbao:2.2.0"}, exampleCluster(now), status)
	fmt.Println(len(d.Actions), d.Gate.Name, d.Gate.Reason)
	// Output:
	// AcquireLock: acquire operation lock for "raftshift/rolling"
	// SetPartition: set partition of bao to 3
	// event Normal UpgradeStarted: rolling upgrade of bao from 2.3.0 to 2.4.0 started
	// phase: Locking current: 2.3.0 requeue: 1s
	// 0 Policy Downgrade
}

func ExampleFSM() {
	m := rolling.FSM(rolling.PhaseRolling)
	fmt.Println(m.Current(), m.Can(string(rolling.EventPodSelected)), m.Can(string(rolling.EventStart)))
	// Output: Rolling true false
}
