package e2e_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kadapter "github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

// allowance is an executed write that may take pods down: a partition
// change (SetPartition), a pod deletion (DeletePod) or a StatefulSet
// deletion (DeleteRevision), from the host's log or the reconciler's
// logged client. Failed writes allow nothing.
type allowance struct {
	// Mark is the recorder's mark when it ran: every watch event it caused
	// has a sequence number >= Mark.
	Mark int
	// At is when it ran, Leader the simulated Raft leader then.
	At     time.Time
	Leader string
	// What describes it in messages.
	What string
	// Set is the StatefulSet of a partition change or deletion.
	Set string
	// Partition is the partition set (-1: not a partition change).
	Partition int32
	// Pod and UID: a pod deletion and its UID precondition ("" none).
	Pod string
	UID types.UID
	// DeleteSet: the StatefulSet Set was deleted.
	DeleteSet bool
}

func (a allowance) String() string {
	return fmt.Sprintf("%s (mark #%d, leader %s)", a.What, a.Mark, a.Leader)
}

// hostAllowances returns the successful disrupting actions of a host log,
// in execution order.
func hostAllowances(xs []executed) []allowance {
	var out []allowance
	for _, x := range xs {
		if x.Err != nil {
			continue
		}
		al := allowance{Mark: x.Mark, At: x.At, Leader: x.Leader, What: x.Action.String(), Partition: -1}
		switch a := x.Action.(type) {
		case upgrade.SetPartition:
			al.Set, al.Partition = a.Workload, a.Partition
		case upgrade.DeletePod:
			al.Pod, al.UID = a.Member, types.UID(a.UID)
		case upgrade.DeleteRevision:
			al.Set, al.DeleteSet = a.Workload, true
		default:
			continue
		}
		out = append(out, al)
	}
	return out
}

// opAllowances returns the successful disrupting writes of a reconciler's
// log, in order: partition patches, pod and StatefulSet deletions.
func opAllowances(ops []opEntry) []allowance {
	var out []allowance
	for _, x := range ops {
		if x.Err != nil {
			continue
		}
		al := allowance{Mark: x.Mark, At: x.At, Leader: x.Leader, What: x.Verb + " " + x.Kind + "/" + x.Name, Partition: -1}
		if x.Partition >= 0 {
			al.What += " partition=" + strconv.Itoa(int(x.Partition))
		}
		switch {
		case x.Verb == "patch" && x.Kind == "StatefulSet" && x.Partition >= 0:
			al.Set, al.Partition = x.Name, x.Partition
		case x.Verb == "delete" && x.Kind == "Pod":
			al.Pod, al.UID = x.Name, x.UID
		case x.Verb == "delete" && x.Kind == "StatefulSet":
			al.Set, al.DeleteSet = x.Name, true
		default:
			continue
		}
		out = append(out, al)
	}
	return out
}

// disruption is one pod incarnation's termination and the executed action
// that allowed it.
type disruption struct {
	// Event is the first watch event showing the incarnation terminating.
	Event cluster.PodEvent
	// By is the action that allowed it; Why says how.
	By  allowance
	Why string
}

// ordinalOf returns the ordinal of pod in StatefulSet set (-1 if none).
func ordinalOf(pod, set string) int32 {
	n, err := strconv.Atoi(strings.TrimPrefix(pod, set+"-"))
	if err != nil || !strings.HasPrefix(pod, set+"-") {
		return -1
	}
	return int32(n)
}

// checkDisruptions checks every pod termination among events (the first
// event showing an incarnation with a deletion timestamp, or its DELETED
// event if it vanished at once) against the executed action that allowed
// it, and returns them by the terminated incarnation's UID. A termination
// is allowed by
//   - a DeletePod of that pod (and UID, when the action named one) that
//     ran before the event was recorded (Mark <= Seq); else
//   - a DeleteRevision of the pod's StatefulSet that ran before it, the
//     StatefulSet's deletion shown by its watch before the pod's (by
//     resourceVersion); else
//   - the partition: the StatefulSet's watch shows, just before the
//     deletion (by resourceVersion), RollingUpdate with a partition at or
//     below the pod's ordinal, and the SetPartitions executed before the
//     event agree: the last one is at or below the ordinal. The action
//     that allowed it is the first of the trailing run of executed
//     SetPartitions at or below the ordinal: the one after which the
//     partition never again held the pod.
//
// sets are all the recorded StatefulSet events (from the start).
func checkDisruptions(t *testing.T, events []cluster.PodEvent, sets []cluster.SetEvent, allow []allowance) map[types.UID]disruption {
	t.Helper()
	out := map[types.UID]disruption{}
	for _, e := range cluster.Terminations(events) {
		if d, ok := allowedBy(e, sets, allow); ok {
			out[e.UID] = d
			continue
		} else if d.Why != "" {
			t.Errorf("%s (uid %s) terminated at event #%d: %s", e.Pod, e.UID, e.Seq, d.Why)
			continue
		}
		t.Errorf("%s (uid %s) terminated at event #%d without an executed action allowing it", e.Pod, e.UID, e.Seq)
	}
	return out
}

// allowedBy finds the action that allowed termination e; when none did,
// the returned disruption's Why may say what was wrong.
func allowedBy(e cluster.PodEvent, sets []cluster.SetEvent, allow []allowance) (disruption, bool) {
	d := disruption{Event: e}
	for _, a := range allow {
		if a.Pod == e.Pod && (a.UID == "" || a.UID == e.UID) && a.Mark <= e.Seq {
			d.By, d.Why = a, "DeletePod"
			return d, true
		}
	}
	why := ""
	for _, a := range allow {
		if !a.DeleteSet || a.Set != e.Set || a.Mark > e.Seq {
			continue
		}
		for _, s := range sets {
			if s.Name == e.Set && s.Type == cluster.EventDeleted && s.RV < e.RV && s.Seq >= a.Mark {
				d.By, d.Why = a, "DeleteRevision"
				return d, true
			}
		}
		why = fmt.Sprintf("%s ran, but the watch shows no deletion of statefulset %s before the pod's", a, e.Set)
	}
	ord := ordinalOf(e.Pod, e.Set)
	var run *allowance
	var last *allowance
	for i := range allow {
		a := &allow[i]
		if a.Partition < 0 || a.Set != e.Set || a.Mark > e.Seq {
			continue
		}
		last = a
		switch {
		case a.Partition > ord:
			run = nil
		case run == nil:
			run = a
		}
	}
	st, ok := cluster.SetBefore(sets, e.Set, e.RV)
	watched := ok && st.Type != cluster.EventDeleted && st.Strategy == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.Partition >= 0 && st.Partition <= ord
	switch {
	case run != nil && watched:
		d.By, d.Why = *run, fmt.Sprintf("partition %d <= ordinal %d", st.Partition, ord)
		return d, true
	case run != nil:
		d.Why = fmt.Sprintf("%s allowed it, but the watch shows statefulset %s at %s before the deletion", run, e.Set, st)
	case watched && last != nil:
		d.Why = fmt.Sprintf("the watch shows partition %d (%s), but the last SetPartition executed before it was %s", st.Partition, st, last)
	case watched:
		d.Why = fmt.Sprintf("the watch shows partition %d (%s), but no SetPartition was executed before it", st.Partition, st)
	default:
		d.Why = why
	}
	return d, false
}

// checkPartitionWatch checks the StatefulSets' real partition changes, as
// their watch showed them at or after mark, against the executed
// SetPartitions: every change of a partition or update strategy (a
// StatefulSet's creation aside) is a SetPartition of that StatefulSet to
// that value executed before the event was recorded (Mark <= Seq), and
// every executed SetPartition took effect: its value was in force when it
// ran or a later event shows it. It returns the changes seen.
func checkPartitionWatch(t *testing.T, sets []cluster.SetEvent, mark int, allow []allowance) []cluster.SetEvent {
	t.Helper()
	names := map[string]bool{}
	for _, s := range sets {
		names[s.Name] = true
	}
	var changes []cluster.SetEvent
	for name := range names {
		for _, c := range cluster.PartitionChanges(sets, name) {
			if c.Seq < mark || c.Type == cluster.EventAdded {
				continue
			}
			changes = append(changes, c)
			found := false
			for _, a := range allow {
				if a.Partition >= 0 && a.Set == name && a.Partition == c.Partition && a.Mark <= c.Seq {
					found = true
					break
				}
			}
			switch {
			case c.Strategy != appsv1.RollingUpdateStatefulSetStrategyType:
				t.Errorf("statefulset %s update strategy changed to %s (%s)", name, c.Strategy, c)
			case !found:
				t.Errorf("statefulset %s partition changed to %d (%s) by no SetPartition executed before it", name, c.Partition, c)
			}
		}
	}
	for _, a := range allow {
		if a.Partition < 0 {
			continue
		}
		var before *cluster.SetEvent
		shown := false
		for i := range sets {
			s := &sets[i]
			if s.Name != a.Set {
				continue
			}
			if s.Seq < a.Mark {
				before = s
			} else if s.Partition == a.Partition {
				shown = true
			}
		}
		if !shown && (before == nil || before.Partition != a.Partition) {
			t.Errorf("%s: the statefulset watch never shows partition %d", a, a.Partition)
		}
	}
	return changes
}

// checkOneAtATime checks the recreations of a one-at-a-time upgrade
// (rolling, either ordering) against the actions that allowed them (from
// checkDisruptions): every old pod seen Terminating before it went; each
// termination, and the action that allowed it, only after the previous
// replacement was ready (the action's Mark above the ready event's Seq) and
// its server had caught up with the leader (the action after the catch-up
// the simulated Raft recorded); never allowed while the pod led.
func checkOneAtATime(t *testing.T, rs *cluster.RaftSet, recs []cluster.Recreation, by map[types.UID]disruption) {
	t.Helper()
	catchUps := rs.Raft.CatchUps()
	caughtUp := func(r cluster.Recreation) (cluster.CatchUp, bool) {
		for _, c := range catchUps {
			if c.Server == r.Pod && c.UID == r.NewUID {
				return c, true
			}
		}
		return cluster.CatchUp{}, false
	}
	for i, r := range recs {
		if r.Terminating >= r.Deleted {
			t.Errorf("%s: old pod not seen Terminating before it was deleted (%v)", r.Pod, r)
		}
		d, ok := by[r.OldUID]
		if !ok {
			continue // reported by checkDisruptions
		}
		if d.By.Leader == r.Pod {
			t.Errorf("%s released by %s while it led", r.Pod, d.By)
		}
		if i == 0 {
			continue
		}
		prev := recs[i-1]
		if r.Terminating <= prev.Ready {
			t.Errorf("%s terminating (#%d) before %s's replacement was ready (#%d)", r.Pod, r.Terminating, prev.Pod, prev.Ready)
		}
		if d.By.Mark <= prev.Ready {
			t.Errorf("%s allowed by %s before %s's replacement was ready (#%d)", r.Pod, d.By, prev.Pod, prev.Ready)
		}
		switch c, ok := caughtUp(prev); {
		case !ok:
			t.Errorf("%s allowed by %s, but %s's replacement never caught up", r.Pod, d.By, prev.Pod)
		case !d.By.At.After(c.CaughtUp):
			t.Errorf("%s allowed by %s at %s, before %s caught up at %s", r.Pod, d.By, d.By.At.Format("15:04:05.000"), prev.Pod, c.CaughtUp.Format("15:04:05.000"))
		}
	}
}

// checkCatchUps asserts that every catch-up the simulated Raft recorded
// lasted at least the configured lag: the strategies waited on it.
func checkCatchUps(t *testing.T, rs *cluster.RaftSet, want int) {
	t.Helper()
	cs := rs.Raft.CatchUps()
	if len(cs) < want {
		t.Errorf("%d catch-ups recorded, want at least %d", len(cs), want)
	}
	for _, c := range cs {
		if d := c.CaughtUp.Sub(c.Up); d < rs.Spec.CatchUpLag {
			t.Errorf("%s caught up after %s, below the lag %s", c.Server, d, rs.Spec.CatchUpLag)
		}
	}
}

// checkElections asserts that every election of the simulated Raft was won
// after the seeded delay (at least ElectionTimeout) by a healthy voter, and
// that the cluster has a leader.
func checkElections(t *testing.T, rs *cluster.RaftSet) []cluster.Election {
	t.Helper()
	es := rs.Raft.Elections()
	for _, e := range es {
		if e.Winner == "" {
			t.Errorf("election for term %d (%s) failed", e.Term, e.Why)
		}
		if d := e.At.Sub(e.Lost); d < rs.Spec.ElectionTimeout {
			t.Errorf("election for term %d (%s) decided after %s, below the election timeout %s", e.Term, e.Why, d, rs.Spec.ElectionTimeout)
		}
	}
	if rs.Raft.Leader() == "" {
		t.Error("no leader at the end")
	}
	return es
}

// checkPodsAt asserts that pods are exactly n, all at image with the
// version label.
func checkPodsAt(t *testing.T, pods []corev1.Pod, n int, image, version string) {
	t.Helper()
	if len(pods) != n {
		t.Errorf("%d pods at the end, want %d", len(pods), n)
	}
	for _, p := range pods {
		if p.Labels[cluster.LabelVersion] != version {
			t.Errorf("%s version label = %q, want %s", p.Name, p.Labels[cluster.LabelVersion], version)
		}
		if got := p.Spec.Containers[0].Image; got != image {
			t.Errorf("%s image = %s, want %s", p.Name, got, image)
		}
	}
}

// checkLockReleased asserts that the operation-lock Lease exists (the
// upgrade took it) and has no holder.
func checkLockReleased(t *testing.T, ctx context.Context, rs *cluster.RaftSet) {
	t.Helper()
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: rs.Namespace, Name: rs.Spec.Name + kadapter.DefaultLockSuffix}
	if err := rs.CP.Runtime.Get(ctx, key, &lease); err != nil {
		t.Errorf("operation lock %s: %v", key, err)
		return
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("operation lock still held by %q", *h)
	}
}

// recordedSince returns the recorder's pod events from mark on once the
// watch has delivered n deletions (a fresh list showing the pods gone can
// come before the informer's DELETED events), or after timeout with what
// it has: the checks then report the shortfall.
func recordedSince(ctx context.Context, rs *cluster.RaftSet, mark, n int, timeout time.Duration) []cluster.PodEvent {
	deadline := time.Now().Add(timeout)
	for {
		events := rs.Recorder.Since(mark)
		if len(cluster.Deletions(events)) >= n || time.Now().After(deadline) || ctx.Err() != nil {
			return events
		}
		time.Sleep(20 * time.Millisecond)
	}
}
