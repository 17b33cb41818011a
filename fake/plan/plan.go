// Package plan answers "what would an upgrade do right now?": it seeds the
// simulated cluster of package fake from an Observation of a real one
// (captured by any adapter, read from a file, or taken live), runs the
// chosen strategy to its target through the host loop of fake/host, and
// reports the gate that holds the upgrade today, the first decision, the
// predicted timeline, the order pods restart in and the leader changes.
//
// The prediction is only as good as the simulation: pod start-up, log
// replication and election timing come from fake.Config, not from the
// cluster, and what the observation leaves unknown is assumed (the
// report's Notes say what).
package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Options says which upgrade to plan.
type Options struct {
	// Strategy is upgrade.StrategyRolling (default) or
	// upgrade.StrategyBlueGreen.
	Strategy upgrade.Strategy
	// Rolling is the rolling spec (Strategy Rolling).
	Rolling rolling.Spec
	// BlueGreen is the blue-green spec (Strategy BlueGreen).
	BlueGreen bluegreen.Spec
	// Status is the persisted status (default: idle at the version the
	// workload runs).
	Status *upgrade.Status
	// Cluster tunes the simulation (seed, pod start-up ticks, replication
	// rate, election timeouts); what the observation says wins.
	Cluster fake.Config
	// MaxTicks bounds the simulation (default 3600 ticks).
	MaxTicks int
}

// Report is a plan.
type Report struct {
	// Notes are the assumptions made about what the observation left
	// unknown.
	Notes []string
	// Gate is what holds the upgrade today (the first Step's gate), nil
	// when it would act at once.
	Gate *upgrade.Gate
	// First are the actions the first Step would take.
	First []upgrade.Action
	// Timeline is the predicted run, one line per change of phase, gate or
	// leader (fake/host's timeline).
	Timeline string
	// Restarts are the pods the run recreates, in order.
	Restarts []string
	// Metrics are the run's availability figures: leader changes, ticks
	// without a leader or not writable.
	Metrics fake.Metrics
	// Ticks is how long the run took in simulated ticks (one second by
	// default).
	Ticks int
	// Status is the status the run ended with.
	Status upgrade.Status
}

// ErrNotFinished means the simulated run did not reach its target within
// MaxTicks (the report still holds the partial prediction).
var ErrNotFinished = errors.New("the planned upgrade did not finish")

// Run plans the upgrade of the cluster obs describes.
func Run(obs upgrade.Observation, o Options) (Report, error) {
	var rep Report
	c, notes, err := fake.FromObservation(obs, o.Cluster)
	if err != nil {
		return rep, fmt.Errorf("plan: %w", err)
	}
	rep.Notes = notes
	var step host.StepFunc
	switch o.Strategy {
	case "", upgrade.StrategyRolling:
		spec := o.Rolling
		step = func(ob upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(spec, ob, st)
		}
	case upgrade.StrategyBlueGreen:
		spec := o.BlueGreen
		step = func(ob upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return bluegreen.Step(spec, ob, st)
		}
	default:
		return rep, fmt.Errorf("plan: %w: unknown strategy %q", upgrade.ErrInvalidSpec, o.Strategy)
	}
	status := upgrade.Status{}
	if o.Status != nil {
		status = *o.Status.DeepCopy()
	} else if w, ok := obs.Workload(c.Config().Workload); ok {
		status = upgrade.Status{CurrentVersion: w.Version, CurrentImage: w.Image}
	}
	h := host.New(c, step, status)
	h.RoundTrip = true
	start := len(c.History())
	first := h.Reconcile()
	if first.StepErr != nil {
		return rep, fmt.Errorf("plan: %w", first.StepErr)
	}
	rep.Gate, rep.First = first.Gate, first.Actions
	max := o.MaxTicks
	if max <= 0 {
		max = 3600
	}
	target := o.Rolling.Version
	if o.Strategy == upgrade.StrategyBlueGreen {
		target = o.BlueGreen.Version
	}
	var runErr error
	e := first
	for rep.Ticks = 1; ; rep.Ticks++ {
		if e.StepErr != nil {
			runErr = e.StepErr
			break
		}
		// Done once idle at the target with nothing left to do; a gate
		// that holds an idle cluster (a member not ready yet) is waited
		// out, as the host would.
		if h.Status.Upgrade == nil && len(e.Actions) == 0 && h.Status.CurrentVersion == target {
			break
		}
		if rep.Ticks >= max {
			runErr = fmt.Errorf("%w within %d ticks", ErrNotFinished, max)
			break
		}
		c.Tick()
		e = h.Reconcile()
	}
	rep.Timeline = h.Timeline()
	hist := c.History()[start:]
	rep.Metrics = fake.Summarize(hist)
	for _, r := range hist {
		for _, ev := range r.Events {
			if name, ok := strings.CutPrefix(ev, "pod "); ok && strings.Contains(name, " created (") {
				rep.Restarts = append(rep.Restarts, name[:strings.Index(name, " ")])
			}
		}
	}
	rep.Status = h.Status
	if runErr != nil {
		return rep, fmt.Errorf("plan: %w", runErr)
	}
	return rep, nil
}

// String renders the report for people.
func (r Report) String() string {
	var b strings.Builder
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "assumed: %s\n", n)
	}
	if g := r.Gate; g != nil {
		fmt.Fprintf(&b, "held today by %s (%s): %s\n", g.Name, g.Reason, g.Message)
	} else {
		fmt.Fprintf(&b, "would act now: %s\n", strings.ReplaceAll(upgrade.FormatActions(r.First), "\n", "; "))
	}
	fmt.Fprintf(&b, "restart order: %s\n", strings.Join(r.Restarts, ", "))
	fmt.Fprintf(&b, "leader changes: %d, seconds without a leader: %d, not writable: %d\n",
		r.Metrics.LeaderChanges, r.Metrics.TicksWithoutLeader, r.Metrics.TicksNotWritable)
	fmt.Fprintf(&b, "duration: %d ticks\n", r.Ticks)
	if lr := r.Status.LastResult; lr != nil {
		fmt.Fprintf(&b, "outcome: %s %s -> %s\n", lr.Outcome, lr.FromVersion, lr.TargetVersion)
	}
	b.WriteString(r.Timeline)
	return b.String()
}
