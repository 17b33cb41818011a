package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kadapter "github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

// stepFunc is a strategy's Step with its spec bound.
type stepFunc func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error)

// executed is one action the host carried out.
type executed struct {
	// Step is the host iteration that issued it.
	Step int
	// Phase is the upgrade phase of the Decision that issued it.
	Phase string
	// Mark is the number of pod events recorded before it ran: every pod
	// event it caused has a sequence number >= Mark.
	Mark int
	// At is when it ran.
	At time.Time
	// Leader is the simulated Raft leader when it ran.
	Leader string
	Action upgrade.Action
	Err    error
}

func (e executed) String() string {
	s := fmt.Sprintf("step %3d %-24s mark #%-3d leader %-12s %s", e.Step, e.Phase, e.Mark, e.Leader, e.Action)
	if e.Err != nil {
		s += " -> error: " + e.Err.Error()
	}
	return s
}

func formatExecuted(xs []executed) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func phaseOf(st upgrade.Status) string {
	if st.Upgrade == nil {
		return "Idle"
	}
	return st.Upgrade.Phase
}

// host drives a strategy against the real control plane the way an operator
// would: observe with the Kubernetes adapter's Observer, add the simulated
// Raft view, Step, carry the actions out with the adapter's Executor (Raft
// actions routed to the simulated Raft) stopping at the first failure,
// persist the status through JSON, repeat.
type host struct {
	t      *testing.T
	rs     *cluster.RaftSet
	obs    *kadapter.Observer
	exec   kadapter.CompositeExecutor
	poll   time.Duration
	steps  int
	log    []executed
	phases []string

	// crashEvery > 0 makes every crashEvery-th Decision that carries
	// actions end in a simulated host crash: only a prefix of its actions
	// runs, and on alternate crashes the new status is lost (the crash
	// came before persisting) or kept (it came after persisting, before
	// the remaining actions). The next Step starts from what was
	// persisted and a fresh observation, as after a restart.
	crashEvery int
	decisions  int
	crashes    []string

	// expected names the action failures the test expects (none by
	// default): run fails the test at the first failure no expectation
	// matches, checkFailures when a count differs.
	expected []expectedFailure
}

// expectedFailure names failures a test expects: exactly Count failed
// actions of kind Kind whose error wraps Is (nil: any error).
type expectedFailure struct {
	Kind  upgrade.ActionKind
	Is    error
	Count int
}

func (f expectedFailure) matches(x executed) bool {
	return x.Err != nil && x.Action.Kind() == f.Kind && (f.Is == nil || errors.Is(x.Err, f.Is))
}

// unexpected returns the failed actions of the log no expectation names.
func (h *host) unexpected() []executed {
	var out []executed
	for _, x := range h.log {
		if x.Err != nil && !slices.ContainsFunc(h.expected, func(f expectedFailure) bool { return f.matches(x) }) {
			out = append(out, x)
		}
	}
	return out
}

// checkFailures asserts that the failed actions are exactly the expected
// ones: none unless the test named some, each expectation met exactly.
func (h *host) checkFailures(t *testing.T) {
	t.Helper()
	for _, x := range h.unexpected() {
		t.Errorf("failed action: %s", x)
	}
	for _, f := range h.expected {
		n := 0
		for _, x := range h.log {
			if f.matches(x) {
				n++
			}
		}
		if n != f.Count {
			t.Errorf("%d failed %s actions (error %v), want exactly %d", n, f.Kind, f.Is, f.Count)
		}
	}
}

func newHost(t *testing.T, rs *cluster.RaftSet) *host {
	cfg := kadapter.Config{
		Namespace:    rs.Namespace,
		Selector:     map[string]string{cluster.LabelApp: rs.Spec.Name},
		ServiceName:  rs.Spec.Name,
		Container:    cluster.ContainerName,
		VersionLabel: cluster.LabelVersion,
	}
	return &host{
		t:    t,
		rs:   rs,
		obs:  &kadapter.Observer{Reader: rs.CP.Runtime, Config: cfg},
		exec: kadapter.CompositeExecutor{Kubernetes: &kadapter.Executor{Client: rs.CP.Runtime, Config: cfg}, Raft: rs.Raft},
		poll: 100 * time.Millisecond,
	}
}

// observe builds an observation: Kubernetes objects through the adapter,
// Raft from the simulation.
func (h *host) observe(ctx context.Context) (upgrade.Observation, error) {
	obs, err := h.obs.Observe(ctx)
	if err != nil {
		return obs, err
	}
	h.rs.Raft.Fill(&obs)
	return obs, nil
}

// run steps until done(status) holds and a Step decides nothing more, or
// the timeout, and returns the final status. A Step error fails the test at once: Step refuses its own unsafe
// decisions with an error, so any error is a finding.
func (h *host) run(ctx context.Context, step stepFunc, st upgrade.Status, done func(upgrade.Status) bool, timeout time.Duration) upgrade.Status {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if time.Now().After(deadline) {
			h.t.Fatalf("no completion within %s; phase %s, gate %v\nactions:\n%s\nraft:\n%s", timeout, phaseOf(st),
				conditions(st), formatExecuted(h.log), h.rs.Raft.FormatHistory())
		}
		obs, err := h.observe(ctx)
		if err != nil {
			h.t.Fatalf("observe: %v", err)
		}
		d, err := step(obs, st)
		if err != nil {
			h.t.Fatalf("step %d in phase %s: %v\nactions so far:\n%s", h.steps, phaseOf(st), err, formatExecuted(h.log))
		}
		phase := phaseOf(d.Status)
		if n := len(h.phases); n == 0 || h.phases[n-1] != phase {
			h.phases = append(h.phases, phase)
		}
		actions, keep := d.Actions, true
		if len(actions) > 0 {
			h.decisions++
			if h.crashEvery > 0 && h.decisions%h.crashEvery == 0 {
				n := h.decisions / h.crashEvery
				actions = actions[:n%(len(actions)+1)]
				keep = n%2 == 0
				h.crashes = append(h.crashes, fmt.Sprintf("step %d (%s): crash after %d of %d actions, status %s",
					h.steps, phase, len(actions), len(d.Actions), map[bool]string{true: "persisted", false: "lost"}[keep]))
			}
		}
		// The host protocol: persist the status (through JSON, as a CRD
		// status would be), then execute the actions.
		if keep {
			st = h.persist(d.Status)
		}
		for _, a := range actions {
			x := executed{Step: h.steps, Phase: phase, Mark: h.rs.Recorder.Mark(), At: time.Now(), Leader: h.rs.Raft.Leader(), Action: a}
			x.Err = h.exec.Execute(ctx, &obs, a)
			h.log = append(h.log, x)
			if x.Err != nil {
				if u := h.unexpected(); len(u) > 0 {
					h.t.Fatalf("failed action no expectation names: %s\nactions:\n%s\nraft:\n%s", u[0], formatExecuted(h.log), h.rs.Raft.FormatHistory())
				}
				break // re-observe, as a host stops at the first failure
			}
		}
		h.steps++
		// Done once the persisted status says so and a Step decided nothing
		// more: a host keeps reconciling, so a lock left held by a crash in
		// the final decision is released by the next idle Step.
		if done(st) && len(d.Actions) == 0 {
			return st
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("context done: %v", ctx.Err())
		case <-time.After(h.poll):
		}
	}
}

// persist round-trips a status through JSON, as a host storing it in a
// custom resource's status does.
func (h *host) persist(st upgrade.Status) upgrade.Status {
	h.t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		h.t.Fatalf("marshal status: %v", err)
	}
	var out upgrade.Status
	if err := json.Unmarshal(b, &out); err != nil {
		h.t.Fatalf("unmarshal status: %v", err)
	}
	return out
}

func conditions(st upgrade.Status) string {
	var parts []string
	for _, c := range st.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}
