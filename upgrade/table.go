package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/looplab/fsm"
)

// Transition is one edge of a strategy's transition table.
// +kubebuilder:object:generate=false
type Transition[P, E ~string] struct {
	From  P
	Event E
	To    P
}

// Table is a strategy's closed transition table. Step checks every edge it
// takes with Next (a linear scan over a few dozen entries, no allocation);
// looplab/fsm is built from the same table only on request (FSM), to
// validate it and to render diagrams.
// +kubebuilder:object:generate=false
type Table[P, E ~string] struct {
	// Initial is the phase a new machine starts in.
	Initial P
	// Terminal phases have no outgoing edges.
	Terminal []P
	// Transitions lists the legal edges.
	Transitions []Transition[P, E]
}

// Clone returns a copy of t sharing no memory with it.
func (t *Table[P, E]) Clone() Table[P, E] {
	return Table[P, E]{Initial: t.Initial, Terminal: slices.Clone(t.Terminal), Transitions: slices.Clone(t.Transitions)}
}

// Next returns the phase reached from from by event, or an error wrapping
// ErrIllegalTransition when the table has no such edge.
func (t *Table[P, E]) Next(from P, event E) (P, error) {
	for _, tr := range t.Transitions {
		if tr.From == from && tr.Event == event {
			return tr.To, nil
		}
	}
	var zero P
	return zero, fmt.Errorf("%w: no edge from %q on %q", ErrIllegalTransition, from, event)
}

// Phases returns every phase named by the table, sorted.
func (t *Table[P, E]) Phases() []P {
	seen := map[P]bool{t.Initial: true}
	for _, tr := range t.Transitions {
		seen[tr.From] = true
		seen[tr.To] = true
	}
	for _, p := range t.Terminal {
		seen[p] = true
	}
	out := make([]P, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// FSM builds a fresh looplab/fsm machine from the table, positioned at
// current. The machine has no callbacks; build one per goroutine (looplab/fsm
// is not safe for concurrent use).
func (t *Table[P, E]) FSM(current P) *fsm.FSM {
	byEvent := map[E][]string{}
	dst := map[E]map[string]string{}
	var order []E
	for _, tr := range t.Transitions {
		if _, ok := dst[tr.Event]; !ok {
			dst[tr.Event] = map[string]string{}
			order = append(order, tr.Event)
		}
		byEvent[tr.Event] = append(byEvent[tr.Event], string(tr.From))
		dst[tr.Event][string(tr.From)] = string(tr.To)
	}
	var events fsm.Events
	for _, e := range order {
		// looplab/fsm keys transitions by (event, src), so one EventDesc per
		// (event, destination) group.
		groups := map[string][]string{}
		var dsts []string
		for _, src := range byEvent[e] {
			d := dst[e][src]
			if _, ok := groups[d]; !ok {
				dsts = append(dsts, d)
			}
			groups[d] = append(groups[d], src)
		}
		for _, d := range dsts {
			events = append(events, fsm.EventDesc{Name: string(e), Src: groups[d], Dst: d})
		}
	}
	return fsm.NewFSM(string(current), events, nil)
}

// Validate checks the table: no duplicate (From, Event), every phase
// reachable from Initial, terminal phases without outgoing edges, and every
// non-terminal phase with at least one outgoing edge. It cross-checks Next
// against a looplab/fsm machine built from the same table.
func (t *Table[P, E]) Validate() error {
	var errs []string
	seen := map[[2]string]bool{}
	out := map[P]int{}
	for _, tr := range t.Transitions {
		k := [2]string{string(tr.From), string(tr.Event)}
		if seen[k] {
			errs = append(errs, fmt.Sprintf("duplicate edge from %q on %q", tr.From, tr.Event))
		}
		seen[k] = true
		out[tr.From]++
	}
	for _, p := range t.Terminal {
		if out[p] > 0 {
			errs = append(errs, fmt.Sprintf("terminal phase %q has outgoing edges", p))
		}
	}
	reach := map[P]bool{t.Initial: true}
	for changed := true; changed; {
		changed = false
		for _, tr := range t.Transitions {
			if reach[tr.From] && !reach[tr.To] {
				reach[tr.To] = true
				changed = true
			}
		}
	}
	for _, p := range t.Phases() {
		if !reach[p] {
			errs = append(errs, fmt.Sprintf("phase %q is unreachable from %q", p, t.Initial))
		}
		if out[p] == 0 && !slices.Contains(t.Terminal, p) {
			errs = append(errs, fmt.Sprintf("phase %q has no outgoing edge and is not terminal", p))
		}
	}
	for _, tr := range t.Transitions {
		m := t.FSM(tr.From)
		if !m.Can(string(tr.Event)) {
			errs = append(errs, fmt.Sprintf("fsm refuses %q from %q", tr.Event, tr.From))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("transition table: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Mermaid renders the table as a Mermaid state diagram, deterministically
// (edges in table order).
func (t *Table[P, E]) Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s\n", t.Initial)
	for _, tr := range t.Transitions {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", tr.From, tr.To, tr.Event)
	}
	for _, p := range t.Terminal {
		fmt.Fprintf(&b, "    %s --> [*]\n", p)
	}
	return b.String()
}
