package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// StepFunc is a strategy's Step with its spec bound.
type StepFunc func(obs upgrade.Observation, status upgrade.Status) (upgrade.Decision, error)

// ErrNotIdle is returned by RunUntilIdle when the tick budget runs out.
var ErrNotIdle = errors.New("upgrade did not reach idle")

// Host drives Step against a fake cluster.
type Host struct {
	// Cluster is the simulated cluster.
	Cluster *fake.Cluster
	// Step is the strategy.
	Step StepFunc
	// Status is the persisted status.
	Status upgrade.Status
	// RoundTrip persists the status through JSON after every Step, as a CRD
	// status would be, so state that does not survive serialisation shows.
	RoundTrip bool
	// Persist, when set, is called with every new status before anything
	// is executed; an error keeps the previous status and executes nothing
	// (a failed or conflicting status write).
	Persist func(upgrade.Status) error
	// Entries records every reconcile.
	Entries []Entry
}

// Entry is the record of one reconcile.
type Entry struct {
	Tick     int
	Time     time.Time
	Leader   string
	Phase    string
	Gate     *upgrade.Gate
	Actions  []upgrade.Action
	Events   []upgrade.Event
	Applied  int
	StepErr  error
	ApplyErr error
	// RequeueAfter is the Decision's: when the host should call Step again
	// at the latest (a host held for a maintenance window may sleep until
	// then).
	RequeueAfter time.Duration
	// Observation is what Step was given.
	Observation upgrade.Observation `json:"-"`
}

// String renders the entry as one timeline line.
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%-4d leader=%-8s phase=%-22s", e.Tick, orDash(e.Leader), orDash(e.Phase))
	if e.Gate != nil {
		fmt.Fprintf(&b, " gate=%s/%s", e.Gate.Name, e.Gate.Reason)
	}
	for i, a := range e.Actions {
		if i < e.Applied || e.ApplyErr == nil {
			fmt.Fprintf(&b, " | %s", a)
		} else {
			fmt.Fprintf(&b, " | FAILED %s", a)
		}
	}
	for _, ev := range e.Events {
		fmt.Fprintf(&b, " | %s", ev)
	}
	if e.StepErr != nil {
		fmt.Fprintf(&b, " | step error: %v", e.StepErr)
	}
	if e.ApplyErr != nil {
		fmt.Fprintf(&b, " | apply error: %v", e.ApplyErr)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// New returns a host for c with the given strategy and initial status.
func New(c *fake.Cluster, step StepFunc, status upgrade.Status) *Host {
	return &Host{Cluster: c, Step: step, Status: status}
}

// Reconcile follows the host protocol: it observes the cluster, calls Step,
// persists the new status, executes the actions (stopping at the first
// failure) and then emits the events. It does not advance time. A Step error
// leaves the status unchanged and executes nothing; a failed persist (with
// RoundTrip) executes nothing either.
func (h *Host) Reconcile() Entry {
	obs := h.Cluster.Observe()
	e := Entry{Tick: h.Cluster.TickCount(), Time: obs.Now, Observation: obs}
	if l, ok := obs.Leader(); ok {
		e.Leader = l.Name
	}
	d, err := h.Step(obs, *h.Status.DeepCopy())
	if err != nil {
		e.StepErr = err
		h.Entries = append(h.Entries, e)
		return e
	}
	e.Gate, e.RequeueAfter = d.Gate, d.RequeueAfter
	if h.Persist != nil {
		if err := h.Persist(d.Status); err != nil {
			e.StepErr = fmt.Errorf("persist status: %w", err)
			h.Entries = append(h.Entries, e)
			return e
		}
	}
	e.Actions = d.Actions
	e.Events = d.Events
	if d.Status.Upgrade != nil {
		e.Phase = d.Status.Upgrade.Phase
	}
	h.Status = d.Status
	if h.RoundTrip {
		if err := h.Restart(); err != nil {
			e.StepErr = err
			h.Entries = append(h.Entries, e)
			return e
		}
	}
	e.Applied, e.ApplyErr = h.Cluster.Apply(d.Actions)
	h.Cluster.Emit(d.Events)
	h.Entries = append(h.Entries, e)
	return e
}

// Restart emulates a host crash and restart: only the status as persisted
// in JSON survives.
func (h *Host) Restart() error {
	raw, err := json.Marshal(h.Status)
	if err != nil {
		return fmt.Errorf("persist status: %w", err)
	}
	var st upgrade.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("load status: %w", err)
	}
	h.Status = st
	return nil
}

// RunUntilIdle reconciles and ticks until a reconcile leaves the status idle
// (no upgrade in progress) and emits no actions, or maxTicks pass. It
// returns the ticks used; a Step error stops the run.
func (h *Host) RunUntilIdle(maxTicks int) (int, error) {
	for i := 0; i < maxTicks; i++ {
		e := h.Reconcile()
		if e.StepErr != nil {
			return i, fmt.Errorf("tick %d: %w", e.Tick, e.StepErr)
		}
		if h.Status.Upgrade == nil && len(e.Actions) == 0 {
			return i, nil
		}
		h.Cluster.Tick()
	}
	return maxTicks, fmt.Errorf("%w after %d ticks", ErrNotIdle, maxTicks)
}

// Timeline renders every entry that acted or changed phase or gate, one per
// line; quiet repeats are folded.
func (h *Host) Timeline() string {
	var b strings.Builder
	var last string
	for _, e := range h.Entries {
		key := e.Phase + "|" + gateKey(e.Gate) + "|" + e.Leader
		if len(e.Actions) == 0 && len(e.Events) == 0 && e.StepErr == nil && key == last {
			continue
		}
		last = key
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func gateKey(g *upgrade.Gate) string {
	if g == nil {
		return ""
	}
	return string(g.Name) + "/" + string(g.Reason) + "/" + g.Member
}
