package rolling

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/upgrade"
)

// stepCasesVerifying are the TestStep cases of section "restarting and verifying".
func stepCasesVerifying() []stepCase {
	return []stepCase{
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
				s.Upgrade.Rolling.HealthySince = contract.MicroCeil(t0.Add(-30 * time.Second))
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
				s.Upgrade.Rolling.HealthySince = contract.MicroCeil(t0.Add(-30 * time.Second))
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
				s.Upgrade.Rolling.HealthySince = contract.MicroCeil(t0.Add(-time.Minute)) // even a stale record
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
				s.Upgrade.Rolling.HealthySince = contract.MicroCeil(t0.Add(-2 * time.Second))
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
				s.Upgrade.Rolling.HealthySince = contract.MicroCeil(t0.Add(-30 * time.Second))
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
	}
}

// stepCasesUnknown are the TestStep cases of section "unknown is not absent (issue 9, bug 1)".
func stepCasesUnknown() []stepCase {
	return []stepCase{
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
	}
}
