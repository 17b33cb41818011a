package scenario

import (
	"fmt"
	"slices"

	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// idleTicks is how long an idle cluster is watched once the run reached
// Idle: killed pods come back meanwhile, and nothing may be decided.
const idleTicks = 30

// healAll ends every fault: partitions, slow members, bad versions, failing
// hooks, a stale next observation.
func (r *run) healAll() {
	c := r.c
	c.HealAll()
	cfg := c.Config()
	for _, v := range slices.Clone(cfg.BadVersions) {
		c.SetBadVersion(v, false)
	}
	for h := range cfg.HookFailures {
		c.SetHookFailure(h, false)
	}
	r.stale = false
}

// settle stops every fault and drives the run to Idle (L1), then checks it
// stays idle, its end state and the history.
func (r *run) settle() *check.Violation {
	c := r.c
	r.healAll()
	cfg := c.Config()
	bound := r.sc.Bound
	if bound <= 0 {
		bound = 3000
	}
	held, err := r.toIdle(bound)
	if err != nil {
		return err
	}
	if !held {
		for range idleTicks { // idle stays idle: killed pods come back, nothing is decided
			r.tick()
			d, err := r.reconcile(nil)
			if err != nil {
				return err
			}
			if len(d.Actions) > 0 || r.persisted.Upgrade != nil {
				return &check.Violation{Rule: "L1", Step: r.res.Steps - 1, Message: "the idle cluster acted: " +
					upgrade.FormatActions(d.Actions)}
			}
		}
		truth := c.Truth()
		if err := check.Idle(truth, r.persisted); err != nil {
			return err.(*check.Violation)
		}
		if err := r.strat.Settled(r.persisted, truth); err != nil {
			return &check.Violation{Rule: "L1", Step: r.res.Steps - 1, Message: err.Error()}
		}
	}
	// Stuck for a human where S8 wants it (held): only the history is left
	// to check.
	opts := check.HistoryOptions{Quiet: r.res.Quiet, Targeted: cfg.TargetedTransfer,
		KeepsVotersUp: r.strat.Options(c.Truth()).KeepsVotersUp}
	if cfg.Replicas >= 3 {
		opts.MaxLeaderless = cfg.ElectionTimeout[1] + 1
	}
	if err := check.HistoryWith(c.History(), opts); err != nil {
		return err.(*check.Violation)
	}
	return nil
}

// toIdle reconciles until the status is idle, a Step emits nothing, the
// operator has no answer and the strategy is settled (Strategy.Settled),
// or until the upgrade holds for a human
// where S8 forbids going on (held). A host held for a maintenance window
// sleeps until it opens; each opening admits a step, so the sleeps are
// bounded too.
func (r *run) toIdle(bound int) (held bool, _ *check.Violation) {
	sleeps := 0
	maxSleeps := 2*r.c.Config().Replicas + 4
	for i := 0; i < bound; i++ {
		d, err := r.reconcile(nil)
		if err != nil {
			return false, err
		}
		answered := r.strat.Operate(r.persisted, d)
		if r.persisted.Upgrade == nil && len(d.Actions) == 0 {
			if !answered {
				// Settled and truly idle: a lock or partition left by a
				// lost Decision is still the strategy's to clean up (it may
				// wait for a leader first).
				truth := r.c.Truth()
				if r.strat.Settled(r.persisted, truth) == nil && check.Idle(truth, r.persisted) == nil {
					return false, nil
				}
				r.tick() // not settled yet: a gate that clears on its own, an adoption
				continue
			}
			// The operator answered an idle cluster (a refused target set
			// back, a rolled-back upgrade retried): from now on every
			// upgrade succeeds. The effects of healed faults die down first
			// (pods crash-looping on a version no longer bad restart).
			r.settled = true
			for range 10 {
				r.tick()
			}
			continue
		}
		if !answered && r.failbackHold(d) {
			return true, nil
		}
		if r.sleepIfHeld(d) {
			if sleeps++; sleeps > maxSleeps {
				return false, &check.Violation{Rule: "L1", Step: r.res.Steps - 1,
					Message: fmt.Sprintf("still held for a maintenance window after %d openings", sleeps-1)}
			}
			continue
		}
		r.tick()
	}
	phase := ""
	if u := r.persisted.Upgrade; u != nil {
		phase = u.Phase
	}
	return false, &check.Violation{Rule: "L1", Step: r.res.Steps,
		Message: fmt.Sprintf("not idle %d reconciles after faults stopped (phase %q)", bound, phase)}
}

// failbackHold reports whether d holds for a human because of S8 and no
// operator answer exists: partition ordering must restart a leader that only
// an older voter could replace (a leader on an intermediate target after a
// retarget, the others older still), and the spec already targets the
// version that led. Failing back is what S8 forbids, so the run ends there;
// the hold is checked to be genuine.
func (r *run) failbackHold(d upgrade.Decision) bool {
	u := r.persisted.Upgrade
	if u == nil || u.Rolling == nil || d.Gate == nil || d.Gate.Reason != upgrade.ReasonMoveFailsBack ||
		u.Rolling.Ordering != "Partition" {
		return false
	}
	obs := r.c.Truth()
	l, ok := obs.Leader()
	return ok && !upgrade.StepDownAllowed(&obs, l)
}
