package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raftshift/raftshift/e2e/internal/cluster"
)

const (
	oldImage   = "example.com/openbao/openbao:2.3.1"
	oldVersion = "2.3.1"
	newImage   = "example.com/openbao/openbao:2.4.0"
	newVersion = "2.4.0"
)

func uids(pods []corev1.Pod) map[string]types.UID {
	out := map[string]types.UID{}
	for _, p := range pods {
		out[p.Name] = p.UID
	}
	return out
}

// TestHarness proves the harness on one control plane: the real
// StatefulSet controller honours the RollingUpdate partition, the readiness
// loop and the simulated Raft follow pod recreations, and the simulated
// Raft does flag unsafe restarts (so its silence in the upgrade tests
// means something).
func TestHarness(t *testing.T) {
	cp := cluster.Start(t)
	t.Logf("control plane started in %s", cp.StartupTime.Round(time.Millisecond))
	t.Run("PartitionRecreatesOnlyHighOrdinal", func(t *testing.T) { testPartition(t, cp) })
	t.Run("RaftFlagsUnsafeRestarts", func(t *testing.T) { testUnsafeRestarts(t, cp) })
}

// testPartition: with partition 3 a template change moves no pod; with
// partition 2 only ordinal 2 is recreated (new UID, new image), ordinals 0
// and 1 keep their UIDs.
func testPartition(t *testing.T, cp *cluster.ControlPlane) {
	ctx, cancel := context.WithTimeout(cp.Context(), 2*time.Minute)
	defer cancel()

	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: 0})
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Raft.Formed() {
		t.Fatal("raft did not form with 3 ready pods")
	}
	if got := rs.Raft.Voters(); !slices.Equal(got, []string{"bao-0", "bao-1", "bao-2"}) {
		t.Fatalf("voters = %v, want bao-0..2", got)
	}
	if l := rs.Raft.Leader(); l != "bao-0" {
		t.Fatalf("leader = %q, want bao-0", l)
	}
	oldUIDs := uids(before)

	// Lock every pod, change the template, then release ordinal 2 only.
	if err := rs.SetPartition(ctx, 3); err != nil {
		t.Fatal(err)
	}
	mark := rs.Recorder.Mark()
	if err := rs.SetTemplate(ctx, newImage, newVersion); err != nil {
		t.Fatal(err)
	}
	// With partition 3 nothing may move. The positive signal: the
	// StatefulSet's watch shows the controller acted on the new template
	// (observedGeneration reached, a new update revision); it writes that
	// status after any pod deletion of the same sync, so a fresh list of
	// the pods then shows whatever it did.
	set, err := rs.StatefulSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	synced, err := waitSetStatus(ctx, rs, func(e cluster.SetEvent) bool {
		return e.ObservedGeneration >= set.Generation && e.UpdateRevision != "" && e.UpdateRevision != e.CurrentRevision
	})
	if err != nil {
		t.Fatalf("controller did not act on the template change: %v\n%s", err, cluster.FormatSetEvents(rs.Recorder.SetsSince(mark)))
	}
	checkUntouched(t, ctx, rs, oldUIDs, "bao-0", "bao-1", "bao-2")
	if ev := rs.Recorder.Since(mark); len(cluster.Terminations(ev)) != 0 || synced.UpdatedReplicas != 0 {
		t.Fatalf("pods deleted while partition locked every pod (controller status %s):\n%s", synced, cluster.FormatEvents(ev))
	}
	t.Logf("controller acted on the template with partition 3 and moved nothing: %s", synced)

	if err := rs.SetPartition(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if set, err = rs.StatefulSet(ctx); err != nil {
		t.Fatal(err)
	}
	var after []corev1.Pod
	err = rs.WaitFor(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		ps, err := rs.WaitReady(ctx, rs.Spec.Name, 3, "", time.Minute)
		if err != nil {
			return false, err
		}
		for _, p := range ps {
			if p.Name == "bao-2" && p.UID != oldUIDs["bao-2"] && p.Spec.Containers[0].Image == newImage {
				after = ps
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("bao-2 not recreated at the new image: %v\n%s", err, cluster.FormatEvents(rs.Recorder.Since(mark)))
	}
	// Any wrongful further restart would be decided in the controller's
	// sync that sees bao-2's replacement ready: wait for the status that
	// sync writes (generation of partition 2, three ready replicas, one
	// updated, written after bao-2's ready event), then list the pods.
	var bao2Ready cluster.PodEvent
	for _, e := range rs.Recorder.Since(mark) {
		if e.Pod == "bao-2" && e.UID != oldUIDs["bao-2"] && e.Ready && bao2Ready.RV == 0 {
			bao2Ready = e
		}
	}
	synced, err = waitSetStatus(ctx, rs, func(e cluster.SetEvent) bool {
		return e.ObservedGeneration >= set.Generation && e.ReadyReplicas == 3 && e.UpdatedReplicas == 1 && e.RV > bao2Ready.RV
	})
	if err != nil {
		t.Fatalf("controller status after bao-2's replacement: %v\n%s", err, cluster.FormatSetEvents(rs.Recorder.SetsSince(mark)))
	}
	checkUntouched(t, ctx, rs, oldUIDs, "bao-0", "bao-1")
	t.Logf("controller settled with bao-2 replaced: %s", synced)

	events := rs.Recorder.Since(mark)
	t.Logf("pod events after the template change:\n%s", cluster.FormatEvents(events))
	recs := cluster.Recreations(events)
	if len(recs) != 1 || recs[0].Pod != "bao-2" {
		t.Fatalf("recreations = %v, want exactly bao-2", recs)
	}
	rc := recs[0]
	if rc.OldUID != oldUIDs["bao-2"] || rc.NewUID == "" || rc.Image != newImage || rc.Ready < 0 {
		t.Fatalf("bao-2 recreation = %v, want old uid %s replaced by a ready pod at %s", rc, oldUIDs["bao-2"], newImage)
	}
	if !(rc.Terminating < rc.Deleted && rc.Deleted < rc.Added && rc.Added < rc.Ready) {
		t.Fatalf("recreation order: terminating #%d, deleted #%d, added #%d, ready #%d", rc.Terminating, rc.Deleted, rc.Added, rc.Ready)
	}
	// The old bao-2 was deleted gracefully: bound to the node, Terminating
	// (and turned unready by the kubelet stand-in) before it went.
	var sawUnready bool
	for _, e := range events {
		if e.UID == rc.OldUID && e.Terminating {
			if e.Node != cluster.NodeName {
				t.Errorf("terminating bao-2 not bound to %s: %v", cluster.NodeName, e)
			}
			sawUnready = sawUnready || !e.Ready
		}
	}
	if !sawUnready {
		t.Errorf("old bao-2 never seen terminating and unready:\n%s", cluster.FormatEvents(events))
	}

	now := uids(after)
	for _, name := range []string{"bao-0", "bao-1"} {
		if now[name] != oldUIDs[name] {
			t.Errorf("%s recreated (uid %s -> %s) though below the partition", name, oldUIDs[name], now[name])
		}
	}
	for _, p := range after {
		want := oldImage
		if p.Name == "bao-2" {
			want = newImage
		}
		if got := p.Spec.Containers[0].Image; got != want {
			t.Errorf("%s image = %s, want %s", p.Name, got, want)
		}
	}

	// The simulated Raft saw bao-2 restart as a follower: one voter down,
	// never the leader, no violation.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft violations: %v", v)
	}
	if got := rs.Raft.MaxVotersDown(); got != 1 {
		t.Errorf("max voters down = %d, want 1 (bao-2 while recreated)", got)
	}
	if l := rs.Raft.Leader(); l != "bao-0" {
		t.Errorf("leader = %q, want bao-0", l)
	}
	t.Logf("raft history:\n%s", rs.Raft.FormatHistory())
}

// testUnsafeRestarts deletes pods behind the FSM's back: the leader first
// (S3), then the two followers of the new leader at once (S2, and S1 as
// quorum is lost). The simulated Raft must report each breach and re-elect
// as Raft would: after the seeded election delay, once a quorum of voters
// is healthy (caught up).
func testUnsafeRestarts(t *testing.T, cp *cluster.ControlPlane) {
	ctx, cancel := context.WithTimeout(cp.Context(), 2*time.Minute)
	defer cancel()
	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: 0})
	if _, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute); err != nil {
		t.Fatal(err)
	}
	pods := cp.Client.CoreV1().Pods(rs.Namespace)
	mark := rs.Recorder.Mark()
	if err := pods.Delete(ctx, "bao-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rs.WaitFor(ctx, time.Minute, func(context.Context) (bool, error) {
		recs := cluster.Recreations(rs.Recorder.Since(mark))
		return len(recs) == 1 && recs[0].Ready >= 0, nil
	}); err != nil {
		t.Fatalf("bao-0 not recreated: %v", err)
	}
	v := rs.Raft.Violations()
	if len(v) != 1 || !strings.HasPrefix(v[0], "S3: leader bao-0") {
		t.Fatalf("violations after deleting the leader = %q, want one S3", v)
	}
	// Re-elected after the seeded delay: a healthy voter other than bao-0
	// (terminating, then catching up).
	if err := rs.WaitFor(ctx, 10*time.Second, func(context.Context) (bool, error) { return rs.Raft.Healthy(), nil }); err != nil {
		t.Fatalf("cluster not healthy again after losing bao-0: %v\n%s", err, rs.Raft.FormatHistory())
	}
	leader := rs.Raft.Leader()
	es := checkElections(t, rs)
	if len(es) != 1 || es[0].Winner == "bao-0" || es[0].Winner != leader {
		t.Errorf("elections after losing bao-0 = %+v, leader %q, want one won by bao-1 or bao-2", es, leader)
	}

	var followers []string
	for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
		if name != leader {
			followers = append(followers, name)
		}
	}
	for _, name := range followers {
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rs.WaitFor(ctx, time.Minute, func(context.Context) (bool, error) {
		return len(rs.Raft.Violations()) >= 3, nil
	}); err != nil {
		t.Fatalf("violations after deleting two followers = %q, want S2 and S1 too", rs.Raft.Violations())
	}
	v = rs.Raft.Violations()
	if !strings.HasPrefix(v[1], "S2: 2 voters down") || !strings.HasPrefix(v[2], "S1: 1 of 3 voters healthy") {
		t.Errorf("violations = %q, want S2 then S1 after the second deletion", v)
	}
	if got := rs.Raft.MaxVotersDown(); got != 2 {
		t.Errorf("max voters down = %d, want 2", got)
	}
	if _, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Quorum regained once the restarted followers caught up: a leader is
	// elected again after the delay; no new breach.
	if err := rs.WaitFor(ctx, 10*time.Second, func(context.Context) (bool, error) { return rs.Raft.Healthy(), nil }); err != nil {
		t.Errorf("no leader after quorum was regained: %v", err)
	}
	if got := len(rs.Raft.Violations()); got != 3 {
		t.Errorf("%d violations, want 3 (S3, S2, S1 each once): %q", got, rs.Raft.Violations())
	}
	// Elections while a quorum was down failed; the last one was won; each
	// was decided after the seeded delay.
	es = rs.Raft.Elections()
	if n := len(es); n < 2 || es[n-1].Winner == "" || es[n-1].Winner != rs.Raft.Leader() {
		t.Errorf("elections = %+v, want a last one won after quorum was regained", es)
	}
	for _, e := range es {
		if d := e.At.Sub(e.Lost); d < rs.Spec.ElectionTimeout {
			t.Errorf("election for term %d decided after %s, below the election timeout %s", e.Term, d, rs.Spec.ElectionTimeout)
		}
	}
	t.Logf("raft history (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())
}

// waitSetStatus waits (bounded) until the StatefulSet's watch shows an
// event for which cond holds, and returns it.
func waitSetStatus(ctx context.Context, rs *cluster.RaftSet, cond func(cluster.SetEvent) bool) (cluster.SetEvent, error) {
	var got cluster.SetEvent
	err := rs.WaitFor(ctx, 30*time.Second, func(context.Context) (bool, error) {
		e, ok := rs.Recorder.LastSet(rs.Spec.Name)
		if ok && cond(e) {
			got = e
			return true, nil
		}
		return false, nil
	})
	return got, err
}

// checkUntouched lists the pods (a fresh read) and asserts that the named
// ones are still their original incarnations, not terminating.
func checkUntouched(t *testing.T, ctx context.Context, rs *cluster.RaftSet, oldUIDs map[string]types.UID, names ...string) {
	t.Helper()
	pods, err := rs.Pods(ctx, rs.Spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	for _, n := range names {
		p, ok := byName[n]
		switch {
		case !ok:
			t.Errorf("%s is gone", n)
		case p.UID != oldUIDs[n]:
			t.Errorf("%s recreated (uid %s -> %s)", n, oldUIDs[n], p.UID)
		case p.DeletionTimestamp != nil:
			t.Errorf("%s is terminating", n)
		}
	}
}
