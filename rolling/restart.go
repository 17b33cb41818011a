package rolling

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// memberAt returns the member with ordinal ord (nil if none). The pointer
// is into the observation, which Step must not modify.
func (s *stepper) memberAt(ord int32) *upgrade.Member {
	for i := range s.members {
		if s.members[i].Ordinal == ord {
			return &s.members[i]
		}
	}
	return nil
}

// isVoter reports whether m is a voter (upgrade.Member.IsVoter without
// copying the member).
func isVoter(m *upgrade.Member) bool { return m.Raft.Present && m.Raft.Suffrage == upgrade.Voter }

// updated reports whether m's pod is at the update revision.
func (s *stepper) updated(m *upgrade.Member) bool {
	return m.Pod.Exists && !m.Pod.Terminating && m.Revision == s.w.UpdateRevision
}

func (s *stepper) rolling() (Event, error) {
	if s.ondelete {
		return s.rollingOnDelete()
	}
	u := s.st.Upgrade
	r := u.Rolling
	// The next ordinal is the highest one not at the update revision. It is
	// recomputed rather than only counted down: a pod killed while the
	// partition was above it comes back at the old revision and must be
	// upgraded again.
	r.Ordinal = -1
	for o := r.Replicas - 1; o >= 0; o-- {
		if m := s.memberAt(o); m == nil || !s.updated(m) {
			r.Ordinal = o
			break
		}
	}
	if r.Ordinal < 0 {
		return s.finalize()
	}
	m := s.memberAt(r.Ordinal)
	if m == nil {
		s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "no member with ordinal %d is observed", r.Ordinal)
		return "", nil
	}
	if s.w.Partition <= r.Ordinal {
		// The partition already admits this ordinal (a Step whose status
		// was not persisted): follow the controller. A partition below
		// the ordinal would admit more than one pod; raise it to the
		// ordinal (raising never restarts a pod).
		if s.w.Partition < r.Ordinal {
			s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal})
		}
		r.RestartedUID, r.HealthySince = "", metav1.MicroTime{}
		if m.Pod.Exists && !m.Pod.Terminating {
			r.RestartedUID = m.Pod.UID
		}
		return EventPodSelected, nil
	}
	if s.holdAtSafePoint() {
		return "", nil
	}
	if s.placeLeader() {
		return "", nil
	}
	if s.obs.IsLeader(m.Name) && s.voters > 1 {
		return s.moveLeader(m), nil
	}
	if !s.canDisrupt(m) {
		return "", nil
	}
	r.RestartedUID = m.Pod.UID
	r.DeletedUID = ""
	r.HealthySince = metav1.MicroTime{}
	s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal})
	s.event(upgrade.EventNormal, ReasonRestartingPod, "restarting %s on %s", m.Name, u.TargetVersion)
	return EventPodSelected, nil
}

// canDisrupt gates a restart of m: every other voter healthy and caught
// up, failure tolerance to spare, m not the leader. One- and two-voter
// clusters need AllowDowntime.
func (s *stepper) canDisrupt(m *upgrade.Member) bool {
	if s.blind() {
		return false
	}
	if isVoter(m) {
		if s.voters <= 2 && !s.spec.AllowDowntime {
			s.hold(upgrade.GateDowntime, ReasonDowntimeNotAllowed, m.Name,
				"restarting %s loses quorum of a %d-voter cluster; set allowDowntime to accept it", m.Name, s.voters)
			return false
		}
		// A crash-looping member serves nothing (upgrade.Safety lets its
		// restart through whatever the others' state: it is the way back
		// from a bad version), and with the downtime opt-in of a one- or
		// two-voter cluster any member that is already down may be
		// restarted.
		if !m.Pod.CrashLooping && !(s.safety.AllowDowntime && !m.Up()) && !s.othersCaughtUp(m) {
			return false
		}
	}
	if g := s.safety.CanDisrupt(s.obs, m.Name); g != nil {
		if s.voters <= 2 && !s.spec.AllowDowntime {
			s.gate = &upgrade.Gate{Name: upgrade.GateDowntime, Reason: ReasonDowntimeNotAllowed, Member: m.Name, Message: g.Message}
			return false
		}
		s.gate = g
		return false
	}
	return true
}

// blind holds with a RaftViewUnknown gate when the Raft view is unknown or
// partial: unknown is not absent, so nothing disruptive may happen (a
// member that looks like a non-voter may be a voter, the leader even).
func (s *stepper) blind() bool {
	if g := upgrade.CheckView(s.obs); g != nil {
		s.gate = g
		return true
	}
	return false
}

func (s *stepper) othersCaughtUp(m *upgrade.Member) bool {
	for i := range s.obs.Members {
		o := &s.obs.Members[i]
		if o.Name == m.Name || !isVoter(o) {
			continue
		}
		if g := upgrade.CaughtUp(s.obs, *o, s.spec.CatchUp); g != nil {
			s.gate = g
			return false
		}
	}
	return true
}

// moveLeader asks leadership to leave m, the next pod to restart.
func (s *stepper) moveLeader(m *upgrade.Member) Event {
	if !s.leaderMovable(m) {
		return ""
	}
	u := s.st.Upgrade
	r := u.Rolling
	a, t, ok := contract.LeaderMove(s.obs, s.safety, *m, u.TargetVersion, contract.FailbackExclude(s.obs, u, *m))
	switch {
	case !ok && s.movableByFailback(m):
		s.hold(upgrade.GateLeaderTransfer, upgrade.ReasonMoveFailsBack, m.Name,
			"%s (%s) must restart next, but only an older voter could take over (S8); upgrade the older voters first (the OnDelete ordering restarts the leader last)", m.Name, m.Version)
		return ""
	case !ok:
		s.hold(upgrade.GateLeaderTransfer, upgrade.ReasonNoTransferTarget, m.Name, "no healthy caught-up voter can take over from %s", m.Name)
		return ""
	case a.Kind() == upgrade.KindTransferLeadership:
		r.TransferTarget = t.Name
		s.act(a)
		s.event(upgrade.EventNormal, ReasonMovingLeadership, "moving leadership from %s to %s before restarting it", m.Name, t.Name)
	default:
		r.TransferTarget = ""
		s.act(a)
		s.event(upgrade.EventNormal, ReasonMovingLeadership, "asking leader %s to step down before restarting it", m.Name)
	}
	r.LeaderMoves++
	if s.phase() == PhaseMovingLeader {
		u.Failures++
		return EventRetryTransfer
	}
	return EventLeaderSelected
}

// movableByFailback reports whether leadership could leave m if it were
// allowed to fail back: S8 alone holds the move.
func (s *stepper) movableByFailback(m *upgrade.Member) bool {
	if s.safety.AllowFailback {
		return false
	}
	fb := s.safety
	fb.AllowFailback = true
	_, _, ok := contract.LeaderMove(s.obs, fb, *m, s.st.Upgrade.TargetVersion, nil)
	return ok
}

// leaderMovable gates a leadership move away from m: it only happens when
// m could be restarted right after (others caught up, tolerance to spare).
func (s *stepper) leaderMovable(m *upgrade.Member) bool {
	if s.blind() {
		return false
	}
	if s.voters == 2 && !s.spec.AllowDowntime {
		s.hold(upgrade.GateDowntime, ReasonDowntimeNotAllowed, m.Name,
			"restarting %s loses quorum of a %d-voter cluster; set allowDowntime to accept it", m.Name, s.voters)
		return false
	}
	if !s.othersCaughtUp(m) {
		return false
	}
	others := 0
	for i := range s.obs.Members {
		if o := &s.obs.Members[i]; o.Name != m.Name && isVoter(o) {
			others++
		}
	}
	if others == 0 {
		s.hold(upgrade.GateLeaderTransfer, upgrade.ReasonNoTransferTarget, m.Name, "no other voter can take over from %s", m.Name)
		return false
	}
	if s.voters >= 3 {
		healthy := 0
		for i := range s.obs.Members {
			if o := &s.obs.Members[i]; isVoter(o) && upgrade.CaughtUp(s.obs, *o, s.spec.CatchUp) == nil {
				healthy++
			}
		}
		if ft := upgrade.FailureTolerance(s.voters, healthy); ft < 1 {
			s.hold(upgrade.GateQuorum, upgrade.ReasonNoFailureTolerance, m.Name,
				"failure tolerance is %d with %d/%d healthy voters", ft, healthy, s.voters)
			return false
		}
	}
	return true
}

func (s *stepper) movingLeader() Event {
	u := s.st.Upgrade
	m := s.memberAt(u.Rolling.Ordinal)
	leader, hasLeader := s.obs.Leader()
	switch {
	case !hasLeader:
		s.hold(upgrade.GateLeader, upgrade.ReasonNoLeader, "", "waiting for a new leader to be elected")
		return ""
	case m == nil || leader.Name != m.Name || s.voters <= 1:
		return EventLeaderMoved
	case s.obs.Now.Sub(u.PhaseStartedAt.Time) >= s.spec.RetryInterval.Duration:
		return s.moveLeader(m)
	}
	s.hold(upgrade.GateLeaderTransfer, ReasonLeadershipMoving, m.Name, "waiting for leadership to leave %s", m.Name)
	return ""
}

func (s *stepper) restarting() Event {
	if s.ondelete {
		return s.restartingOnDelete()
	}
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
		s.hold(upgrade.GatePodReady, ReasonPodRestarting, name, "waiting for the controller to recreate %s", name)
		return ""
	}
	// m is an old incarnation.
	if s.obs.IsLeader(m.Name) && s.voters > 1 {
		// It became the leader before the controller replaced it: lock
		// the partition above it again and move leadership first.
		if s.w.Partition <= r.Ordinal {
			s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal + 1})
		}
		return EventLeaderChanged
	}
	if s.w.Partition > r.Ordinal {
		// The partition change was lost (the host did not execute it, or
		// someone raised the partition): select the ordinal again.
		return EventReselect
	}
	if s.w.Partition < r.Ordinal {
		// Someone lowered the partition further: admit only this ordinal.
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal})
	}
	if (!m.Pod.Ready || m.Pod.CrashLooping) &&
		(r.DeletedUID != m.Pod.UID || s.obs.Now.Sub(u.PhaseStartedAt.Time) >= s.spec.RetryInterval.Duration) {
		// An OrderedReady controller does not replace a pod that is not
		// ready: delete it explicitly, once per incarnation (again after
		// the retry interval if the delete was lost).
		if !s.canDisrupt(m) {
			return ""
		}
		r.DeletedUID = m.Pod.UID
		s.act(upgrade.DeletePod{Member: m.Name, UID: m.Pod.UID})
		return EventForceRestart
	}
	s.hold(upgrade.GatePodReady, ReasonAwaitingController, m.Name, "waiting for the controller to restart %s", m.Name)
	return ""
}

func (s *stepper) verifying() Event {
	u := s.st.Upgrade
	r := u.Rolling
	m := s.memberAt(r.Ordinal)
	switch {
	case m == nil || !m.Pod.Exists || m.Pod.Terminating:
		s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "waiting for the controller to recreate ordinal %d", r.Ordinal)
		return ""
	case m.Revision != s.w.UpdateRevision:
		// The new pod was lost and came back at the old revision (killed
		// while the partition was above it): select the ordinal again.
		return EventReselect
	case m.Version != "" && !policy.SameVersion(m.Version, u.TargetVersion):
		s.hold(upgrade.GatePodReady, ReasonVersionMismatch, m.Name, "%s reports version %s, want %s", m.Name, m.Version, u.TargetVersion)
		return ""
	case s.staleCrashLoop() != nil:
		// Another member crash-loops on a revision that is no longer the
		// target (an earlier, bad target): verification could wait on it
		// forever (it may hold the quorum); restart it first.
		return EventReselect
	}
	// The stabilization window counts from the member's own restart: the
	// latest of its pod's start and readiness, this strategy's first
	// observation of it caught up (recorded in the status) and autopilot's
	// stable_since, which alone can predate a short restart.
	noWindow := s.spec.CatchUp
	noWindow.Stabilization.Duration = -1
	if g := upgrade.CaughtUp(s.obs, *m, noWindow); g != nil {
		r.HealthySince = metav1.MicroTime{}
		s.gate = g
		return ""
	}
	if r.HealthySince.IsZero() {
		r.HealthySince = contract.MicroCeil(s.obs.Now)
	}
	if g := upgrade.CaughtUpAfterRestart(s.obs, *m, s.spec.CatchUp, r.HealthySince.Time); g != nil {
		s.gate = g
		return ""
	}
	r.Updated = append(r.Updated, m.Name)
	r.Ordinal--
	r.RestartedUID, r.DeletedUID, r.TransferTarget = "", "", ""
	r.HealthySince = metav1.MicroTime{}
	return EventPodVerified
}

// finalize completes the upgrade atomically once every member runs the
// target and is caught up: status.Upgrade is cleared and the current
// version set in the same status (S5), the partition restored to 0 and the
// lock released in the same Decision.
func (s *stepper) finalize() (Event, error) {
	u := s.st.Upgrade
	if int32(len(s.members)) != s.w.Replicas {
		s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "%d of %d members observed", len(s.members), s.w.Replicas)
		return "", nil
	}
	for i := range s.members {
		m := &s.members[i]
		if !s.updated(m) {
			s.hold(upgrade.GatePodReady, ReasonPodRestarting, m.Name, "%s is not at the update revision", m.Name)
			return "", nil
		}
		if m.Version != "" && !policy.SameVersion(m.Version, u.TargetVersion) {
			s.hold(upgrade.GatePodReady, ReasonVersionMismatch, m.Name, "%s reports version %s, want %s", m.Name, m.Version, u.TargetVersion)
			return "", nil
		}
	}
	if g := upgrade.CompletionGate(s.obs, s.w.Name, int(s.w.Replicas), s.spec.CatchUp); g != nil {
		s.gate = g
		return "", nil
	}
	if _, err := table.Next(PhaseRolling, EventCompleted); err != nil {
		return "", fmt.Errorf("rolling: %w", err)
	}
	if !s.ondelete && s.w.Partition != 0 {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: 0})
	}
	if s.obs.Lock.Holder == u.LockHolder {
		s.act(upgrade.ReleaseLock{Holder: u.LockHolder})
	}
	outcome := upgrade.OutcomeSucceeded
	msg := fmt.Sprintf("%s upgraded from %s to %s (%d leadership moves requested)", s.w.Name, u.FromVersion, u.TargetVersion, u.Rolling.LeaderMoves)
	if policy.SameVersion(u.TargetVersion, u.FromVersion) && u.TargetImage == u.FromImage {
		// Back where it started: a rollback if a retarget brought it back,
		// else an upgrade started at the current version to converge a
		// workload an interrupted decision left locked.
		msg = fmt.Sprintf("%s converged on %s (%d leadership moves requested)", s.w.Name, u.TargetVersion, u.Rolling.LeaderMoves)
		if u.Rolling.Retargets > 0 {
			outcome = upgrade.OutcomeRolledBack
			msg = fmt.Sprintf("%s rolled back to %s", s.w.Name, u.TargetVersion)
		}
	}
	s.event(upgrade.EventNormal, upgrade.OutcomeReason(outcome), "%s", msg)
	s.outcome = contract.Result(u, outcome, msg, s.obs.Now)
	s.st.LastResult = s.outcome
	s.st.CurrentVersion, s.st.CurrentImage = u.TargetVersion, u.TargetImage
	s.st.Upgrade = nil
	return "", nil
}
