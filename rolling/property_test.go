package rolling_test

import (
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake/proptest"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// propWindows are the maintenance windows of the runs that draw windows:
// every three hours for 2h30m, so with the 2h step timeout a pod may start
// only in the first half hour of each window and the upgrade holds for
// 2h30m between windows.
func propWindows() []upgrade.MaintenanceWindow {
	return []upgrade.MaintenanceWindow{{Schedule: "0 */3 * * *", Duration: metav1.Duration{Duration: 2*time.Hour + 30*time.Minute}}}
}

// stats are the statistics the property reports: the kit's, and the runs
// with maintenance windows.
type stats struct {
	proptest.Stats
	mu         sync.Mutex
	windowRuns int
}

// TestPropertyRollingUpgrade is the property test of rolling.Step through
// the public kit (fake/proptest), so it checks exactly what users get.
// Each case draws a cluster of 1–9 replicas (AllowDowntime for 1–2),
// targeted transfer or not, autopilot quirks, leadership handed off on
// shutdown, partition or OnDelete ordering, a random first leader, maybe a
// target that crash-loops from the start, adoption or a known current
// version; a spec targeting 2.4.0 or 2.4.1 with early or late leader
// placement, maybe maintenance windows (the clock starting anywhere in
// their three-hour cycle) and a pause; and a schedule of pod, leader,
// network and observation faults, crash-looping versions, requests
// (retarget, revert, retry, pause), host crashes after any prefix of a
// Decision's actions with the status persisted or not, restarts, lag, and
// sleeps (a few minutes, or until the next window opens). About half the
// runs draw no fault that takes a voter down.
//
// After every Step, scenario.Run checks: no error; Step did not mutate its
// inputs; it is deterministic, decides the same after a JSON round trip
// and waiting Steps are fixed points; the actions pass the oracle
// (check.Decision, S1–S4) and upgrade.Safety against the observation and,
// when it was fresh, against the truth; S5 (check.Transition and the
// strict check.RollingTransition), S6, S7, S8 (check.Failback); the hold
// rule of pauses and windows (check.RollingHold); a gate is surfaced in a
// Progressing condition; a clean cluster refuses no action. Once faults
// stop: the upgrade reaches Idle on the spec's version within
// 300+60·replicas reconciles with an operator's answers (pause lifted,
// crash-looping target replaced, refused target set back, S8's hold
// genuine), sleeping until windows open a bounded number of times; the
// idle cluster stays idle for 30 ticks, every member runs the current
// version, the lock is free and the partition 0; the history keeps the
// Raft model's invariants and, without faults, one voter down at most,
// quorum (3+ replicas), writability with targeted transfer and at most one
// election's outage (check.HistoryWith).
func TestPropertyRollingUpgrade(t *testing.T) {
	st := &stats{}
	start := time.Now()
	proptest.Run(t, proptest.Config{
		Replicas: []int{1, 2, 3, 4, 5, 6, 7, 8, 9},
		DrawStrategy: func(rt *rapid.T, c proptest.Cluster) func() scenario.Strategy {
			target := rapid.SampledFrom([]string{scenario.To, scenario.Next}).Draw(rt, "target")
			spec := rolling.Spec{Version: target, Image: scenario.Image(target), AllowDowntime: c.Replicas <= 2,
				StepTimeout: metav1.Duration{Duration: 2 * time.Hour}}
			if rapid.IntRange(0, 2).Draw(rt, "windows") == 0 {
				spec.MaintenanceWindows = propWindows()
				st.mu.Lock()
				st.windowRuns++
				st.mu.Unlock()
			}
			spec.Paused = rapid.IntRange(0, 3).Draw(rt, "startPaused") == 0
			if rapid.Bool().Draw(rt, "early") {
				spec.LeaderPlacement = upgrade.PlacementEarly
			}
			return func() scenario.Strategy {
				s := scenario.Rolling(spec)
				// no step deadline can pass: at most 32 sleeps of 3 minutes
				s.PauseOnlyOnCrashLoop = true
				return s
			}
		},
		MaxSleep:       3 * time.Minute,
		Adopt:          true,
		Quirks:         true,
		OnDelete:       true,
		StartBad:       true,
		Cycle:          3 * time.Hour,
		Quiet:          true,
		MaxSteps:       240,
		MaxEvents:      32,
		Bound:          300,
		BoundPerMember: 60,
		Events: []scenario.EventKind{scenario.KillPod, scenario.KillLeader, scenario.Isolate, scenario.Heal, scenario.HealAll,
			scenario.Slow, scenario.Stale, scenario.Observe, scenario.BadVersion, scenario.Request, scenario.Crash,
			scenario.Restart, scenario.HostLag, scenario.Sleep, scenario.WindowSleep,
			// requests and killed leaders three times as often: retargets,
			// reverts and a leader lost after the target led are what
			// regress the leader's version (S8)
			scenario.Request, scenario.Request, scenario.KillLeader, scenario.KillLeader},
		Requests: []scenario.RequestKind{scenario.Retarget, scenario.Revert, scenario.Retry, scenario.Pause},
		Report:   st.Report,
	})
	t.Logf("%s, in %s", &st.Stats, time.Since(start).Round(time.Millisecond))
	t.Logf("%d runs with maintenance windows", st.windowRuns)
}
