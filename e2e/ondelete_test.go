package e2e_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// TestOnDeleteUpgrade runs whole delete-driven rolling upgrades of a
// 3-replica StatefulSet with the OnDelete update strategy, through the
// Kubernetes adapter and rolling.Step, against the real StatefulSet
// controller. The strategy deletes exactly one pod at a time, followers
// first (highest ordinal first) and the leader last; the controller must
// restart nothing on its own: every pod deletion in the watch is a
// DeletePod the strategy issued (same name and UID), and every new pod
// replaces one of those.
func TestOnDeleteUpgrade(t *testing.T) {
	cp := cluster.Start(t)
	t.Logf("control plane started in %s", cp.StartupTime.Round(time.Millisecond))

	cases := []struct {
		name     string
		leader   int32
		targeted bool
		ordering rolling.Ordering
		crash    int
		order    []string // expected deletion order
	}{
		// The default ordering follows the workload (OnDelete); one
		// targeted transfer to an upgraded follower, then the old leader.
		{name: "TransferLeadership/leader-bao-1", leader: 1, targeted: true,
			order: []string{"bao-2", "bao-0", "bao-1"}},
		// OnDelete asked for explicitly; the leader sits at the highest
		// ordinal, where the Partition ordering would restart it first.
		{name: "StepDown/leader-bao-2/ordering-OnDelete", leader: 2, ordering: rolling.OrderingOnDelete,
			order: []string{"bao-1", "bao-0", "bao-2"}},
		// The host crashes on every second (third) Decision with actions:
		// a prefix of the actions runs and the status is alternately lost
		// or kept. Among them: a template change whose status was lost, a
		// DeletePod that was never carried out (decided again), and one
		// that was carried out but whose status was lost (the next Step
		// finds the pod already replaced and goes on to the next one).
		{name: "HostCrashes/every-2nd/leader-bao-1", leader: 1, targeted: true, crash: 2,
			order: []string{"bao-2", "bao-0", "bao-1"}},
		{name: "HostCrashes/every-3rd/leader-bao-1", leader: 1, targeted: true, crash: 3,
			order: []string{"bao-2", "bao-0", "bao-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			begin := time.Now()
			ctx, cancel := context.WithTimeout(cp.Context(), 2*time.Minute)
			defer cancel()
			rs := cp.NewRaftSet(t, cluster.SetSpec{
				Image: oldImage, Version: oldVersion, UpdateStrategy: appsv1.OnDeleteStatefulSetStrategyType,
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
			mark := rs.Recorder.Mark()

			spec := rolling.Spec{
				Version:       newVersion,
				Image:         newImage,
				Workload:      rs.Spec.Name,
				CatchUp:       upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
				PollInterval:  metav1.Duration{Duration: 100 * time.Millisecond},
				RetryInterval: metav1.Duration{Duration: time.Second},
				Ordering:      tc.ordering,
			}
			h := newHost(t, rs)
			h.crashEvery = tc.crash
			obs, err := h.observe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w := obs.Workloads; len(w) != 1 || w[0].UpdateStrategy != upgrade.UpdateOnDelete {
				t.Fatalf("observed workloads %+v, want one with update strategy OnDelete", w)
			}
			orderings := map[string]bool{}
			st := h.run(ctx, func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
				d, err := rolling.Step(spec, obs, st)
				if u := d.Status.Upgrade; err == nil && u != nil && u.Rolling != nil {
					orderings[u.Rolling.Ordering] = true
				}
				return d, err
			}, upgrade.Status{CurrentVersion: oldVersion, CurrentImage: oldImage}, func(st upgrade.Status) bool {
				return st.Idle() && st.CurrentVersion == newVersion
			}, 90*time.Second)

			t.Logf("upgrade took %s in %d steps; phases %s", time.Since(begin).Round(time.Millisecond), h.steps, strings.Join(h.phases, " -> "))
			if tc.crash > 0 {
				if len(h.crashes) < 2 {
					t.Errorf("only %d host crashes simulated", len(h.crashes))
				}
				t.Logf("host crashes:\n%s", strings.Join(h.crashes, "\n"))
			}
			if got := slices.Sorted(maps.Keys(orderings)); !slices.Equal(got, []string{string(rolling.OrderingOnDelete)}) {
				t.Errorf("orderings recorded in the status = %v, want [OnDelete]", got)
			}
			checkOnDeleteOutcome(t, ctx, rs, st, h, mark, uids(before), initialLeader, tc.order)
		})
	}
}

// checkOnDeleteOutcome asserts a whole delete-driven upgrade.
func checkOnDeleteOutcome(t *testing.T, ctx context.Context, rs *cluster.RaftSet, st upgrade.Status, h *host, mark int,
	oldUIDs map[string]types.UID, initialLeader string, wantOrder []string) {
	t.Helper()
	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	events := rs.Recorder.Since(mark)
	sets := rs.Recorder.SetEvents()
	t.Logf("actions:\n%s", formatExecuted(h.log))
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	// (a) Idle at the target, succeeded.
	if !st.Idle() || st.CurrentVersion != newVersion || st.CurrentImage != newImage {
		t.Errorf("final status: idle=%t version=%s image=%s, want idle at %s", st.Idle(), st.CurrentVersion, st.CurrentImage, newVersion)
	}
	if st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded {
		t.Errorf("last result = %+v, want Succeeded", st.LastResult)
	}

	// (d) No action failed (none is expected), and the strategy never
	// touched the partition: no SetPartition ran, and the StatefulSet's
	// watch shows no change of its update strategy or partition.
	h.checkFailures(t)
	allow := hostAllowances(h.log)
	if changes := checkPartitionWatch(t, sets, mark, allow); len(changes) != 0 {
		t.Errorf("statefulset update strategy or partition changed in OnDelete ordering:\n%s", cluster.FormatSetEvents(changes))
	}
	deletes := map[string]executed{} // "pod/uid" -> the DeletePod that ran
	moves := 0
	for _, x := range h.log {
		switch a := x.Action.(type) {
		case upgrade.SetPartition:
			t.Errorf("partition set in OnDelete ordering: %s", x)
		case upgrade.DeletePod:
			key := a.Member + "/" + a.UID
			if _, dup := deletes[key]; !dup && x.Err == nil {
				deletes[key] = x
			}
			// S3 without handoff: never the leader's pod.
			if x.Leader == a.Member {
				t.Errorf("%s deleted while it led: %s", a.Member, x)
			}
		case upgrade.TransferLeadership, upgrade.StepDown:
			moves++
		}
	}

	// (b) The controller restarted nothing on its own: every termination
	// in the watch (deletion requested: the pod turns Terminating) and
	// every deletion is a DeletePod the strategy issued before it (same
	// name and UID, executed before the event was recorded), and every new
	// pod replaces one of those deletions.
	dels := cluster.Deletions(events)
	var order []string
	for _, e := range dels {
		order = append(order, e.Pod)
	}
	terms := cluster.Terminations(events)
	var termOrder []string
	for _, e := range terms {
		termOrder = append(termOrder, e.Pod)
		x, ok := deletes[e.Pod+"/"+string(e.UID)]
		switch {
		case !ok:
			t.Errorf("termination #%d of %s (uid %s) matches no DeletePod the strategy issued", e.Seq, e.Pod, e.UID)
		case x.Mark > e.Seq:
			t.Errorf("termination #%d of %s happened before its DeletePod (mark #%d)", e.Seq, e.Pod, x.Mark)
		case e.UID != oldUIDs[e.Pod]:
			t.Errorf("termination #%d of %s: uid %s is not the pre-upgrade incarnation %s", e.Seq, e.Pod, e.UID, oldUIDs[e.Pod])
		}
	}
	if !slices.Equal(order, wantOrder) || !slices.Equal(termOrder, wantOrder) {
		t.Errorf("deletion order = %v, termination order = %v, want %v", order, termOrder, wantOrder)
	}
	by := checkDisruptions(t, events, sets, allow)
	for uid, d := range by {
		if d.Why != "DeletePod" {
			t.Errorf("%s (uid %s) terminated by %s (%s), want a DeletePod", d.Event.Pod, uid, d.By, d.Why)
		}
	}
	if len(deletes) != len(dels) {
		t.Errorf("%d distinct DeletePod actions ran, %d deletions seen", len(deletes), len(dels))
	}
	recs := cluster.Recreations(events)
	replaced := map[types.UID]bool{}
	for _, r := range recs {
		if _, ok := deletes[r.Pod+"/"+string(r.OldUID)]; !ok {
			t.Errorf("recreation %v without a DeletePod of that incarnation", r)
		}
		if r.Ready < 0 || r.Image != newImage {
			t.Errorf("recreation %v: want a ready pod at %s", r, newImage)
		}
		replaced[r.NewUID] = true
	}
	// One at a time: each DeletePod (and termination) only after the
	// previous replacement was ready and its server caught up, never of
	// the pod leading.
	checkOneAtATime(t, rs, recs, by)
	for _, a := range cluster.Additions(events) {
		if !replaced[a.UID] {
			t.Errorf("pod %s (uid %s, event #%d) created without a DeletePod of its predecessor", a.Pod, a.UID, a.Seq)
		}
	}
	if len(recs) != 3 {
		t.Errorf("%d recreations, want 3", len(recs))
	}

	// (c) The leader's pod went last, after exactly one leadership move
	// away from it.
	if n := len(terms); n == 0 || terms[n-1].Pod != initialLeader {
		t.Errorf("last deletion = %v, want the leader %s", termOrder, initialLeader)
	} else {
		movedBefore := false
		for _, x := range h.log {
			if x.Err != nil || x.Mark > terms[n-1].Seq {
				continue
			}
			switch a := x.Action.(type) {
			case upgrade.StepDown:
				movedBefore = movedBefore || a.ID == initialLeader
			case upgrade.TransferLeadership:
				movedBefore = movedBefore || a.FromID == initialLeader
			}
		}
		if !movedBefore {
			t.Errorf("no leadership move away from %s before its pod was deleted", initialLeader)
		}
	}
	if moves != 1 {
		t.Errorf("%d leadership moves, want exactly 1", moves)
	}

	// Raft safety held throughout (a voter catching up counts as down);
	// every restarted server caught up after the lag, every election won
	// after its delay.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	checkCatchUps(t, rs, 3)
	checkElections(t, rs)
	if got := rs.Raft.MaxVotersDown(); got != 1 {
		t.Errorf("max voters down at once = %d, want 1", got)
	}
	if l := rs.Raft.Leader(); l == "" || l == initialLeader {
		t.Errorf("leader at the end = %q, want an upgraded follower", l)
	}
	for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
		if n := rs.Raft.Restarts(name); n != 1 {
			t.Errorf("raft server %s restarted %d times, want 1", name, n)
		}
	}

	// The objects: pods at the target, the StatefulSet still OnDelete at
	// the new template, the lock free.
	checkPodsAt(t, pods, 3, newImage, newVersion)
	if last, ok := rs.Recorder.LastSet(rs.Spec.Name); !ok || last.Strategy != appsv1.OnDeleteStatefulSetStrategyType || last.Partition != -1 {
		t.Errorf("statefulset at the end (watch): %+v, want OnDelete without a partition", last)
	}
	if s, err := rs.StatefulSet(ctx); err != nil {
		t.Error(err)
	} else if us := s.Spec.UpdateStrategy; us.Type != appsv1.OnDeleteStatefulSetStrategyType || us.RollingUpdate != nil ||
		s.Spec.Template.Spec.Containers[0].Image != newImage {
		t.Errorf("statefulset: update strategy %+v, image %s", us, s.Spec.Template.Spec.Containers[0].Image)
	}
	checkLockReleased(t, ctx, rs)
}
