package rolling

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

type stepCase struct {
	name    string
	spec    Spec
	obs     upgrade.Observation
	status  upgrade.Status
	wantErr error
	// want lists the expected action kinds, in order (nil: none).
	want []string
	// gate is the expected gate "Name/Reason" ("" for none).
	gate string
	// phase is the expected phase after the step ("" for idle).
	phase Phase
	check func(t *testing.T, d upgrade.Decision)
}

func stepCases() []stepCase {
	return []stepCase{
		// ---- idle
		{
			name: "idle up to date", spec: Spec{Version: oldV, Image: oldImg}, obs: healthy(3), status: idleStatus(),
			check: func(t *testing.T, d upgrade.Decision) {
				wantCond(t, d.Status, upgrade.ConditionReady, metav1.ConditionTrue, upgrade.ReasonUpToDate)
				if d.RequeueAfter != 0 {
					t.Errorf("requeue %s, want 0", d.RequeueAfter)
				}
			},
		},
		{
			name: "idle releases a leftover lock of its own", spec: Spec{Version: oldV, Image: oldImg},
			obs: locked(healthy(3)), status: idleStatus(), want: []string{"ReleaseLock"},
		},
		{
			name: "adopt running version without acting", spec: baseSpec(), obs: healthy(3), status: upgrade.Status{},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.CurrentVersion != oldV || d.Status.CurrentImage != oldImg {
					t.Errorf("adopted %q %q", d.Status.CurrentVersion, d.Status.CurrentImage)
				}
				wantCond(t, d.Status, upgrade.ConditionReady, metav1.ConditionTrue, upgrade.ReasonAdopted)
			},
		},
		{
			name: "adopt refused while a member is down", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := healthy(3); o.Members[1].Pod.Ready = false; return o }(),
			status: upgrade.Status{}, gate: "WorkloadSettled/CannotAdoptRunningVersion",
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.CurrentVersion != "" {
					t.Errorf("adopted %q", d.Status.CurrentVersion)
				}
			},
		},
		{
			name: "adopt refused on mixed revisions", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := healthy(3); o.Members[2].Revision = "x"; return o }(),
			status: upgrade.Status{}, gate: "WorkloadSettled/CannotAdoptRunningVersion",
		},
		{
			name: "drift starts: lock then partition", spec: baseSpec(), obs: healthy(3), status: idleStatus(),
			want: []string{"AcquireLock", "SetPartition", "Event"}, phase: PhaseLocking,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[1].(upgrade.SetPartition); p.Partition != 3 || p.Workload != "bao" {
					t.Errorf("partition action %+v", p)
				}
				u := d.Status.Upgrade
				if u.FromVersion != oldV || u.TargetVersion != newV || u.Rolling.Ordinal != 2 || u.LockHolder != DefaultLockHolder {
					t.Errorf("upgrade status %+v %+v", u, u.Rolling)
				}
				if d.Status.CurrentVersion != oldV {
					t.Errorf("current version changed to %s mid-upgrade", d.Status.CurrentVersion)
				}
				if !d.Status.LastStepTime.Time.Equal(t0) || d.Status.ObservedTerm != 3 {
					t.Errorf("last step %s term %d", d.Status.LastStepTime, d.Status.ObservedTerm)
				}
				wantCond(t, d.Status, upgrade.ConditionProgressing, metav1.ConditionTrue, upgrade.Reason(PhaseLocking))
			},
		},
		{
			name: "custom lock holder", spec: Spec{Version: newV, Image: newImg, LockHolder: "me"}, obs: healthy(3),
			status: idleStatus(), want: []string{"AcquireLock", "SetPartition", "Event"}, phase: PhaseLocking,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Actions[0].(upgrade.AcquireLock).Holder != "me" {
					t.Errorf("holder %v", d.Actions[0])
				}
			},
		},
		{
			name: "image-only change starts", spec: Spec{Version: oldV, Image: "openbao/openbao@sha256:abc"},
			obs: healthy(3), status: idleStatus(), want: []string{"AcquireLock", "SetPartition", "Event"}, phase: PhaseLocking,
		},
		{
			name: "downgrade refused", spec: Spec{Version: "2.2.0", Image: "openbao/openbao:2.2.0"}, obs: healthy(3),
			status: idleStatus(), gate: "Policy/Downgrade",
			check: func(t *testing.T, d upgrade.Decision) {
				wantCond(t, d.Status, upgrade.ConditionProgressing, metav1.ConditionFalse, policy.ReasonDowngrade)
				wantCond(t, d.Status, upgrade.ConditionReady, metav1.ConditionFalse, policy.ReasonDowngrade)
			},
		},
		{
			name: "invalid version refused", spec: Spec{Version: "2.4", Image: "openbao/openbao:2.4"}, obs: healthy(3),
			status: idleStatus(), gate: "Policy/InvalidVersion",
		},
		{
			name: "image version conflict refused", spec: Spec{Version: newV, Image: "openbao/openbao:2.5.0"}, obs: healthy(3),
			status: idleStatus(), gate: "Policy/ImageVersionConflict",
		},
		{
			name: "skipped minor refused", spec: Spec{Version: "2.6.0", Image: "openbao/openbao:2.6.0"}, obs: healthy(3),
			status: idleStatus(), gate: "Policy/SkipMinor",
		},
		{
			name: "skipped minor allowed by rules", spec: Spec{Version: "2.6.0", Image: "openbao/openbao:2.6.0", Rules: policy.Rules{AllowSkipMinor: true}},
			obs: healthy(3), status: idleStatus(), want: []string{"AcquireLock", "SetPartition", "Event"}, phase: PhaseLocking,
		},
		{
			name: "lock held by a backup", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := healthy(3); o.Lock.Holder = "backup"; return o }(),
			status: idleStatus(), gate: "OperationLock/LockHeldByOther",
		},
		{
			name: "member not ready", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := healthy(3); o.Members[2].Pod.Ready = false; return o }(),
			status: idleStatus(), gate: "Prerequisites/MemberNotReady",
		},
		{
			name: "quorum already degraded", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := healthy(3)
				o.Members[2].Raft.Healthy = false
				o.Raft.FailureTolerance = 0
				return o
			}(),
			status: idleStatus(), gate: "Prerequisites/MemberNotReady",
		},
		{
			name: "backup required but missing", spec: Spec{Version: newV, Image: newImg, Prerequisites: policy.Prerequisites{RequireBackup: true}},
			obs: healthy(3), status: idleStatus(), gate: "Prerequisites/BackupNotConfigured",
		},
		{
			name: "two replicas need allowDowntime", spec: baseSpec(), obs: healthy(2), status: idleStatus(),
			gate: "Downtime/DowntimeNotAllowed",
		},
		{
			name: "one replica needs allowDowntime", spec: baseSpec(), obs: healthy(1), status: idleStatus(),
			gate: "Downtime/DowntimeNotAllowed",
		},
		{
			name: "one replica with allowDowntime starts", spec: Spec{Version: newV, Image: newImg, AllowDowntime: true},
			obs: healthy(1), status: idleStatus(), want: []string{"AcquireLock", "SetPartition", "Event"}, phase: PhaseLocking,
		},
		{
			name: "snapshot unsupported", spec: Spec{Version: newV, Image: newImg, Snapshot: true},
			obs:    func() upgrade.Observation { o := healthy(3); o.Capabilities.Snapshots = false; return o }(),
			status: idleStatus(), gate: "Snapshot/SnapshotsUnsupported",
		},
		// ---- errors
		{name: "empty version", spec: Spec{Image: newImg}, obs: healthy(3), status: idleStatus(), wantErr: upgrade.ErrInvalidSpec},
		{name: "empty image", spec: Spec{Version: newV}, obs: healthy(3), status: idleStatus(), wantErr: upgrade.ErrInvalidSpec},
		{name: "negative timeout", spec: Spec{Version: newV, Image: newImg, StepTimeout: metav1.Duration{Duration: -1}}, obs: healthy(3), status: idleStatus(), wantErr: upgrade.ErrInvalidSpec},
		{name: "unknown workload", spec: Spec{Version: newV, Image: newImg, Workload: "etcd"}, obs: healthy(3), status: idleStatus(), wantErr: upgrade.ErrInvalidObservation},
		{name: "no time", spec: baseSpec(), obs: func() upgrade.Observation { o := healthy(3); o.Now = time.Time{}; return o }(), status: idleStatus(), wantErr: upgrade.ErrInvalidObservation},
		{
			name: "unknown phase", spec: baseSpec(), obs: locked(templated(3)),
			status:  func() upgrade.Status { s := inflight(3, PhaseRolling, 2); s.Upgrade.Phase = "Dancing"; return s }(),
			wantErr: upgrade.ErrInvalidStatus,
		},
		{
			name: "foreign strategy", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRolling, 2)
				s.Upgrade.Strategy = upgrade.StrategyBlueGreen
				return s
			}(),
			wantErr: upgrade.ErrInvalidStatus,
		},
		{
			name: "ordinal out of range", spec: baseSpec(), obs: locked(templated(3)),
			status:  func() upgrade.Status { s := inflight(3, PhaseRolling, 7); return s }(),
			wantErr: upgrade.ErrInvalidStatus,
		},
		// ---- stale observations
		{
			name: "observation older than last step", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRolling, 2)
				s.LastStepTime = upgrade.Time(t0.Add(time.Second))
				return s
			}(),
			gate: "StaleObservation/ObservationOlderThanLastStep", phase: PhaseRolling,
		},
		{
			// No one-second rule (issue 10): with nothing expected, an
			// observation from the same second as the last acting Step is
			// acted on.
			name: "observation from the second of the last step acts", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRolling, 2)
				s.LastStepTime = upgrade.Time(t0)
				return s
			}(),
			want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
		{
			// The last Decision lowered the partition to admit bao-2; this
			// observation (a stale cache: the old generation) does not show
			// it: wait, status returned as it was.
			name: "expected effects not observed: wait with the status unchanged", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRestarting, 2)
				s.LastStepTime = upgrade.Time(t0)
				s.Expected = &upgrade.Expectations{Since: upgrade.Time(t0), Items: []upgrade.Expectation{
					{Kind: upgrade.ExpectPartition, Workload: "bao", Number: 2, Generation: 3}}}
				return s
			}(),
			gate: "StaleObservation/AwaitingEffects", phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Expected == nil || len(d.Status.Conditions) != 0 {
					t.Errorf("status changed while waiting: %+v", d.Status)
				}
			},
		},
		{
			name: "expected effects observed 10 ms later: act at once", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition, o.Workloads[0].Generation, o.Workloads[0].ObservedGeneration = 2, 4, 4
				o.Members[2].Pod.UID = "bao-2-uid2"
				o.Now = t0.Add(10 * time.Millisecond)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRestarting, 2)
				s.LastStepTime = upgrade.Time(t0)
				s.Upgrade.Rolling.RestartedUID = "bao-2-uid1"
				s.Expected = &upgrade.Expectations{Since: upgrade.Time(t0), Items: []upgrade.Expectation{
					{Kind: upgrade.ExpectPartition, Workload: "bao", Number: 2, Generation: 3}}}
				return s
			}(),
			gate: "PodReady/AwaitingController", phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Expected != nil {
					t.Errorf("met expectations kept: %+v", d.Status.Expected)
				}
			},
		},
		{
			name: "raft term went back", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status { s := inflight(3, PhaseRolling, 2); s.ObservedTerm = 9; return s }(),
			gate:   "StaleObservation/TermRegressed", phase: PhaseRolling,
		},
		{
			name: "stale drift does not start", spec: baseSpec(), obs: healthy(3),
			status: func() upgrade.Status { s := idleStatus(); s.ObservedTerm = 9; return s }(),
			gate:   "StaleObservation/TermRegressed",
		},
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
		// ---- restarting and verifying
		{
			name: "restarting: waiting for the controller", spec: baseSpec(),
			obs: func() upgrade.Observation { o := locked(templated(3)); o.Workloads[0].Partition = 2; return o }(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRestarting, 2)
				s.Upgrade.Rolling.RestartedUID = "bao-2-uid1"
				return s
			}(),
			gate: "PodReady/AwaitingController", phase: PhaseRestarting,
		},
		{
			name: "restarting: not-ready old pod is deleted once", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				o.Members[2].Pod.Ready = false
				o.Members[2].Pod.CrashLooping = true
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRestarting, 2)
				s.Upgrade.Rolling.RestartedUID = "bao-2-uid1"
				return s
			}(),
			want: []string{"DeletePod"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if dp := d.Actions[0].(upgrade.DeletePod); dp.UID != "bao-2-uid1" {
					t.Errorf("delete %+v", dp)
				}
			},
		},
		{
			name: "restarting: old pod became leader: partition raised again", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				setLeader(&o, 2)
				return o
			}(),
			status: inflight(3, PhaseRestarting, 2), want: []string{"SetPartition"}, phase: PhaseRolling,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 3 {
					t.Errorf("partition %d", p.Partition)
				}
			},
		},
		{
			name: "restarting: replaced pod found", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Pod.Ready = false
				return o
			}(),
			status: inflight(3, PhaseRestarting, 2), gate: "PodReady/PodNotReady", phase: PhaseVerifying,
		},
		{
			name: "verifying: crash loop pauses the rollout", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Pod.Ready, o.Members[2].Pod.CrashLooping = false, true
				return o
			}(),
			status: inflight(3, PhaseVerifying, 2), gate: "CrashLoop/PodCrashLooping", phase: PhaseVerifying,
			want: []string{"Event"},
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Status.Upgrade.Paused; p == nil || p.Gate != upgrade.GateCrashLoop || p.Member != "bao-2" {
					t.Errorf("paused %+v", p)
				}
				wantCond(t, d.Status, upgrade.ConditionDegraded, metav1.ConditionTrue, upgrade.ReasonPodCrashLooping)
				wantCond(t, d.Status, upgrade.ConditionProgressing, metav1.ConditionFalse, upgrade.ReasonPodCrashLooping)
			},
		},
		{
			name: "paused: nothing happens", spec: baseSpec(), obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRolling, 2)
				s.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateCrashLoop, Reason: upgrade.ReasonPodCrashLooping, Member: "bao-2"}
				return s
			}(),
			gate: "CrashLoop/PodCrashLooping", phase: PhaseRolling,
		},
		{
			name: "verifying: caught up moves to the next ordinal", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.Rolling.HealthySince = upgrade.MicroCeil(t0.Add(-30 * time.Second))
				return s
			}(),
			want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				r := d.Status.Upgrade.Rolling
				if !r.HealthySince.IsZero() {
					t.Errorf("healthy-since of the verified member kept for the next: %s", r.HealthySince)
				}
				if r.Ordinal != 1 || !slices.Equal(r.Updated, []string{"bao-2"}) {
					t.Errorf("progress %+v", r)
				}
				if !d.Status.Upgrade.StepStartedAt.Time.Equal(t0) {
					t.Errorf("step deadline not reset: %s", d.Status.Upgrade.StepStartedAt)
				}
			},
		},
		{
			name: "verifying: not stable yet", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Raft.StableSince = t0.Add(-3 * time.Second)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.Rolling.HealthySince = upgrade.MicroCeil(t0.Add(-30 * time.Second))
				return s
			}(),
			gate: "Stabilized/NotStableLongEnough", phase: PhaseVerifying,
		},
		{
			name: "verifying: first seen caught up starts the window now", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				return o
			}(),
			status: inflight(3, PhaseVerifying, 2), gate: "Stabilized/NotStableLongEnough", phase: PhaseVerifying,
			check: func(t *testing.T, d upgrade.Decision) {
				if hs := d.Status.Upgrade.Rolling.HealthySince; !hs.Time.Equal(t0) {
					t.Errorf("healthy-since %s, want %s", hs, t0)
				}
			},
		},
		{
			// Issue 9, bug 2: OpenBao restarts in ~0.4 s, autopilot never
			// notices, and its stable_since predates the restart. The pod's
			// own start holds the window.
			name: "verifying: autopilot missed the restart", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Pod.StartedAt = t0.Add(-900 * time.Millisecond)
				o.Members[2].Pod.ReadySince = t0.Add(-700 * time.Millisecond)
				o.Members[2].Raft.StableSince = t0.Add(-time.Hour)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.Rolling.HealthySince = upgrade.MicroCeil(t0.Add(-time.Minute)) // even a stale record
				return s
			}(),
			gate: "Stabilized/NotStableLongEnough", phase: PhaseVerifying,
		},
		{
			// An adapter that reports no pod times, and autopilot's
			// stable_since from before the restart: only the window the
			// strategy itself observed (HealthySince) holds the next
			// restart back.
			name: "verifying: no pod times, stale autopilot: own observation holds", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Pod.StartedAt = time.Time{}
				o.Members[2].Pod.ReadySince = time.Time{}
				o.Members[2].Raft.StableSince = t0.Add(-time.Hour)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.Rolling.HealthySince = upgrade.MicroCeil(t0.Add(-2 * time.Second))
				return s
			}(),
			gate: "Stabilized/NotStableLongEnough", phase: PhaseVerifying,
		},
		{
			name: "verifying: not caught up forgets healthy-since", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Raft.LastIndex = 10
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.Rolling.HealthySince = upgrade.MicroCeil(t0.Add(-30 * time.Second))
				return s
			}(),
			gate: "CaughtUp/LogLag", phase: PhaseVerifying,
			check: func(t *testing.T, d upgrade.Decision) {
				if hs := d.Status.Upgrade.Rolling.HealthySince; !hs.IsZero() {
					t.Errorf("healthy-since %s kept while not caught up", hs)
				}
			},
		},
		{
			name: "verifying: wrong version reported", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Version = "2.3.9"
				return o
			}(),
			status: inflight(3, PhaseVerifying, 2), gate: "PodReady/VersionMismatch", phase: PhaseVerifying,
		},
		// ---- unknown is not absent (issue 9, bug 1)
		{
			// The OpenBao run: the active node was killed, Observe failed and
			// returned Merge(obs, nil): every member not present, Known false.
			// Step returned SetPartition 0 while bao-1 was not ready.
			name: "raft view unknown as adapters/openbao returned it: no partition change", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 1
				upgraded(&o, 1)
				upgraded(&o, 2)
				o.Members[1].Pod.Ready = false
				unknownRaft(&o)
				return o
			}(),
			status: inflight(3, PhaseRolling, 0), gate: "RaftHealthy/RaftViewUnknown", phase: PhaseRolling,
		},
		{
			name: "raft view unknown while verifying: gate says unknown, not absent", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				unknownRaft(&o)
				return o
			}(),
			status: inflight(3, PhaseVerifying, 2), gate: "RaftHealthy/RaftViewUnknown", phase: PhaseVerifying,
		},
		{
			name: "raft view partial: a follower's stats missing, no restart", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Members[1].Raft.Unknown = true
				return o
			}(),
			status: inflight(3, PhaseRolling, 2), gate: "RaftHealthy/RaftViewUnknown", phase: PhaseRolling,
		},
		{
			name: "raft view partial: no leadership move", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				upgraded(&o, 1)
				upgraded(&o, 2)
				o.Workloads[0].Partition = 1
				o.Members[2].Raft.Unknown = true
				return o
			}(),
			status: inflight(3, PhaseRolling, 0), gate: "RaftHealthy/RaftViewUnknown", phase: PhaseRolling,
		},
		{
			name: "raft view unknown while a not-ready pod waits: no forced delete", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				o.Members[2].Pod.Ready = false
				unknownRaft(&o)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRestarting, 2)
				s.Upgrade.Rolling.RestartedUID = "bao-2-uid1"
				return s
			}(),
			gate: "RaftHealthy/RaftViewUnknown", phase: PhaseRestarting,
		},
		{
			name: "raft view unknown: an upgrade does not start", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := healthy(3)
				unknownRaft(&o)
				return o
			}(),
			status: idleStatus(), gate: "Prerequisites/NoRaftView",
		},
		{
			name: "raft view unknown: templating still proceeds (it disrupts no one)", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(healthy(3))
				o.Workloads[0].Partition = 3
				unknownRaft(&o)
				return o
			}(),
			status: inflight(3, PhaseTemplating, 2), want: []string{"UpdateTemplate"}, phase: PhaseTemplating,
			gate: "WorkloadSettled/TemplatePending",
		},
		// ---- deadlines and retries
		{
			name: "deadline expiry pauses as degraded", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Pod.Ready = false
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.StepStartedAt = upgrade.Time(t0.Add(-time.Hour))
				return s
			}(),
			gate: "Deadline/PodNotReady", phase: PhaseVerifying, want: []string{"Event"},
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Status.Upgrade.Paused; p == nil || p.Gate != upgrade.GateDeadline || p.Reason != upgrade.ReasonPodNotReady {
					t.Errorf("paused %+v", p)
				}
				wantCond(t, d.Status, upgrade.ConditionDegraded, metav1.ConditionTrue, upgrade.ReasonPodNotReady)
			},
		},
		{
			name: "retry clears the pause and resets the budget", spec: Spec{Version: newV, Image: newImg, RetryNonce: "r1"},
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Pod.Ready = false
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.StepStartedAt = upgrade.Time(t0.Add(-time.Hour))
				s.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateDeadline, Reason: upgrade.ReasonPodNotReady}
				return s
			}(),
			gate: "PodReady/PodNotReady", phase: PhaseVerifying,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.Paused != nil || d.Status.Handled.Retry != "r1" || !d.Status.Upgrade.StepStartedAt.Time.Equal(t0) {
					t.Errorf("retry not handled: %+v handled %+v", d.Status.Upgrade, d.Status.Handled)
				}
				wantCond(t, d.Status, upgrade.ConditionDegraded, metav1.ConditionFalse, upgrade.ReasonAsExpected)
			},
		},
		{
			name: "a handled retry is not acted on twice", spec: Spec{Version: newV, Image: newImg, RetryNonce: "r1"},
			obs: locked(templated(3)),
			status: func() upgrade.Status {
				s := inflight(3, PhaseRolling, 2)
				s.Handled.Retry = "r1"
				s.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateDeadline, Reason: upgrade.ReasonPodNotReady}
				return s
			}(),
			gate: "Deadline/PodNotReady", phase: PhaseRolling,
		},
		{
			name: "lock taken by another holder mid-upgrade: hold", spec: baseSpec(),
			obs:    func() upgrade.Observation { o := templated(3); o.Lock.Holder = "backup"; return o }(),
			status: inflight(3, PhaseRolling, 2), gate: "OperationLock/LockHeldByOther", phase: PhaseRolling,
		},
		{
			name: "lock lost mid-upgrade: re-acquired", spec: baseSpec(), obs: templated(3),
			status: inflight(3, PhaseRolling, 2), gate: "OperationLock/LockPending", phase: PhaseRolling, want: []string{"AcquireLock"},
		},
		// ---- target changes
		{
			name: "target changed mid-upgrade: plan restarts", spec: Spec{Version: "2.4.1", Image: "openbao/openbao:2.4.1"},
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				return o
			}(),
			status: func() upgrade.Status {
				s := inflight(3, PhaseVerifying, 2)
				s.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateCrashLoop}
				return s
			}(),
			want: []string{"SetPartition", "Event"}, phase: PhaseLocking,
			check: func(t *testing.T, d upgrade.Decision) {
				u := d.Status.Upgrade
				if u.TargetVersion != "2.4.1" || u.FromVersion != oldV || u.Paused != nil || u.Rolling.Ordinal != 2 {
					t.Errorf("retargeted upgrade %+v", u)
				}
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 3 {
					t.Errorf("partition %d", p.Partition)
				}
			},
		},
		{
			name: "target changed to a downgrade mid-upgrade: refused", spec: Spec{Version: "2.2.0", Image: "openbao/openbao:2.2.0"},
			obs: locked(templated(3)), status: inflight(3, PhaseRolling, 2), gate: "Policy/Downgrade", phase: PhaseRolling,
		},
		{
			name: "target changed back to the running version: rollback allowed", spec: Spec{Version: oldV, Image: oldImg},
			obs: func() upgrade.Observation { o := locked(templated(3)); o.Workloads[0].Partition = 2; return o }(), status: inflight(3, PhaseRolling, 2), phase: PhaseLocking,
			want: []string{"SetPartition", "Event"},
		},
		// ---- finalize
		{
			name: "finalize atomically", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 1
				for i := range 3 {
					upgraded(&o, i)
				}
				return o
			}(),
			status: inflight(3, PhaseRolling, 0), want: []string{"SetPartition", "ReleaseLock", "Event"},
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[0].(upgrade.SetPartition); p.Partition != 0 {
					t.Errorf("partition %d", p.Partition)
				}
				s := d.Status
				if s.Upgrade != nil || s.CurrentVersion != newV || s.CurrentImage != newImg {
					t.Errorf("status %+v", s)
				}
				if s.LastResult == nil || s.LastResult.Outcome != upgrade.OutcomeSucceeded || s.LastResult.FromVersion != oldV {
					t.Errorf("result %+v", s.LastResult)
				}
				wantCond(t, s, upgrade.ConditionReady, metav1.ConditionTrue, upgrade.ReasonSucceeded)
				wantCond(t, s, upgrade.ConditionProgressing, metav1.ConditionFalse, upgrade.ReasonSucceeded)
				wantCond(t, s, upgrade.ConditionDegraded, metav1.ConditionFalse, upgrade.ReasonAsExpected)
			},
		},
		{
			name: "finalize waits for every member caught up", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 0
				for i := range 3 {
					upgraded(&o, i)
				}
				o.Members[1].Raft.Healthy = false
				return o
			}(),
			status: inflight(3, PhaseRolling, -1), gate: "RaftHealthy/RaftUnhealthy", phase: PhaseRolling,
		},
		// ---- small clusters
		{
			name: "one replica: leader restarts without step-down", spec: Spec{Version: newV, Image: newImg, AllowDowntime: true},
			obs: locked(templated(1)), status: inflight(1, PhaseRolling, 0), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
		{
			name: "two replicas: leader moves first", spec: Spec{Version: newV, Image: newImg, AllowDowntime: true},
			obs:    func() upgrade.Observation { o := locked(templated(2)); setLeader(&o, 1); return o }(),
			status: inflight(2, PhaseRolling, 1), want: []string{"TransferLeadership", "Event"}, phase: PhaseMovingLeader,
		},
		{
			name: "two replicas: follower restarts with allowDowntime", spec: Spec{Version: newV, Image: newImg, AllowDowntime: true},
			obs: locked(templated(2)), status: inflight(2, PhaseRolling, 1), want: []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
		{
			name: "two replicas: restart waits for the other voter", spec: Spec{Version: newV, Image: newImg, AllowDowntime: true},
			obs:    func() upgrade.Observation { o := locked(templated(2)); o.Members[0].Raft.Healthy = false; return o }(),
			status: inflight(2, PhaseRolling, 1), gate: "RaftHealthy/RaftUnhealthy", phase: PhaseRolling,
		},
		{
			name: "two replicas mid-upgrade without allowDowntime: downtime gate", spec: baseSpec(),
			obs: locked(templated(2)), status: inflight(2, PhaseRolling, 1), gate: "Downtime/DowntimeNotAllowed", phase: PhaseRolling,
		},
	}
}

func TestStep(t *testing.T) {
	for _, tc := range stepCases() {
		t.Run(tc.name, func(t *testing.T) {
			obsBefore := *tc.obs.DeepCopy()
			stBefore := *tc.status.DeepCopy()
			d, err := Step(tc.spec, tc.obs, tc.status)
			if !reflect.DeepEqual(obsBefore, tc.obs) || !reflect.DeepEqual(stBefore, tc.status) {
				t.Fatal("Step mutated its inputs")
			}
			d2, err2 := Step(tc.spec, tc.obs, tc.status)
			if !reflect.DeepEqual(d, d2) || (err == nil) != (err2 == nil) {
				t.Fatal("Step is not deterministic")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if len(d.Actions) != 0 {
					t.Fatalf("actions on error: %v", d.Actions)
				}
				if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
					t.Errorf("error not lowercase: %q", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			// the actions in order, then one "Event" per event
			got := kinds(d.Actions)
			for range d.Events {
				got = append(got, "Event")
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("actions, events = %v, want %v\n%s%v", got, tc.want, upgrade.FormatActions(d.Actions), d.Events)
			}
			gate := ""
			if d.Gate != nil {
				gate = string(d.Gate.Name) + "/" + string(d.Gate.Reason)
			}
			if gate != tc.gate {
				t.Errorf("gate = %q, want %q (%v)", gate, tc.gate, d.Gate)
			}
			phase := Phase("")
			if d.Status.Upgrade != nil {
				phase = Phase(d.Status.Upgrade.Phase)
			}
			if phase != tc.phase {
				t.Errorf("phase = %q, want %q", phase, tc.phase)
			}
			if d.Gate != nil && d.Gate.Reason != upgrade.ReasonAwaitingEffects {
				// every refusal is surfaced in a condition (but for the
				// wait on the last Decision's effects, which returns the
				// status exactly as it was)
				found := false
				for _, c := range d.Status.Conditions {
					if c.Reason == string(d.Gate.Reason) {
						found = true
					}
				}
				if !found {
					t.Errorf("gate %v not surfaced in conditions %+v", d.Gate, d.Status.Conditions)
				}
			}
			cu := tc.spec.CatchUp
			safe := upgrade.Safety{CatchUp: cu, AllowDowntime: tc.spec.AllowDowntime && len(tc.obs.Voters()) <= 2}
			if err := safe.Check(tc.obs, d.Actions); err != nil {
				t.Errorf("unsafe actions: %v", err)
			}
			if len(d.Actions) > 0 && (d.Status.LastStepTime.Time.Before(upgrade.Time(tc.obs.Now).Time) || d.Status.ObservedTerm < tc.obs.Raft.Term) {
				t.Errorf("acting decision did not record last step time / term: %s %d", d.Status.LastStepTime, d.Status.ObservedTerm)
			}
			// S5: the current version changes only together with the end of the upgrade.
			if d.Status.Upgrade != nil && tc.status.CurrentVersion != "" && d.Status.CurrentVersion != tc.status.CurrentVersion {
				t.Errorf("current version changed mid-upgrade")
			}
			roundTrip(t, d.Status)
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func wantCond(t *testing.T, s upgrade.Status, typ string, st metav1.ConditionStatus, r upgrade.Reason) {
	t.Helper()
	c := meta.FindStatusCondition(s.Conditions, typ)
	if c == nil {
		t.Errorf("condition %s missing", typ)
		return
	}
	if c.Status != st || c.Reason != string(r) {
		t.Errorf("condition %s = %s/%s, want %s/%s (%s)", typ, c.Status, c.Reason, st, r, c.Message)
	}
}

func roundTrip(t *testing.T, s upgrade.Status) {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back upgrade.Status
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	raw2, _ := json.Marshal(back)
	if string(raw) != string(raw2) {
		t.Errorf("status does not survive a JSON round trip:\n%s\n%s", raw, raw2)
	}
}

func TestRollingProgressDeepCopy(t *testing.T) {
	st := inflight(3, PhaseVerifying, 1)
	st.Upgrade.Rolling.Updated = []string{"bao-2"}
	st.Upgrade.Paused = &upgrade.Pause{Gate: upgrade.GateCrashLoop}
	c := st.DeepCopy()
	c.Upgrade.Rolling.Updated[0] = "x"
	c.Upgrade.Rolling.Ordinal = 0
	c.Upgrade.Paused.Gate = "y"
	if st.Upgrade.Rolling.Updated[0] != "bao-2" || st.Upgrade.Rolling.Ordinal != 1 || st.Upgrade.Paused.Gate != upgrade.GateCrashLoop {
		t.Fatal("DeepCopy shares memory")
	}
	if !reflect.DeepEqual(*st.DeepCopy(), st) {
		t.Fatal("DeepCopy is not equal")
	}
}
