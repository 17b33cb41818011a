package upgrade_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

type phase string
type event string

const (
	idle     phase = "Idle"
	running  phase = "Running"
	verify   phase = "Verifying"
	done     phase = "Done"
	failed   phase = "Failed"
	orphan   phase = "Orphan"
	stuck    phase = "Stuck"
	evStart  event = "Start"
	evCheck  event = "Check"
	evPass   event = "Pass"
	evFail   event = "Fail"
	evRetry  event = "Retry"
	evAbort  event = "Abort"
	evFinish event = "Finish"
)

func testTable() *upgrade.Table[phase, event] {
	return &upgrade.Table[phase, event]{
		Initial:  idle,
		Terminal: []phase{done},
		Transitions: []upgrade.Transition[phase, event]{
			{From: idle, Event: evStart, To: running},
			{From: running, Event: evCheck, To: verify},
			{From: verify, Event: evPass, To: idle},
			{From: verify, Event: evFinish, To: done},
			{From: running, Event: evFail, To: failed},
			{From: verify, Event: evFail, To: failed},
			{From: failed, Event: evRetry, To: running},
			{From: failed, Event: evAbort, To: done},
		},
	}
}

func TestTableNext(t *testing.T) {
	tab := testTable()
	for _, tr := range tab.Transitions {
		got, err := tab.Next(tr.From, tr.Event)
		if err != nil || got != tr.To {
			t.Errorf("Next(%s, %s) = %q, %v; want %s", tr.From, tr.Event, got, err, tr.To)
		}
	}
	illegal := []struct {
		from phase
		ev   event
	}{{idle, evFinish}, {done, evStart}, {running, evPass}, {"Nowhere", evStart}, {failed, ""}}
	for _, tt := range illegal {
		got, err := tab.Next(tt.from, tt.ev)
		if !errors.Is(err, upgrade.ErrIllegalTransition) {
			t.Errorf("Next(%s, %s) = %q, %v; want ErrIllegalTransition", tt.from, tt.ev, got, err)
		}
		if got != "" {
			t.Errorf("Next(%s, %s) returned phase %q with the error", tt.from, tt.ev, got)
		}
		if !strings.Contains(err.Error(), string(tt.from)) {
			t.Errorf("error %q does not name the phase", err)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = tab.Next(failed, evAbort) }); allocs != 0 {
		t.Errorf("legal Next allocates %.0f times", allocs)
	}
}

func TestTablePhases(t *testing.T) {
	want := []phase{done, failed, idle, running, verify}
	if got := testTable().Phases(); !slices.Equal(got, want) {
		t.Errorf("Phases() = %v, want %v", got, want)
	}
}

func TestTableValidate(t *testing.T) {
	if err := testTable().Validate(); err != nil {
		t.Fatalf("valid table: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*upgrade.Table[phase, event])
		want []string
	}{
		{"duplicate edge", func(tab *upgrade.Table[phase, event]) {
			tab.Transitions = append(tab.Transitions, upgrade.Transition[phase, event]{From: running, Event: evCheck, To: failed})
		}, []string{`duplicate edge from "Running" on "Check"`}},
		{"duplicate identical edge", func(tab *upgrade.Table[phase, event]) {
			tab.Transitions = append(tab.Transitions, tab.Transitions[0])
		}, []string{`duplicate edge from "Idle" on "Start"`}},
		{"unreachable phase", func(tab *upgrade.Table[phase, event]) {
			tab.Transitions = append(tab.Transitions, upgrade.Transition[phase, event]{From: orphan, Event: evStart, To: running})
		}, []string{`phase "Orphan" is unreachable from "Idle"`}},
		{"unreachable terminal", func(tab *upgrade.Table[phase, event]) {
			tab.Terminal = append(tab.Terminal, orphan)
		}, []string{`phase "Orphan" is unreachable from "Idle"`}},
		{"terminal with outgoing edge", func(tab *upgrade.Table[phase, event]) {
			tab.Transitions = append(tab.Transitions, upgrade.Transition[phase, event]{From: done, Event: evRetry, To: running})
		}, []string{`terminal phase "Done" has outgoing edges`}},
		{"dead-end non-terminal", func(tab *upgrade.Table[phase, event]) {
			tab.Transitions = append(tab.Transitions, upgrade.Transition[phase, event]{From: running, Event: evAbort, To: stuck})
		}, []string{`phase "Stuck" has no outgoing edge and is not terminal`}},
		{"several problems reported together", func(tab *upgrade.Table[phase, event]) {
			tab.Transitions = append(tab.Transitions,
				upgrade.Transition[phase, event]{From: done, Event: evRetry, To: running},
				upgrade.Transition[phase, event]{From: orphan, Event: evAbort, To: stuck})
		}, []string{`terminal phase "Done"`, `"Orphan" is unreachable`, `"Stuck" is unreachable`, `"Stuck" has no outgoing edge`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := testTable()
			tt.mod(tab)
			err := tab.Validate()
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, missing %q", err, w)
				}
			}
		})
	}
}

func TestTableFSM(t *testing.T) {
	tab := testTable()
	for _, p := range tab.Phases() {
		m := tab.FSM(p)
		if m.Current() != string(p) {
			t.Errorf("FSM(%s).Current() = %s", p, m.Current())
		}
		for _, ev := range []event{evStart, evCheck, evPass, evFail, evRetry, evAbort, evFinish} {
			_, err := tab.Next(p, ev)
			if got := m.Can(string(ev)); got != (err == nil) {
				t.Errorf("FSM(%s).Can(%s) = %v, Next error = %v", p, ev, got, err)
			}
		}
	}
	// Each FSM is fresh: moving one does not move another.
	a, b := tab.FSM(failed), tab.FSM(failed)
	if err := a.Event(t.Context(), string(evRetry)); err != nil {
		t.Fatal(err)
	}
	if a.Current() != string(running) || b.Current() != string(failed) {
		t.Errorf("after Retry: a = %s, b = %s", a.Current(), b.Current())
	}
}

func TestTableMermaidGolden(t *testing.T) {
	got := testTable().Mermaid()
	if got != testTable().Mermaid() {
		t.Fatal("Mermaid() is not deterministic")
	}
	path := filepath.Join("testdata", "table.mermaid.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestTableMermaidGolden -update)", err)
	}
	if got != string(want) {
		t.Errorf("Mermaid() differs from %s (run with -update to accept):\n%s", path, got)
	}
}
