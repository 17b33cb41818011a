package rolling

import (
	"github.com/raftshift/raftshift/internal/contract"
)

// The safe point of a rolling upgrade is the Rolling phase between two
// pods: the last restarted pod was verified (up, caught up and stable on
// the target), no leadership move is in flight and the next pod has not
// been selected. spec.paused and maintenance windows hold the upgrade
// there, and only there:
//
//   - Locking, Snapshotting and Templating restart nothing (the partition
//     admits no pod, or the strategy deletes pods itself), so they run on
//     to the safe point;
//   - MovingLeader, Restarting and Verifying finish the pod in flight (its
//     leadership move, its restart and its verification) and come back to
//     the safe point, where the hold applies before the next pod;
//   - finalizing (every pod at the target) and following a partition that
//     already admits the next pod are not new disruptions and go on.
//
// A pause also holds an idle cluster: no upgrade starts while paused.
// Windows do not hold the start: the preparation above runs any time, so
// a window is spent restarting pods.

// holdAtSafePoint reports whether the upgrade holds at the safe point at
// this Step (the gate and requeue are set, the hold recorded in status
// once, with an event). When no hold applies, a recorded hold ends: the
// upgrade resumes from its status with a fresh step deadline budget.
func (s *stepper) holdAtSafePoint() bool {
	u := s.st.Upgrade
	g, requeue := s.holdRule.Gate(s.obs.Now)
	if g == nil {
		if ev, ok := contract.Resume(u, s.obs.Now); ok {
			s.events = append(s.events, ev)
		}
		return false
	}
	s.gate, s.holdRequeue = g, requeue
	if ev, ok := contract.HoldAt(u, g, s.obs.Now); ok {
		s.events = append(s.events, ev)
	}
	return true
}

// pausedIdle holds the start of an upgrade while the spec pauses it.
func (s *stepper) pausedIdle() bool {
	if !s.holdRule.Paused {
		return false
	}
	s.gate, s.holdRequeue = s.holdRule.Gate(s.obs.Now)
	return true
}
