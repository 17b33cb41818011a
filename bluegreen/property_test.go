package bluegreen_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/fake/proptest"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/upgrade"
)

// propWindows are the maintenance windows of the runs that draw them:
// every ten minutes for five, so with the test timeouts (3m steps, up to
// 20s of stabilization) a promotion may start only in the first minute and
// a half or so of each window.
func propWindows() []upgrade.MaintenanceWindow {
	return []upgrade.MaintenanceWindow{{Schedule: "*/10 * * * *", Duration: metav1.Duration{Duration: 5 * time.Minute}}}
}

// drawSpec draws a blue-green spec: promotion mode, hooks, sync and
// stabilization windows, with the test timeouts (step and sync 3m, hook
// 1m, rollback 3m).
func drawSpec(rt *rapid.T) bluegreen.Spec {
	spec := bluegreen.Spec{Version: scenario.To, Image: scenario.Image(scenario.To), Workload: "bao", Service: "bao",
		Timeouts: bluegreen.Timeouts{Step: metav1.Duration{Duration: 3 * time.Minute}, Sync: metav1.Duration{Duration: 3 * time.Minute},
			Hook: metav1.Duration{Duration: time.Minute}, Rollback: metav1.Duration{Duration: 3 * time.Minute}}}
	spec.AutoPromote = rapid.Bool().Draw(rt, "autoPromote")
	if rapid.Bool().Draw(rt, "preHook") {
		spec.PrePromotionHook = "pre"
	}
	if rapid.Bool().Draw(rt, "postHook") {
		spec.PostPromotionHook = "post"
	}
	spec.MinSyncDuration.Duration = time.Duration(rapid.IntRange(0, 20).Draw(rt, "minSync")) * time.Second
	spec.StabilizationWindow.Duration = time.Duration(rapid.IntRange(0, 20).Draw(rt, "stabilize")) * time.Second
	return spec
}

// members are the members faults may hit: blue's and those of the green
// workloads of both targets.
func members(c proptest.Cluster) []string {
	var out []string
	for i := range c.Replicas {
		out = append(out, fmt.Sprintf("bao-%d", i))
		for _, v := range []string{scenario.To, scenario.Next} {
			out = append(out, fmt.Sprintf("%s-%d", bluegreen.GreenName("bao", v, scenario.Image(v)), i))
		}
	}
	return out
}

// stats are the statistics the properties report: the kit's, the phases
// Step returned and the break-glass entries.
type stats struct {
	proptest.Stats
	mu         sync.Mutex
	breakGlass int
	phases     map[string]int
}

func newStats() *stats {
	return &stats{phases: map[string]int{}}
}

// each counts the phases Step returned and the break-glass entries.
func (s *stats) each(_ upgrade.Observation, prev upgrade.Status, d upgrade.Decision) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := "Idle"
	if d.Status.Upgrade != nil {
		p = d.Status.Upgrade.Phase
	}
	s.phases[p]++
	if prev.BreakGlass == nil && d.Status.BreakGlass != nil {
		s.breakGlass++
	}
	return nil
}

func (s *stats) log(t *testing.T, start time.Time) {
	t.Logf("%s, in %s", &s.Stats, time.Since(start).Round(time.Millisecond))
	t.Logf("%d break-glass entries; phases returned: %v", s.breakGlass, s.phases)
}

// TestPropertyUpgrade is the property test of bluegreen.Step through the
// public kit (fake/proptest), so it checks exactly what users get. Each
// case draws a cluster (1–7 members, targeted transfer or not, autopilot
// quirks, OpenBao's readiness, autopilot promotion and delayed suffrage
// changes each on its own, maybe a crash-looping version or failing hooks
// from the start, adoption or a known current version), a spec (automatic
// or manual promotion, hooks, sync and stabilization windows, maybe
// maintenance windows with the clock anywhere in their cycle and a pause)
// and a schedule of pod, leader, network and observation faults on blue
// and green members, crash-looping versions (blue's too), failing hooks,
// every request (retarget, revert, rollback, promote, retry, break-glass
// acknowledgements and their near misses, pause), host crashes after any
// prefix of a Decision, restarts, lag and sleeps. About half the runs draw
// no fault that takes a voter down.
//
// After every Step the kit checks S1–S8 (the oracle and upgrade.Safety
// against the observation and, when fresh, the truth; check.BlueGreen,
// check.BlueGreenStatus: strict S5 and S6, green voters reported with a
// Degraded condition, no leadership move to green before promotion; S7's
// exact nonce), the hold rule (check.BlueGreenHold), the per-Step
// contract, a gate surfaced in a condition, a service switched only to
// the workload holding the leader. Once faults stop: L1 within 3000
// reconciles with an operator's answers (break-glass acknowledged,
// promotion granted, pause lifted, a rolled-back upgrade retried, which
// must then succeed); idle stays idle, every voter runs the current
// version, a single-member cluster is never upgraded, the break-glass
// condition is cleared; the history keeps the Raft model's invariants and,
// without faults, every voter up, quorum, a leader that can write,
// writability with targeted transfer and at most one election's outage.
func TestPropertyUpgrade(t *testing.T) {
	st := newStats()
	start := time.Now()
	proptest.Run(t, proptest.Config{
		Replicas: []int{1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 6, 7},
		OpenBao:  true,
		Quirks:   true,
		DrawStrategy: func(rt *rapid.T, _ proptest.Cluster) func() scenario.Strategy {
			spec := drawSpec(rt)
			if rapid.IntRange(0, 2).Draw(rt, "windows") == 0 {
				spec.MaintenanceWindows = propWindows()
			}
			spec.Paused = rapid.IntRange(0, 3).Draw(rt, "startPaused") == 0
			return func() scenario.Strategy { return scenario.BlueGreen(spec) }
		},
		Adopt:        true,
		StartBad:     true,
		BadVersions:  []string{scenario.To, scenario.From},
		HookFailures: []string{"pre", "post"},
		Cycle:        10 * time.Minute,
		MaxSleep:     400 * time.Second,
		Quiet:        true,
		MaxSteps:     200,
		MaxEvents:    24,
		Members:      members,
		Events: []scenario.EventKind{scenario.KillPod, scenario.KillLeader, scenario.Isolate, scenario.Heal, scenario.HealAll,
			scenario.Slow, scenario.Stale, scenario.Observe, scenario.BadVersion, scenario.HookFailure, scenario.Request,
			scenario.Crash, scenario.Restart, scenario.HostLag, scenario.Sleep, scenario.WindowSleep},
		Requests: append(scenario.Requests(), scenario.Pause),
		Each:     st.each,
		Report:   st.Report,
	})
	st.log(t, start)
}

// rollbackPhases are the phases of a rollback, where the rollback
// property's faults and requests arrive.
var rollbackPhases = []string{string(bluegreen.PhaseRestoringBlue), string(bluegreen.PhaseRollbackLeadership),
	string(bluegreen.PhaseDemotingGreen), string(bluegreen.PhaseRollbackCleanup), string(bluegreen.PhaseBreakGlass)}

// TestPropertyRollback drives upgrades past the first green voter through
// the public kit: at a drawn phase (Promoting, TransferringLeadership,
// DemotingBlue or Stabilizing) a trigger arrives (a rollback request, green
// crash-looping, or a failing post-promotion hook), maybe with blue
// crash-looping too (the repair then needs break-glass); faults, host
// failures and requests then arrive during the rollback. Beyond every
// check of the kit (see TestPropertyUpgrade) it checks that the drawn phase
// is reached, that the trigger is acted on within 200 Steps (the upgrade
// rolls back, or rolls forward only when green's crash became visible past
// the point of no return), and that the first upgrade ends rolled back (or
// succeeded in that late case) with its target unchanged; once faults stop
// the break-glass condition is cleared and the operator's retry succeeds.
func TestPropertyRollback(t *testing.T) {
	st := newStats()
	start := time.Now()
	var late, blueBroken int
	rapid.Check(t, func(rt *rapid.T) {
		var at bluegreen.Phase
		var trigger string
		// per run (the kit replays a failing scenario): whether the phase was
		// reached, when the trigger fired, and the first result
		var reached, acted, lateRun bool
		var triggeredAt, step int
		var first *upgrade.Result
		cfg := proptest.Config{
			Replicas: []int{2, 3, 3, 3, 4, 5, 5, 5, 6, 7},
			Quirks:   true,
			// autopilot promoting non-voters on its own skips the phases
			// this property aims at
			Membership: true,
			DrawStrategy: func(rt *rapid.T, _ proptest.Cluster) func() scenario.Strategy {
				spec := drawSpec(rt)
				at = rapid.SampledFrom([]bluegreen.Phase{bluegreen.PhasePromoting, bluegreen.PhaseTransferringLeadership,
					bluegreen.PhaseDemotingBlue, bluegreen.PhaseStabilizing}).Draw(rt, "at")
				triggers := []string{"request", "greenCrash"}
				if at == bluegreen.PhaseStabilizing {
					spec.PostPromotionHook = "post"
					triggers = append(triggers, "postHookFails")
				}
				trigger = rapid.SampledFrom(triggers).Draw(rt, "trigger")
				return func() scenario.Strategy {
					reached, acted, lateRun, triggeredAt, step, first = false, false, false, -1, 0, nil
					return scenario.BlueGreen(spec)
				}
			},
			MaxSteps:  200,
			MaxEvents: 16,
			Members:   members,
			Events: []scenario.EventKind{scenario.KillPod, scenario.KillLeader, scenario.Isolate, scenario.Heal, scenario.HealAll,
				scenario.Slow, scenario.Stale, scenario.Observe, scenario.BadVersion, scenario.HookFailure, scenario.Request,
				scenario.Crash, scenario.Restart, scenario.HostLag},
			BadVersions: []string{scenario.To, scenario.From},
			Each: func(obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) error {
				_ = st.each(obs, prev, d)
				step++
				if u := prev.Upgrade; u != nil && bluegreen.Phase(u.Phase) == at && !reached {
					reached, triggeredAt = true, step
				}
				if reached && !acted {
					switch u := d.Status.Upgrade; {
					case u == nil || u.BlueGreen.RollingBack:
						acted = true
					case u.BlueGreen.PointOfNoReturn:
						if trigger != "greenCrash" {
							return fmt.Errorf("trigger %s at %s ignored: the upgrade passed the point of no return", trigger, at)
						}
						acted, lateRun = true, true
					case step-triggeredAt > 200:
						return fmt.Errorf("trigger %s at %s not acted on in 200 Steps; phase %s", trigger, at, u.Phase)
					}
				}
				if prev.Upgrade != nil && d.Status.Upgrade == nil && first == nil {
					first = d.Status.LastResult.DeepCopy()
				}
				return nil
			},
			Report: st.Report,
		}
		sc := proptest.Draw(rt, cfg)
		// The random events arrive during the rollback; the trigger (and a
		// manual promotion) at the drawn phase.
		rollbackAt := rapid.SliceOfN(rapid.SampledFrom(rollbackPhases), len(sc.Events), len(sc.Events)).Draw(rt, "during")
		for i := range sc.Events {
			sc.Events[i].Phase = rollbackAt[i]
		}
		sc.Events = append(sc.Events, scenario.Event{Kind: scenario.Request, Request: scenario.Promote, Phase: string(bluegreen.PhaseAwaitingPromotion)})
		switch trigger {
		case "request":
			sc.Events = append(sc.Events, scenario.Event{Kind: scenario.Request, Request: scenario.Rollback, Phase: string(at)})
		case "greenCrash":
			sc.Events = append(sc.Events, scenario.Event{Kind: scenario.BadVersion, Version: scenario.To, Phase: string(at)})
		case "postHookFails":
			sc.Events = append(sc.Events, scenario.Event{Kind: scenario.HookFailure, Member: "post", N: 1, Phase: string(at)})
		}
		breakBlue := rapid.IntRange(0, 2).Draw(rt, "breakBlue") == 0
		if breakBlue {
			sc.Events = append(sc.Events, scenario.Event{Kind: scenario.BadVersion, Version: scenario.From, Phase: string(at)})
		}
		// Old enough to reach the drawn phase (up to 400 reconciles), then
		// an operator acknowledges break-glass at some point (the nonce is
		// the one in the status; the random requests send near misses too).
		sc.Steps += 400
		sc.StopWhenDone = true
		// (a near miss of its nonce, which must not resume, twice as often).
		sc.Events = append(sc.Events, scenario.Event{At: rapid.IntRange(0, 300).Draw(rt, "ackAt"), Kind: scenario.Request,
			Request: rapid.SampledFrom([]scenario.RequestKind{scenario.Ack, scenario.AckNearMiss, scenario.AckNearMiss}).Draw(rt, "ack"),
			Phase:   string(bluegreen.PhaseBreakGlass)})
		res := scenario.Run(sc)
		st.Report(sc, res)
		if res.Violation == nil {
			switch {
			case !reached:
				res.Violation = &check.Violation{Rule: "Rollback", Step: -1, Message: "never reached " + string(at)}
			case first == nil:
				res.Violation = &check.Violation{Rule: "Rollback", Step: -1, Message: "the upgrade never ended"}
			case first.TargetVersion != scenario.To || (first.Outcome != upgrade.OutcomeRolledBack && !(lateRun && first.Outcome == upgrade.OutcomeSucceeded)):
				res.Violation = &check.Violation{Rule: "Rollback", Step: -1, Message: fmt.Sprintf("want the upgrade to %s rolled back, got %s to %s",
					scenario.To, first.Outcome, first.TargetVersion)}
			}
		}
		if res.Violation != nil {
			var timeline []string
			sc.Log = func(line string) { timeline = append(timeline, line) }
			scenario.Run(sc)
			timeline = timeline[max(0, len(timeline)-60):]
			rt.Fatalf("%s at=%s trigger=%s breakBlue=%t: %v\nevents: %v\ntimeline (end):\n%s", sc.Name, at, trigger, breakBlue,
				res.Violation, sc.Events, strings.Join(timeline, "\n"))
		}
		if lateRun {
			late++
		}
		if breakBlue {
			blueBroken++
		}
	})
	st.log(t, start)
	t.Logf("blue broken too: %d runs; green's crash seen past the point of no return: %d runs", blueBroken, late)
}
