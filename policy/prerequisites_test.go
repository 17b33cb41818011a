package policy_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// healthyObs is a serving cluster of voters in workload "raft" (raft-0 leads)
// plus extra non-voters in workload "green", with a fresh backup.
func healthyObs(voters, nonvoters int) *upgrade.Observation {
	obs := &upgrade.Observation{
		Now: now,
		Raft: upgrade.RaftView{Known: true, LeaderID: "id-raft-0", Term: 3, CommitIndex: 100,
			FailureTolerance: int32(upgrade.FailureTolerance(voters, voters)), AutopilotHealthy: true},
		Backup: upgrade.BackupView{Configured: true, LastSuccess: now.Add(-time.Hour)},
	}
	add := func(workload string, i int, s upgrade.Suffrage) {
		name := fmt.Sprintf("%s-%d", workload, i)
		obs.Members = append(obs.Members, upgrade.Member{
			Name: name, Workload: workload, Ordinal: int32(i), Version: "2.3.0",
			Pod:  upgrade.PodStatus{Exists: true, Phase: upgrade.PodRunning, Ready: true, UID: "uid-" + name},
			Raft: upgrade.MemberRaft{ID: "id-" + name, Present: true, Suffrage: s, Leader: name == "raft-0", Healthy: true, LastIndex: 100, LastTerm: 3},
		})
	}
	for i := range voters {
		add("raft", i, upgrade.Voter)
	}
	for i := range nonvoters {
		add("green", i, upgrade.Nonvoter)
	}
	return obs
}

func TestCheckPrerequisites(t *testing.T) {
	type mod func(o *upgrade.Observation)
	tests := []struct {
		name   string
		voters int
		mod    mod
		p      policy.Prerequisites
		gate   upgrade.GateName
		reason upgrade.Reason // "" when every prerequisite holds
	}{
		{name: "healthy", voters: 3},
		{name: "healthy with backup required", voters: 3, p: policy.Prerequisites{RequireBackup: true, MaxBackupAge: metav1.Duration{Duration: 2 * time.Hour}}},
		{name: "lock free", voters: 3, p: policy.Prerequisites{LockHolder: "me"}},
		{name: "lock held by self", voters: 3, p: policy.Prerequisites{LockHolder: "me"},
			mod: func(o *upgrade.Observation) { o.Lock.Holder = "me" }},
		{name: "lock held by other", voters: 3, p: policy.Prerequisites{LockHolder: "me"},
			mod: func(o *upgrade.Observation) { o.Lock.Holder = "backup-job" }, gate: upgrade.GateLock, reason: policy.ReasonLockHeld},
		{name: "lock held while we have no identity", voters: 3,
			mod: func(o *upgrade.Observation) { o.Lock.Holder = "backup-job" }, gate: upgrade.GateLock, reason: policy.ReasonLockHeld},
		{name: "lock checked before raft view", voters: 3, p: policy.Prerequisites{LockHolder: "me"},
			mod: func(o *upgrade.Observation) { o.Lock.Holder = "x"; o.Raft = upgrade.RaftView{} }, gate: upgrade.GateLock, reason: policy.ReasonLockHeld},
		{name: "no raft view", voters: 3,
			mod: func(o *upgrade.Observation) { o.Raft.Known = false }, gate: upgrade.GatePrerequisites, reason: policy.ReasonNoRaftView},
		{name: "no leader", voters: 3,
			mod:  func(o *upgrade.Observation) { o.Raft.LeaderID = ""; o.Members[0].Raft.Leader = false },
			gate: upgrade.GatePrerequisites, reason: policy.ReasonNoLeader},
		{name: "leader id unknown", voters: 3,
			mod: func(o *upgrade.Observation) { o.Raft.LeaderID = "gone" }, gate: upgrade.GatePrerequisites, reason: policy.ReasonNoLeader},
		{name: "leader checked before readiness", voters: 3,
			mod:  func(o *upgrade.Observation) { o.Raft.LeaderID = "gone"; o.Members[1].Pod.Ready = false },
			gate: upgrade.GatePrerequisites, reason: policy.ReasonNoLeader},
		{name: "member pod not ready", voters: 3,
			mod: func(o *upgrade.Observation) { o.Members[1].Pod.Ready = false }, gate: upgrade.GatePrerequisites, reason: policy.ReasonMemberNotReady},
		{name: "member pod missing", voters: 3,
			mod: func(o *upgrade.Observation) { o.Members[2].Pod.Exists = false }, gate: upgrade.GatePrerequisites, reason: policy.ReasonMemberNotReady},
		{name: "member crash-looping", voters: 3,
			mod: func(o *upgrade.Observation) { o.Members[2].Pod.CrashLooping = true }, gate: upgrade.GatePrerequisites, reason: policy.ReasonMemberNotReady},
		{name: "member terminating", voters: 3,
			mod: func(o *upgrade.Observation) { o.Members[2].Pod.Terminating = true }, gate: upgrade.GatePrerequisites, reason: policy.ReasonMemberNotReady},
		{name: "member raft unhealthy", voters: 3,
			mod: func(o *upgrade.Observation) { o.Members[2].Raft.Healthy = false }, gate: upgrade.GatePrerequisites, reason: policy.ReasonMemberNotReady},
		{name: "readiness checked before autopilot", voters: 3,
			mod:  func(o *upgrade.Observation) { o.Members[2].Pod.Ready = false; o.Raft.AutopilotHealthy = false },
			gate: upgrade.GatePrerequisites, reason: policy.ReasonMemberNotReady},
		{name: "autopilot unhealthy", voters: 3,
			mod: func(o *upgrade.Observation) { o.Raft.AutopilotHealthy = false }, gate: upgrade.GatePrerequisites, reason: policy.ReasonAutopilotUnhealthy},
		{name: "autopilot unhealthy skipped", voters: 3, p: policy.Prerequisites{SkipAutopilot: true},
			mod: func(o *upgrade.Observation) { o.Raft.AutopilotHealthy = false; o.Raft.FailureTolerance = 0 }},
		{name: "autopilot checked before failure tolerance", voters: 3,
			mod:  func(o *upgrade.Observation) { o.Raft.AutopilotHealthy = false; o.Raft.FailureTolerance = 0 },
			gate: upgrade.GatePrerequisites, reason: policy.ReasonAutopilotUnhealthy},
		{name: "failure tolerance 0 with 3 voters", voters: 3,
			mod: func(o *upgrade.Observation) { o.Raft.FailureTolerance = 0 }, gate: upgrade.GatePrerequisites, reason: policy.ReasonNoFailureTolerance},
		{name: "failure tolerance 0 with 4 voters", voters: 4,
			mod: func(o *upgrade.Observation) { o.Raft.FailureTolerance = 0 }, gate: upgrade.GatePrerequisites, reason: policy.ReasonNoFailureTolerance},
		{name: "failure tolerance 0 with 1 voter", voters: 1},
		{name: "failure tolerance 0 with 2 voters", voters: 2},
		{name: "voter outside workloads filter leaves 3 voters without tolerance", voters: 3,
			p:   policy.Prerequisites{Workloads: []string{"green"}},
			mod: func(o *upgrade.Observation) { o.Members[2].Pod.Ready = false },
			// autopilot still says 1, but only 2 of 3 voters are up
			gate: upgrade.GatePrerequisites, reason: policy.ReasonNoFailureTolerance},
		{name: "5 voters one outside filter down keeps tolerance", voters: 5,
			p:   policy.Prerequisites{Workloads: []string{"green"}},
			mod: func(o *upgrade.Observation) { o.Members[4].Pod.Ready = false; o.Raft.FailureTolerance = 1 }},
		{name: "backup not required", voters: 3,
			mod: func(o *upgrade.Observation) { o.Backup = upgrade.BackupView{} }},
		{name: "backup not configured", voters: 3, p: policy.Prerequisites{RequireBackup: true},
			mod: func(o *upgrade.Observation) { o.Backup.Configured = false }, gate: upgrade.GatePrerequisites, reason: policy.ReasonBackupNotConfigured},
		{name: "backup in progress", voters: 3, p: policy.Prerequisites{RequireBackup: true},
			mod: func(o *upgrade.Observation) { o.Backup.InProgress = true }, gate: upgrade.GatePrerequisites, reason: policy.ReasonBackupInProgress},
		{name: "backup never succeeded", voters: 3, p: policy.Prerequisites{RequireBackup: true},
			mod: func(o *upgrade.Observation) { o.Backup.LastSuccess = time.Time{} }, gate: upgrade.GatePrerequisites, reason: policy.ReasonBackupStale},
		{name: "backup stale", voters: 3, p: policy.Prerequisites{RequireBackup: true, MaxBackupAge: metav1.Duration{Duration: 30 * time.Minute}},
			gate: upgrade.GatePrerequisites, reason: policy.ReasonBackupStale},
		{name: "backup exactly max age", voters: 3, p: policy.Prerequisites{RequireBackup: true, MaxBackupAge: metav1.Duration{Duration: time.Hour}}},
		{name: "backup fresh enough", voters: 3, p: policy.Prerequisites{RequireBackup: true, MaxBackupAge: metav1.Duration{Duration: 61 * time.Minute}}},
		{name: "backup of any age without MaxBackupAge", voters: 3, p: policy.Prerequisites{RequireBackup: true},
			mod: func(o *upgrade.Observation) { o.Backup.LastSuccess = now.AddDate(-1, 0, 0) }},
		{name: "failure tolerance checked before backup", voters: 3, p: policy.Prerequisites{RequireBackup: true},
			mod:  func(o *upgrade.Observation) { o.Raft.FailureTolerance = 0; o.Backup.Configured = false },
			gate: upgrade.GatePrerequisites, reason: policy.ReasonNoFailureTolerance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := healthyObs(tt.voters, 2)
			if tt.mod != nil {
				tt.mod(obs)
			}
			before := obs.DeepCopy()
			err := policy.CheckPrerequisites(obs, tt.p)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckPrerequisites = %v, want nil", err)
				}
			} else {
				violation(t, err, tt.gate, tt.reason)
			}
			if !reflect.DeepEqual(before, obs) {
				t.Errorf("CheckPrerequisites mutated its observation")
			}
		})
	}
}

func TestCheckPrerequisitesWorkloadsFilter(t *testing.T) {
	obs := healthyObs(3, 2)
	obs.Members[3].Pod.Ready = false // green-0, a non-voter
	violation(t, policy.CheckPrerequisites(obs, policy.Prerequisites{}), upgrade.GatePrerequisites, policy.ReasonMemberNotReady)
	if err := policy.CheckPrerequisites(obs, policy.Prerequisites{Workloads: []string{"raft"}}); err != nil {
		t.Errorf("filter to raft: %v, want nil (green-0 is filtered out)", err)
	}
	violation(t, policy.CheckPrerequisites(obs, policy.Prerequisites{Workloads: []string{"green"}}),
		upgrade.GatePrerequisites, policy.ReasonMemberNotReady)
	v := violation(t, policy.CheckPrerequisites(obs, policy.Prerequisites{Workloads: []string{"raft", "green"}}),
		upgrade.GatePrerequisites, policy.ReasonMemberNotReady)
	if want := "member green-0 is not ready and healthy"; v.Message != want {
		t.Errorf("Message = %q, want %q", v.Message, want)
	}
}

func TestCheckPrerequisitesNilObservation(t *testing.T) {
	violation(t, policy.CheckPrerequisites(nil, policy.Prerequisites{}), upgrade.GatePrerequisites, policy.ReasonNoRaftView)
}
