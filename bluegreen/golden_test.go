package bluegreen

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// scenario is a golden timeline: a fake cluster driven by Step through the
// fake/host driver, with a script changing the spec or injecting faults.
type scenario struct {
	name string
	cfg  fake.Config
	spec Spec
	// script runs the scenario; drive advances it.
	script func(t *testing.T, d *driver)
	// want is the expected outcome of the (last) upgrade.
	want upgrade.Outcome
}

// driver wraps a host whose Step reads the current spec.
type driver struct {
	h    *host.Host
	spec *Spec
}

// until reconciles and ticks until cond holds after a reconcile.
func (d *driver) until(t *testing.T, what string, max int, cond func(upgrade.Status) bool) {
	t.Helper()
	for range max {
		e := d.h.Reconcile()
		if e.StepErr != nil {
			t.Fatalf("%s: step error: %v", what, e.StepErr)
		}
		if err := (upgrade.Safety{}).Check(e.Observation, e.Actions); err != nil {
			t.Fatalf("%s: unsafe: %v", what, err)
		}
		if cond(d.h.Status) {
			return
		}
		d.h.Cluster.Tick()
	}
	t.Fatalf("%s: not reached in %d ticks (phase %s)\n%s", what, max, phaseOf(d.h.Status), d.h.Timeline())
}

func inPhase(p Phase) func(upgrade.Status) bool {
	return func(s upgrade.Status) bool { return phaseOf(s) == p }
}

func idle(s upgrade.Status) bool { return s.Upgrade == nil }

func goldenSpec() Spec {
	s := baseSpec()
	s.PrePromotionHook = "smoke-test"
	s.PostPromotionHook = "canary"
	s.StabilizationWindow.Duration = 5 * time.Second
	s.Timeouts = Timeouts{Step: metav1.Duration{Duration: 2 * time.Minute}, Sync: metav1.Duration{Duration: 2 * time.Minute}, Hook: metav1.Duration{Duration: time.Minute}, Rollback: metav1.Duration{Duration: 2 * time.Minute}}
	return s
}

func TestGoldenScenarios(t *testing.T) {
	cfg := func(replicas int, targeted bool) fake.Config {
		return fake.Config{Seed: 7, Replicas: replicas, Version: fromV, Image: fromImg, TargetedTransfer: targeted}
	}
	auto := goldenSpec()
	auto.AutoPromote = true
	scenarios := []scenario{
		{name: "promote_auto", cfg: cfg(3, false), spec: auto, want: upgrade.OutcomeSucceeded,
			script: func(t *testing.T, d *driver) { d.until(t, "idle", 300, idle) }},
		{name: "promote_auto_targeted_5", cfg: cfg(5, true), spec: auto, want: upgrade.OutcomeSucceeded,
			script: func(t *testing.T, d *driver) { d.until(t, "idle", 300, idle) }},
		{name: "promote_manual", cfg: cfg(3, true), spec: goldenSpec(), want: upgrade.OutcomeSucceeded,
			script: func(t *testing.T, d *driver) {
				d.until(t, "awaiting promotion", 300, inPhase(PhaseAwaitingPromotion))
				d.h.Cluster.Run(30) // a human takes a while
				d.spec.PromoteNonce = "approve-2.4.0"
				d.until(t, "idle", 300, idle)
			}},
		{name: "hook_failure_prepromotion", cfg: func() fake.Config {
			c := cfg(3, false)
			c.HookFailures = map[string]bool{"smoke-test": true}
			return c
		}(), spec: auto, want: upgrade.OutcomeAborted,
			script: func(t *testing.T, d *driver) { d.until(t, "idle", 300, idle) }},
		{name: "hook_failure_postpromotion", cfg: func() fake.Config {
			c := cfg(3, false)
			c.HookFailures = map[string]bool{"canary": true}
			return c
		}(), spec: auto, want: upgrade.OutcomeRolledBack,
			script: func(t *testing.T, d *driver) { d.until(t, "idle", 600, idle) }},
		{name: "rollback_manual_after_promotion", cfg: cfg(3, true), spec: auto, want: upgrade.OutcomeRolledBack,
			script: func(t *testing.T, d *driver) {
				d.until(t, "demoting blue", 300, inPhase(PhaseDemotingBlue))
				d.h.Cluster.Tick()
				d.spec.RollbackNonce = "rollback-1"
				d.until(t, "idle", 600, idle)
			}},
		{name: "repair_failure_breakglass_ack", cfg: cfg(3, true), spec: auto, want: upgrade.OutcomeRolledBack,
			script: func(t *testing.T, d *driver) {
				d.until(t, "stabilizing", 300, inPhase(PhaseStabilizing))
				// A rollback is requested, and blue (the rollback target)
				// turns out broken: the repair cannot restore blue's quorum.
				d.spec.RollbackNonce = "rollback-1"
				d.h.Cluster.SetBadVersion(fromV, true)
				d.until(t, "break-glass", 600, inPhase(PhaseBreakGlass))
				nonce := d.h.Status.BreakGlass.Nonce
				// S7: held without the acknowledgement, even with a wrong one.
				d.spec.BreakGlassAck = "not-the-nonce"
				for range 20 {
					e := d.h.Reconcile()
					for _, a := range e.Actions {
						if upgrade.IsDisruptive(a) {
							t.Fatalf("S7: %s during break-glass", a)
						}
					}
					d.h.Cluster.Tick()
				}
				// The operator fixes blue, then acknowledges with the exact nonce.
				d.h.Cluster.SetBadVersion(fromV, false)
				d.h.Cluster.Run(10)
				d.spec.BreakGlassAck = nonce
				d.until(t, "idle", 600, idle)
			}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := fake.New(sc.cfg)
			spec := sc.spec
			d := &driver{spec: &spec}
			d.h = host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) {
				return Step(*d.spec, o, s)
			}, upgrade.Status{})
			d.h.RoundTrip = true
			sc.script(t, d)
			st := d.h.Status
			if st.LastResult == nil || st.LastResult.Outcome != sc.want {
				t.Fatalf("outcome %+v, want %s", st.LastResult, sc.want)
			}
			h := c.History()
			if err := fake.CheckHistory(h); err != nil {
				t.Fatal(err)
			}
			m := fake.Summarize(h)
			var b strings.Builder
			fmt.Fprintf(&b, "# %s: %d replicas, targeted transfer %t, auto-promote %t\n", sc.name, sc.cfg.Replicas, sc.cfg.TargetedTransfer, sc.spec.AutoPromote)
			b.WriteString(d.h.Timeline())
			fmt.Fprintf(&b, "# result: %s %s -> %s (%s) current=%s\n", st.LastResult.Outcome, st.LastResult.FromVersion,
				st.LastResult.TargetVersion, st.LastResult.Reason, st.CurrentVersion)
			fmt.Fprintf(&b, "# metrics: ticks=%d leaderChanges=%d ticksWithoutLeader=%d ticksNotWritable=%d elections=%d\n",
				c.TickCount(), m.LeaderChanges, m.TicksWithoutLeader, m.TicksNotWritable, m.Elections)
			golden(t, sc.name+".golden", b.String())
		})
	}
}
