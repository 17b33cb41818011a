package upgrade_test

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// cluster builds a healthy, caught-up observation: voters raft-0..raft-(v-1)
// in workload "raft" (raft-0 leads; every pod at revision "raft-1" while the
// template is at "raft-2", so lowering the partition restarts pods) and
// non-voters green-0.. in workload "green" (at their update revision).
func cluster(voters, nonvoters int) upgrade.Observation {
	obs := upgrade.Observation{
		Now: now,
		Workloads: []upgrade.Workload{
			{Name: "green", Replicas: int32(nonvoters), Partition: 0, CurrentRevision: "green-1", UpdateRevision: "green-1",
				Generation: 1, ObservedGeneration: 1, Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
			{Name: "raft", Replicas: int32(voters), Partition: int32(voters), CurrentRevision: "raft-1", UpdateRevision: "raft-2",
				Generation: 2, ObservedGeneration: 2, Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		},
		Service: upgrade.Service{Name: "openbao", Selector: map[string]string{"app": "raft"}, Workload: "raft"},
		Raft: upgrade.RaftView{Known: true, LeaderID: "id-raft-0", Term: 5, CommitIndex: 5000,
			FailureTolerance: int32(upgrade.FailureTolerance(voters, voters)), AutopilotHealthy: true},
		Capabilities: upgrade.Capabilities{TargetedTransfer: true, NonVoters: true},
	}
	add := func(workload, rev, version string, i int, s upgrade.Suffrage) {
		name := fmt.Sprintf("%s-%d", workload, i)
		obs.Members = append(obs.Members, upgrade.Member{
			Name: name, Workload: workload, Ordinal: int32(i), Revision: rev, Version: version,
			Image: "openbao/openbao:" + version,
			Pod: upgrade.PodStatus{Exists: true, UID: "uid-" + name, Phase: upgrade.PodRunning, Ready: true,
				StartedAt: now.Add(-time.Hour)},
			Raft: upgrade.MemberRaft{ID: "id-" + name, Address: name + ":8201", Present: true, Suffrage: s,
				Leader: workload == "raft" && i == 0, Healthy: true, LastIndex: 5000, LastTerm: 5,
				LastContact: 100 * time.Millisecond, StableSince: now.Add(-time.Hour)},
		})
	}
	for i := range nonvoters {
		add("green", "green-1", "2.4.0", i, upgrade.Nonvoter)
	}
	for i := range voters {
		add("raft", "raft-1", "2.3.0", i, upgrade.Voter)
	}
	return obs
}

// member returns a pointer to the named member of obs, for modification.
func member(obs *upgrade.Observation, name string) *upgrade.Member {
	for i := range obs.Members {
		if obs.Members[i].Name == name {
			return &obs.Members[i]
		}
	}
	panic("no member " + name)
}

// down makes the named member's pod not ready.
func down(names ...string) func(*upgrade.Observation) {
	return func(o *upgrade.Observation) {
		for _, n := range names {
			member(o, n).Pod.Ready = false
		}
	}
}

// lagging makes the named member trail the leader by far more than MaxLag.
func lagging(names ...string) func(*upgrade.Observation) {
	return func(o *upgrade.Observation) {
		for _, n := range names {
			member(o, n).Raft.LastIndex = 10
		}
	}
}

// unknownView makes the raft view unknown the way adapters/openbao did when
// its read failed: Known false and every member's raft state reduced to its
// ID (not present, no suffrage).
func unknownView(o *upgrade.Observation) {
	o.Raft = upgrade.RaftView{}
	for i := range o.Members {
		o.Members[i].Raft = upgrade.MemberRaft{ID: o.Members[i].Raft.ID, Address: o.Members[i].Raft.Address}
	}
}
