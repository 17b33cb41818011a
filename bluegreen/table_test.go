package bluegreen

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run go test ./bluegreen -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func TestTableValidate(t *testing.T) {
	if err := table.Validate(); err != nil {
		t.Fatal(err)
	}
	// Every phase constant is in the table and every table phase is a constant.
	consts := []Phase{PhaseIdle, PhaseDeployingGreen, PhaseJoiningMesh, PhaseSyncing, PhaseValidating, PhaseAwaitingPromotion,
		PhasePromoting, PhaseTransferringLeadership, PhaseDemotingBlue, PhaseStabilizing, PhaseCleanup, PhaseAborting,
		PhaseRestoringBlue, PhaseRollbackLeadership, PhaseDemotingGreen, PhaseRollbackCleanup, PhaseBreakGlass}
	phases := table.Phases()
	if len(phases) != len(consts) {
		t.Fatalf("table has %d phases, %d constants", len(phases), len(consts))
	}
	for _, p := range consts {
		if FSM(p).Current() != string(p) {
			t.Errorf("FSM(%s) starts elsewhere", p)
		}
	}
	// The fsm agrees with Next on every edge.
	for _, tr := range table.Transitions {
		m := FSM(tr.From)
		if err := m.Event(t.Context(), string(tr.Event)); err != nil {
			t.Errorf("fsm %s --%s-->: %v", tr.From, tr.Event, err)
		}
		if m.Current() != string(tr.To) {
			t.Errorf("fsm %s --%s--> %s, table says %s", tr.From, tr.Event, m.Current(), tr.To)
		}
	}
}

func TestIllegalTransition(t *testing.T) {
	if _, err := table.Next(PhaseIdle, EventPromote); !errors.Is(err, upgrade.ErrIllegalTransition) {
		t.Fatalf("Next(Idle, Promote) = %v", err)
	}
	// Cleanup (past the point of no return) has no rollback edge.
	if _, err := table.Next(PhaseCleanup, EventRollback); !errors.Is(err, upgrade.ErrIllegalTransition) {
		t.Fatalf("Next(Cleanup, Rollback) = %v", err)
	}
	// Break-glass only leaves by acknowledgement.
	for _, tr := range table.Transitions {
		if tr.From == PhaseBreakGlass && tr.Event != EventAcknowledged {
			t.Errorf("break-glass leaves on %s", tr.Event)
		}
	}
	// Step's own transition helper refuses edges outside the table.
	r := &run{}
	if err := r.to(EventPromote); !errors.Is(err, upgrade.ErrIllegalTransition) {
		t.Fatalf("run.to(Promote) from Idle = %v", err)
	}
}

func TestMermaidGolden(t *testing.T) {
	golden(t, "bluegreen.mmd", Mermaid())
}
