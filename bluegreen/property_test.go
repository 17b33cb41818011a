package bluegreen

import (
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// Counters reported by the property tests (generated runs and steps).
var (
	propRuns, propSteps, propTicks        atomic.Int64
	propOutcomes                          [4]atomic.Int64 // succeeded, rolled back, aborted, refused
	propBreakGlass, propRestarts, propAck atomic.Int64
	propStaleRefused, propApplyErrors     atomic.Int64
	propMaxL1                             atomic.Int64 // most ticks any drive to Idle took
)

// phasesSeen counts the phases Step returned across all property runs.
var phasesSeen = map[Phase]int{}

// quorumChecked counts runs whose whole history was checked for quorum and
// service invariants (runs without disruptive faults).
var quorumChecked atomic.Int64

// l1Bound is the number of ticks within which, once faults stop, every
// started upgrade must reach Idle (acknowledging break-glass when asked).
// With the test timeouts (step and sync 3m, rollback 3m, hook 1m) the slowest path is
// a forward deadline, a rollback deadline into break-glass, and a full
// rollback after the acknowledgement.
const l1Bound = 3000

// TestPropertyUpgrade runs random blue-green upgrades over the fake cluster
// with random sizes, capabilities, promotion modes, hooks, faults, host
// restarts and requests, checking S1–S7 after every Step and L1 once faults
// stop.
func TestPropertyUpgrade(t *testing.T) {
	start := time.Now()
	rapid.Check(t, func(rt *rapid.T) {
		propRuns.Add(1)
		s, replicas := drawSim(rt, []int{1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 6, 7}, true)
		defer func() { propSteps.Add(int64(s.steps)) }()
		c := s.c
		s.drawHold(rt)
		actions := s.actions()
		s.windowActions(actions)
		rt.Repeat(actions)

		// Faults stop and the pause is lifted; L1: the upgrade in flight
		// (if any) reaches Idle, sleeping until windows open.
		healAll(c)
		s.stale = false
		s.spec.Paused = false
		if !s.drive(l1Bound) {
			rt.Fatalf("L1: upgrade still in phase %s after %d ticks without faults (break-glass %v)",
				s.status.Upgrade.Phase, l1Bound, s.status.BreakGlass != nil)
		}
		// Without faults, (another) attempt at a newer target succeeds.
		if cmp, err := policy.Compare(s.spec.Version, s.status.CurrentVersion); replicas >= 2 && err == nil && cmp > 0 {
			// Let the effects of healed faults die down first: pods that
			// crash-looped on a version that is no longer bad need a few
			// ticks to restart (the L1 drive may have returned at once when
			// the status was idle).
			for range 10 {
				s.tick()
			}
			s.spec.RetryNonce = s.nextNonce("retry")
			for i := 0; s.status.CurrentVersion != s.spec.Version; i++ {
				if i == 2*l1Bound {
					rt.Fatalf("fault-free upgrade to %s did not finish in %d ticks: %+v", s.spec.Version, i, s.status.Upgrade)
				}
				before := s.status.Upgrade != nil
				s.drive(1)
				if before && s.status.Upgrade == nil && s.status.LastResult.Outcome != upgrade.OutcomeSucceeded {
					rt.Fatalf("fault-free upgrade ended %+v", s.status.LastResult)
				}
				if s.status.Upgrade == nil {
					s.tick()
				}
			}
		}
		if replicas < 2 && s.status.CurrentVersion != fromV {
			rt.Fatalf("a single-voter cluster was upgraded")
		}
		s.checkHistory()
	})
	t.Logf("runs=%d steps=%d ticks=%d succeeded=%d rolledBack=%d aborted=%d breakGlass=%d acks=%d restarts=%d in %s",
		propRuns.Load(), propSteps.Load(), propTicks.Load(), propOutcomes[0].Load(), propOutcomes[1].Load(),
		propOutcomes[2].Load(), propBreakGlass.Load(), propAck.Load(), propRestarts.Load(), time.Since(start).Round(time.Millisecond))
	t.Logf("runs with quorum/service history checks (no disruptive fault): %d; stale observations refused: %d; apply errors: %d",
		quorumChecked.Load(), propStaleRefused.Load(), propApplyErrors.Load())
	t.Logf("runs with maintenance windows: %d; held decisions checked: %d; sleeps until a window opened: %d",
		propWindowRuns.Load(), propHoldsChecked.Load(), propSlept.Load())
	for _, p := range table.Phases() {
		t.Logf("phase %-32s returned %d times", p, phasesSeen[p])
	}
}

// TestPropertyRollback drives upgrades past the first green voter, then
// triggers a rollback (manual request, crash-looping green, failing
// post-promotion hook), optionally breaks blue as well (the repair then
// needs break-glass), adds random faults, host restarts and requests, and
// checks that every Step is safe, that break-glass emits nothing disruptive
// until acknowledged, and that once faults stop the upgrade ends rolled back
// with the current version unchanged.
func TestPropertyRollback(t *testing.T) {
	start := time.Now()
	var runs, steps, breakGlass, repairs, lateTriggers int64
	rapid.Check(t, func(rt *rapid.T) {
		runs++
		s, _ := drawSim(rt, []int{2, 3, 3, 3, 4, 5, 5, 5, 6, 7}, false)
		defer func() { steps += int64(s.steps); propSteps.Add(int64(s.steps)) }()
		target := rapid.SampledFrom([]Phase{PhasePromoting, PhaseTransferringLeadership, PhaseDemotingBlue, PhaseStabilizing}).Draw(rt, "at")
		triggers := []string{"request", "greenCrash"}
		if target == PhaseStabilizing {
			s.spec.PostPromotionHook = "post"
			triggers = append(triggers, "postHookFails")
		}
		trigger := rapid.SampledFrom(triggers).Draw(rt, "trigger")
		breakBlue := rapid.IntRange(0, 2).Draw(rt, "breakBlue") == 0

		reached := false
		for range 400 {
			s.drive(1)
			if phaseOf(s.status) == target {
				reached = true
				break
			}
			if s.status.Upgrade == nil && s.status.LastResult != nil {
				break
			}
		}
		if !reached {
			rt.Fatalf("never reached %s: %+v %+v", target, s.status.Upgrade, s.status.LastResult)
		}
		switch trigger {
		case "request":
			s.spec.RollbackNonce = s.nextNonce("rollback")
		case "greenCrash":
			s.c.SetBadVersion(toV, true)
			s.disrupt = true
		case "postHookFails":
			s.c.SetHookFailure("post", true)
		}
		if breakBlue {
			s.c.SetBadVersion(fromV, true)
			s.disrupt = true
			repairs++
		}
		// The trigger is acted on within a bounded number of steps, unless
		// (a crash becomes visible one tick late) the upgrade passed the
		// point of no return first: then it rolls forward.
		late := false
		for i := 0; ; i++ {
			if i == 200 {
				rt.Fatalf("trigger %s at %s not acted on; phase %s", trigger, target, phaseOf(s.status))
			}
			s.reconcile()
			if u := s.status.Upgrade; u == nil || u.BlueGreen.RollingBack {
				break
			} else if u.BlueGreen.PointOfNoReturn {
				if trigger != "greenCrash" {
					rt.Fatalf("trigger %s at %s ignored: the upgrade passed the point of no return", trigger, target)
				}
				late = true
				break
			}
			s.tick()
		}
		s.tick()
		rt.Repeat(s.actions())
		healAll(s.c)
		s.stale = false
		if s.spec.Version != toV {
			// A target change during a rollback is acted on after it.
			s.spec.Version, s.spec.Image = toV, toImg
		}
		if !s.drive(l1Bound) {
			rt.Fatalf("L1: rollback still in phase %s after %d ticks without faults", phaseOf(s.status), l1Bound)
		}
		if s.ackSeen {
			breakGlass++
		}
		want := upgrade.OutcomeRolledBack
		if late {
			want = upgrade.OutcomeSucceeded
			lateTriggers++
		}
		if len(s.results) == 0 || s.results[0].Outcome != want || s.results[0].TargetVersion != toV {
			rt.Fatalf("want the upgrade to %s %s, got %+v", toV, want, s.results)
		}
		if s.status.Conditions == nil || findCond(s.status, upgrade.ConditionBreakGlass).Status != "False" {
			rt.Fatalf("break-glass condition not cleared")
		}
		s.checkHistory()
	})
	t.Logf("longest drive to idle after faults stopped (both property tests so far): %d ticks (bound %d)", propMaxL1.Load(), l1Bound)
	t.Logf("runs=%d steps=%d runs-with-break-glass=%d blue-broken=%d crash-after-point-of-no-return=%d in %s",
		runs, steps, breakGlass, repairs, lateTriggers, time.Since(start).Round(time.Millisecond))
}
