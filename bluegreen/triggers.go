package bluegreen

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// phaseClass groups phases by how failures are handled.
type phaseClass int

const (
	classForward    phaseClass = iota // before the point of no return: abort or roll back
	classCommitted                    // past the point of no return: roll forward
	classRepair                       // abort / rollback: break-glass
	classBreakGlass                   // halted
)

func classOf(p Phase) phaseClass {
	switch p {
	case PhaseCleanup:
		return classCommitted
	case PhaseAborting, PhaseRestoringBlue, PhaseRollbackLeadership, PhaseDemotingGreen, PhaseRollbackCleanup:
		return classRepair
	case PhaseBreakGlass:
		return classBreakGlass
	}
	return classForward
}

// triggers evaluates the failure triggers of the current phase and returns
// the event they demand ("" when none fired).
func (r *run) triggers() Event {
	p := r.phase()
	class := classOf(p)
	var reason upgrade.Reason
	var msg string
	fire := func(rs upgrade.Reason, format string, args ...any) {
		if reason == "" {
			reason, msg = rs, fmt.Sprintf(format, args...)
		}
	}

	// Requests and spec changes.
	if n := r.spec.RollbackNonce; n != "" && n != r.st.Handled.Rollback {
		r.st.Handled.Rollback = n
		switch class {
		case classForward:
			fire(ReasonRollbackRequested, "rollback requested (nonce %q)", n)
		case classCommitted:
			r.event(upgrade.EventWarning, ReasonRollbackRefused,
				"rollback request %q refused: cleanup already started removing blue peers (point of no return); rolling forward", n)
			r.degraded = &upgrade.Gate{Name: upgrade.GateMembership, Reason: ReasonRollbackRefused,
				Message: "rollback refused past the point of no return; rolling forward"}
		}
	}
	if class == classForward && (!policy.SameVersion(r.spec.Version, r.up.TargetVersion) || r.spec.Image != r.up.TargetImage) {
		if _, err := policy.ParseVersion(r.spec.Version); err != nil {
			// A typo mid-upgrade is bad input: hold, never roll back on it.
			var v *policy.Violation
			if errors.As(err, &v) {
				r.holdGate(v.AsGate())
			} else {
				r.hold(upgrade.GatePolicy, policy.ReasonInvalidVersion, "%v", err)
			}
			r.stop = true
			return ""
		}
		if policy.SameVersion(r.spec.Version, r.up.FromVersion) {
			fire(ReasonTargetReverted, "spec reverted to %s", r.spec.Version)
		} else {
			fire(ReasonTargetChanged, "spec target changed from %s to %s; rolling back before starting again", r.up.TargetVersion, r.spec.Version)
		}
	}

	// Health of green.
	if class == classForward || class == classCommitted {
		green := r.members(r.bg.Green)
		for i := range green {
			if green[i].Pod.CrashLooping {
				fire(ReasonGreenCrashLooping, "green member %s is crash-looping", green[i].Name)
				break
			}
		}
	}

	// Repeated failures and deadlines.
	if r.up.Failures >= r.spec.MaxFailures {
		fire(ReasonTooManyFailures, "%s was issued %d times without effect", r.bg.LastAction, r.up.Failures+1)
	}
	since := r.now.Sub(r.up.StepStartedAt.Time)
	switch {
	case r.up.Held != nil:
		// Time held at the safe point never counts against a deadline.
	case class == classRepair:
		if since > r.spec.Timeouts.Rollback.Duration {
			fire(ReasonRollbackDeadline, "no rollback progress in phase %s for %s (limit %s)", p, since.Truncate(time.Second), r.spec.Timeouts.Rollback.Duration)
		}
	case p == PhaseAwaitingPromotion:
		if r.spec.Timeouts.Promotion.Duration > 0 && since > r.spec.Timeouts.Promotion.Duration {
			fire(ReasonPromotionDeadline, "not promoted within %s", r.spec.Timeouts.Promotion.Duration)
		}
	case p == PhaseSyncing:
		if since > r.spec.Timeouts.Sync.Duration {
			fire(ReasonStepDeadline, "green not in sync after %s (limit %s)", since.Truncate(time.Second), r.spec.Timeouts.Sync.Duration)
		}
	case p == PhaseValidating || (p == PhaseStabilizing && r.bg.HookAttempt > 0 && !r.bg.HookPassed):
		// The hook timeout governs while a hook runs.
	default:
		if since > r.spec.Timeouts.Step.Duration {
			fire(ReasonStepDeadline, "no progress in phase %s for %s (limit %s)", p, since.Truncate(time.Second), r.spec.Timeouts.Step.Duration)
		}
	}
	if reason == "" {
		return ""
	}
	return r.fail(reason, msg)
}

// fail reacts to a failure according to the phase class.
func (r *run) fail(reason upgrade.Reason, msg string) Event {
	switch classOf(r.phase()) {
	case classForward:
		return r.startRollback(reason, msg)
	case classCommitted:
		r.degraded = &upgrade.Gate{Name: upgrade.GateDeadline, Reason: ReasonPastPointOfNoReturn,
			Message: fmt.Sprintf("%s (%s); past the point of no return, rolling forward", msg, reason)}
		// An event says so: the Degraded condition lasts one Step (the
		// deadline restarts), and a Step that changes the status reports it.
		r.event(upgrade.EventWarning, ReasonPastPointOfNoReturn, "%s (%s); rolling forward", msg, reason)
		if reason == ReasonTooManyFailures {
			// Keep trying, but restart the failure count so the cap does not
			// fire on every step.
			r.up.Failures = 0
		}
		if reason == ReasonStepDeadline {
			r.up.StepStartedAt = upgrade.Time(r.now)
		}
		return ""
	case classRepair:
		return r.enterBreakGlass(reason, msg)
	}
	return ""
}

// startRollback chooses abort (no green voter yet) or rollback.
func (r *run) startRollback(reason upgrade.Reason, msg string) Event {
	r.bg.RollingBack = true
	r.bg.RollbackReason = reason
	r.bg.RollbackMessage = msg
	// Abort (remove green, nothing else) only while no green member votes
	// or may vote; otherwise roll back, which restores blue's votes and
	// leadership before green leaves. Every phase that can fail has a
	// Rollback edge, not every one an Abort edge.
	if _, err := table.Next(r.phase(), EventAbort); err != nil || r.bg.PromotionStarted || r.greenHasVoter() {
		r.bg.PromotionStarted = true
		r.event(upgrade.EventWarning, reason, "rolling back: %s", msg)
		return EventRollback
	}
	r.event(upgrade.EventWarning, reason, "aborting: %s", msg)
	return EventAbort
}

// enterBreakGlass halts automation until the nonce is acknowledged (S7).
func (r *run) enterBreakGlass(reason upgrade.Reason, msg string) Event {
	r.actions = nil
	from := r.phase()
	r.bg.BreakGlassFrom = string(from)
	r.bg.BreakGlassCount++
	entered := upgrade.Time(r.now)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%s|%s|%d", r.up.TargetVersion, r.bg.Green, from,
		entered.UTC().Format(time.RFC3339), reason, r.bg.BreakGlassCount))
	nonce := hex.EncodeToString(sum[:8])
	r.st.BreakGlass = &upgrade.BreakGlass{
		Nonce:   nonce,
		Reason:  string(reason),
		Message: fmt.Sprintf("automated repair halted in phase %s: %s", from, msg),
		RecoverySteps: []string{
			fmt.Sprintf("inspect the raft configuration: blue workload %s and green workload %s", r.bg.Blue, r.bg.Green),
			fmt.Sprintf("restore a healthy quorum of %s members (fix crash-looping or missing pods) or take a snapshot", r.bg.Blue),
			"make sure the cluster has a leader and every remaining voter is healthy",
			fmt.Sprintf("set spec.breakGlassAck to %q to resume the rollback from its first step", nonce),
		},
		EnteredAt: entered,
	}
	r.event(upgrade.EventWarning, upgrade.Reason(upgrade.GateBreakGlass),
		"break-glass engaged (%s): %s; acknowledge with nonce %s", reason, msg, nonce)
	r.stop = true
	return EventBreakGlass
}
