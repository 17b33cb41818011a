package rolling

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const (
	oldV   = "2.3.0"
	newV   = "2.4.0"
	oldImg = "openbao/openbao:2.3.0"
	newImg = "openbao/openbao:2.4.0"
	oldRev = "bao-old"
	newRev = "bao-new"
)

func baseSpec() Spec { return Spec{Version: newV, Image: newImg} }

func idleStatus() upgrade.Status {
	return upgrade.Status{CurrentVersion: oldV, CurrentImage: oldImg}
}

// healthy returns an observation of a settled, healthy n-member cluster on
// the old version, led by bao-0.
func healthy(n int) upgrade.Observation {
	o := upgrade.Observation{
		Now: t0,
		Workloads: []upgrade.Workload{{
			Name: "bao", Replicas: int32(n), CurrentRevision: oldRev, UpdateRevision: oldRev,
			Generation: 1, ObservedGeneration: 1, Image: oldImg, Version: oldV,
			ReadyReplicas: int32(n), UpdatedReplicas: int32(n),
		}},
		Service: upgrade.Service{Name: "bao", Workload: "bao"},
		Raft: upgrade.RaftView{Known: true, LeaderID: "bao-0", Term: 3, CommitIndex: 2000,
			FailureTolerance: int32(n - upgrade.Quorum(n)), AutopilotHealthy: true},
		Lock:         upgrade.LockView{},
		Capabilities: upgrade.Capabilities{TargetedTransfer: true, NonVoters: true, Snapshots: true},
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("bao-%d", i)
		o.Members = append(o.Members, upgrade.Member{
			Name: name, Workload: "bao", Ordinal: int32(i), Revision: oldRev, Version: oldV, Image: oldImg,
			Pod: upgrade.PodStatus{Exists: true, UID: name + "-uid1", Phase: upgrade.PodRunning, Ready: true,
				StartedAt: t0.Add(-time.Hour)},
			Raft: upgrade.MemberRaft{ID: name, Address: name + ".bao:8201", Present: true, Suffrage: upgrade.Voter,
				Leader: i == 0, Healthy: true, LastIndex: 2000, LastTerm: 3, StableSince: t0.Add(-time.Hour)},
		})
	}
	return o
}

// templated returns healthy(n) after the template moved to the target with
// the partition locked.
func templated(n int) upgrade.Observation {
	o := healthy(n)
	w := &o.Workloads[0]
	w.UpdateRevision, w.Image, w.Version, w.Partition = newRev, newImg, newV, int32(n)
	w.Generation, w.ObservedGeneration = 3, 3
	w.UpdatedReplicas = 0
	return o
}

// upgraded marks member i as replaced by a pod at the new revision.
func upgraded(o *upgrade.Observation, i int) {
	m := &o.Members[i]
	m.Revision, m.Version, m.Image = newRev, newV, newImg
	m.Pod.UID = m.Name + "-uid2"
}

func setLeader(o *upgrade.Observation, i int) {
	for j := range o.Members {
		o.Members[j].Raft.Leader = j == i
	}
	o.Raft.LeaderID = o.Members[i].Raft.ID
}

// inflight returns a status in phase p working on ordinal ord of an n-member
// upgrade that started a minute before t0.
func inflight(n int, p Phase, ord int32) upgrade.Status {
	start := upgrade.Time(t0.Add(-time.Minute))
	st := idleStatus()
	st.Upgrade = &upgrade.UpgradeStatus{
		Strategy: upgrade.StrategyRolling, Phase: string(p),
		FromVersion: oldV, FromImage: oldImg, TargetVersion: newV, TargetImage: newImg,
		LockHolder: DefaultLockHolder, StartedAt: start, PhaseStartedAt: start, StepStartedAt: start,
		Rolling: &upgrade.RollingProgress{Workload: "bao", Replicas: int32(n), Ordinal: ord},
	}
	st.LastStepTime = start
	st.ObservedTerm = 3
	return st
}

func locked(o upgrade.Observation) upgrade.Observation {
	o.Lock = upgrade.LockView{Holder: DefaultLockHolder, Since: t0.Add(-time.Minute)}
	return o
}

func kinds(actions []upgrade.Action) []string {
	out := make([]string, 0, len(actions))
	for _, a := range actions {
		out = append(out, string(a.Kind()))
	}
	return out
}

// disruptive returns the disruptive actions of a list.
func disruptive(actions []upgrade.Action) []upgrade.Action {
	var out []upgrade.Action
	for _, a := range actions {
		if upgrade.IsDisruptive(a) {
			out = append(out, a)
		}
	}
	return out
}

// unknownRaft makes the raft view unknown the way adapters/openbao's Observe
// returned it when its read failed (Merge(obs, nil)): Known false, and every
// member's raft state reduced to its ID and address.
func unknownRaft(o *upgrade.Observation) {
	o.Raft = upgrade.RaftView{}
	for i := range o.Members {
		o.Members[i].Raft = upgrade.MemberRaft{ID: o.Members[i].Raft.ID, Address: o.Members[i].Raft.Address}
	}
}
