package contract

import (
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// MaxImageLength bounds image references in specs.
const MaxImageLength = 512

// Validate checks what both strategies require of their input, with the
// same typed errors: a target version and image (present, bounded) in the
// spec, and an observation with a time.
func Validate(version, image string, obs *upgrade.Observation) error {
	switch {
	case version == "":
		return fmt.Errorf("%w: version is empty", upgrade.ErrInvalidSpec)
	case image == "":
		return fmt.Errorf("%w: image is empty", upgrade.ErrInvalidSpec)
	case len(version) > policy.MaxVersionLength:
		return fmt.Errorf("%w: version is %d characters long", upgrade.ErrInvalidSpec, len(version))
	case len(image) > MaxImageLength:
		return fmt.Errorf("%w: image is %d characters long", upgrade.ErrInvalidSpec, len(image))
	case obs.Now.IsZero():
		return fmt.Errorf("%w: observation has no time", upgrade.ErrInvalidObservation)
	}
	return nil
}

// HandleRetry records a new retry request (a nonce not handled yet) and
// reports whether there was one. What a retry does is the same in both
// strategies: it resets the step deadline budget and clears a pause of the
// upgrade in flight, and it lets a target whose last upgrade failed be
// tried again.
func HandleRetry(nonce string, st *upgrade.Status, now time.Time) bool {
	if nonce == "" || nonce == st.Handled.Retry {
		return false
	}
	st.Handled.Retry = nonce
	if st.LastResult != nil {
		st.LastResult.Retried = true
	}
	if u := st.Upgrade; u != nil {
		u.Paused = nil
		u.Failures = 0
		u.StepStartedAt = upgrade.Time(now)
	}
	return true
}

// RetryRequired returns the gate that holds a new upgrade to version while
// the last upgrade to it failed and no retry was requested since (nil when
// it may start).
func RetryRequired(st *upgrade.Status, version string) *upgrade.Gate {
	lr := st.LastResult
	if lr == nil || lr.Outcome == upgrade.OutcomeSucceeded || !policy.SameVersion(lr.TargetVersion, version) || lr.Retried {
		return nil
	}
	return &upgrade.Gate{Name: upgrade.GatePolicy, Reason: upgrade.ReasonRetryRequired,
		Message: fmt.Sprintf("the last upgrade to %s ended %s (%s); set spec.retryNonce to try again", lr.TargetVersion, lr.Outcome, lr.Reason)}
}

// Result is the record of an upgrade that ends now.
func Result(u *upgrade.UpgradeStatus, outcome upgrade.Outcome, message string, now time.Time) *upgrade.Result {
	return &upgrade.Result{
		Outcome: outcome, FromVersion: u.FromVersion, TargetVersion: u.TargetVersion,
		Reason: string(upgrade.OutcomeReason(outcome)), Message: message,
		StartedAt: u.StartedAt, FinishedAt: upgrade.Time(now),
	}
}

// View is what a Step reports in its conditions.
type View struct {
	// Gate holds progress (nil when none).
	Gate *upgrade.Gate
	// Ended is the result of an upgrade that ended in this Step.
	Ended *upgrade.Result
	// Adopted is true while idle when the spec's version is not the one the
	// cluster runs, which was adopted as current.
	Adopted bool
	// Degraded is a problem the upgrade in flight carries on with (a
	// rollback in progress, an unexpected promotion).
	Degraded *upgrade.Gate
}

// SetConditions sets the four conditions of st for v, with transition
// times from now and ObservedGeneration from generation:
//
//   - Ready: True while idle and up to date (reason UpgradeSucceeded from
//     the Step that finished an upgrade for as long as the cluster runs
//     its target, UpToDate or AdoptedRunningVersion otherwise), False while
//     an upgrade runs or a gate refuses to start one;
//   - Progressing: True while an upgrade runs (reason: the gate holding it,
//     else the phase), False while idle, paused, or held at a safe point by
//     spec.paused or a maintenance window (reason: the hold's);
//   - Degraded: True during break-glass, a pause, a rollback or another
//     problem carried on with; while idle, False with the last failed
//     upgrade's reason;
//   - BreakGlass: True while automation is halted for a human.
func SetConditions(st *upgrade.Status, v View, now time.Time, generation int64) {
	set := func(typ string, ok bool, r upgrade.Reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		upgrade.SetCondition(&st.Conditions, typ, s, r, msg, now, generation)
	}
	idleDegraded := func() {
		if lr := st.LastResult; lr != nil && lr.Outcome != upgrade.OutcomeSucceeded {
			set(upgrade.ConditionDegraded, false, upgrade.Reason(lr.Reason),
				"the last upgrade to "+lr.TargetVersion+" ended "+string(lr.Outcome))
			return
		}
		set(upgrade.ConditionDegraded, false, upgrade.ReasonAsExpected, "")
	}
	u, g := st.Upgrade, v.Gate
	switch {
	case v.Ended != nil:
		r := upgrade.Reason(v.Ended.Reason)
		set(upgrade.ConditionReady, true, r, v.Ended.Message)
		set(upgrade.ConditionProgressing, false, r, v.Ended.Message)
		idleDegraded()
	case u == nil && g == nil:
		r, msg := upgrade.ReasonUpToDate, "running "+st.CurrentVersion
		switch lr := st.LastResult; {
		case v.Adopted:
			r, msg = upgrade.ReasonAdopted, "adopted running version "+st.CurrentVersion
		case lr != nil && lr.Outcome == upgrade.OutcomeSucceeded && policy.SameVersion(lr.TargetVersion, st.CurrentVersion):
			// The reason the ending Step set stays while the cluster runs
			// what that upgrade reached: no condition flips (and no status
			// write) on the next reconcile.
			r, msg = upgrade.ReasonSucceeded, "running "+st.CurrentVersion+", upgraded from "+lr.FromVersion
		}
		set(upgrade.ConditionReady, true, r, msg)
		set(upgrade.ConditionProgressing, false, upgrade.ReasonIdle, "no upgrade in progress")
		idleDegraded()
	case u == nil:
		set(upgrade.ConditionReady, false, g.Reason, g.Message)
		set(upgrade.ConditionProgressing, false, g.Reason, g.Message)
		idleDegraded()
	default:
		set(upgrade.ConditionReady, false, upgrade.ReasonUpgrading, "upgrading to "+u.TargetVersion)
		switch {
		case u.Paused != nil:
			set(upgrade.ConditionProgressing, false, u.Paused.Reason, u.Paused.Message)
		case IsHold(g):
			set(upgrade.ConditionProgressing, false, g.Reason, g.Message)
		case g != nil:
			set(upgrade.ConditionProgressing, true, g.Reason, g.Message)
		default:
			set(upgrade.ConditionProgressing, true, upgrade.Reason(u.Phase), "phase "+u.Phase)
		}
		switch {
		case st.BreakGlass != nil:
			set(upgrade.ConditionDegraded, true, upgrade.Reason(st.BreakGlass.Reason), st.BreakGlass.Message)
		case u.Paused != nil:
			set(upgrade.ConditionDegraded, true, u.Paused.Reason, u.Paused.Message)
		case v.Degraded != nil:
			set(upgrade.ConditionDegraded, true, v.Degraded.Reason, v.Degraded.Message)
		default:
			set(upgrade.ConditionDegraded, false, upgrade.ReasonAsExpected, "")
		}
	}
	if b := st.BreakGlass; b != nil {
		set(upgrade.ConditionBreakGlass, true, upgrade.Reason(b.Reason), b.Message)
	} else {
		set(upgrade.ConditionBreakGlass, false, upgrade.ReasonNotEngaged, "")
	}
}

// Refusal turns the error of a policy check (policy.Evaluate,
// policy.CheckPrerequisites) into what both strategies return for it: nil
// for nil, the violation's gate (no action, S6) for a *policy.Violation,
// and an error wrapping upgrade.ErrInvalidSpec for anything else.
func Refusal(err error) (*upgrade.Gate, error) {
	if err == nil {
		return nil, nil
	}
	var v *policy.Violation
	if errors.As(err, &v) {
		return v.AsGate(), nil
	}
	return nil, fmt.Errorf("%w: %w", upgrade.ErrInvalidSpec, err)
}

// LeaderMove is the action both strategies use to move leadership away
// from leader: a targeted transfer to s.BestTransferTarget (preferring
// members at prefer, skipping those exclude rejects) when the workload
// supports targeted transfer, a step-down otherwise (only where
// upgrade.StepDownAllowed: no older voter may win). Unless s.AllowFailback,
// no member older than the leader is a target (S8, as in
// BestTransferTarget). The target is the
// member the move aims at (for a step-down, the best-placed winner). ok is
// false when no healthy, caught-up voter can take over, or only by failing
// back: then no move is safe.
func LeaderMove(obs *upgrade.Observation, s upgrade.Safety, leader upgrade.Member, prefer string, exclude func(upgrade.Member) bool) (a upgrade.Action, target upgrade.Member, ok bool) {
	target, ok = s.BestTransferTarget(obs, prefer, exclude)
	if !ok {
		return nil, upgrade.Member{}, false
	}
	if obs.Capabilities.TargetedTransfer {
		return upgrade.TransferLeadership{From: leader.Name, FromID: leader.Raft.ID, To: target.Name, ToID: target.Raft.ID}, target, true
	}
	if !s.AllowFailback && !upgrade.StepDownAllowed(obs, leader) {
		// S8: a step-down lets any up-to-date voter win, an older one too.
		return nil, upgrade.Member{}, false
	}
	return upgrade.StepDown{Member: leader.Name, ID: leader.Raft.ID}, target, true
}
