package upgrade_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// allActions has one value of every Action type.
func allActions() []upgrade.Action {
	return []upgrade.Action{
		upgrade.AcquireLock{Holder: "u1"},
		upgrade.ReleaseLock{Holder: "u1"},
		upgrade.SetPartition{Workload: "raft", Partition: 2},
		upgrade.UpdateTemplate{Workload: "raft", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.TransferLeadership{From: "raft-0", To: "raft-1", FromID: "id-0", ToID: "id-1"},
		upgrade.StepDown{Member: "raft-0", ID: "id-0"},
		upgrade.DeletePod{Member: "raft-2", UID: "uid-2"},
		upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3},
		upgrade.DeleteRevision{Workload: "blue"},
		upgrade.JoinNonvoter{Member: "green-0", ID: "id-g0", Address: "green-0:8201"},
		upgrade.Promote{Member: "green-0", ID: "id-g0"},
		upgrade.Demote{Member: "blue-0", ID: "id-b0"},
		upgrade.RemovePeer{Member: "blue-0", ID: "id-b0"},
		upgrade.SwitchService{Service: "openbao", Workload: "green"},
		upgrade.TakeSnapshot{Name: "pre-upgrade", Reason: "before 2.4.0"},
		upgrade.RunHook{Hook: "smoke", Phase: "Verifying", Attempt: 2},
	}
}

func TestActionKinds(t *testing.T) {
	kinds := upgrade.AllKinds()
	if !slices.IsSorted(kinds) {
		t.Errorf("AllKinds() not sorted: %v", kinds)
	}
	if len(slices.Compact(slices.Clone(kinds))) != len(kinds) {
		t.Errorf("AllKinds() has duplicates: %v", kinds)
	}
	seen := map[upgrade.ActionKind]string{}
	for _, a := range allActions() {
		k := a.Kind()
		if prev, dup := seen[k]; dup {
			t.Errorf("kind %s used by %T and %s", k, a, prev)
		}
		seen[k] = a.String()
		if !slices.Contains(kinds, k) {
			t.Errorf("%T kind %s missing from AllKinds", a, k)
		}
		if k == "" || a.String() == "" {
			t.Errorf("%T: empty kind %q or String %q", a, k, a.String())
		}
	}
	if len(seen) != len(kinds) {
		t.Errorf("%d action types, %d kinds in AllKinds: %v", len(seen), len(kinds), kinds)
	}
}

func TestActionStrings(t *testing.T) {
	want := map[upgrade.ActionKind]string{
		upgrade.KindTransferLeadership: "transfer leadership from raft-0 to raft-1",
		upgrade.KindDeletePod:          "delete pod raft-2 (uid uid-2)",
		upgrade.KindSetPartition:       "set partition of raft to 2",
		upgrade.KindRunHook:            "run hook smoke for phase Verifying (attempt 2)",
	}
	for _, a := range allActions() {
		s := a.String()
		if w, ok := want[a.Kind()]; ok && s != w {
			t.Errorf("%T.String() = %q, want %q", a, s, w)
		}
		if strings.Contains(s, "\n") || strings.Contains(s, "%!") {
			t.Errorf("%T.String() = %q", a, s)
		}
	}
}

func TestFormatActions(t *testing.T) {
	if got := upgrade.FormatActions(nil); got != "" {
		t.Errorf("FormatActions(nil) = %q", got)
	}
	got := upgrade.FormatActions([]upgrade.Action{
		upgrade.AcquireLock{Holder: "u1"},
		upgrade.DeletePod{Member: "raft-2", UID: "uid-2"},
	})
	want := "AcquireLock: acquire operation lock for \"u1\"\nDeletePod: delete pod raft-2 (uid uid-2)"
	if got != want {
		t.Errorf("FormatActions = %q, want %q", got, want)
	}
	all := upgrade.FormatActions(allActions())
	lines := strings.Split(all, "\n")
	if len(lines) != len(allActions()) {
		t.Fatalf("FormatActions gave %d lines for %d actions", len(lines), len(allActions()))
	}
	for i, a := range allActions() {
		if lines[i] != string(a.Kind())+": "+a.String() {
			t.Errorf("line %d = %q", i, lines[i])
		}
	}
}

func TestIsDisruptive(t *testing.T) {
	safe := map[upgrade.ActionKind]bool{
		upgrade.KindAcquireLock: true, upgrade.KindReleaseLock: true, upgrade.KindTakeSnapshot: true,
		upgrade.KindRunHook: true,
	}
	for _, a := range allActions() {
		if got, want := upgrade.IsDisruptive(a), !safe[a.Kind()]; got != want {
			t.Errorf("IsDisruptive(%T) = %v, want %v", a, got, want)
		}
	}
	// Everything Safety.Check may refuse is disruptive: an action list of
	// only non-disruptive actions always passes, even with no failure
	// tolerance and no leader.
	obs := cluster(1, 0)
	obs.Raft.LeaderID = ""
	obs.Members[0].Raft.Leader = false
	var quiet []upgrade.Action
	for _, a := range allActions() {
		if !upgrade.IsDisruptive(a) {
			quiet = append(quiet, a)
		}
	}
	if err := (upgrade.Safety{}).Check(obs, quiet); err != nil {
		t.Errorf("non-disruptive actions refused: %v", err)
	}
}

func TestEventIsNotAnAction(t *testing.T) {
	var ev any = upgrade.Event{Type: upgrade.EventNormal, Reason: "Started", Message: "a"}
	if _, ok := ev.(upgrade.Action); ok {
		t.Fatal("Event implements Action: events must never be mixed into Decision.Actions")
	}
	if got, want := ev.(upgrade.Event).String(), "event Normal Started: a"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
