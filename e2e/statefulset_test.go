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
	// With partition 3 nothing may move: give the controller time to act.
	time.Sleep(time.Second)
	if ev := rs.Recorder.Since(mark); len(cluster.DeletedPods(ev)) != 0 {
		t.Fatalf("pods deleted while partition locked every pod:\n%s", cluster.FormatEvents(ev))
	}

	if err := rs.SetPartition(ctx, 2); err != nil {
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
	// Let any wrongful further restart surface.
	time.Sleep(time.Second)

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
	if !(rc.Deleted < rc.Added && rc.Added < rc.Ready) {
		t.Fatalf("recreation order: deleted #%d, added #%d, ready #%d", rc.Deleted, rc.Added, rc.Ready)
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
// (S3), then two followers at once (S2, and S1 as quorum is lost). The
// simulated Raft must report each breach and re-elect as Raft would.
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
	if l := rs.Raft.Leader(); l != "bao-1" {
		t.Errorf("leader after losing bao-0 = %q, want bao-1 (re-elected)", l)
	}

	for _, name := range []string{"bao-2", "bao-0"} {
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
	// Quorum regained: a leader is elected again; no new breach.
	if l := rs.Raft.Leader(); l == "" {
		t.Error("no leader after quorum was regained")
	}
	if got := len(rs.Raft.Violations()); got != 3 {
		t.Errorf("%d violations, want 3 (S3, S2, S1 each once): %q", got, rs.Raft.Violations())
	}
	t.Logf("raft history:\n%s", rs.Raft.FormatHistory())
}
