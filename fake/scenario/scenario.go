package scenario

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// EventKind is what happens between two reconciles of a run.
type EventKind string

// Event kinds: cluster faults, observation faults, requests and host
// failures.
const (
	KillPod     EventKind = "kill-pod"     // Member's pod dies (the controller recreates it)
	KillLeader  EventKind = "kill-leader"  // the leader's pod dies
	MoveFails   EventKind = "move-fails"   // the next step-down or leadership transfer fails (fake.Cluster.FailNextLeaderMove)
	Isolate     EventKind = "isolate"      // Member is partitioned away
	Heal        EventKind = "heal"         // Member's partition ends
	Slow        EventKind = "slow"         // Member replicates N entries per tick
	Stale       EventKind = "stale"        // the next observation is N ticks old
	BadVersion  EventKind = "bad-version"  // Version crash-loops
	HookFailure EventKind = "hook-failure" // hook Member fails (N > 0) or succeeds again
	Observe     EventKind = "observe"      // the next observation is degraded (ObservationFault)
	Request     EventKind = "request"      // a human or GitOps request (Request)
	Crash       EventKind = "crash"        // the host crashes in this reconcile (Crash)
	Restart     EventKind = "restart"      // the host restarts before this reconcile (status through JSON)
	HostLag     EventKind = "host-lag"     // the host skips N reconciles (time passes)
	HealAll     EventKind = "heal-all"     // every fault ends: partitions, slow members, bad versions, failing hooks
	Sleep       EventKind = "sleep"        // the host sleeps N seconds before this reconcile (fake.Cluster.Sleep)
	WindowSleep EventKind = "window-sleep" // after this reconcile, a host held for a maintenance window sleeps until it opens
)

// CrashPoint is where a host crashes in a reconcile: after executing the first
// Executed actions (clamped to the Decision's), having persisted the new
// status or not. Persisted with any prefix is the documented protocol
// (persist, then execute); not persisted with a non-empty prefix is a host
// that executed before persisting.
type CrashPoint struct {
	Executed  int
	Persisted bool
}

// Event is one event of a scenario.
type Event struct {
	// At is the reconcile the event precedes (0 is the first).
	At int
	// Kind is what happens.
	Kind EventKind
	// Member is the member of pod, network and slow faults, and the hook of
	// HookFailure.
	Member string
	// N is the rate of Slow, the age of Stale, the reconciles of HostLag,
	// and for HookFailure 1 to fail, 0 to succeed.
	N int
	// Version is the version of BadVersion.
	Version string
	// Fault is the observation fault of Observe.
	Fault fake.ObservationFault
	// Request is the request of Request.
	Request RequestKind
	// Crash is the crash point of Crash.
	Crash CrashPoint
	// Phase, when not empty, makes the event wait: it happens before the
	// first reconcile at or after At whose persisted status is in this
	// upgrade phase ("Idle" for no upgrade), and not at all if none is.
	Phase string
}

// String renders the event on one line.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "@%d %s", e.At, e.Kind)
	switch e.Kind {
	case KillPod, Isolate, Heal:
		b.WriteString(" " + e.Member)
	case Slow, HookFailure:
		fmt.Fprintf(&b, " %s %d", e.Member, e.N)
	case Stale, HostLag, Sleep:
		fmt.Fprintf(&b, " %d", e.N)
	case BadVersion:
		b.WriteString(" " + e.Version)
	case Observe:
		fmt.Fprintf(&b, " %s %s %d", e.Fault.Kind, e.Fault.Member, e.Fault.TicksAgo)
	case Request:
		b.WriteString(" " + string(e.Request))
	case Crash:
		fmt.Fprintf(&b, " executed=%d persisted=%t", e.Crash.Executed, e.Crash.Persisted)
	}
	if e.Phase != "" {
		b.WriteString(" in " + e.Phase)
	}
	return b.String()
}

// Scenario is one deterministic run: a simulated cluster, a strategy, the
// status the host starts from, and the events of its first Steps
// reconciles. Faults then stop and the run must reach Idle (L1).
type Scenario struct {
	// Name identifies the scenario in reports.
	Name string
	// Cluster configures the simulated cluster (its Seed makes the run
	// reproducible).
	Cluster fake.Config
	// Strategy returns a fresh strategy with its spec (called once per run).
	Strategy func() Strategy
	// Status is the status the host starts from.
	Status upgrade.Status
	// Steps is how many reconciles (one per tick) run with events.
	Steps int
	// Events happen before the reconcile they name; events at or past Steps
	// are ignored. They need not be sorted.
	Events []Event
	// Bound is how many reconciles the run may take to reach Idle once
	// faults stop (L1); 0 means 3000.
	Bound int
	// Leader, when not empty, is made the leader before the run starts
	// (fake.Cluster.ElectLeader).
	Leader string
	// Log, when set, receives one line per reconcile and per event: a
	// readable timeline of the run.
	Log func(line string)
	// FastSteps skips the per-Step contract checks that call Step again or
	// copy its inputs (inputs not mutated, determinism, a decision unchanged
	// by a JSON round trip of the status, a waiting Step being a fixed
	// point), for enumerations that already
	// run them elsewhere and need the time.
	FastSteps bool
	// StopWhenDone ends the events (faults stop) once the first upgrade
	// ended, for runs that aim at one upgrade and would otherwise idle
	// until Steps.
	StopWhenDone bool
	// Each, when set, is called after the checks of every reconcile with
	// the observation, the status Step was given and its Decision: a hook
	// for a test's own per-Step rules (a non-nil error is reported as a
	// violation of rule "Each") and statistics.
	Each func(obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) error
}

// Result is what a run did and the first invariant it broke.
type Result struct {
	// Violation is the first broken invariant (nil when none).
	Violation *check.Violation
	// Steps counts Step calls, Ticks simulated ticks.
	Steps, Ticks int
	// Actions counts the actions of every reconcile, in order (what an
	// exhaustive enumeration of crash points needs).
	Actions []int
	// Outcomes are the results of the upgrades that ended, in order.
	Outcomes []upgrade.Outcome
	// Quiet is true when no fault that can take a voter down happened (the
	// per-tick history checks then applied).
	Quiet bool
	// Refused counts observations Step refused as stale.
	Refused int
	// Holds counts Decisions held by a pause or a maintenance window;
	// Sleeps counts the host's sleeps until a window opened.
	Holds, Sleeps int
	// Regressions counts Steps whose observation showed a leader older than
	// the version that had led (S8 then judged the Step).
	Regressions int
	// Status is the status the host persisted last.
	Status upgrade.Status
}

// run is the state of one Run.
type run struct {
	sc        Scenario
	c         *fake.Cluster
	strat     Strategy
	persisted upgrade.Status
	res       Result
	stale     bool // the next observation is stale (not checked against the truth)
	step      int
	// clean is true while nothing happened that makes the cluster refuse
	// an action for good reason: no cluster or observation fault, no bad
	// version, no host crash. A clean cluster accepts every action.
	clean bool
	// settled is set once the operator answered an idle cluster after
	// faults stopped: every upgrade that ends from then on succeeds.
	settled bool
	// memo is the per-Step contract's last JSON round trip.
	memo jsonMemo
}

// Run plays the scenario and checks, after every reconcile, the Decision
// against the observation it was made from and against the true cluster
// when that observation was fresh (check.Decision), the status transition
// (check.Transition), and that Step accepted the persisted status (whatever
// crash preceded it). Once the events are played, faults stop and the run
// must reach Idle within Bound reconciles (L1), with the strategy's
// operator answering what waits for a human; it must then stay idle, and
// the history must keep the Raft model's invariants (and, without faults,
// quorum and one voter down at a time: check.History). It is deterministic.
func Run(sc Scenario) Result {
	r := &run{sc: sc, c: fake.New(sc.Cluster), strat: sc.Strategy(), persisted: sc.Status, res: Result{Quiet: true},
		clean: len(sc.Cluster.BadVersions) == 0}
	defer func() { r.res.Status = r.persisted }()
	if sc.Leader != "" {
		if err := r.c.ElectLeader(sc.Leader); err != nil {
			r.res.Violation = &check.Violation{Rule: "Setup", Step: -1, Message: err.Error()}
			return r.res
		}
	}
	if err := r.play(); err != nil {
		r.res.Violation = err
	}
	return r.res
}

func (r *run) play() *check.Violation {
	var events, phased []Event
	for _, e := range r.sc.Events {
		if e.Phase != "" {
			phased = append(phased, e)
		} else {
			events = append(events, e)
		}
	}
	slices.SortStableFunc(events, func(a, b Event) int { return a.At - b.At })
	next := 0
	for r.step = 0; r.step < r.sc.Steps; r.step++ {
		var crash *CrashPoint
		lag, windowSleep := 0, false
		var due []Event
		for ; next < len(events) && events[next].At <= r.step; next++ {
			if events[next].At == r.step {
				due = append(due, events[next])
			}
		}
		for i := 0; i < len(phased); i++ {
			if e := phased[i]; e.At <= r.step && phaseName(r.persisted) == e.Phase {
				due = append(due, e)
				phased = slices.Delete(phased, i, i+1)
				i--
			}
		}
		for _, e := range due {
			switch e.Kind {
			case Crash:
				crash = &e.Crash
				r.clean = false
			case HostLag:
				lag = max(lag, e.N)
			case WindowSleep:
				windowSleep = true
			default:
				if err := r.event(e); err != nil {
					return err
				}
			}
			r.log("t=%d event %s", r.c.TickCount(), e)
		}
		if lag > 0 {
			for range lag {
				r.tick()
			}
			continue
		}
		d, err := r.reconcile(crash)
		if err != nil {
			return err
		}
		if windowSleep && r.sleepIfHeld(d) {
			continue
		}
		r.tick()
		if r.sc.StopWhenDone && len(r.res.Outcomes) > 0 && r.persisted.Upgrade == nil {
			break // the first upgrade ended: faults stop
		}
	}
	return r.settle()
}

func (r *run) log(format string, args ...any) {
	if r.sc.Log != nil {
		r.sc.Log(fmt.Sprintf(format, args...))
	}
}

func (r *run) tick() {
	r.c.Tick()
	r.res.Ticks++
}

// sleepIfHeld sleeps until the next window opens when d held for one
// without acting, as a host honouring RequeueAfter would, and reports
// whether it did.
func (r *run) sleepIfHeld(d upgrade.Decision) bool {
	if d.Gate == nil || d.Gate.Name != upgrade.GateMaintenanceWindow || len(d.Actions) > 0 || d.RequeueAfter <= 0 {
		return false
	}
	r.c.Sleep(d.RequeueAfter)
	r.res.Sleeps++
	r.log("t=%d host sleeps %s until the window opens", r.c.TickCount(), d.RequeueAfter)
	return true
}

// phaseName is the phase of a status, "Idle" without an upgrade.
func phaseName(st upgrade.Status) string {
	if st.Upgrade == nil {
		return "Idle"
	}
	return st.Upgrade.Phase
}

// event applies one fault or request.
func (r *run) event(e Event) *check.Violation {
	c := r.c
	switch e.Kind {
	case Request, Restart, Sleep:
	default:
		r.clean = false
	}
	switch e.Kind {
	case KillPod:
		if c.KillPod(e.Member) == nil {
			r.res.Quiet = false
		}
	case KillLeader:
		if c.KillLeader() == nil {
			r.res.Quiet = false
		}
	case MoveFails:
		c.FailNextLeaderMove()
	case Isolate:
		if c.Isolate(e.Member) == nil {
			r.res.Quiet = false
		}
	case Heal:
		_ = c.Heal(e.Member)
	case Slow:
		_ = c.SlowCatchUp(e.Member, uint64(max(e.N, 0)))
	case Stale:
		c.StaleNext(e.N)
		r.stale = true
	case BadVersion:
		c.SetBadVersion(e.Version, true)
		r.res.Quiet = false
	case HookFailure:
		c.SetHookFailure(e.Member, e.N > 0)
	case Observe:
		if c.FaultNextObservation(e.Fault) == nil && e.Fault.Kind == fake.FaultStaleCache {
			r.stale = true
		}
	case Request:
		r.strat.Request(e.Request, r.persisted)
	case Restart:
		r.persisted = roundTrip(r.persisted)
	case Sleep:
		c.Sleep(time.Duration(max(e.N, 0)) * time.Second)
	case HealAll:
		r.healAll()
	}
	return nil
}

// reconcile observes, steps, checks and executes one Decision, as a host
// following the protocol (persist, then execute) or crashing as told. It
// returns the Decision.
func (r *run) reconcile(crash *CrashPoint) (upgrade.Decision, *check.Violation) {
	fresh := !r.stale
	r.stale = false
	obs := r.c.Observe()
	prev := r.persisted
	var obsCopy *upgrade.Observation
	var prevCopy *upgrade.Status
	if !r.sc.FastSteps {
		obsCopy, prevCopy = obs.DeepCopy(), prev.DeepCopy()
	}
	d, err := r.strat.Step(obs, prev)
	r.res.Steps++
	r.res.Actions = append(r.res.Actions, len(d.Actions))
	at := r.res.Steps - 1
	if err != nil {
		return d, &check.Violation{Rule: "Step", Step: at, Message: "Step failed on its own persisted status: " + err.Error()}
	}
	fail := func(err error) *check.Violation {
		v := *err.(*check.Violation)
		v.Step = at
		v.Message += " [" + strings.ReplaceAll(upgrade.FormatActions(d.Actions), "\n", "; ") + "]"
		return &v
	}
	if !r.sc.FastSteps {
		if !reflect.DeepEqual(*obsCopy, obs) || !reflect.DeepEqual(*prevCopy, prev) {
			return d, fail(&check.Violation{Rule: "Pure", Message: "Step mutated its observation or status"})
		}
		if err := stepContract(r.strat, &r.memo, obs, prev, d); err != nil {
			return d, fail(err)
		}
	}
	if err := decisionRules(obs, d, r.strat.Options(obs)); err != nil {
		return d, fail(err)
	}
	if fresh && len(d.Actions) > 0 { // nothing to judge in an empty list
		truth := r.c.Truth()
		if err := decisionRules(truth, d, r.strat.Options(truth)); err != nil {
			v := fail(err)
			v.Message = "against the true cluster: " + v.Message
			return d, v
		}
	}
	if err := check.Transition(prev, d, r.strat.Ack(), obs, r.strat.Options(obs).CatchUp); err != nil {
		return d, fail(err)
	}
	if err := r.strat.Check(prev, d, obs); err != nil {
		return d, fail(err)
	}
	if d.Gate != nil && meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionProgressing) == nil {
		return d, fail(&check.Violation{Rule: "Gate", Message: fmt.Sprintf("gate %s/%s not surfaced in a Progressing condition", d.Gate.Name, d.Gate.Reason)})
	}
	if r.sc.Each != nil {
		if err := r.sc.Each(obs, prev, d); err != nil {
			return d, fail(&check.Violation{Rule: "Each", Message: err.Error()})
		}
	}
	if _, ok := upgrade.RegressedLeader(prev.Upgrade, &obs); ok {
		r.res.Regressions++
	}
	if d.Gate != nil && (d.Gate.Name == upgrade.GatePaused || d.Gate.Name == upgrade.GateMaintenanceWindow) {
		r.res.Holds++
	}
	if d.Gate != nil && d.Gate.Name == upgrade.GateStaleObservation {
		r.res.Refused++
	}
	if r.settled && prev.Upgrade != nil && d.Status.Upgrade == nil && d.Status.LastResult != nil &&
		d.Status.LastResult.Outcome != upgrade.OutcomeSucceeded {
		return d, fail(&check.Violation{Rule: "L1", Message: fmt.Sprintf("an upgrade started without faults ended %s: %s",
			d.Status.LastResult.Outcome, d.Status.LastResult.Message)})
	}
	if prev.Upgrade != nil && d.Status.Upgrade == nil && d.Status.LastResult != nil {
		r.res.Outcomes = append(r.res.Outcomes, d.Status.LastResult.Outcome)
	}
	if r.sc.Log != nil {
		phase, gate := "-", ""
		if u := d.Status.Upgrade; u != nil {
			phase = u.Phase
		}
		if d.Gate != nil {
			gate = " gate=" + string(d.Gate.Name) + "/" + string(d.Gate.Reason) + " " + d.Gate.Message
		}
		leader := "-"
		if l, ok := obs.Leader(); ok {
			leader = l.Name
		}
		r.log("t=%d step %d leader=%s phase=%s%s | %s", r.c.TickCount(), at, leader, phase, gate,
			strings.ReplaceAll(upgrade.FormatActions(d.Actions), "\n", " | "))
	}
	actions := d.Actions
	switch {
	case crash == nil:
		r.persisted = d.Status
	case crash.Persisted:
		r.persisted = roundTrip(d.Status)
		actions = actions[:min(max(crash.Executed, 0), len(actions))]
	default:
		r.persisted = roundTrip(r.persisted)
		actions = actions[:min(max(crash.Executed, 0), len(actions))]
	}
	if crash != nil {
		r.clean = false
	}
	// A refused action is the cluster's precondition at work (a UID that
	// changed, a leader that moved): the next Step sees the result. A clean
	// cluster (no fault, no crash, no bad version) refuses nothing.
	applied, err := r.c.Apply(actions)
	if err != nil && r.clean {
		return d, fail(&check.Violation{Rule: "Apply", Message: "a fault-free cluster refused an action: " + err.Error()})
	}
	// The service switches only to the workload holding the leader, in the
	// true cluster when Step saw it fresh.
	for _, a := range actions[:applied] {
		if sw, ok := a.(upgrade.SwitchService); ok && fresh {
			after := r.c.Truth()
			if l, ok := after.Leader(); !ok || l.Workload != sw.Workload {
				return d, fail(&check.Violation{Rule: "S4", Message: "service switched to " + sw.Workload + " without its leader"})
			}
		}
	}
	return d, nil
}
