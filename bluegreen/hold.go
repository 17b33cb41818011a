package bluegreen

import (
	"time"

	"github.com/raftshift/raftshift/internal/contract"
)

// The safe point of a blue-green upgrade is AwaitingPromotion: green is
// deployed, joined as non-voters, synced and validated, while blue still
// holds every vote and the leadership, nothing is in flight and no pod is
// down. spec.paused and maintenance windows hold the upgrade there, and
// only there:
//
//   - DeployingGreen, JoiningMesh, Syncing and Validating change no voter
//     (green members are non-voters), so they run on to the safe point;
//   - the promotion (Promoting, TransferringLeadership, DemotingBlue,
//     Stabilizing, Cleanup) is one disruptive step: once it starts it
//     finishes, so it starts only in a window with room for it (the step
//     deadline plus the stabilization window) and a pause taken during it
//     applies to the next upgrade;
//   - aborts and rollbacks are repairs back to blue and are never held.
//
// A pause also holds an idle cluster: no upgrade starts while paused.
// Windows do not hold the start: green is prepared any time, so a window
// is spent promoting it. Only a promotion that would start holds (automatic,
// or requested by a new promotion nonce): a manual promotion not requested
// yet waits for the human as before, and one requested outside a window is
// kept and acted on when one opens.

// stepRoom is the least time a maintenance window must have left for the
// promotion to start: the step deadline plus the stabilization window.
func (s Spec) stepRoom() time.Duration {
	return s.Timeouts.Step.Duration + max(s.StabilizationWindow.Duration, 0)
}

// heldAtSafePoint reports whether the upgrade holds at AwaitingPromotion
// at this Step (gate set, hold recorded in status once with an event).
// When no hold applies, a recorded hold ends: the upgrade resumes from its
// status with a fresh step deadline budget.
func (r *run) heldAtSafePoint() bool {
	g, requeue := r.holdRule.Gate(r.now)
	if g == nil {
		if ev, ok := contract.Resume(r.up, r.now); ok {
			r.events = append(r.events, ev)
		}
		return false
	}
	r.gate, r.holdRequeue = g, requeue
	if ev, ok := contract.HoldAt(r.up, g, r.now); ok {
		r.events = append(r.events, ev)
	}
	return true
}

// pausedIdle holds the start of an upgrade while the spec pauses it.
func (r *run) pausedIdle() bool {
	if !r.holdRule.Paused {
		return false
	}
	r.gate, r.holdRequeue = r.holdRule.Gate(r.now)
	return true
}
