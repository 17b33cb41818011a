package rolling

import (
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// stepCasesLocking are the TestStep cases of section "locking, snapshot, template".
func stepCasesLocking() []stepCase {
	return []stepCase{
		// ---- locking, snapshot, template
		{
			name: "locking re-issues a lost partition change", spec: baseSpec(), obs: locked(healthy(3)),
			status: inflight(3, PhaseLocking, 2), want: []string{"SetPartition"}, phase: PhaseLocking,
			gate: "WorkloadSettled/PartitionPending",
		},
		{
			name: "locking waits for the controller", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(healthy(3))
				o.Workloads[0].Partition = 3
				o.Workloads[0].Generation = 2
				return o
			}(),
			status: inflight(3, PhaseLocking, 2), gate: "WorkloadSettled/WorkloadNotSettled", phase: PhaseLocking,
		},
		{
			name: "locked: template changes", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := locked(healthy(3)); o.Workloads[0].Partition = 3; return o }(),
			status: inflight(3, PhaseLocking, 2), want: []string{"UpdateTemplate"}, phase: PhaseTemplating,
			gate: "WorkloadSettled/TemplatePending",
		},
		{
			name: "snapshot requested before the template", spec: Spec{Version: newV, Image: newImg, Snapshot: true},
			obs:    func() upgrade.Observation { o := locked(healthy(3)); o.Workloads[0].Partition = 3; return o }(),
			status: inflight(3, PhaseLocking, 2), want: []string{"TakeSnapshot"}, phase: PhaseSnapshotting,
			gate: "Snapshot/SnapshotPending",
		},
		{
			name: "snapshot pending", spec: Spec{Version: newV, Image: newImg, Snapshot: true},
			obs: func() upgrade.Observation { o := locked(healthy(3)); o.Workloads[0].Partition = 3; return o }(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseSnapshotting, 2)
				s.Upgrade.Rolling.Snapshot = "snap"
				s.Upgrade.PhaseStartedAt = upgrade.Time(t0.Add(-5 * time.Second))
				return s
			}(),
			phase: PhaseSnapshotting, gate: "Snapshot/SnapshotPending",
		},
		{
			name: "snapshot requested again after the retry interval", spec: Spec{Version: newV, Image: newImg, Snapshot: true},
			obs: func() upgrade.Observation { o := locked(healthy(3)); o.Workloads[0].Partition = 3; return o }(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseSnapshotting, 2)
				s.Upgrade.Rolling.Snapshot = "snap"
				return s
			}(),
			want: []string{"TakeSnapshot"}, phase: PhaseSnapshotting, gate: "Snapshot/SnapshotPending",
			check: func(t *testing.T, d upgrade.Decision) {
				if u := d.Status.Upgrade; !u.PhaseStartedAt.Time.Equal(t0) || u.StepStartedAt.Time.Equal(t0) || u.Failures != 1 {
					t.Errorf("retry must restart the phase clock but not the step deadline: %+v", u)
				}
			},
		},
		{
			name: "snapshot running: no new request", spec: Spec{Version: newV, Image: newImg, Snapshot: true},
			obs: func() upgrade.Observation {
				o := locked(healthy(3))
				o.Workloads[0].Partition = 3
				o.Backup.InProgress = true
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseSnapshotting, 2)
				s.Upgrade.Rolling.Snapshot = "snap"
				return s
			}(),
			phase: PhaseSnapshotting, gate: "Snapshot/SnapshotPending",
		},
		{
			name: "restarting: partition change lost: ordinal selected again", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRestarting, 2)
				s.Upgrade.Rolling.RestartedUID = "bao-2-uid1"
				return s
			}(),
			want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 2 {
					t.Errorf("partition %d", p.Partition)
				}
			},
		},
		{
			name: "restarting: inconsistent partition never restarts two pods", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := locked(templated(3)); o.Workloads[0].Partition = 3; return o }(),
			status: inflight(3, PhaseRestarting, 0), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 2 {
					t.Errorf("partition %d, want the highest ordinal first", p.Partition)
				}
			},
		},
		{
			name: "partition found below the ordinal is raised to admit one pod", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := locked(templated(3)); o.Workloads[0].Partition = 0; return o }(),
			status: inflight(3, PhaseRolling, 2), want: []string{"SetPartition"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 2 {
					t.Errorf("partition %d", p.Partition)
				}
			},
		},
		{
			name: "moving leader in a one-voter cluster: restart in place", spec: Spec{Version: newV, Image: newImg, AllowDowntime: true},
			obs: locked(templated(1)), status: inflight(1, PhaseMovingLeader, 0), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
		{
			name: "sole voter leads: no step-down, downtime gate", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				setLeader(&o, 2)
				o.Members[0].Raft.Suffrage = upgrade.Nonvoter
				o.Members[1].Raft.Suffrage = upgrade.Nonvoter
				return o
			}(),
			status: inflight(3, PhaseMovingLeader, 2), gate: "Downtime/DowntimeNotAllowed", phase: PhaseRolling,
		},
		{
			name: "snapshot done: template changes", spec: Spec{Version: newV, Image: newImg, Snapshot: true},
			obs: func() upgrade.Observation {
				o := locked(healthy(3))
				o.Workloads[0].Partition = 3
				o.Backup = upgrade.BackupView{Configured: true, LastSuccess: t0}
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseSnapshotting, 2)
				s.Upgrade.Rolling.Snapshot = "snap"
				return s
			}(),
			want: []string{"UpdateTemplate"}, phase: PhaseTemplating, gate: "WorkloadSettled/TemplatePending",
		},
		{
			name: "template applied: highest ordinal restarts", spec: baseSpec(), obs: locked(templated(3)),
			status: inflight(3, PhaseTemplating, 2), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 2 {
					t.Errorf("partition %d", p.Partition)
				}
				if r := d.Status.Upgrade.Rolling; r.RestartedUID != "bao-2-uid1" || r.Ordinal != 2 {
					t.Errorf("progress %+v", r)
				}
			},
		},
	}
}

// stepCasesRolling are the TestStep cases of section "rolling".
func stepCasesRolling() []stepCase {
	return []stepCase{
		// ---- rolling
		{
			name: "pods already at the revision are skipped", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := locked(templated(3)); upgraded(&o, 2); return o }(),
			status: inflight(3, PhaseRolling, 2), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 1 {
					t.Errorf("partition %d", p.Partition)
				}
			},
		},
		{
			name: "another voter lags: hold", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := locked(templated(3)); o.Members[1].Raft.LastIndex = 10; return o }(),
			status: inflight(3, PhaseRolling, 2), gate: "CaughtUp/LogLag", phase: PhaseRolling,
		},
		{
			name: "another voter not stable long enough: hold", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Members[1].Pod.ReadySince = t0.Add(-time.Second)
				return o
			}(),
			status: inflight(3, PhaseRolling, 2), gate: "Stabilized/NotStableLongEnough", phase: PhaseRolling,
		},
		{
			// A new leader's autopilot resets stable_since for every server:
			// that must not restart the window of members that did not
			// restart (issue 9: it added ~10 s after every step-down).
			name: "other voters' autopilot stable since reset by an election: proceed", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				for i := range o.Members {
					o.Members[i].Raft.StableSince = t0.Add(-time.Second)
				}
				return o
			}(),
			status: inflight(3, PhaseRolling, 2), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
		{
			name: "leader's turn: targeted transfer to an upgraded voter", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				upgraded(&o, 2)
				upgraded(&o, 1)
				o.Members[1].Raft.LastIndex = 1990 // prefer the upgraded voter over a higher index
				o.Workloads[0].Partition = 1
				return o
			}(),
			status: inflight(3, PhaseRolling, 0), want: []string{"TransferLeadership", "Event"}, phase: PhaseMovingLeader,
			check: func(t *testing.T, d upgrade.Decision) {
				tr := d.Actions[0].(upgrade.TransferLeadership)
				if tr.From != "bao-0" || tr.To != "bao-1" && tr.To != "bao-2" {
					t.Errorf("transfer %+v", tr)
				}
				if d.Status.Upgrade.Rolling.LeaderMoves != 1 {
					t.Errorf("leader moves %d", d.Status.Upgrade.Rolling.LeaderMoves)
				}
			},
		},
		{
			name: "leader's turn without targeted transfer: step down", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Capabilities.TargetedTransfer = false
				setLeader(&o, 2)
				return o
			}(),
			status: inflight(3, PhaseRolling, 2), want: []string{"StepDown", "Event"}, phase: PhaseMovingLeader,
		},
		{
			name: "leader's turn but a follower lags: no leadership move", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				setLeader(&o, 2)
				o.Members[0].Raft.LastContact = time.Minute
				return o
			}(),
			status: inflight(3, PhaseRolling, 2), gate: "CaughtUp/NoRecentContact", phase: PhaseRolling,
		},
		{
			name: "moving leader: waits", spec: baseSpec(),
			obs: func() upgrade.Observation { o := locked(templated(3)); setLeader(&o, 2); return o }(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseMovingLeader, 2)
				s.Upgrade.PhaseStartedAt = upgrade.Time(t0.Add(-time.Second))
				return s
			}(),
			gate: "LeaderTransfer/LeadershipMoving", phase: PhaseMovingLeader,
		},
		{
			name: "moving leader: no leader yet", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Raft.LeaderID = ""
				o.Raft.Known = false
				o.Members[0].Raft.Leader = false
				return o
			}(),
			status: inflight(3, PhaseMovingLeader, 2), gate: "Leader/NoLeader", phase: PhaseMovingLeader,
		},
		{
			name: "moving leader: transfer repeated after the timeout", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := locked(templated(3)); setLeader(&o, 2); return o }(),
			status: inflight(3, PhaseMovingLeader, 2), want: []string{"TransferLeadership", "Event"}, phase: PhaseMovingLeader,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.StepStartedAt.Time.Equal(t0) {
					t.Error("a repeated transfer must not reset the step deadline")
				}
			},
		},
		{
			name: "leader moved: pod restarts in the same step", spec: baseSpec(), obs: locked(templated(3)),
			status: inflight(3, PhaseMovingLeader, 2), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
	}
}
