package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

// TestBlueGreenUpgrade runs a whole blue-green upgrade through the
// Kubernetes adapter and bluegreen.Step: the green StatefulSet is created by
// the adapter and populated by the real StatefulSet controller, green
// servers join the simulated Raft as non-voters, are promoted, take
// leadership, blue is demoted and removed, the Service switches to green
// and blue is deleted. No voter may ever go down.
func TestBlueGreenUpgrade(t *testing.T) {
	cp := cluster.Start(t)
	t.Logf("control plane started in %s", cp.StartupTime.Round(time.Millisecond))
	t.Run("AutoPromote", func(t *testing.T) { testBlueGreen(t, cp, 0) })
	// The host crashes on every third Decision with actions, part way
	// through, with or without persisting the new status (design rule 2).
	t.Run("HostCrashes", func(t *testing.T) { testBlueGreen(t, cp, 3) })
}

// blueGreenCatchUpLag is the blue-green RaftSets' catch-up lag: the green
// servers join within about 300ms and, without the lag, would be promoted
// about 2s after joining.
const blueGreenCatchUpLag = 1500 * time.Millisecond

func testBlueGreen(t *testing.T, cp *cluster.ControlPlane, crashEvery int) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(cp.Context(), 2*time.Minute)
	defer cancel()

	// Green servers catch up for longer than the sync window and the
	// validation take without the lag: the catch-up gate (Syncing) is
	// what holds the promotions.
	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: 1, TargetedTransfer: true,
		CatchUpLag: blueGreenCatchUpLag})
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	blueUIDs := uids(before)
	mark := rs.Recorder.Mark()

	spec := bluegreen.Spec{
		Version:             newVersion,
		Image:               newImage,
		Workload:            rs.Spec.Name,
		Service:             rs.Spec.Name,
		PeerDomain:          rs.HeadlessServiceName(),
		AutoPromote:         true,
		PrePromotionHook:    "smoke",
		CatchUp:             upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		MinSyncDuration:     metav1.Duration{Duration: 500 * time.Millisecond},
		StabilizationWindow: metav1.Duration{Duration: time.Second},
		RetryAfter:          metav1.Duration{Duration: 3 * time.Second},
		RequeueAfter:        metav1.Duration{Duration: 100 * time.Millisecond},
	}
	green := bluegreen.GreenName(spec.Workload, spec.Version, spec.Image)
	h := newHost(t, rs)
	h.crashEvery = crashEvery
	st := h.run(ctx, func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
		return bluegreen.Step(spec, obs, st)
	}, upgrade.Status{CurrentVersion: oldVersion, CurrentImage: oldImage}, func(st upgrade.Status) bool {
		return st.Idle() && st.CurrentVersion == newVersion
	}, 100*time.Second)

	// Let the watch catch up: green serving, blue pods reaped.
	greenPods, err := rs.WaitReady(ctx, green, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	if _, err := rs.WaitReady(ctx, rs.Spec.Name, 0, "", 10*time.Second); err != nil {
		t.Errorf("blue pods not reaped: %v", err)
	}
	events := recordedSince(ctx, rs, mark, len(blueUIDs), 10*time.Second)
	sets := rs.Recorder.SetEvents()
	t.Logf("upgrade took %s in %d steps; phases %s", time.Since(begin).Round(time.Millisecond), h.steps, strings.Join(h.phases, " -> "))
	if crashEvery > 0 {
		if len(h.crashes) < 3 {
			t.Errorf("only %d host crashes simulated", len(h.crashes))
		}
		t.Logf("host crashes:\n%s", strings.Join(h.crashes, "\n"))
	}
	t.Logf("actions:\n%s", formatExecuted(h.log))
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	if st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded || st.CurrentImage != newImage {
		t.Errorf("final status: result %+v image %s, want Succeeded at %s", st.LastResult, st.CurrentImage, newImage)
	}
	// No action failed (none is expected).
	h.checkFailures(t)

	// Raft: no voter ever went down (nor was one catching up), leadership
	// and every vote are green; every green server caught up after the lag
	// before it was promoted.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	if got := rs.Raft.MaxVotersDown(); got != 0 {
		t.Errorf("max voters down at once = %d, want 0 (blue-green restarts no voter)", got)
	}
	wantVoters := []string{green + "-0", green + "-1", green + "-2"}
	if got := rs.Raft.Voters(); !slices.Equal(got, wantVoters) {
		t.Errorf("voters = %v, want %v", got, wantVoters)
	}
	if l := rs.Raft.Leader(); !strings.HasPrefix(l, green+"-") {
		t.Errorf("leader = %q, want a green member", l)
	}
	for name := range blueUIDs {
		if n := rs.Raft.Restarts(name); n != 0 {
			t.Errorf("blue server %s restarted %d times, want 0", name, n)
		}
	}
	checkCatchUps(t, rs, 3)
	checkElections(t, rs)
	var promotions []allowance
	for _, x := range h.log {
		if a, ok := x.Action.(upgrade.Promote); ok && x.Err == nil {
			promotions = append(promotions, allowance{At: x.At, Pod: a.Member, What: x.Action.String()})
		}
	}
	checkPromotedCaughtUp(t, rs, promotions)

	// No pod was ever recreated: blue pods were only deleted at the end,
	// after leaving the Raft configuration, each through the deletion of
	// the blue StatefulSet (DeleteRevision, executed before it, the
	// StatefulSet's deletion shown by its watch before the pod's); no
	// partition changed.
	if recs := cluster.Recreations(events); len(recs) != 0 {
		t.Errorf("pods recreated during blue-green: %v", recs)
	}
	for _, e := range cluster.Terminations(events) {
		if _, blue := blueUIDs[e.Pod]; !blue || e.UID != blueUIDs[e.Pod] {
			t.Errorf("unexpected pod deletion %v", e)
		}
	}
	if n := len(cluster.Deletions(events)); n != len(blueUIDs) {
		t.Errorf("%d pod deletions, want the %d blue pods", n, len(blueUIDs))
	}
	allow := hostAllowances(h.log)
	if changes := checkPartitionWatch(t, sets, mark, allow); len(changes) != 0 {
		t.Errorf("partition changed during blue-green:\n%s", cluster.FormatSetEvents(changes))
	}
	for uid, d := range checkDisruptions(t, events, sets, allow) {
		if d.Why != "DeleteRevision" || d.By.Set != rs.Spec.Name {
			t.Errorf("%s (uid %s) terminated by %s (%s), want the blue DeleteRevision", d.Event.Pod, uid, d.By, d.Why)
		}
	}

	// Action order (S4): every green member joined before any promotion,
	// promotions before the leadership move, the leadership move before
	// any demotion, every blue voter demoted before any removal, blue left
	// the configuration before the service switch, and blue was deleted
	// last.
	first := func(pred func(upgrade.Action) bool) int {
		return slices.IndexFunc(h.log, func(x executed) bool { return x.Err == nil && pred(x.Action) })
	}
	last := func(pred func(upgrade.Action) bool) int {
		i := -1
		for j, x := range h.log {
			if x.Err == nil && pred(x.Action) {
				i = j
			}
		}
		return i
	}
	isKind := func(k upgrade.ActionKind) func(upgrade.Action) bool {
		return func(a upgrade.Action) bool { return a.Kind() == k }
	}
	lastJoin, firstPromote := last(isKind(upgrade.KindJoinNonvoter)), first(isKind(upgrade.KindPromote))
	lastPromote, move := last(isKind(upgrade.KindPromote)), first(func(a upgrade.Action) bool {
		x, ok := a.(upgrade.TransferLeadership)
		return ok && strings.HasPrefix(x.ToID, green+"-")
	})
	firstDemote, lastDemote := first(isKind(upgrade.KindDemote)), last(isKind(upgrade.KindDemote))
	firstRemove, lastRemove := first(isKind(upgrade.KindRemovePeer)), last(isKind(upgrade.KindRemovePeer))
	switchSvc := first(isKind(upgrade.KindSwitchService))
	deleteBlue := first(isKind(upgrade.KindDeleteRevision))
	t.Logf("action indexes: last join %d, first promote %d, last promote %d, leader move %d, first demote %d, last demote %d, first remove %d, last remove %d, switch %d, delete blue %d",
		lastJoin, firstPromote, lastPromote, move, firstDemote, lastDemote, firstRemove, lastRemove, switchSvc, deleteBlue)
	if !(lastJoin >= 0 && lastJoin < firstPromote && lastPromote < move && move < firstDemote && lastDemote < firstRemove &&
		lastRemove < switchSvc && switchSvc < deleteBlue) {
		t.Errorf("actions out of the blue-green order")
	}
	if got, want := members(h.log, upgrade.KindDemote), []string{"bao-0", "bao-1", "bao-2"}; !slices.Equal(got, want) {
		t.Errorf("demoted %v, want %v", got, want)
	}
	if got := members(h.log, upgrade.KindJoinNonvoter); !slices.Equal(got, wantVoters) {
		t.Errorf("joined %v, want %v", got, wantVoters)
	}
	if got, want := members(h.log, upgrade.KindRemovePeer), []string{"bao-0", "bao-1", "bao-2"}; !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}

	// Kubernetes objects: green serves, blue is gone.
	if _, err := rs.CP.Client.AppsV1().StatefulSets(rs.Namespace).Get(ctx, rs.Spec.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("blue statefulset still there (err %v)", err)
	}
	svc, err := rs.CP.Client.CoreV1().Services(rs.Namespace).Get(ctx, rs.Spec.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Spec.Selector[cluster.LabelRevision]; got != green {
		t.Errorf("service selects revision %q, want %q", got, green)
	}
	checkPodsAt(t, greenPods, 3, newImage, newVersion)
}

// members returns the distinct members named by the successful actions of
// kind k (JoinNonvoter, Demote, RemovePeer), sorted.
func members(xs []executed, k upgrade.ActionKind) []string {
	var out []string
	for _, x := range xs {
		if x.Err != nil || x.Action.Kind() != k {
			continue
		}
		var m string
		switch a := x.Action.(type) {
		case upgrade.JoinNonvoter:
			m = a.Member
		case upgrade.Demote:
			m = a.Member
		case upgrade.RemovePeer:
			m = a.Member
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// checkPromotedCaughtUp asserts that every promotion (Pod: the member, At:
// when it ran) came after the member had caught up with the leader since
// it joined: the catch-up gate of the strategy waited on the lag.
func checkPromotedCaughtUp(t *testing.T, rs *cluster.RaftSet, promotions []allowance) {
	t.Helper()
	catchUps := rs.Raft.CatchUps()
	for _, p := range promotions {
		ok := slices.ContainsFunc(catchUps, func(c cluster.CatchUp) bool { return c.Server == p.Pod && c.CaughtUp.Before(p.At) })
		if !ok {
			t.Errorf("%s promoted (%s at %s) before it had caught up", p.Pod, p.What, p.At.Format("15:04:05.000"))
		}
	}
	if len(promotions) == 0 {
		t.Error("no promotion")
	}
}
