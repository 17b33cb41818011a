package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// testReconcilerRolling: a rolling upgrade of a 3-replica StatefulSet by
// a RaftUpgrade, optionally with the manager replaced mid-upgrade.
func testReconcilerRolling(t *testing.T, cp *cluster.ControlPlane, c client.Client, restart bool) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(cp.Context(), 150*time.Second)
	defer cancel()
	// Without restart: the leader at ordinal 0, the last rolled, moved by
	// a targeted transfer before bao-0 goes. With restart: the leader at
	// ordinal 2, the first rolled, with step-down only (OpenBao), so the
	// first pod replaced is the initial leader's.
	leader, targeted := int32(0), true
	if restart {
		leader, targeted = 2, false
	}
	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: leader, TargetedTransfer: targeted})
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	initialLeader := rs.PodName(leader)
	if got := rs.Raft.Leader(); got != initialLeader {
		t.Fatalf("leader = %s, want %s", got, initialLeader)
	}
	oldUIDs := uids(before)
	mark := rs.Recorder.Mark()
	log := &opLog{rs: rs}

	mgrs := []*manager{startManager(t, cp, rs, log, 1)}
	spec := baseSpec(rs, upgrade.StrategyRolling)
	spec.Rolling = &rolling.Spec{
		CatchUp:      upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		PollInterval: metav1.Duration{Duration: 100 * time.Millisecond},
		StepTimeout:  metav1.Duration{Duration: 2 * time.Minute},
	}
	createUpgrade(t, ctx, c, rs, spec)

	if restart {
		// In flight with at least one pod replaced (and the start event
		// written, so that the event check does not depend on the first
		// manager's event broadcaster flushing while it stops).
		waitUpgrade(t, ctx, c, rs, log, "rolling upgrade in flight with a pod replaced", 60*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
			return ru.Status.Upgrade != nil && ru.Status.Upgrade.Phase != "" && len(cluster.Recreations(rs.Recorder.Since(mark))) >= 1
		})
		checkEvents(t, ctx, c, rs, []string{string(upgrade.ReasonStarted)})
		mgrs[0].stop(t)
		ru, err := getUpgrade(ctx, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("manager 1 stopped in phase %s after %d recreations; %d writes so far", phaseOf(ru.Status),
			len(cluster.Recreations(rs.Recorder.Since(mark))), len(log.ok()))
		if ru.Status.Idle() {
			t.Fatal("upgrade finished before manager 1 was stopped")
		}
		mgrs = append(mgrs, startManager(t, cp, rs, log, 2))
	}

	ru := waitUpgrade(t, ctx, c, rs, log, "rolling upgrade done", 90*time.Second, upgraded)
	t.Logf("upgrade took %s", time.Since(begin).Round(time.Millisecond))
	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	events := rs.Recorder.Since(mark)
	t.Logf("writes:\n%s", log)
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	checkFinalStatus(t, ru)
	checkNoFailedWrites(t, log)
	checkRollingRecreations(t, rs, mark, events, log.ok(), oldUIDs, initialLeader, newImage)

	// Raft safety held throughout (a voter catching up counts as down);
	// every restarted server caught up after the lag, every election won
	// after its delay.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	if got := rs.Raft.MaxVotersDown(); got != 1 {
		t.Errorf("max voters down at once = %d, want 1", got)
	}
	for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
		if n := rs.Raft.Restarts(name); n != 1 {
			t.Errorf("raft server %s restarted %d times, want 1", name, n)
		}
	}
	checkCatchUps(t, rs, 3)
	checkElections(t, rs)

	// Objects at the target, partition back to 0, lock released.
	checkPodsAt(t, pods, 3, newImage, newVersion)
	set, err := rs.StatefulSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru == nil || ru.Partition == nil || *ru.Partition != 0 {
		t.Errorf("partition after the upgrade = %+v, want 0", ru)
	}
	checkLockReleased(t, ctx, rs)

	checkEvents(t, ctx, c, rs, []string{string(upgrade.ReasonStarted)}, []string{string(upgrade.ReasonSucceeded)})
	checkMetrics(t, rs, upgrade.StrategyRolling, mgrs...)
	checkManagersWrote(t, log, len(mgrs))
	var moves float64
	for _, m := range mgrs {
		for _, v := range series(m.metrics.LeaderMoves) {
			moves += v
		}
	}
	if moves < 1 {
		t.Errorf("raftshift_leadership_moves_total summed over the managers = %v, want >= 1", moves)
	}
}

// checkRollingRecreations asserts that the pods were recreated exactly
// once each, highest ordinal first, one at a time, each terminated by the
// partition in force (from the StatefulSet's watch) that the reconciler's
// partition writes set, each write made after the previous replacement was
// ready and caught up and never while the pod led; that every partition
// change the watch showed was such a write; and that leadership moved away
// from the initial leader before its pod went.
func checkRollingRecreations(t *testing.T, rs *cluster.RaftSet, mark int, events []cluster.PodEvent, ops []opEntry, oldUIDs map[string]types.UID, initialLeader, image string) {
	t.Helper()
	recs := cluster.Recreations(events)
	var order []string
	for _, r := range recs {
		order = append(order, r.Pod)
	}
	if want := []string{"bao-2", "bao-1", "bao-0"}; !slices.Equal(order, want) {
		t.Fatalf("recreation order = %v, want %v", order, want)
	}
	if del := cluster.DeletedPods(events); len(del) != 3 {
		t.Errorf("deleted pods = %v, want the three recreations only", del)
	}
	for _, r := range recs {
		if r.OldUID != oldUIDs[r.Pod] || r.NewUID == "" || r.Ready < 0 || r.Image != image {
			t.Errorf("recreation %v: want old uid %s replaced by a ready pod at %s", r, oldUIDs[r.Pod], image)
		}
	}
	sets := rs.Recorder.SetEvents()
	allow := opAllowances(ops)
	changes := checkPartitionWatch(t, sets, mark, allow)
	t.Logf("partition changes (statefulset watch):\n%s", cluster.FormatSetEvents(changes))
	by := checkDisruptions(t, events, sets, allow)
	for _, r := range recs {
		if d, ok := by[r.OldUID]; ok {
			t.Logf("%s terminated at #%d: %s, allowed by %s", r.Pod, r.Terminating, d.Why, d.By)
			if d.By.Partition < 0 {
				t.Errorf("%s released by %s, want a partition write (Partition ordering)", r.Pod, d.By)
			}
		}
	}
	checkOneAtATime(t, rs, recs, by)

	var leaderRec cluster.Recreation
	for _, r := range recs {
		if r.Pod == initialLeader {
			leaderRec = r
		}
	}
	moved := false
	for _, x := range ops {
		if x.Verb != "raft" || x.Mark > leaderRec.Terminating {
			continue
		}
		switch a := x.Action.(type) {
		case upgrade.StepDown:
			moved = moved || a.ID == initialLeader
		case upgrade.TransferLeadership:
			moved = moved || a.FromID == initialLeader
		}
	}
	if !moved {
		t.Errorf("no leadership move away from %s before it was recreated", initialLeader)
	}
}

// checkNoFailedWrites asserts that none of the reconcilers' logged writes
// and Raft actions failed (none is expected).
func checkNoFailedWrites(t *testing.T, log *opLog) {
	t.Helper()
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, e := range log.entries {
		if e.Err != nil {
			t.Errorf("failed write: %s", e)
		}
	}
}
