package upgrade_test

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// A blue-green upgrade halfway: two green members already vote beside three
// blue voters. The five voters of the shared configuration afford one voter
// out, allotted to one workload; the green non-voter does not protect quorum
// but shares its workload's budget.
func ExampleDisruptionBudget() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	member := func(workload string, ordinal int, s upgrade.Suffrage) upgrade.Member {
		name := fmt.Sprintf("%s-%d", workload, ordinal)
		return upgrade.Member{
			Name: name, Workload: workload, Ordinal: int32(ordinal),
			Pod: upgrade.PodStatus{Exists: true, Ready: true, StartedAt: now.Add(-time.Hour)},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: s, Leader: name == "blue-0",
				Healthy: true, LastIndex: 42, LastTerm: 3},
		}
	}
	obs := upgrade.Observation{
		Now:       now,
		Workloads: []upgrade.Workload{{Name: "blue", Replicas: 3}, {Name: "green", Replicas: 3}},
		Members: []upgrade.Member{
			member("blue", 0, upgrade.Voter), member("blue", 1, upgrade.Voter), member("blue", 2, upgrade.Voter),
			member("green", 0, upgrade.Voter), member("green", 1, upgrade.Voter), member("green", 2, upgrade.Nonvoter),
		},
		Raft: upgrade.RaftView{Known: true, LeaderID: "blue-0"},
	}
	show := func(title string) {
		fmt.Println(title)
		for _, b := range upgrade.DisruptionBudget(&obs) {
			fmt.Printf("  %s: %d voters of %d pods, minAvailable %d, disruptions allowed %d", b.Workload, b.Voters,
				b.Pods, b.MinAvailable, b.Disruptions(b.Pods))
			if b.Gate != nil {
				fmt.Printf(" (%s)", b.Gate.Reason)
			}
			fmt.Println()
		}
	}
	show("all caught up:")
	obs.Members[4].Pod.Ready = false
	show("green-1 down:")
	obs.Raft.Known = false
	show("raft view unknown:")
	// Output:
	// all caught up:
	//   blue: 3 voters of 3 pods, minAvailable 2, disruptions allowed 1
	//   green: 2 voters of 3 pods, minAvailable 3, disruptions allowed 0 (DisruptionBudgetElsewhere)
	// green-1 down:
	//   blue: 3 voters of 3 pods, minAvailable 3, disruptions allowed 0 (PodNotReady)
	//   green: 2 voters of 3 pods, minAvailable 3, disruptions allowed 0 (PodNotReady)
	// raft view unknown:
	//   blue: 3 voters of 3 pods, minAvailable 3, disruptions allowed 0 (RaftViewUnknown)
	//   green: 2 voters of 3 pods, minAvailable 3, disruptions allowed 0 (RaftViewUnknown)
}
