package rolling

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// ReasonUpdateStrategy: the ordering asked for does not fit the workload's
// update strategy.
const ReasonUpdateStrategy upgrade.Reason = "UpdateStrategyMismatch"

// ordering is the ordering of this Step: the one the upgrade in flight
// started with, else the spec's, else the one the workload's update
// strategy implies.
func (s *stepper) ordering() Ordering {
	if u := s.st.Upgrade; u != nil && u.Rolling != nil && u.Rolling.Ordering != "" {
		return Ordering(u.Rolling.Ordering)
	}
	if s.spec.Ordering != "" {
		return s.spec.Ordering
	}
	if s.w.UpdateStrategy == upgrade.UpdateOnDelete {
		return OrderingOnDelete
	}
	return OrderingPartition
}

// orderingMismatch returns the gate that refuses to start an upgrade whose
// ordering does not fit the workload: a RollingUpdate controller recreates
// a deleted pod below the partition at the old revision, and an OnDelete
// controller ignores the partition.
func (s *stepper) orderingMismatch() *upgrade.Gate {
	o, us := s.ordering(), s.w.UpdateStrategy
	switch {
	case o == OrderingOnDelete && us != "" && us != upgrade.UpdateOnDelete:
		return &upgrade.Gate{Name: upgrade.GateWorkloadSettled, Reason: ReasonUpdateStrategy,
			Message: fmt.Sprintf("ordering OnDelete needs workload %s to use the OnDelete update strategy (it uses %s)", s.w.Name, us)}
	case o == OrderingPartition && us == upgrade.UpdateOnDelete:
		return &upgrade.Gate{Name: upgrade.GateWorkloadSettled, Reason: ReasonUpdateStrategy,
			Message: fmt.Sprintf("ordering Partition needs workload %s to use the RollingUpdate update strategy (it uses OnDelete)", s.w.Name)}
	}
	return nil
}

// rollingOnDelete picks the next pod of a delete-driven upgrade and deletes
// it when S1–S3 allow it on this very observation: followers first, those
// already down first, then the highest ordinal first; once only the leader
// is left on the old revision,
// leadership moves to an upgraded caught-up voter (or, where the workload
// hands leadership over on shutdown, deleting the leader's pod is the
// move), and the old leader goes last.
func (s *stepper) rollingOnDelete() (Event, error) {
	u := s.st.Upgrade
	r := u.Rolling
	var next *upgrade.Member
	pending := 0
	for o := r.Replicas - 1; o >= 0; o-- {
		m := s.memberAt(o)
		if m == nil {
			s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "no member with ordinal %d is observed", o)
			return "", nil
		}
		if s.updated(m) {
			continue
		}
		pending++
		if s.obs.IsLeader(m.Name) {
			continue
		}
		// A member that is down already goes first, a crash-looping one
		// before all: restarting it costs no availability, and while it is
		// down no other voter may restart (S2).
		if next == nil || downRank(m) > downRank(next) {
			next = m
		}
	}
	if pending == 0 {
		r.Ordinal = -1
		return s.finalize()
	}
	if s.holdAtSafePoint() {
		return "", nil
	}
	if s.placeLeader() {
		return "", nil
	}
	if next == nil { // only the leader is left
		leader, _ := s.obs.Leader()
		m := s.memberAt(leader.Ordinal)
		r.Ordinal = m.Ordinal
		if s.voters > 1 && !s.handoff(m) {
			return s.moveLeader(m), nil
		}
		next = m
		if s.voters > 1 {
			r.LeaderMoves++ // deleting the leader's pod is its handoff
		}
	}
	if !s.canDisrupt(next) {
		return "", nil
	}
	r.Ordinal = next.Ordinal
	r.RestartedUID, r.DeletedUID, r.HealthySince = next.Pod.UID, next.Pod.UID, metav1.MicroTime{}
	s.act(upgrade.DeletePod{Member: next.Name, UID: next.Pod.UID})
	if s.obs.IsLeader(next.Name) {
		s.event(upgrade.EventNormal, ReasonRestartingPod, "deleting leader %s last: it hands leadership to an upgraded follower on shutdown", next.Name)
	} else {
		s.event(upgrade.EventNormal, ReasonRestartingPod, "restarting %s on %s", next.Name, u.TargetVersion)
	}
	return EventPodSelected, nil
}

// downRank orders restart candidates: crash-looping (3) before a pod that
// is not serving (2, between crash-loop restarts too) before a serving pod
// whose Raft member is down (1: without quorum no member is healthy, and
// restarting it would take a second pod down) before serving (0).
func downRank(m *upgrade.Member) int {
	switch {
	case m.Pod.CrashLooping:
		return 3
	case !m.Pod.Exists || !m.Pod.Ready || m.Pod.Terminating:
		return 2
	case !m.Up():
		return 1
	}
	return 0
}

// staleCrashLoop returns a member that crash-loops on a revision other
// than the update revision (nil if none).
func (s *stepper) staleCrashLoop() *upgrade.Member {
	for i := range s.members {
		if m := &s.members[i]; m.Pod.Exists && m.Pod.CrashLooping && m.Revision != s.w.UpdateRevision {
			return m
		}
	}
	return nil
}

// handoff reports whether deleting the leader m's pod may itself move
// leadership: the workload hands leadership over on graceful shutdown, m is
// the last pod on the old revision, and every other voter is upgraded,
// caught up and stable with failure tolerance to spare (upgrade.Safety
// enforces the same rule).
func (s *stepper) handoff(m *upgrade.Member) bool {
	if !s.obs.Capabilities.HandoffOnShutdown {
		return false
	}
	return s.safety.CanDisrupt(s.obs, m.Name) == nil
}

// restartingOnDelete waits for the deleted pod's replacement at the update
// revision, deleting it again when the delete was lost.
func (s *stepper) restartingOnDelete() Event {
	u := s.st.Upgrade
	r := u.Rolling
	m := s.memberAt(r.Ordinal)
	if m != nil && s.updated(m) {
		return EventPodRestarted
	}
	if m == nil || !m.Pod.Exists || m.Pod.Terminating {
		name := fmt.Sprintf("%s-%d", s.w.Name, r.Ordinal)
		if m != nil {
			name = m.Name
		}
		s.hold(upgrade.GatePodReady, ReasonPodRestarting, name, "waiting for %s to be recreated", name)
		return ""
	}
	// The old incarnation is still there.
	if m.Pod.UID != r.RestartedUID {
		// Another incarnation at the old revision (killed and recreated
		// before the delete, or the delete never happened and the pod was
		// replaced): select again from the current state.
		return EventReselect
	}
	if s.obs.IsLeader(m.Name) && s.voters > 1 && !s.handoff(m) {
		// It became the leader before it was deleted: move leadership
		// first.
		return EventLeaderChanged
	}
	if s.obs.Now.Sub(u.PhaseStartedAt.Time) < s.spec.RetryInterval.Duration {
		s.hold(upgrade.GatePodReady, ReasonAwaitingController, m.Name, "waiting for %s to be deleted", m.Name)
		return ""
	}
	// The delete was lost (a host that persisted and crashed): ask again,
	// after the same checks as the first time.
	if !s.canDisrupt(m) {
		return ""
	}
	s.act(upgrade.DeletePod{Member: m.Name, UID: m.Pod.UID})
	u.Failures++
	return EventForceRestart
}
