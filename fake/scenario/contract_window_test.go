package scenario_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// TestOneContractWindowsAndPause: both strategies treat maintenance windows
// and pause the same way (issue 15): the same typed error for the same bad
// window, the same gates, reasons and condition for a hold, a next opening
// in the message and the RequeueAfter, a pause that keeps an idle cluster
// from starting, and an upgrade that resumes from its status when the
// window opens and finishes inside it.
func TestOneContractWindowsAndPause(t *testing.T) {
	type stepWith func(ws []upgrade.MaintenanceWindow, paused bool) host.StepFunc
	strategies := map[string]stepWith{
		"rolling": func(ws []upgrade.MaintenanceWindow, paused bool) host.StepFunc {
			s := rollingSpec()
			s.MaintenanceWindows, s.Paused = ws, paused
			return func(o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
				return rolling.Step(s, o, st)
			}
		},
		"bluegreen": func(ws []upgrade.MaintenanceWindow, paused bool) host.StepFunc {
			s := blueGreenSpec()
			s.MaintenanceWindows, s.Paused = ws, paused
			return func(o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
				return bluegreen.Step(s, o, st)
			}
		},
	}
	win := func(sched string, d time.Duration) []upgrade.MaintenanceWindow {
		return []upgrade.MaintenanceWindow{{Schedule: sched, Duration: metav1.Duration{Duration: d}}}
	}
	cluster := func() *fake.Cluster {
		return fake.New(fake.Config{Seed: 3, Replicas: 3, TargetedTransfer: true, Version: scenario.From, Image: scenario.Image(scenario.From)})
	}
	for name, step := range strategies {
		// The same bad windows, the same typed error, no action.
		for _, ws := range [][]upgrade.MaintenanceWindow{win("0 2 * *", 3*time.Hour), win("@every 1h", 3*time.Hour),
			win("TZ=UTC 0 2 * * *", 3*time.Hour), win("0 2 * * *", 0), win("0 2 * * *", time.Minute)} {
			d, err := step(ws, false)(cluster().Observe(), current)
			if !errors.Is(err, upgrade.ErrInvalidSpec) || !errors.Is(err, upgrade.ErrInvalidWindow) || len(d.Actions) != 0 {
				t.Errorf("%s, %+v: err %v, actions %v", name, ws, err, d.Actions)
			}
			if err != nil && (strings.Contains(err.Error(), "\n") || err.Error()[:1] != strings.ToLower(err.Error()[:1])) {
				t.Errorf("%s: error %q is not one lowercase line", name, err)
			}
		}
		// Paused while idle: no start, gate Paused, Ready and Progressing
		// False with reason PausedBySpec, no requeue.
		d, err := step(nil, true)(cluster().Observe(), current)
		if err != nil || d.Status.Upgrade != nil || len(d.Actions) != 0 || d.Gate == nil || d.Gate.Name != upgrade.GatePaused || d.RequeueAfter != 0 {
			t.Errorf("%s paused: %v %v %+v %s", name, err, d.Actions, d.Gate, d.RequeueAfter)
		}
		if c := meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionProgressing); c == nil || c.Reason != string(upgrade.ReasonPausedBySpec) {
			t.Errorf("%s paused: progressing %+v", name, c)
		}
		// A window at 02:00 for 2h: the upgrade prepares, holds at its safe
		// point, the host sleeps until the opening, and it finishes then.
		c := cluster()
		h := host.New(c, step(win("0 2 * * *", 2*time.Hour), false), current)
		h.RoundTrip = true
		var held *host.Entry
		resumed := false
		for i := 0; h.Status.Upgrade != nil || i == 0; i++ {
			if i > 2000 {
				t.Fatalf("%s: not done: %+v", name, h.Status.Upgrade)
			}
			e := h.Reconcile()
			if e.StepErr != nil {
				t.Fatalf("%s: %v", name, e.StepErr)
			}
			for _, ev := range e.Events {
				if ev.Reason == string(upgrade.ReasonResumed) {
					resumed = true
					if e.Time.UTC().Format("15:04:05") != "02:00:00" {
						t.Errorf("%s: resumed at %s", name, e.Time)
					}
				}
			}
			if e.Gate != nil && e.Gate.Name == upgrade.GateMaintenanceWindow && len(e.Actions) == 0 {
				if held == nil {
					held = &e
					if !strings.Contains(e.Gate.Message, "next window opens at 2026-01-01T02:00:00Z") || e.Gate.Reason != upgrade.ReasonOutsideWindow {
						t.Errorf("%s: gate %+v", name, e.Gate)
					}
					cond := meta.FindStatusCondition(h.Status.Conditions, upgrade.ConditionProgressing)
					if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != string(upgrade.ReasonOutsideWindow) || h.Status.Upgrade.Held == nil {
						t.Errorf("%s: held status %+v %+v", name, cond, h.Status.Upgrade.Held)
					}
				}
				if want := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC).Sub(e.Time); e.RequeueAfter != want {
					t.Errorf("%s: requeue %s, want %s", name, e.RequeueAfter, want)
				}
				c.Sleep(e.RequeueAfter - c.Config().Tick)
			}
			c.Tick()
		}
		if held == nil || !resumed || h.Status.CurrentVersion != scenario.To || h.Status.LastResult.Outcome != upgrade.OutcomeSucceeded {
			t.Errorf("%s: held %v, resumed %v, result %+v", name, held != nil, resumed, h.Status.LastResult)
		}
	}
}
