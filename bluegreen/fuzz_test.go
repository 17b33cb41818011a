package bluegreen

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// FuzzStep decodes arbitrary specs, statuses and observations and checks
// that Step never panics, returns no action with an error, only returns
// actions that pass the safety rules against the observation, and emits
// nothing disruptive during unacknowledged break-glass.
func FuzzStep(f *testing.F) {
	add := func(spec Spec, obs upgrade.Observation, st upgrade.Status) {
		sj, _ := json.Marshal(spec)
		oj, _ := json.Marshal(obs)
		tj, _ := json.Marshal(st)
		f.Add(sj, oj, tj)
	}
	now := t0.Add(time.Minute)
	add(baseSpec(), cluster(now, 3), upgrade.Status{})
	add(baseSpec(), cluster(now, 3, "nv", "nv", "nv"), inFlight(PhaseSyncing, t0))
	add(baseSpec(), cluster(now, 3, "v", "v", "v"), inFlight(PhaseDemotingBlue, t0))
	add(baseSpec(), cluster(now, 3, "v", "v", "v"), inFlight(PhaseRestoringBlue, t0))
	add(baseSpec(), cluster(now, 5, "v", "nv", "crash"), inFlight(PhaseRollbackCleanup, t0))
	// Maintenance windows and pause: held, open, malformed, too short.
	withHold := func(paused bool, ws ...upgrade.MaintenanceWindow) Spec {
		s := baseSpec()
		s.AutoPromote, s.Paused, s.MaintenanceWindows = true, paused, ws
		return s
	}
	win := func(sched string, d time.Duration) upgrade.MaintenanceWindow {
		return upgrade.MaintenanceWindow{Schedule: sched, Duration: metav1.Duration{Duration: d}}
	}
	add(withHold(true), cluster(now, 3), upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg})
	add(withHold(false, win("0 2 * * *", time.Hour)), cluster(now, 3, "nv", "nv", "nv"), inFlight(PhaseAwaitingPromotion, t0, autoPromote))
	add(withHold(false, win("0 0 * * *", time.Hour)), cluster(now, 3, "nv", "nv", "nv"),
		inFlight(PhaseAwaitingPromotion, t0, heldSince(upgrade.GateMaintenanceWindow, upgrade.ReasonOutsideWindow, t0)))
	add(withHold(false, win("@every 1h", time.Hour), win("0 0 31 2 *", time.Hour)), cluster(now, 3), upgrade.Status{})
	add(withHold(true, win("*/10 * * * *", 5*time.Minute)), cluster(now, 3, "nv", "nv", "nv"), inFlight(PhaseSyncing, t0))
	// Real observations and statuses along a simulated upgrade.
	c := fake.New(fake.Config{Seed: 3, Replicas: 3})
	spec := goldenSpec()
	spec.AutoPromote = true
	st := upgrade.Status{}
	for i := range 60 {
		obs := c.Observe()
		d, err := Step(spec, obs, st)
		if err != nil {
			f.Fatal(err)
		}
		if i%6 == 0 {
			add(spec, obs, st)
		}
		st = d.Status
		_, _ = c.Apply(d.Actions)
		c.Tick()
	}
	f.Fuzz(func(t *testing.T, specJSON, obsJSON, statusJSON []byte) {
		var spec Spec
		var obs upgrade.Observation
		var st upgrade.Status
		if json.Unmarshal(specJSON, &spec) != nil || json.Unmarshal(obsJSON, &obs) != nil || json.Unmarshal(statusJSON, &st) != nil {
			return
		}
		d, err := Step(spec, obs, st)
		if err != nil {
			if len(d.Actions) != 0 {
				t.Fatalf("error %v with actions %v", err, d.Actions)
			}
			if !errors.Is(err, upgrade.ErrInvalidSpec) && !errors.Is(err, upgrade.ErrInvalidStatus) &&
				!errors.Is(err, upgrade.ErrUnsafe) && !errors.Is(err, upgrade.ErrIllegalTransition) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		ds := spec.withDefaults()
		held := check.Held(ds.Paused, ds.MaintenanceWindows, ds.stepRoom(), obs.Now)
		if _, err := check.BlueGreenHold(held, ds.Paused, obs, st, d); err != nil {
			t.Fatal(err)
		}
		if err := (upgrade.Safety{CatchUp: spec.CatchUp}).Check(obs, d.Actions); err != nil {
			t.Fatalf("unsafe: %v", err)
		}
		if st.BreakGlass != nil && spec.BreakGlassAck != st.BreakGlass.Nonce {
			for _, a := range d.Actions {
				if upgrade.IsDisruptive(a) {
					t.Fatalf("S7: %s", a)
				}
			}
		}
		if d.Status.CurrentVersion != st.CurrentVersion && st.CurrentVersion != "" &&
			(st.Upgrade == nil || d.Status.Upgrade != nil) {
			t.Fatalf("S5: current version changed from %q to %q", st.CurrentVersion, d.Status.CurrentVersion)
		}
	})
}
