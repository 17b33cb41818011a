package e2e_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kadapter "github.com/raftshift/raftshift/adapters/kubernetes"
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
				Version:      newVersion,
				Image:        newImage,
				Workload:     rs.Spec.Name,
				CatchUp:      upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
				PollInterval: metav1.Duration{Duration: 100 * time.Millisecond},
				Snapshot:     tc.snapshot,
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
		CatchUp:      upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		PollInterval: metav1.Duration{Duration: 100 * time.Millisecond},
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
	t.Logf("actions:\n%s", formatExecuted(h.log))
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft:\n%s", rs.Raft.FormatHistory())

	// Final status: idle at the target, succeeded (S5).
	if !st.Idle() || st.CurrentVersion != newVersion || st.CurrentImage != newImage {
		t.Errorf("final status: idle=%t version=%s image=%s, want idle at %s", st.Idle(), st.CurrentVersion, st.CurrentImage, newVersion)
	}
	if st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded {
		t.Errorf("last result = %+v, want Succeeded", st.LastResult)
	}

	// Each pod recreated exactly once, highest ordinal first, each after the
	// previous replacement was ready (never two at a time).
	recs := cluster.Recreations(events)
	var order []string
	for _, r := range recs {
		order = append(order, r.Pod)
	}
	if want := []string{"bao-2", "bao-1", "bao-0"}; !slices.Equal(order, want) {
		t.Fatalf("recreation order = %v, want %v", order, want)
	}
	for i, r := range recs {
		if r.OldUID != oldUIDs[r.Pod] || r.NewUID == "" || r.Ready < 0 || r.Image != newImage {
			t.Errorf("recreation %v: want old uid %s replaced by a ready pod at %s", r, oldUIDs[r.Pod], newImage)
		}
		if i > 0 && r.Deleted < recs[i-1].Ready {
			t.Errorf("%s deleted (#%d) before %s's replacement was ready (#%d)", r.Pod, r.Deleted, recs[i-1].Pod, recs[i-1].Ready)
		}
		// The FSM allowed this recreation before it happened: a partition
		// at or below the ordinal, or a DeletePod of this pod.
		ord, _ := strconv.Atoi(strings.TrimPrefix(r.Pod, "bao-"))
		allowed := -1
		for j, x := range h.log {
			if x.Err != nil || x.Mark > r.Deleted {
				continue
			}
			switch a := x.Action.(type) {
			case upgrade.SetPartition:
				if a.Partition <= int32(ord) {
					allowed = j
				}
			case upgrade.DeletePod:
				if a.Member == r.Pod {
					allowed = j
				}
			}
		}
		if allowed < 0 {
			t.Errorf("%s recreated (event #%d) without an action allowing it", r.Pod, r.Deleted)
			continue
		}
		// The allowance was given only once the previous pod was back.
		if i > 0 && h.log[allowed].Mark < recs[i-1].Ready {
			if a, ok := h.log[allowed].Action.(upgrade.SetPartition); ok && a.Partition <= int32(ord) {
				t.Errorf("partition %d released %s before %s was ready", a.Partition, r.Pod, recs[i-1].Pod)
			}
		}
		// The pod was never the leader when the FSM released it.
		if h.log[allowed].Leader == r.Pod {
			t.Errorf("%s released by %s while it led", r.Pod, h.log[allowed].Action)
		}
	}
	// No other pod deleted.
	if del := cluster.DeletedPods(events); len(del) != 3 {
		t.Errorf("deleted pods = %v, want the three recreations only", del)
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
		if x.Err != nil || x.Mark > leaderRec.Deleted {
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
	// down, quorum kept.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	if got := rs.Raft.MaxVotersDown(); got != 1 {
		t.Errorf("max voters down at once = %d, want 1", got)
	}
	if l := rs.Raft.Leader(); l == "" {
		t.Error("no leader at the end")
	}
	for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
		if n := rs.Raft.Restarts(name); n != 1 {
			t.Errorf("raft server %s restarted %d times, want 1", name, n)
		}
	}

	// The cluster's objects are at the target and the lock is free.
	for _, p := range pods {
		if p.Labels[cluster.LabelVersion] != newVersion {
			t.Errorf("%s version label = %q, want %s", p.Name, p.Labels[cluster.LabelVersion], newVersion)
		}
	}
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: rs.Namespace, Name: rs.Spec.Name + kadapter.DefaultLockSuffix}
	if err := rs.CP.Runtime.Get(ctx, key, &lease); err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Errorf("operation lock still held by %q", *lease.Spec.HolderIdentity)
	}
}
