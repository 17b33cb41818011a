package harness

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/rolling"
)

// checkSafe fails the test on what must hold whatever the machine's
// load: the upgrade completed, no acknowledged write was lost, no read
// broke linearizability, and every member was restarted exactly once, at
// the target version.
func checkSafe(t *testing.T, rep Report, err error) {
	t.Helper()
	t.Logf("\n%s", FormatTable([]Report{rep}))
	t.Logf("leaders %s; restarts %s; predicted %s (%d leader changes, %d observations) %s", strings.Join(rep.Leaders, " -> "),
		strings.Join(rep.Restarts, ","), strings.Join(rep.PredictedRestarts, ","), rep.PredictedLeaderChanges, rep.PlanAttempts, rep.PlanError)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(rep.Timeline, "\n"))
	}
	if !rep.Completed || rep.Outcome != "Succeeded" {
		t.Errorf("completed %t, outcome %q", rep.Completed, rep.Outcome)
	}
	if rep.WritesLost != 0 || rep.WritesAcked == 0 {
		t.Errorf("%d of %d acknowledged writes lost", rep.WritesLost, rep.WritesAcked)
	}
	if len(rep.Violations) > 0 {
		t.Errorf("%d linearizability violations, first: %s", len(rep.Violations), rep.Violations[0])
	}
	if len(rep.LeaderDeletes) > 0 {
		t.Errorf("pods deleted while their member led: %v", rep.LeaderDeletes)
	}
	if rep.Reads == 0 {
		t.Error("no read succeeded")
	}
	sorted := slices.Sorted(slices.Values(rep.Restarts))
	if want := []string{"etcd-0", "etcd-1", "etcd-2"}; !slices.Equal(sorted, want) {
		t.Errorf("restarted %v, want each of %v once", rep.Restarts, want)
	}
	for _, m := range rep.FinalMembers {
		if !strings.HasSuffix(m, " 3.7.3") {
			t.Errorf("final member %s is not at 3.7.3", m)
		}
	}
}

// TestShortOnDelete is the CI run: a rolling OnDelete upgrade of a real
// 3-member etcd cluster under load with etcd-1 leading at the start. The
// strategy restarts the followers, highest ordinal first, moves leadership
// once with MoveLeader, then restarts the old leader; fake/plan, seeded
// from the observation taken just before, predicts that order and that one
// move. Timings are logged, not asserted.
func TestShortOnDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real etcd cluster")
	}
	rep, err := Run(t.Context(), Scenario{Strategy: Rolling, Ordering: rolling.OrderingOnDelete, Members: 3, Dir: t.TempDir(),
		StartDelay: 200 * time.Millisecond, Leader: "etcd-1", NoFsync: true})
	checkSafe(t, rep, err)
	if rep.LeaderChanges != rep.LeadershipMoves {
		// An election the strategy did not ask for (a leader starved of
		// CPU on a loaded machine loses its quorum's heartbeats): the
		// order then follows the new leader, and only the invariants above
		// are judged.
		t.Logf("%d leader changes for %d requested moves: an election under load; the order is not judged", rep.LeaderChanges, rep.LeadershipMoves)
		return
	}
	if want := []string{"etcd-2", "etcd-0", "etcd-1"}; !slices.Equal(rep.Restarts, want) {
		t.Errorf("restart order %v, want %v (followers highest first, the leader last)", rep.Restarts, want)
	}
	if rep.LeadershipMoves != 1 {
		t.Errorf("%d leadership moves executed, want 1", rep.LeadershipMoves)
	}
	if rep.PlanError != "" || !slices.Equal(rep.PredictedRestarts, rep.Restarts) || rep.PredictedLeaderChanges != 1 {
		t.Errorf("fake/plan predicted %v with %d leader changes (%s), the run restarted %v with 1 move",
			rep.PredictedRestarts, rep.PredictedLeaderChanges, rep.PlanError, rep.Restarts)
	}
	if rep.StartLeader != "etcd-1" || len(rep.Leaders) == 0 || rep.Leaders[0] != "etcd-1" {
		t.Errorf("leader at start %q, leaders %v, want etcd-1 first", rep.StartLeader, rep.Leaders)
	}
}

// TestShortKillLeader crashes the leader once the first member runs the
// target version: the strategy holds on the unknown view and the
// re-election, then completes with nothing lost.
func TestShortKillLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real etcd cluster")
	}
	rep, err := Run(t.Context(), Scenario{Strategy: Rolling, Ordering: rolling.OrderingOnDelete, Members: 3, Dir: t.TempDir(),
		StartDelay: 200 * time.Millisecond, KillLeader: true, NoFsync: true})
	checkSafe(t, rep, err)
	if rep.Killed == "" {
		t.Error("no leader was killed")
	}
}
