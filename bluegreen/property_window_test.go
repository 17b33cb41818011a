package bluegreen

import (
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/upgrade"
)

// Counters of the window property runs.
var propWindowRuns, propHoldsChecked, propSlept atomic.Int64

// propWindows are the maintenance windows of the property runs that draw
// them: every ten minutes for five, so with the test timeouts (3m steps,
// up to 20s of stabilization) a promotion may start only in the first
// minute and a half or so of each window.
func propWindows() []upgrade.MaintenanceWindow {
	return []upgrade.MaintenanceWindow{{Schedule: "*/10 * * * *", Duration: metav1.Duration{Duration: 5 * time.Minute}}}
}

// drawHold draws maintenance windows (starting anywhere in their cycle)
// and an initial pause for a property run.
func (s *sim) drawHold(rt *rapid.T) {
	if rapid.IntRange(0, 2).Draw(rt, "windows") == 0 {
		s.spec.MaintenanceWindows = propWindows()
		s.c.Sleep(time.Duration(rapid.IntRange(0, 599).Draw(rt, "startSecond")) * time.Second)
		propWindowRuns.Add(1)
	}
	s.spec.Paused = rapid.IntRange(0, 3).Draw(rt, "startPaused") == 0
}

// holdApplies reports whether, at now, spec holds the promotion: it
// pauses, or no window has room for it. Specs whose windows do not parse
// hold nothing (Step refuses them).
func holdApplies(spec Spec, now time.Time) bool {
	if spec.Paused {
		return true
	}
	d := spec.withDefaults()
	ws, err := upgrade.ParseWindows(d.MaintenanceWindows, d.stepRoom())
	if err != nil {
		return false
	}
	return !ws.Allows(now, d.stepRoom())
}

// holdViolation checks the hold invariant of a Decision d made for spec on
// obs from prev ("" when it holds): while spec.paused or the windows hold,
// no upgrade starts while paused, and no upgrade preparing green (up to
// AwaitingPromotion) starts its promotion — no green voter, no leadership
// move, no demotion. Aborts and rollbacks are repairs and are not held.
func holdViolation(spec Spec, obs *upgrade.Observation, prev *upgrade.Status, d *upgrade.Decision) string {
	if !holdApplies(spec, obs.Now) {
		return ""
	}
	if prev.Upgrade == nil {
		if spec.Paused && d.Status.Upgrade != nil {
			return "an upgrade started while paused"
		}
		return ""
	}
	switch phaseOf(*prev) {
	case PhaseDeployingGreen, PhaseJoiningMesh, PhaseSyncing, PhaseValidating, PhaseAwaitingPromotion:
	default:
		return ""
	}
	if c := classOf(phaseOf(d.Status)); d.Status.Upgrade == nil || c == classRepair || c == classBreakGlass {
		return "" // aborted or rolling back: a repair, never held
	}
	propHoldsChecked.Add(1)
	switch p := phaseOf(d.Status); p {
	case PhasePromoting, PhaseTransferringLeadership, PhaseDemotingBlue, PhaseStabilizing, PhaseCleanup:
		return fmt.Sprintf("%s: promotion started (phase %s -> %s) while held (paused %v)",
			obs.Now.Format(time.RFC3339), phaseOf(*prev), p, spec.Paused)
	}
	for _, a := range d.Actions {
		switch a.(type) {
		case upgrade.Promote, upgrade.TransferLeadership, upgrade.StepDown, upgrade.Demote:
			return fmt.Sprintf("%s in phase %s while held\n%s", a.Kind(), phaseOf(*prev), upgrade.FormatActions(d.Actions))
		}
	}
	return ""
}

// checkHold fails the property run on a holdViolation.
func (s *sim) checkHold(obs *upgrade.Observation, prev *upgrade.Status, d *upgrade.Decision) {
	if v := holdViolation(s.spec, obs, prev, d); v != "" {
		s.t.Fatalf("tick %d: %s", s.c.TickCount(), v)
	}
}

// windowActions adds the actions about time and pause: pausing and
// unpausing, the host sleeping a few minutes (time passing, maybe out of a
// window) and sleeping until the next window opens when the last Decision
// held for one.
func (s *sim) windowActions(actions map[string]func(*rapid.T)) {
	actions["pause"] = func(t *rapid.T) { s.spec.Paused = !s.spec.Paused }
	actions["sleep"] = func(t *rapid.T) {
		s.c.Sleep(time.Duration(rapid.IntRange(10, 400).Draw(t, "sleepSeconds")) * time.Second)
	}
	actions["sleepUntilWindow"] = func(t *rapid.T) {
		s.reconcile()
		s.sleepIfHeld()
	}
}

// sleepIfHeld sleeps until the next window opens when the last Decision
// held for one, as a host honouring RequeueAfter would, and reports
// whether it did.
func (s *sim) sleepIfHeld() bool {
	if s.lastHold == nil || s.lastHold.Name != upgrade.GateMaintenanceWindow || s.lastRequeue <= 0 {
		return false
	}
	s.c.Sleep(s.lastRequeue)
	propSlept.Add(1)
	return true
}
