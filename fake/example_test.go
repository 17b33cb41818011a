package fake_test

import (
	"fmt"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// Killing the leader leaves the cluster leaderless until an election among
// the remaining voters completes; the killed pod is recreated and rejoins.
func Example() {
	c := fake.New(fake.Config{Seed: 1, Replicas: 3})
	obs := c.Observe()
	leader, _ := obs.Leader()
	fmt.Println("leader:", leader.Name, "term", obs.Raft.Term)

	if err := c.KillLeader(); err != nil {
		fmt.Println(err)
		return
	}
	c.Run(10)

	obs = c.Observe()
	leader, _ = obs.Leader()
	fmt.Println("leader:", leader.Name, "term", obs.Raft.Term)
	m := fake.Summarize(c.History())
	fmt.Println("leader changes:", m.LeaderChanges, "elections:", m.Elections)
	fmt.Println("history ok:", fake.CheckHistory(c.History()) == nil)
	// Output:
	// leader: bao-0 term 1
	// leader: bao-2 term 2
	// leader changes: 1 elections: 1
	// history ok: true
}

// A partitioned rolling update: with the partition at 1, the controller
// replaces pods 2 and then 1, one at a time, each once every pod is Ready.
func Example_rollingUpdate() {
	c := fake.New(fake.Config{Seed: 1, Replicas: 3})
	if _, err := c.Apply([]upgrade.Action{
		upgrade.SetPartition{Workload: "bao", Partition: 3},
		upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.SetPartition{Workload: "bao", Partition: 1},
	}); err != nil {
		fmt.Println(err)
		return
	}
	c.Run(30)
	obs := c.Observe()
	for _, m := range obs.Members {
		fmt.Println(m.Name, m.Version, m.Pod.Ready)
	}
	w := obs.Workloads[0]
	fmt.Println("updated:", w.UpdatedReplicas, "leader changes:", fake.Summarize(c.History()).LeaderChanges)
	// Output:
	// bao-0 2.3.0 true
	// bao-1 2.4.0 true
	// bao-2 2.4.0 true
	// updated: 2 leader changes: 0
}
