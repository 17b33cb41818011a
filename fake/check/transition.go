package check

import (
	"fmt"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// Transition judges one Step's status transition from prev (the status the
// Step was given) to the Decision d, with ack the break-glass
// acknowledgement the spec carried:
//
//   - S5 atomic completion: the current version changes only in the status
//     that ends an upgrade successfully, to that upgrade's target; while an
//     upgrade is in flight the current version stays where it started; an
//     upgrade ends only with a result, and a successful end only in an
//     observation where the new workload's members are all up and caught up
//     (obs, judged with CaughtUp under c).
//   - S6 policy first: a Step that refuses to start (no upgrade before or
//     after, a Policy or Prerequisites gate) emits no disruptive action.
//   - S7 break-glass: while break-glass is engaged and not acknowledged with
//     the exact nonce, or once entered, nothing disruptive is emitted; it is
//     cleared only by the exact nonce.
//   - S8 no failback: see Failback.
func Transition(prev upgrade.Status, d upgrade.Decision, ack string, obs upgrade.Observation, c upgrade.CatchUp) error {
	next := d.Status
	fail := func(rule, member, format string, args ...any) error {
		return &Violation{Rule: rule, Step: -1, Member: member, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case next.Upgrade != nil:
		if !policy.SameVersion(next.CurrentVersion, next.Upgrade.FromVersion) && next.CurrentVersion != "" {
			return fail("S5", "", "current version %s differs from the upgrade's origin %s mid-upgrade", next.CurrentVersion, next.Upgrade.FromVersion)
		}
	case prev.Upgrade != nil: // the upgrade ended in this Step
		r := next.LastResult
		if r == nil {
			return fail("S5", "", "upgrade to %s ended without a result", prev.Upgrade.TargetVersion)
		}
		if r.Outcome == upgrade.OutcomeSucceeded {
			if !policy.SameVersion(next.CurrentVersion, prev.Upgrade.TargetVersion) || next.CurrentImage != prev.Upgrade.TargetImage {
				return fail("S5", "", "upgrade to %s succeeded with current version %s", prev.Upgrade.TargetVersion, next.CurrentVersion)
			}
			if err := allUp(obs, prev.Upgrade.TargetVersion, c); err != nil {
				return err
			}
		} else if next.CurrentVersion != prev.CurrentVersion && !policy.SameVersion(next.CurrentVersion, prev.Upgrade.TargetVersion) {
			return fail("S5", "", "upgrade ended %s but current version moved from %s to %s", r.Outcome, prev.CurrentVersion, next.CurrentVersion)
		}
	default:
		if prev.CurrentVersion != "" && !policy.SameVersion(prev.CurrentVersion, next.CurrentVersion) {
			return fail("S5", "", "current version changed from %s to %s while idle", prev.CurrentVersion, next.CurrentVersion)
		}
		if d.Gate != nil && (d.Gate.Name == upgrade.GatePolicy || d.Gate.Name == upgrade.GatePrerequisites) {
			for _, a := range d.Actions {
				if upgrade.IsDisruptive(a) {
					return fail("S6", "", "refused to start (%s) but emitted %s", d.Gate.Reason, a)
				}
			}
		}
	}
	if b := prev.BreakGlass; b != nil {
		if next.BreakGlass == nil && ack != b.Nonce {
			return fail("S7", "", "break-glass %s cleared with acknowledgement %q", b.Nonce, ack)
		}
	}
	if (prev.BreakGlass != nil && ack != prev.BreakGlass.Nonce) || next.BreakGlass != nil {
		for _, a := range d.Actions {
			if upgrade.IsDisruptive(a) {
				return fail("S7", "", "disruptive %s during break-glass", a)
			}
		}
	}
	return Failback(prev, d, obs)
}

// allUp checks S5's observation side: the members running the completed
// target (the workload holding the leader) are all up and caught up, and
// none of that workload runs another version.
func allUp(obs upgrade.Observation, target string, c upgrade.CatchUp) error {
	ln := leaderName(&obs)
	if ln == "" {
		return &Violation{Rule: "S5", Step: -1, Message: "upgrade completed with no leader"}
	}
	w := leaderWorkload(&obs, ln)
	for _, m := range obs.Members {
		if m.Workload != w {
			continue
		}
		if m.Version != "" && !policy.SameVersion(m.Version, target) {
			return &Violation{Rule: "S5", Step: -1, Member: m.Name, Message: "upgrade completed while " + m.Name + " runs " + m.Version}
		}
		if !CaughtUp(&obs, m, c) {
			return &Violation{Rule: "S5", Step: -1, Member: m.Name, Message: "upgrade completed while " + m.Name + " is not up and caught up"}
		}
	}
	return nil
}
