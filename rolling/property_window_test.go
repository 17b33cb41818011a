package rolling

import (
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/upgrade"
)

// propWindows are the maintenance windows of the property runs that draw
// windows: every three hours for 2h30m, so with the property tests' 2h
// step timeout a pod may start only in the first half hour of each window
// and the upgrade holds for 2h30m between windows.
func propWindows() []upgrade.MaintenanceWindow {
	return []upgrade.MaintenanceWindow{{Schedule: "0 */3 * * *", Duration: metav1.Duration{Duration: 2*time.Hour + 30*time.Minute}}}
}

// holdApplies reports whether, at now, spec holds new disruptive steps: it
// pauses, or no window has room for one pod. Specs whose windows do not
// parse hold nothing (Step refuses them).
func holdApplies(spec Spec, now time.Time) bool {
	if spec.Paused {
		return true
	}
	s, err := spec.withDefaults()
	if err != nil {
		return false
	}
	ws, err := upgrade.ParseWindows(s.MaintenanceWindows, s.stepRoom())
	if err != nil {
		return false
	}
	return !ws.Allows(now, s.stepRoom())
}

// holdViolation checks the hold invariant of a Decision d made for spec on
// obs from prev ("" when it holds): while spec.paused or the maintenance
// windows hold, no upgrade starts while paused, and no new pod restart or
// leadership move starts — only the pod in flight (phases MovingLeader and
// Restarting) may be finished, a crash-looping pod may be restarted at the
// fixed version (it disrupts no one), and an upgrade whose pods all run
// the target may finalize.
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
	if d.Status.Upgrade == nil {
		return "" // finalized: every pod already runs the target
	}
	if p := Phase(prev.Upgrade.Phase); p == PhaseMovingLeader || p == PhaseRestarting {
		return ""
	}
	holdsChecked.Add(1)
	for _, a := range d.Actions {
		bad := false
		switch a := a.(type) {
		case upgrade.DeletePod:
			// A crash-looping pod restarted at the fixed version disrupts
			// no one: that repair is never held.
			// Nor is a pod the partition already admits (a Decision
			// executed whose status was lost lowered it): the controller
			// restarts it anyway, and the strategy follows.
			m, ok := obs.Member(a.Member)
			admitted := ok && len(obs.Workloads) > 0 && obs.Workloads[0].UpdateStrategy != upgrade.UpdateOnDelete &&
				obs.Workloads[0].Partition <= m.Ordinal
			bad = !ok || !(m.Pod.CrashLooping || admitted)
		case upgrade.TransferLeadership, upgrade.StepDown:
			bad = true
		case upgrade.SetPartition:
			bad = len(obs.Workloads) > 0 && a.Partition < obs.Workloads[0].Partition
		}
		if bad {
			return fmt.Sprintf("%s (%s): %s started from phase %s while held (paused %v)\n%s",
				obs.Now.Format(time.RFC3339), d.Status.Upgrade.Phase, a.Kind(), prev.Upgrade.Phase, spec.Paused, upgrade.FormatActions(d.Actions))
		}
	}
	return ""
}

// checkHold fails the property run on a holdViolation.
func (m *machine) checkHold(t *rapid.T, obs *upgrade.Observation, prev *upgrade.Status, d *upgrade.Decision) {
	if v := holdViolation(m.spec, obs, prev, d); v != "" {
		t.Fatalf("tick %d: %s", m.c.TickCount(), v)
	}
}

// windowActions are the property test's actions about time and pause:
// pausing and unpausing, the host sleeping a few minutes (time passing,
// maybe out of a window) and, when the last Decision held for a window,
// sleeping until the window opens as a host would.
func (m *machine) windowActions(actions map[string]func(*rapid.T)) {
	actions["pause"] = func(t *rapid.T) { m.spec.Paused = !m.spec.Paused }
	actions["sleep"] = func(t *rapid.T) {
		m.c.Sleep(time.Duration(rapid.IntRange(1, 5).Draw(t, "sleepMinutes")) * time.Minute)
	}
	actions["sleepUntilWindow"] = func(t *rapid.T) {
		if d := m.reconcile(t); d.Gate != nil && d.Gate.Name == upgrade.GateMaintenanceWindow && len(d.Actions) == 0 {
			m.c.Sleep(d.RequeueAfter)
			slept.Add(1)
		}
	}
}

// Counters of the window property runs: held Decisions checked and sleeps
// until a window opened.
var holdsChecked, slept atomic.Int64
