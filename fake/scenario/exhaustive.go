package scenario

import (
	"fmt"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
)

// Failure is a schedule that broke an invariant.
type Failure struct {
	// Events is the schedule.
	Events []Event
	// Violation is what broke.
	Violation *check.Violation
}

// Report summarises an exhaustive enumeration.
type Report struct {
	// Baseline is the number of reconciles the undisturbed run takes to
	// reach Idle.
	Baseline int
	// Runs counts the schedules played; Crashes, Requests and Faults count
	// them by kind, CrashThenRequest the crashes followed by a request at
	// the next Step, Kills the pod and leader kills, FailedMoves the
	// leadership moves made to fail (one before each acting reconcile).
	Runs, Crashes, Requests, Faults, CrashThenRequest, Kills, FailedMoves int
	// Failures are the schedules that broke an invariant.
	Failures []Failure
}

// Exhaustive plays base undisturbed, then every single-event variant of it:
// at each of its reconciles, a host crash after each prefix of that
// reconcile's actions, with the status persisted or not (alone, and
// followed by each request at the next reconcile); each request; each
// observation fault; a kill of the leader and of each initial member; and,
// before each reconcile that acts, a failure of the next leadership move.
// base's own events are replaced. The undisturbed run also checks the
// per-Step contract (determinism, JSON round trip, fixed points); the
// variants skip it (FastSteps), as Random runs check it under every fault.
// It reports how many schedules it ran and those that broke an invariant.
func Exhaustive(base Scenario) Report {
	probe := base
	probe.Events, probe.Steps = nil, 0
	res := Run(probe)
	var rep Report
	rep.Runs++
	if res.Violation != nil {
		rep.Failures = append(rep.Failures, Failure{Violation: res.Violation})
		return rep
	}
	// The reconciles before the run first went idle (its last 20 are the
	// idle check).
	n := max(len(res.Actions)-20, 1)
	rep.Baseline = n
	play := func(events ...Event) {
		sc := base
		sc.Steps = events[len(events)-1].At + 1
		sc.Events = events
		sc.FastSteps = true
		rep.Runs++
		if r := Run(sc); r.Violation != nil {
			rep.Failures = append(rep.Failures, Failure{Events: sc.Events, Violation: r.Violation})
		}
	}
	for at := range n {
		for executed := 0; executed <= res.Actions[at]; executed++ {
			for _, persisted := range []bool{true, false} {
				crash := Event{At: at, Kind: Crash, Crash: CrashPoint{Executed: executed, Persisted: persisted}}
				rep.Crashes++
				play(crash)
				// The restarted host then receives a request: the crash
				// left a status behind the cluster (a Promote executed but
				// not persisted), which Step must still accept.
				for _, r := range Requests() {
					rep.CrashThenRequest++
					play(crash, Event{At: at + 1, Kind: Request, Request: r})
				}
			}
		}
		for _, r := range Requests() {
			rep.Requests++
			play(Event{At: at, Kind: Request, Request: r})
		}
		for _, k := range fake.ObservationFaultKinds() {
			rep.Faults++
			play(Event{At: at, Kind: Observe, Fault: fake.ObservationFault{Kind: k, TicksAgo: 3}})
		}
		if res.Actions[at] > 0 {
			rep.FailedMoves++
			play(Event{At: at, Kind: MoveFails})
		}
		rep.Kills++
		play(Event{At: at, Kind: KillLeader})
		for i := range max(base.Cluster.Replicas, 1) {
			rep.Kills++
			play(Event{At: at, Kind: KillPod, Member: fmt.Sprintf("bao-%d", i)})
		}
	}
	return rep
}
