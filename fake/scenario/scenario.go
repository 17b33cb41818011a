package scenario

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

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
	case Stale, HostLag:
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
	// FastSteps skips the per-Step contract checks that call Step again
	// (determinism, a decision unchanged by a JSON round trip of the status,
	// a waiting Step being a fixed point), for enumerations that already
	// run them elsewhere and need the time.
	FastSteps bool
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
	r := &run{sc: sc, c: fake.New(sc.Cluster), strat: sc.Strategy(), persisted: sc.Status, res: Result{Quiet: true}}
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
	events := slices.Clone(r.sc.Events)
	slices.SortStableFunc(events, func(a, b Event) int { return a.At - b.At })
	next := 0
	for r.step = 0; r.step < r.sc.Steps; r.step++ {
		var crash *CrashPoint
		lag := 0
		for ; next < len(events) && events[next].At <= r.step; next++ {
			e := events[next]
			if e.At < r.step {
				continue
			}
			switch e.Kind {
			case Crash:
				crash = &e.Crash
			case HostLag:
				lag = max(lag, e.N)
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
		_, err := r.reconcile(crash)
		if err != nil {
			return err
		}
		r.tick()
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

// event applies one fault or request.
func (r *run) event(e Event) *check.Violation {
	c := r.c
	switch e.Kind {
	case KillPod:
		if c.KillPod(e.Member) == nil {
			r.res.Quiet = false
		}
	case KillLeader:
		if c.KillLeader() == nil {
			r.res.Quiet = false
		}
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
		if err := stepContract(r.strat, obs, prev, d); err != nil {
			return d, fail(err)
		}
	}
	if err := check.Decision(obs, d.Actions, r.strat.Options(obs)); err != nil {
		return d, fail(err)
	}
	if fresh && check.Judged(d.Actions) {
		truth := r.c.Truth()
		if err := check.Decision(truth, d.Actions, r.strat.Options(truth)); err != nil {
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
	if d.Gate != nil && d.Gate.Name == upgrade.GateStaleObservation {
		r.res.Refused++
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
	// A refused action is the cluster's precondition at work (a UID that
	// changed, a leader that moved): the next Step sees the result.
	_, _ = r.c.Apply(actions)
	return d, nil
}

// settle stops every fault and drives the run to Idle (L1), then checks it
// stays idle and the history.
func (r *run) settle() *check.Violation {
	c := r.c
	c.HealAll()
	cfg := c.Config()
	for _, v := range cfg.BadVersions {
		c.SetBadVersion(v, false)
	}
	for h := range cfg.HookFailures {
		c.SetHookFailure(h, false)
	}
	r.stale = false
	bound := r.sc.Bound
	if bound <= 0 {
		bound = 3000
	}
	// An idle host may start another upgrade (the operator answered a
	// refusal by changing the spec); each must finish within the bound.
	for round := 0; round < 3; round++ {
		held, err := r.toIdle(bound)
		if err != nil {
			return err
		}
		if held {
			// Stuck for a human, as S8 wants: only the history is left to check.
			if err := check.History(c.History(), r.res.Quiet); err != nil {
				return err.(*check.Violation)
			}
			return nil
		}
		acted := false
		for range 20 { // idle stays idle: killed pods come back, nothing is decided
			r.tick()
			d, err := r.reconcile(nil)
			if err != nil {
				return err
			}
			if len(d.Actions) > 0 || r.persisted.Upgrade != nil {
				acted = true
				r.tick()
				break
			}
		}
		if !acted {
			if err := check.History(c.History(), r.res.Quiet); err != nil {
				return err.(*check.Violation)
			}
			return nil
		}
	}
	return &check.Violation{Rule: "L1", Step: r.res.Steps, Message: "the idle cluster kept starting upgrades"}
}

// toIdle reconciles until the status is idle and a Step emits nothing, or
// until the upgrade holds for a human where S8 forbids going on (held).
func (r *run) toIdle(bound int) (held bool, _ *check.Violation) {
	for range bound {
		d, err := r.reconcile(nil)
		if err != nil {
			return false, err
		}
		if r.persisted.Upgrade == nil && len(d.Actions) == 0 {
			return false, nil
		}
		if !r.strat.Operate(r.persisted, d) && r.failbackHold(d) {
			return true, nil
		}
		r.tick()
	}
	phase := ""
	if u := r.persisted.Upgrade; u != nil {
		phase = u.Phase
	}
	return false, &check.Violation{Rule: "L1", Step: r.res.Steps,
		Message: fmt.Sprintf("not idle %d reconciles after faults stopped (phase %q)", bound, phase)}
}

// failbackHold reports whether d holds for a human because of S8 and no
// operator answer exists: partition ordering must restart a leader that only
// an older voter could replace (a leader on an intermediate target after a
// retarget, the others older still), and the spec already targets the
// version that led. Failing back is what S8 forbids, so the run ends there;
// the hold is checked to be genuine.
func (r *run) failbackHold(d upgrade.Decision) bool {
	u := r.persisted.Upgrade
	if u == nil || u.Rolling == nil || d.Gate == nil || d.Gate.Reason != upgrade.ReasonMoveFailsBack ||
		u.Rolling.Ordering != "Partition" {
		return false
	}
	obs := r.c.Truth()
	l, ok := obs.Leader()
	return ok && !upgrade.StepDownAllowed(&obs, l)
}

// roundTrip persists a status through JSON, as a CRD status would be.
func roundTrip(st upgrade.Status) upgrade.Status {
	raw, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("scenario: status does not marshal: %v", err))
	}
	var out upgrade.Status
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(fmt.Sprintf("scenario: status does not unmarshal: %v", err))
	}
	return out
}

// stepContract checks what every Step owes its host, by calling it again:
// the same inputs decide the same (Step is a pure function), a status that
// went through JSON (a host that restarted) decides the same actions and
// phase, and a Step that only waits (no actions, no events, a gate) is a
// fixed point, so a host never writes a status while nothing changes.
func stepContract(s Strategy, obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) error {
	again, err := s.Step(obs, prev)
	if err != nil || !reflect.DeepEqual(again, d) {
		return &check.Violation{Rule: "Determinism", Message: fmt.Sprintf("Step decided differently on the same inputs (err %v)", err)}
	}
	rt, err := s.Step(obs, roundTrip(prev))
	if err != nil || upgrade.FormatActions(rt.Actions) != upgrade.FormatActions(d.Actions) || phaseOf(rt.Status) != phaseOf(d.Status) {
		return &check.Violation{Rule: "RoundTrip", Message: fmt.Sprintf("Step decided differently after the status went through JSON (err %v)", err)}
	}
	if len(d.Actions) == 0 && len(d.Events) == 0 && d.Gate != nil {
		fixed, err := s.Step(obs, d.Status)
		a, _ := json.Marshal(d.Status)
		b, _ := json.Marshal(fixed.Status)
		if err != nil || len(fixed.Actions) != 0 || string(a) != string(b) {
			return &check.Violation{Rule: "FixedPoint", Message: fmt.Sprintf("a waiting Step is not a fixed point (err %v)", err)}
		}
	}
	return nil
}

func phaseOf(st upgrade.Status) string {
	if st.Upgrade == nil {
		return ""
	}
	return st.Upgrade.Phase
}
