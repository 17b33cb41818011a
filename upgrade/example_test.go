package upgrade_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func ExampleSafety_Check() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	voter := func(name string, leader bool) upgrade.Member {
		return upgrade.Member{
			Name: name, Workload: "openbao",
			Pod: upgrade.PodStatus{Exists: true, Ready: true, UID: "uid-" + name},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Leader: leader,
				Healthy: true, LastIndex: 42, LastTerm: 3, StableSince: now.Add(-time.Hour)},
		}
	}
	obs := upgrade.Observation{
		Now:     now,
		Members: []upgrade.Member{voter("openbao-0", true), voter("openbao-1", false), voter("openbao-2", false)},
		Raft:    upgrade.RaftView{Known: true, LeaderID: "openbao-0"},
	}

	plans := [][]upgrade.Action{
		{upgrade.DeletePod{Member: "openbao-2", UID: "uid-openbao-2"}},
		{upgrade.DeletePod{Member: "openbao-0", UID: "uid-openbao-0"}},
		{upgrade.DeletePod{Member: "openbao-1"}, upgrade.DeletePod{Member: "openbao-2"}},
		{upgrade.TransferLeadership{From: "openbao-0", To: "openbao-1"}},
	}
	for _, actions := range plans {
		err := upgrade.Safety{}.Check(obs, actions)
		var se *upgrade.SafetyError
		if errors.As(err, &se) {
			fmt.Printf("refused by %s at action %d (unsafe: %v)\n", se.Rule, se.Index, errors.Is(err, upgrade.ErrUnsafe))
			continue
		}
		fmt.Println("allowed:", upgrade.FormatActions(actions))
	}
	// Output:
	// allowed: DeletePod: delete pod openbao-2 (uid uid-openbao-2)
	// refused by S3 at action 0 (unsafe: true)
	// refused by S2 at action 1 (unsafe: true)
	// allowed: TransferLeadership: transfer leadership from openbao-0 to openbao-1
}

func ExampleSafety_BestTransferTarget() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	voter := func(name, version string, index uint64, leader bool) upgrade.Member {
		return upgrade.Member{
			Name: name, Version: version,
			Pod:  upgrade.PodStatus{Exists: true, Ready: true},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Leader: leader, Healthy: true, LastIndex: index},
		}
	}
	obs := upgrade.Observation{
		Now: now,
		Members: []upgrade.Member{
			voter("openbao-0", "2.3.0", 100, true),
			voter("openbao-1", "2.3.0", 100, false),
			voter("openbao-2", "2.4.0", 99, false),
		},
		Raft: upgrade.RaftView{Known: true, LeaderID: "openbao-0"},
	}
	m, ok := upgrade.Safety{}.BestTransferTarget(&obs, "2.4.0", nil)
	fmt.Println(m.Name, ok)
	// Output:
	// openbao-2 true
}
