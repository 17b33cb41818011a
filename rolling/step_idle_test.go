package rolling

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// stepCasesIdle are the TestStep cases of section "idle".
func stepCasesIdle() []stepCase {
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
			// Found by the soak (seed 7170399): the final Decision was
			// persisted and its SetPartition 0 lost, then the lock was
			// released on a stale cache showing the partition at 0.
			name: "idle converges a partition left above 0", spec: Spec{Version: oldV, Image: oldImg},
			obs:    func() upgrade.Observation { o := healthy(3); o.Workloads[0].Partition = 1; return o }(),
			status: idleStatus(), want: []string{"AcquireLock", "SetPartition", "Event"}, phase: PhaseLocking,
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[1].(upgrade.SetPartition); p.Partition != 3 {
					t.Errorf("partition %d, want 3 (locked before anything is lowered)", p.Partition)
				}
			},
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
	}
}

// stepCasesErrors are the TestStep cases of section "errors".
func stepCasesErrors() []stepCase {
	return []stepCase{
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
	}
}

// stepCasesStale are the TestStep cases of section "stale observations".
func stepCasesStale() []stepCase {
	return []stepCase{
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
	}
}
