package scenario_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// drawEvent draws one event at step at: mostly host crashes at any point
// and requests, the rest observation faults, restarts and cluster faults.
func drawEvent(t *rapid.T, at, replicas int) scenario.Event {
	e := scenario.Event{At: at}
	member := fmt.Sprintf("bao-%d", rapid.IntRange(0, replicas-1).Draw(t, "member"))
	switch rapid.IntRange(0, 8).Draw(t, "kind") {
	case 0, 1, 2:
		e.Kind = scenario.Crash
		e.Crash = scenario.CrashPoint{Executed: rapid.IntRange(0, 8).Draw(t, "executed"), Persisted: rapid.Bool().Draw(t, "persisted")}
	case 3, 4, 5:
		e.Kind, e.Request = scenario.Request, rapid.SampledFrom(scenario.Requests()).Draw(t, "request")
	case 6:
		e.Kind = scenario.Observe
		e.Fault = fake.ObservationFault{Kind: rapid.SampledFrom(fake.ObservationFaultKinds()).Draw(t, "fault"), Member: member,
			TicksAgo: rapid.IntRange(1, 8).Draw(t, "age")}
	case 7:
		e.Kind = rapid.SampledFrom([]scenario.EventKind{scenario.Restart, scenario.HostLag, scenario.Stale}).Draw(t, "host")
		e.N = rapid.IntRange(1, 5).Draw(t, "n")
	default:
		e.Kind, e.Member = rapid.SampledFrom([]scenario.EventKind{scenario.KillPod, scenario.KillLeader, scenario.Isolate, scenario.Heal}).Draw(t, "fault"), member
	}
	return e
}

// TestPropertyCrashPointsAndRequests is the crash-at-every-point property
// of issue 9 for both strategies: the host executes any prefix of a
// Decision's actions, then persists the status or not, and may restart at
// any moment; every request (retarget, revert, rollback or abort, promote,
// retry, break-glass acknowledgement and its near misses) may arrive at any
// moment; observation and cluster faults join. After every Step S1-S7 hold
// (package check) and Step accepted its own persisted output; once faults
// stop the run reaches Idle (L1). Failures shrink to a short schedule.
func TestPropertyCrashPointsAndRequests(t *testing.T) {
	runs, steps, events := 0, 0, 0
	start := time.Now()
	rapid.Check(t, func(t *rapid.T) {
		kind := rapid.SampledFrom([]string{"rolling", "bluegreen"}).Draw(t, "strategy")
		replicas := rapid.IntRange(3, 5).Draw(t, "replicas")
		sc := scenario.Scenario{
			Cluster: fake.Config{Seed: rapid.Uint64().Draw(t, "seed"), Replicas: replicas,
				TargetedTransfer: rapid.Bool().Draw(t, "targeted"), AutopilotQuirks: rapid.Bool().Draw(t, "quirks")},
			Status: upgrade.Status{CurrentVersion: scenario.From, CurrentImage: scenario.Image(scenario.From)},
			Steps:  rapid.IntRange(5, 80).Draw(t, "steps"),
		}
		if kind == "rolling" {
			spec := rolling.Spec{Version: scenario.To, Image: scenario.Image(scenario.To), StepTimeout: metav1.Duration{Duration: 2 * time.Hour}}
			sc.Strategy = func() scenario.Strategy { return scenario.Rolling(spec) }
			sc.Bound = 300 + 60*replicas
		} else {
			spec := bluegreen.Spec{Version: scenario.To, Image: scenario.Image(scenario.To), Workload: "bao", Service: "bao",
				AutoPromote: rapid.Bool().Draw(t, "autoPromote"),
				Timeouts:    bluegreen.Timeouts{Step: metav1.Duration{Duration: 3 * time.Minute}, Sync: metav1.Duration{Duration: 3 * time.Minute}, Hook: metav1.Duration{Duration: time.Minute}, Rollback: metav1.Duration{Duration: 3 * time.Minute}}}
			sc.Strategy = func() scenario.Strategy { return scenario.BlueGreen(spec) }
		}
		n := rapid.IntRange(0, 12).Draw(t, "events")
		for range n {
			sc.Events = append(sc.Events, drawEvent(t, rapid.IntRange(0, sc.Steps-1).Draw(t, "at"), replicas))
		}
		res := scenario.Run(sc)
		runs++
		steps += res.Steps
		events += n
		if res.Violation != nil {
			t.Fatalf("%s: %v\nevents: %v", kind, res.Violation, sc.Events)
		}
	})
	t.Logf("%d runs, %d steps, %d events (crashes, requests, faults) in %s, no violation", runs, steps, events,
		time.Since(start).Round(time.Millisecond))
}
