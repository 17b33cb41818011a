package rolling

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/raftshift/raftshift/upgrade"
)

// led returns an in-flight status whose leader high-water mark is hw, with
// the given members already verified.
func led(n int, p Phase, ord int32, hw string, updated ...string) upgrade.Status {
	st := inflight(n, p, ord)
	st.Upgrade.LeaderHighWater = hw
	st.Upgrade.Rolling.Updated = updated
	return st
}

// regressedCondition checks the LeaderVersion condition S8 raises.
func regressedCondition(t *testing.T, d upgrade.Decision) {
	t.Helper()
	c := meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionLeaderVersion)
	if c == nil || c.Status != "True" || c.Reason != string(upgrade.ReasonLeaderVersionRegressed) || !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("LeaderVersion condition %+v", c)
	}
}

// earlySpec is baseSpec with leader placement Early.
func earlySpec() Spec {
	s := baseSpec()
	s.LeaderPlacement = upgrade.PlacementEarly
	return s
}

func stepCasesFailback() []stepCase {
	return []stepCase{
		// ---- S8: no failback to an older version; leader placement
		{
			name: "regressed leader: gate and targeted transfer to an upgraded voter", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[1].Raft.LastIndex = 2100 // an old voter with a higher index is not chosen
				return o
			}(),
			status: led(3, PhaseRolling, 1, newV, "bao-2"),
			want:   []string{"TransferLeadership", "Event"}, gate: "Leader/LeaderVersionRegressed", phase: PhaseRolling,
			check: func(t *testing.T, d upgrade.Decision) {
				if tr := d.Actions[0].(upgrade.TransferLeadership); tr.From != "bao-0" || tr.To != "bao-2" {
					t.Errorf("transfer %+v", tr)
				}
				regressedCondition(t, d)
			},
		},
		{
			// Found by the rolling property with windows: the regression's
			// gate hid the hold, so the host polled instead of sleeping
			// until the opening.
			name: "regressed leader outside a maintenance window: the hold keeps its gate and requeue, the condition reports the regression",
			spec: windowSpec("0 2 * * *", 2*time.Hour),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				return o
			}(),
			status: led(3, PhaseRolling, 1, newV, "bao-2"),
			want:   []string{"Event"}, gate: "MaintenanceWindow/OutsideMaintenanceWindow", phase: PhaseRolling,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.RequeueAfter != 14*time.Hour {
					t.Errorf("requeue %s, want 14h (the opening at 02:00)", d.RequeueAfter)
				}
				regressedCondition(t, d)
			},
		},
		{
			name: "regressed leader, the upgraded voter still catching up: hold, never an old target", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				o.Members[2].Raft.LastIndex = 10
				return o
			}(),
			status: led(3, PhaseRolling, 1, newV, "bao-2"),
			gate:   "Leader/LeaderVersionRegressed", phase: PhaseRolling,
			check: regressedCondition,
		},
		{
			name: "after the target led, the leader's turn transfers to an upgraded voter only", spec: baseSpec(),
			obs: func() upgrade.Observation {
				// bao-1 leads on the target; an election then put old
				// bao-0 in charge, and it is the next to restart
				o := locked(templated(3))
				o.Workloads[0].Partition = 1
				upgraded(&o, 2)
				upgraded(&o, 1)
				o.Members[2].Raft.LastIndex = 1990 // both are upgraded: the higher index wins
				return o
			}(),
			status: led(3, PhaseRolling, 0, newV, "bao-2", "bao-1"),
			want:   []string{"TransferLeadership", "Event"}, gate: "Leader/LeaderVersionRegressed", phase: PhaseRolling,
			check: func(t *testing.T, d upgrade.Decision) {
				if tr := d.Actions[0].(upgrade.TransferLeadership); tr.To != "bao-1" {
					t.Errorf("transfer %+v, want to bao-1", tr)
				}
			},
		},
		{
			// Found by the rolling property (2 members): the only upgraded
			// pod came back at the old revision after it had led, so every
			// member is old and the old leader is next. Moving leadership to
			// a member as old as the leader fails back no further; holding
			// would never end.
			name: "every member old again after the target led: the leader's turn transfers to an equally old voter", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3)) // partition 3: bao-2 came back old
				setLeader(&o, 2)
				return o
			}(),
			status: led(3, PhaseRolling, 2, newV),
			want:   []string{"TransferLeadership", "Event"}, gate: "Leader/LeaderVersionRegressed", phase: PhaseMovingLeader,
			check: func(t *testing.T, d upgrade.Decision) {
				if tr := d.Actions[0].(upgrade.TransferLeadership); tr.From != "bao-2" {
					t.Errorf("transfer %+v, want from bao-2", tr)
				}
				regressedCondition(t, d)
			},
		},
		{
			name: "step-down refused when an older voter could win", spec: baseSpec(),
			obs: func() upgrade.Observation {
				// bao-2 leads on 2.3.5 (an earlier target) and restarts
				// next; bao-0 and bao-1 still run 2.3.0
				o := locked(templated(3))
				o.Capabilities.TargetedTransfer = false
				o.Members[2].Version, o.Members[2].Revision = "2.3.5", "bao-235"
				setLeader(&o, 2)
				return o
			}(),
			status: inflight(3, PhaseRolling, 2),
			gate:   "LeaderTransfer/LeaderMoveWouldFailBack", phase: PhaseRolling,
		},
		{
			name: "a step-down when every other voter is at least as new", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Capabilities.TargetedTransfer = false
				setLeader(&o, 2)
				return o
			}(),
			status: inflight(3, PhaseRolling, 2),
			want:   []string{"StepDown", "Event"}, phase: PhaseMovingLeader,
		},
		{
			name: "placement Early: leadership moves to the first upgraded caught-up voter", spec: earlySpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				return o
			}(),
			status: led(3, PhaseRolling, 1, oldV, "bao-2"),
			want:   []string{"TransferLeadership", "Event"}, phase: PhaseRolling,
			check: func(t *testing.T, d upgrade.Decision) {
				if tr := d.Actions[0].(upgrade.TransferLeadership); tr.From != "bao-0" || tr.To != "bao-2" {
					t.Errorf("transfer %+v", tr)
				}
			},
		},
		{
			name: "placement Early: with an upgraded leader the next pod restarts", spec: earlySpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				setLeader(&o, 2)
				return o
			}(),
			status: led(3, PhaseRolling, 1, newV, "bao-2"),
			want:   []string{"SetPartition", "Event"}, phase: PhaseRestarting,
			check: func(t *testing.T, d upgrade.Decision) {
				if hw := d.Status.Upgrade.LeaderHighWater; hw != newV {
					t.Errorf("high-water %q", hw)
				}
			},
		},
		{
			name: "placement Last: the old leader keeps leading while followers restart", spec: baseSpec(),
			obs: func() upgrade.Observation {
				o := locked(templated(3))
				o.Workloads[0].Partition = 2
				upgraded(&o, 2)
				return o
			}(),
			status: led(3, PhaseRolling, 1, oldV, "bao-2"),
			want:   []string{"SetPartition", "Event"}, phase: PhaseRestarting,
		},
		{
			name: "bad leaderPlacement", spec: func() Spec {
				s := baseSpec()
				s.LeaderPlacement = "Middle"
				return s
			}(),
			obs: healthy(3), status: idleStatus(), wantErr: upgrade.ErrInvalidSpec,
		},
	}
}
