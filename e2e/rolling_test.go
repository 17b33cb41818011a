package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/types"

	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// TestRollingUpgrade runs whole rolling upgrades of a 3-replica StatefulSet
// through the Kubernetes adapter and rolling.Step, with the real
// StatefulSet controller recreating the pods, and checks that pods were
// recreated only as the FSM allowed: highest ordinal first, one at a time,
// the leader only after leadership moved away, ending Idle at the target.
func TestRollingUpgrade(t *testing.T) {
	cp := cluster.Start(t)
	t.Logf("control plane started in %s", cp.StartupTime.Round(time.Millisecond))

	cases := []struct {
		name     string
		leader   int32
		targeted bool
		snapshot bool
		crash    int
	}{
		// The leader is the last ordinal rolled: leadership moves to an
		// upgraded voter (targeted transfer) before bao-0 restarts.
		{name: "TransferLeadership/leader-bao-0", leader: 0, targeted: true},
		// The leader is the first ordinal rolled: it must step down before
		// bao-2 restarts, and the new leader steps down again in its turn.
		{name: "StepDown/leader-bao-2", leader: 2, targeted: false, snapshot: true},
		// The host crashes on every second Decision with actions, part
		// way through, with or without persisting the new status; the
		// restarted host must still reach the same outcome (design rule 2).
		{name: "HostCrashes/leader-bao-1", leader: 1, targeted: true, snapshot: true, crash: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			begin := time.Now()
			ctx, cancel := context.WithTimeout(cp.Context(), 2*time.Minute)
			defer cancel()
			rs := cp.NewRaftSet(t, cluster.SetSpec{
				Image: oldImage, Version: oldVersion,
				InitialLeader: tc.leader, TargetedTransfer: tc.targeted,
			})
			before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			initialLeader := rs.PodName(tc.leader)
			if got := rs.Raft.Leader(); got != initialLeader {
				t.Fatalf("leader = %s, want %s", got, initialLeader)
			}
			oldUIDs := uids(before)
			mark := rs.Recorder.Mark()

			spec := rolling.Spec{
				Version:       newVersion,
				Image:         newImage,
				Workload:      rs.Spec.Name,
				CatchUp:       upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
				PollInterval:  metav1.Duration{Duration: 100 * time.Millisecond},
				RetryInterval: metav1.Duration{Duration: time.Second},
				Snapshot:      tc.snapshot,
			}
			h := newHost(t, rs)
			h.crashEvery = tc.crash
			st := h.run(ctx, func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
				return rolling.Step(spec, obs, st)
			}, upgrade.Status{CurrentVersion: oldVersion, CurrentImage: oldImage}, func(st upgrade.Status) bool {
				return st.Idle() && st.CurrentVersion == newVersion
			}, 90*time.Second)

			t.Logf("upgrade took %s in %d steps; phases %s", time.Since(begin).Round(time.Millisecond), h.steps, strings.Join(h.phases, " -> "))
			if tc.crash > 0 {
				if len(h.crashes) < 3 {
					t.Errorf("only %d host crashes simulated", len(h.crashes))
				}
				t.Logf("host crashes:\n%s", strings.Join(h.crashes, "\n"))
			}
			checkRollingOutcome(t, ctx, rs, st, h, mark, oldUIDs, initialLeader)
		})
	}
	t.Run("StuckPod/bao-1-never-ready-until-released", func(t *testing.T) { testRollingStuckPod(t, cp) })
}

// testRollingStuckPod: the new bao-1 does not become ready. The FSM must
// hold with bao-1 down, restart nothing else (bao-0, the leader, keeps its
// pod) and finish once bao-1 comes up.
func testRollingStuckPod(t *testing.T, cp *cluster.ControlPlane) {
	ctx, cancel := context.WithTimeout(cp.Context(), 2*time.Minute)
	defer cancel()
	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: 0, TargetedTransfer: true})
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	oldUIDs := uids(before)
	mark := rs.Recorder.Mark()
	rs.Hold("bao-1") // its next incarnation stays unready

	spec := rolling.Spec{
		Version: newVersion, Image: newImage, Workload: rs.Spec.Name,
		CatchUp:       upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		PollInterval:  metav1.Duration{Duration: 100 * time.Millisecond},
		RetryInterval: metav1.Duration{Duration: time.Second},
	}
	step := func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
		return rolling.Step(spec, obs, st)
	}
	h := newHost(t, rs)
	// Run until the replacement of bao-1 has been unready for 3s.
	var since time.Time
	st := h.run(ctx, step, upgrade.Status{CurrentVersion: oldVersion, CurrentImage: oldImage}, func(upgrade.Status) bool {
		recs := cluster.Recreations(rs.Recorder.Since(mark))
		if len(recs) == 0 || recs[len(recs)-1].Pod != "bao-1" || recs[len(recs)-1].Ready >= 0 {
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) > 3*time.Second
	}, 60*time.Second)

	held := rs.Recorder.Since(mark)
	if st.Idle() {
		t.Fatalf("upgrade finished with bao-1 unready:\n%s", formatExecuted(h.log))
	}
	if del := cluster.DeletedPods(held); !slices.Equal(del, []string{"bao-2", "bao-1"}) {
		t.Fatalf("deleted pods while bao-1 is stuck = %v, want [bao-2 bao-1]\n%s", del, cluster.FormatEvents(held))
	}
	for _, x := range h.log {
		if a, ok := x.Action.(upgrade.SetPartition); ok && a.Partition == 0 {
			t.Errorf("partition released to 0 while bao-1 was stuck (step %d)", x.Step)
		}
		if _, ok := x.Action.(upgrade.TransferLeadership); ok {
			t.Errorf("leadership moved while bao-1 was down (step %d): %s", x.Step, x.Action)
		}
	}
	t.Logf("held in phase %s: %s", phaseOf(st), conditions(st))

	rs.Release("bao-1")
	st = h.run(ctx, step, st, func(st upgrade.Status) bool { return st.Idle() && st.CurrentVersion == newVersion }, 60*time.Second)
	checkRollingOutcome(t, ctx, rs, st, h, mark, oldUIDs, "bao-0")
}

// checkRollingOutcome asserts the whole rolling upgrade.
func checkRollingOutcome(t *testing.T, ctx context.Context, rs *cluster.RaftSet, st upgrade.Status, h *host, mark int, oldUIDs map[string]types.UID, initialLeader string) {
	t.Helper()
	// Wait for the watch to catch up with the last pod, then read the
	// events since the upgrade started.
	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	events := rs.Recorder.Since(mark)
	sets := rs.Recorder.SetEvents()
	t.Logf("actions:\n%s", formatExecuted(h.log))
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	// Final status: idle at the target, succeeded (S5).
	if !st.Idle() || st.CurrentVersion != newVersion || st.CurrentImage != newImage {
		t.Errorf("final status: idle=%t version=%s image=%s, want idle at %s", st.Idle(), st.CurrentVersion, st.CurrentImage, newVersion)
	}
	if st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded {
		t.Errorf("last result = %+v, want Succeeded", st.LastResult)
	}
	// No action failed (none is expected).
	h.checkFailures(t)

	// Each pod recreated exactly once, highest ordinal first.
	recs := cluster.Recreations(events)
	var order []string
	for _, r := range recs {
		order = append(order, r.Pod)
	}
	if want := []string{"bao-2", "bao-1", "bao-0"}; !slices.Equal(order, want) {
		t.Fatalf("recreation order = %v, want %v", order, want)
	}
	for _, r := range recs {
		if r.OldUID != oldUIDs[r.Pod] || r.NewUID == "" || r.Ready < 0 || r.Image != newImage {
			t.Errorf("recreation %v: want old uid %s replaced by a ready pod at %s", r, oldUIDs[r.Pod], newImage)
		}
	}
	// No other pod deleted.
	if del := cluster.DeletedPods(events); len(del) != 3 {
		t.Errorf("deleted pods = %v, want the three recreations only", del)
	}

	// The StatefulSet's real partition changes (from its watch) each made
	// by an executed SetPartition, and each pod termination allowed by the
	// action in force: the partition at or below its ordinal, set by the
	// SetPartitions executed before it. Each allowed only after the
	// previous replacement was ready and caught up, never while it led.
	allow := hostAllowances(h.log)
	changes := checkPartitionWatch(t, sets, mark, allow)
	t.Logf("partition changes (statefulset watch):\n%s", cluster.FormatSetEvents(changes))
	by := checkDisruptions(t, events, sets, allow)
	for _, r := range recs {
		if d, ok := by[r.OldUID]; ok {
			t.Logf("%s terminated at #%d: %s, allowed by %s", r.Pod, r.Terminating, d.Why, d.By)
			if d.By.Partition < 0 {
				t.Errorf("%s released by %s, want a partition change (Partition ordering)", r.Pod, d.By)
			}
		}
	}
	checkOneAtATime(t, rs, recs, by)
	if last, ok := rs.Recorder.LastSet(rs.Spec.Name); !ok || last.Partition != 0 || last.Image != newImage {
		t.Errorf("statefulset at the end (watch): %+v, want partition 0 at %s", last, newImage)
	}

	// Leadership moved away from the initial leader before its pod went.
	var leaderRec cluster.Recreation
	for _, r := range recs {
		if r.Pod == initialLeader {
			leaderRec = r
		}
	}
	moved := false
	for _, x := range h.log {
		if x.Err != nil || x.Mark > leaderRec.Terminating {
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

	// Raft safety held throughout: never the leader down, never two voters
	// down (a voter catching up counts as down), quorum kept; every
	// restarted server caught up after the lag, every election won after
	// its delay.
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

	// The cluster's objects are at the target and the lock is free.
	checkPodsAt(t, pods, 3, newImage, newVersion)
	checkLockReleased(t, ctx, rs)
}
