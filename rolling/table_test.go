package rolling

import (
	"errors"
	"slices"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

func TestTableValidate(t *testing.T) {
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range table.Phases() {
		if p != PhaseIdle && !activePhase(p) {
			t.Errorf("phase %q is not known to Step", p)
		}
	}
}

func TestTableMermaidGolden(t *testing.T) {
	golden(t, "rolling.mmd", table.Mermaid())
}

func TestTableNext(t *testing.T) {
	if to, err := table.Next(PhaseIdle, EventStart); err != nil || to != PhaseLocking {
		t.Fatalf("Idle+Start = %q, %v", to, err)
	}
	if _, err := table.Next(PhaseIdle, EventCompleted); !errors.Is(err, upgrade.ErrIllegalTransition) {
		t.Fatalf("illegal edge accepted: %v", err)
	}
}

func TestFSM(t *testing.T) {
	m := FSM(PhaseRolling)
	if m.Current() != string(PhaseRolling) {
		t.Fatalf("current %q", m.Current())
	}
	for _, ev := range []Event{EventPodSelected, EventLeaderSelected, EventCompleted, EventTargetChanged} {
		if !m.Can(string(ev)) {
			t.Errorf("fsm refuses %s from Rolling", ev)
		}
	}
	if m.Can(string(EventStart)) {
		t.Error("fsm accepts Start from Rolling")
	}
	if FSM(PhaseIdle) == m {
		t.Error("FSM must return a fresh machine")
	}
}

func TestTableReturnsACopy(t *testing.T) {
	tb := Table()
	n := len(tb.Transitions)
	tb.Transitions[0].To = "Nowhere"
	tb.Transitions = tb.Transitions[:0]
	tb.Terminal = append(tb.Terminal[:0], "Nowhere")
	again := Table()
	if len(again.Transitions) != n || again.Transitions[0].To == "Nowhere" || slices.Contains(again.Terminal, "Nowhere") {
		t.Fatal("editing the returned table changed the strategy's table")
	}
}
