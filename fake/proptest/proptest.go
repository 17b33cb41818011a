// Package proptest property-tests any Step-shaped function against Raft
// safety with pgregory.net/rapid: it draws a simulated cluster (package
// fake), a schedule of pod, leader, network and observation faults, human
// requests and host crashes at every point, plays it with the host protocol
// (persist, then execute; a crash after any prefix of the actions, with the
// status persisted or not), and checks every invariant of package
// fake/check after every Step (S1–S8 against the observation and, when it
// was fresh, the true cluster, upgrade.Safety too, and the strategy's own
// rules: holds of pauses and maintenance windows, strict S5), the per-Step
// contract (inputs not mutated, determinism, decisions unchanged by a JSON
// round trip, waiting Steps are fixed points, gates surfaced in a
// condition, a fault-free cluster refusing no action) and, once faults
// stop, L1, an idle end state that stays idle, and the history (with the
// stricter rules of check.HistoryWith for runs without faults that take
// voters down). rapid shrinks a failure to a short schedule, printed as a
// readable timeline.
//
// Config's knobs draw what raftshift's own suites draw (cluster sizes and
// quirks, OnDelete ordering, crash-looping versions, failing hooks,
// adoption, where in a maintenance-window cycle the clock starts, quiet
// runs); DrawStrategy draws the spec's own knobs; Each and Report let a test
// add per-Step rules and collect statistics.
//
// It is the kit raftshift's own strategies are tested with, for operator
// authors who wrap rolling.Step or bluegreen.Step with their own spec
// defaults or host code:
//
//	func TestMyOperatorNeverLosesQuorum(t *testing.T) {
//		proptest.Run(t, proptest.Config{
//			Strategy: func(c proptest.Cluster) scenario.Strategy {
//				return scenario.Wrap(scenario.Rolling(myDefaults(c)), myHostDecorations)
//			},
//		})
//	}
package proptest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/scenario"
	"github.com/raftshift/raftshift/upgrade"
)

// Cluster is the drawn shape of the simulated cluster a strategy runs on.
type Cluster struct {
	// Replicas is the number of members (voters) the cluster starts with.
	Replicas int
	// TargetedTransfer is whether the simulated Raft supports targeted
	// leadership transfer (false: step-down only, as OpenBao).
	TargetedTransfer bool
	// OpenBao is whether the cluster behaves as OpenBao does: readiness
	// that needs Raft membership, autopilot promoting non-voters on its own
	// and suffrage changes applied at autopilot's next reconcile.
	OpenBao bool
}

// Config configures Run. Only Strategy is required.
type Config struct {
	// Strategy returns a fresh strategy (with its spec) for a drawn
	// cluster: scenario.Rolling, scenario.BlueGreen, or either wrapped
	// with scenario.Wrap around the host's own code. Required.
	Strategy func(c Cluster) scenario.Strategy
	// Replicas are the cluster sizes to draw from (default 3 and 5).
	Replicas []int
	// Targeted are the leadership capabilities to draw from (default both).
	Targeted []bool
	// OpenBao draws OpenBao-like clusters too (see Cluster.OpenBao).
	OpenBao bool
	// Events are the kinds of events to draw (default all of them: every
	// fault, request and host failure of package scenario).
	Events []scenario.EventKind
	// Requests are the requests to draw (default scenario.Requests()).
	Requests []scenario.RequestKind
	// MaxSteps bounds the reconciles with events (default 120).
	MaxSteps int
	// MaxEvents bounds the events of one schedule (default 12).
	MaxEvents int
	// Bound is how many reconciles L1 allows once faults stop (default
	// 3000, or BoundPerMember per member when that is set).
	Bound int
	// BoundPerMember adds this many reconciles to Bound per member of the
	// drawn cluster.
	BoundPerMember int
	// Members names the members events may hit (default the initial
	// members bao-0 .. bao-N-1; add the members a blue-green run creates to
	// hit them too: events on members that do not exist yet are ignored).
	Members func(c Cluster) []string
	// Status is the status the host starts from (default: empty, so the
	// strategy adopts the running version).
	Status upgrade.Status

	// DrawStrategy, when set, is used instead of Strategy: it draws the
	// spec's own knobs (maintenance windows, a pause, leader placement,
	// promotion modes, hooks) with t and returns the factory of fresh
	// strategies for the run (called once per play of the scenario).
	DrawStrategy func(t *rapid.T, c Cluster) func() scenario.Strategy
	// Adopt draws the start status: empty (the strategy adopts the running
	// version) or Status, defaulting to the known current version From.
	Adopt bool
	// Membership draws OpenBao's membership behaviours without autopilot
	// promoting non-voters: readiness that needs Raft membership and
	// suffrage changes applied at autopilot's next reconcile, each on its
	// own (OpenBao draws them too).
	Membership bool
	// Quirks draws the cluster quirks of real workloads: autopilot's
	// (fake.Config.AutopilotQuirks) and leadership handed off on shutdown
	// (fake.Config.HandoffOnShutdown).
	Quirks bool
	// OnDelete draws the workload's update strategy: partitioned rolling
	// updates or OnDelete (the strategy deletes pods itself).
	OnDelete bool
	// BadVersions are the versions the BadVersion events make crash-loop
	// (default To and Next); with StartBad one of them may crash-loop from
	// the start (one run in five).
	BadVersions []string
	// StartBad draws a version of BadVersions that crash-loops from the
	// start (one the cluster does not run yet).
	StartBad bool
	// HookFailures are hooks that may fail from the start (each in one run
	// in ten).
	HookFailures []string
	// Cycle, when positive, draws where in a cycle of maintenance windows
	// the cluster's clock starts: an offset in [0, Cycle).
	Cycle time.Duration
	// MaxSleep bounds the Sleep events (default 5 minutes).
	MaxSleep time.Duration
	// Quiet draws, in half the runs, a schedule without faults that take
	// voters down (kills, partitions, bad versions) or HealAll, so the quiet
	// history checks apply (check.HistoryWith).
	Quiet bool
	// Each is passed to every scenario (scenario.Scenario.Each): a test's
	// own per-Step rules and statistics.
	Each func(obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) error
	// Report, when set, is called with every scenario played and its
	// result (statistics).
	Report func(sc scenario.Scenario, res scenario.Result)
}

// quietKinds are the event kinds a quiet run draws from.
var quietKinds = map[scenario.EventKind]bool{
	scenario.Slow: true, scenario.Stale: true, scenario.Observe: true, scenario.Request: true, scenario.Crash: true,
	scenario.Restart: true, scenario.HostLag: true, scenario.HookFailure: true, scenario.Heal: true,
	scenario.Sleep: true, scenario.WindowSleep: true,
}

func (c *Config) defaults() {
	if len(c.Replicas) == 0 {
		c.Replicas = []int{3, 5}
	}
	if len(c.Targeted) == 0 {
		c.Targeted = []bool{true, false}
	}
	if len(c.Events) == 0 {
		c.Events = []scenario.EventKind{scenario.KillPod, scenario.KillLeader, scenario.MoveFails, scenario.Isolate, scenario.Heal,
			scenario.Slow, scenario.Stale, scenario.Observe, scenario.Request, scenario.Crash, scenario.Restart, scenario.HostLag}
	}
	if len(c.Requests) == 0 {
		c.Requests = scenario.Requests()
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 120
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 12
	}
	if len(c.BadVersions) == 0 {
		c.BadVersions = []string{scenario.To, scenario.Next}
	}
	if c.MaxSleep <= 0 {
		c.MaxSleep = 5 * time.Minute
	}
	if c.Members == nil {
		c.Members = func(cl Cluster) []string {
			out := make([]string, cl.Replicas)
			for i := range out {
				out[i] = fmt.Sprintf("bao-%d", i)
			}
			return out
		}
	}
}

// Run checks the property with rapid (the number of cases follows rapid's
// -rapid.checks flag): every drawn schedule keeps every invariant.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	rapid.Check(t, func(rt *rapid.T) { Check(rt, cfg) })
}

// Check is the body of the property, for callers that compose it with
// their own rapid checks: it draws one scenario, plays it and fails rt on
// the first broken invariant, with the run's timeline.
func Check(rt *rapid.T, cfg Config) {
	cfg.defaults()
	if cfg.Strategy == nil && cfg.DrawStrategy == nil {
		rt.Fatalf("proptest: Config.Strategy is required")
	}
	sc := Draw(rt, cfg)
	res := scenario.Run(sc)
	if cfg.Report != nil {
		cfg.Report(sc, res)
	}
	if res.Violation == nil {
		return
	}
	var timeline []string
	sc.Log = func(line string) { timeline = append(timeline, line) }
	scenario.Run(sc)
	if len(timeline) > 200 {
		timeline = append(timeline[:100], append([]string{"..."}, timeline[len(timeline)-100:]...)...)
	}
	rt.Fatalf("%s: %v\nevents: %v\ntimeline:\n%s", sc.Name, res.Violation, sc.Events, strings.Join(timeline, "\n"))
}

// Draw draws a scenario from rt: the cluster, the strategy, the start
// status and a schedule of events (which rapid shrinks event by event).
func Draw(rt *rapid.T, cfg Config) scenario.Scenario {
	cfg.defaults()
	cl := Cluster{
		Replicas:         rapid.SampledFrom(cfg.Replicas).Draw(rt, "replicas"),
		TargetedTransfer: rapid.SampledFrom(cfg.Targeted).Draw(rt, "targeted"),
	}
	if cfg.OpenBao {
		cl.OpenBao = rapid.Bool().Draw(rt, "openbao")
	}
	fc := fake.Config{Seed: rapid.Uint64().Draw(rt, "seed"), Replicas: cl.Replicas, TargetedTransfer: cl.TargetedTransfer,
		Version: scenario.From, Image: scenario.Image(scenario.From)}
	if cl.OpenBao || cfg.Membership {
		// each behaviour on its own
		if rapid.Bool().Draw(rt, "readyWhenMember") {
			fc.Readiness = fake.ReadyWhenMember
		}
		fc.MembershipDelayTicks = rapid.SampledFrom([]int{0, 10}).Draw(rt, "membershipDelayTicks")
	}
	if cl.OpenBao {
		fc.AutoPromoteTicks = rapid.SampledFrom([]int{0, 12}).Draw(rt, "autoPromoteTicks")
	}
	if cfg.Quirks {
		fc.AutopilotQuirks = rapid.Bool().Draw(rt, "autopilotQuirks")
		fc.HandoffOnShutdown = rapid.Bool().Draw(rt, "handoffOnShutdown")
	}
	if cfg.OnDelete && rapid.Bool().Draw(rt, "onDelete") {
		fc.UpdateStrategy = upgrade.UpdateOnDelete
	}
	if targets := slices.DeleteFunc(slices.Clone(cfg.BadVersions), func(v string) bool { return v == fc.Version }); cfg.StartBad &&
		len(targets) > 0 && rapid.IntRange(0, 4).Draw(rt, "startBad") == 0 {
		fc.BadVersions = []string{rapid.SampledFrom(targets).Draw(rt, "badVersion")}
	}
	for _, h := range cfg.HookFailures {
		if rapid.IntRange(0, 9).Draw(rt, "hookFails") == 0 {
			if fc.HookFailures == nil {
				fc.HookFailures = map[string]bool{}
			}
			fc.HookFailures[h] = true
		}
	}
	if cfg.Cycle > 0 {
		fc.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rapid.Int64Range(0, int64(cfg.Cycle/time.Second)-1).Draw(rt, "startSecond")) * time.Second)
	}
	status := cfg.Status
	if cfg.Adopt {
		if status.CurrentVersion == "" {
			status = upgrade.Status{CurrentVersion: scenario.From, CurrentImage: scenario.Image(scenario.From)}
		}
		if rapid.Bool().Draw(rt, "adopt") {
			status = upgrade.Status{}
		}
	}
	strategy := func() scenario.Strategy { return cfg.Strategy(cl) }
	if cfg.DrawStrategy != nil {
		strategy = cfg.DrawStrategy(rt, cl)
	}
	steps := rapid.IntRange(1, cfg.MaxSteps).Draw(rt, "steps")
	members := cfg.Members(cl)
	kinds := cfg.Events
	if cfg.Quiet && rapid.Bool().Draw(rt, "quiet") {
		kinds = nil
		for _, k := range cfg.Events {
			if quietKinds[k] {
				kinds = append(kinds, k)
			}
		}
	}
	var events []scenario.Event
	if len(kinds) > 0 {
		events = rapid.SliceOfN(eventGen(cfg, kinds, steps, members), 0, cfg.MaxEvents).Draw(rt, "events")
	}
	sc := scenario.Scenario{
		Name:     fmt.Sprintf("replicas=%d targeted=%t openbao=%t", cl.Replicas, cl.TargetedTransfer, cl.OpenBao),
		Cluster:  fc,
		Strategy: strategy,
		Status:   status,
		Steps:    steps,
		Events:   events,
		Bound:    cfg.Bound + cfg.BoundPerMember*cl.Replicas,
		Each:     cfg.Each,
	}
	if lead := rapid.IntRange(-1, cl.Replicas-1).Draw(rt, "leader"); lead >= 0 {
		sc.Leader = fmt.Sprintf("bao-%d", lead) // the simulator names the initial members bao-0 ..
	}
	return sc
}

// eventGen draws one event of the configured kinds.
func eventGen(cfg Config, kinds []scenario.EventKind, steps int, members []string) *rapid.Generator[scenario.Event] {
	return rapid.Custom(func(rt *rapid.T) scenario.Event {
		e := scenario.Event{At: rapid.IntRange(0, steps-1).Draw(rt, "at"), Kind: rapid.SampledFrom(kinds).Draw(rt, "kind")}
		member := func() string { return rapid.SampledFrom(members).Draw(rt, "member") }
		switch e.Kind {
		case scenario.KillPod, scenario.Isolate, scenario.Heal:
			e.Member = member()
		case scenario.Slow:
			e.Member, e.N = member(), rapid.IntRange(0, 50).Draw(rt, "rate")
		case scenario.Stale:
			e.N = rapid.IntRange(1, 10).Draw(rt, "age")
		case scenario.HostLag:
			e.N = rapid.IntRange(1, 5).Draw(rt, "lag")
		case scenario.BadVersion:
			e.Version = rapid.SampledFrom(cfg.BadVersions).Draw(rt, "version")
		case scenario.Sleep:
			e.N = rapid.IntRange(1, int(cfg.MaxSleep/time.Second)).Draw(rt, "seconds")
		case scenario.HookFailure:
			e.Member, e.N = rapid.SampledFrom([]string{"pre", "post"}).Draw(rt, "hook"), rapid.IntRange(0, 1).Draw(rt, "fail")
		case scenario.Observe:
			kinds := fake.ObservationFaultKinds()
			e.Fault = fake.ObservationFault{Kind: rapid.SampledFrom(kinds).Draw(rt, "fault"), TicksAgo: rapid.IntRange(1, 8).Draw(rt, "ticksAgo")}
			if rapid.Bool().Draw(rt, "faultMember") {
				e.Fault.Member = member()
			}
		case scenario.Request:
			e.Request = rapid.SampledFrom(cfg.Requests).Draw(rt, "request")
		case scenario.Crash:
			e.Crash = scenario.CrashPoint{Executed: rapid.IntRange(0, 4).Draw(rt, "executed"), Persisted: rapid.Bool().Draw(rt, "persisted")}
		}
		return e
	})
}
