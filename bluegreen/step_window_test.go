package bluegreen

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// window sets one maintenance window on a spec.
func window(schedule string, d time.Duration) func(*Spec) {
	return func(s *Spec) {
		s.MaintenanceWindows = []upgrade.MaintenanceWindow{{Schedule: schedule, Duration: metav1.Duration{Duration: d}}}
	}
}

func autoPromote(s *upgrade.Status) { s.Upgrade.BlueGreen.AutoPromote = true }

// heldSince marks an in-flight status held at the safe point by g since
// since (its step clock that old too).
func heldSince(g upgrade.GateName, r upgrade.Reason, since time.Time) func(*upgrade.Status) {
	return func(s *upgrade.Status) {
		s.Upgrade.StepStartedAt = upgrade.Time(since)
		s.Upgrade.Held = &upgrade.Pause{Gate: g, Reason: r, Since: upgrade.Time(since), Message: "holding at phase AwaitingPromotion"}
	}
}

// wantHeldAt checks a Decision held at the safe point: the hold recorded,
// Progressing False with its reason, the requeue, and a fixed point when
// stepped again a minute later.
func wantHeldAt(spec func(*Spec), obs upgrade.Observation, gate upgrade.GateName, requeue time.Duration) func(*testing.T, upgrade.Decision) {
	return func(t *testing.T, d upgrade.Decision) {
		t.Helper()
		if h := d.Status.Upgrade.Held; h == nil || h.Gate != gate {
			t.Fatalf("held = %+v, want %s", h, gate)
		}
		if d.RequeueAfter != requeue {
			t.Errorf("requeue = %s, want %s", d.RequeueAfter, requeue)
		}
		for _, c := range d.Status.Conditions {
			if c.Type == upgrade.ConditionProgressing && (c.Status != metav1.ConditionFalse || c.Reason != string(d.Gate.Reason)) {
				t.Errorf("progressing %+v", c)
			}
		}
		sp := baseSpec()
		spec(&sp)
		obs.Now = obs.Now.Add(time.Minute)
		d2, err := Step(sp, obs, d.Status)
		if err != nil || len(d2.Actions) > 0 || len(d2.Events) > 0 || !reflect.DeepEqual(d2.Status, d.Status) {
			t.Errorf("holding again is not a fixed point: %v %v %v", err, d2.Actions, d2.Events)
		}
	}
}

// stepTableCasesWindow are the stepTableCases of section "maintenance
// windows and pause". Now is 2026-01-01T00:01:00Z; the default step room is
// the 10m step timeout plus the (zero) stabilization window.
func stepTableCasesWindow() []stepTableCase {
	now := t0.Add(time.Minute)
	greenNV := cluster(now, 3, "nv", "nv", "nv")
	greenVoters := cluster(now, 3, "v", "v", "v")
	greenVoters.Capabilities.TargetedTransfer = true
	outside := window("0 2 * * *", 2*time.Hour)
	paused := func(s *Spec) { s.Paused = true }
	untilTwo := 2*time.Hour - time.Minute
	return []stepTableCase{
		{name: "window: outside a window the promotion holds at AwaitingPromotion", spec: outside,
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote),
			wantPhase: PhaseAwaitingPromotion, wantGate: upgrade.ReasonOutsideWindow,
			check: func(t *testing.T, d upgrade.Decision) {
				if !strings.Contains(d.Gate.Message, "next window opens at 2026-01-01T02:00:00Z") || len(d.Events) != 1 {
					t.Errorf("gate %q, events %v", d.Gate.Message, d.Events)
				}
				wantHeldAt(outside, greenNV, upgrade.GateMaintenanceWindow, untilTwo)(t, d)
			}},
		{name: "window: a manual promotion outside a window is kept for the window",
			spec: func(s *Spec) { outside(s); s.PromoteNonce = "go" },
			obs:  greenNV, status: inFlight(PhaseAwaitingPromotion, t0),
			wantPhase: PhaseAwaitingPromotion, wantGate: upgrade.ReasonOutsideWindow,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Handled.Promotion != "" {
					t.Errorf("promotion nonce consumed while held")
				}
			}},
		{name: "window: inside a window the promotion starts", spec: window("0 0 * * *", 2*time.Hour),
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote),
			wantPhase: PhasePromoting, wantKinds: []string{"Promote"}},
		{name: "window: the window opens and the upgrade resumes from its status", spec: window("0 0 * * *", 2*time.Hour),
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote, heldSince(upgrade.GateMaintenanceWindow, upgrade.ReasonOutsideWindow, now.Add(-5*time.Hour))),
			wantPhase: PhasePromoting, wantKinds: []string{"Promote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.Held != nil || len(d.Events) == 0 || d.Events[0].Reason != string(upgrade.ReasonResumed) {
					t.Errorf("held %+v, events %v", d.Status.Upgrade.Held, d.Events)
				}
			}},
		{name: "window: green is prepared outside a window up to the safe point", spec: outside,
			obs: greenNV, status: inFlight(PhaseSyncing, t0, autoPromote, func(s *upgrade.Status) { s.Upgrade.BlueGreen.SyncedSince = upgrade.Time(t0) }),
			wantPhase: PhaseAwaitingPromotion, wantGate: upgrade.ReasonOutsideWindow},
		{name: "window: a promotion in flight finishes when the window closes", spec: outside,
			obs: greenVoters, status: inFlight(PhasePromoting, t0),
			wantPhase: PhaseTransferringLeadership, wantKinds: []string{"TransferLeadership"}},
		{name: "window: too close to the end the promotion does not start", spec: window("0 22 * * *", 2*time.Hour+5*time.Minute),
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote),
			wantPhase: PhaseAwaitingPromotion, wantGate: upgrade.ReasonOutsideWindow,
			check: func(t *testing.T, d upgrade.Decision) {
				if !strings.Contains(d.Gate.Message, "closes at 2026-01-01T00:05:00Z") {
					t.Errorf("message %q", d.Gate.Message)
				}
			}},
		{name: "pause: an idle cluster does not start an upgrade", spec: paused,
			obs: cluster(now, 3), status: upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg}, wantPhase: PhaseIdle, wantGate: upgrade.ReasonPausedBySpec,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.RequeueAfter != 0 || d.Status.Upgrade != nil {
					t.Errorf("requeue %s, upgrade %+v", d.RequeueAfter, d.Status.Upgrade)
				}
			}},
		{name: "pause: green is prepared, then the upgrade holds at AwaitingPromotion", spec: paused,
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote),
			wantPhase: PhaseAwaitingPromotion, wantGate: upgrade.ReasonPausedBySpec,
			check: wantHeldAt(paused, greenNV, upgrade.GatePaused, 0)},
		{name: "pause: a held upgrade never times out", spec: func(s *Spec) { paused(s); s.Timeouts.Promotion.Duration = time.Hour },
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote, heldSince(upgrade.GatePaused, upgrade.ReasonPausedBySpec, now.Add(-10*time.Hour))),
			wantPhase: PhaseAwaitingPromotion, wantGate: upgrade.ReasonPausedBySpec},
		{name: "window: manual promotion not requested yet waits for the human, not the window", spec: outside,
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0),
			wantPhase: PhaseAwaitingPromotion, wantGate: ReasonAwaitingPromotion,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.Held != nil || len(d.Events) != 0 {
					t.Errorf("held %+v, events %v", d.Status.Upgrade.Held, d.Events)
				}
			}},
		{name: "pause: unpausing resumes from the status",
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, autoPromote, heldSince(upgrade.GatePaused, upgrade.ReasonPausedBySpec, now.Add(-time.Hour))),
			wantPhase: PhasePromoting, wantKinds: []string{"Promote"}},
		{name: "pause: a rollback request is a repair and is not held", spec: func(s *Spec) { paused(s); s.RollbackNonce = "back" },
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0, heldSince(upgrade.GatePaused, upgrade.ReasonPausedBySpec, now.Add(-time.Hour))),
			wantPhase: PhaseAborting, wantKinds: []string{"RemovePeer"}},
		{name: "window: malformed cron is invalid spec", spec: window("0 2 * * * *", 2*time.Hour),
			obs: greenNV, status: inFlight(PhaseAwaitingPromotion, t0), wantPhase: PhaseAwaitingPromotion, wantErr: upgrade.ErrInvalidWindow},
		{name: "window: a window shorter than one step plus stabilization is invalid spec",
			spec: func(s *Spec) {
				window("0 2 * * *", 15*time.Minute)(s)
				s.StabilizationWindow.Duration = 10 * time.Minute
			},
			obs: cluster(now, 3), status: upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg}, wantPhase: PhaseIdle, wantErr: upgrade.ErrInvalidSpec},
		{name: "window: an empty duration is invalid spec", spec: window("0 2 * * *", 0),
			obs: cluster(now, 3), status: upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg}, wantPhase: PhaseIdle, wantErr: upgrade.ErrInvalidWindow},
	}
}

// TestWindowSameErrorBothStrategies is the blue-green half of the shared
// contract: the bad windows rolling rejects are rejected the same way.
func TestWindowSameErrorBothStrategies(t *testing.T) {
	for _, sched := range []string{"61 2 * * *", "TZ=UTC 0 2 * * *", "@every 2h", "@reboot", "0 0 30 2 *", ""} {
		s := baseSpec()
		window(sched, 2*time.Hour)(&s)
		d, err := Step(s, cluster(t0, 3), upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg})
		if !errors.Is(err, upgrade.ErrInvalidSpec) || !errors.Is(err, upgrade.ErrInvalidWindow) || len(d.Actions) > 0 {
			t.Errorf("%q: err %v, actions %v", sched, err, d.Actions)
		}
	}
}
