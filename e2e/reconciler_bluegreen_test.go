package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

// testReconcilerBlueGreen: a blue-green upgrade by a RaftUpgrade,
// optionally with the manager replaced mid-upgrade (after a green member
// joined the Raft configuration).
func testReconcilerBlueGreen(t *testing.T, cp *cluster.ControlPlane, c client.Client, restart bool) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(cp.Context(), 150*time.Second)
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
	log := &opLog{rs: rs}

	mgrs := []*manager{startManager(t, cp, rs, log, 1)}
	spec := baseSpec(rs, upgrade.StrategyBlueGreen)
	spec.BlueGreen = &bluegreen.Spec{
		PeerDomain:          rs.HeadlessServiceName(),
		AutoPromote:         true,
		PrePromotionHook:    "smoke",
		CatchUp:             upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		MinSyncDuration:     metav1.Duration{Duration: 500 * time.Millisecond},
		StabilizationWindow: metav1.Duration{Duration: time.Second},
		RetryAfter:          metav1.Duration{Duration: 3 * time.Second},
		RequeueAfter:        metav1.Duration{Duration: 100 * time.Millisecond},
	}
	createUpgrade(t, ctx, c, rs, spec)
	green := bluegreen.GreenName(rs.Spec.Name, newVersion, newImage)
	isGreen := func(name string) bool { return strings.HasPrefix(name, green+"-") }

	if restart {
		// In flight, mid-membership: a green member already joined.
		waitUpgrade(t, ctx, c, rs, log, "blue-green upgrade in flight with a green member joined", 60*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
			return ru.Status.Upgrade != nil && ru.Status.Upgrade.Phase != "" && slices.ContainsFunc(log.ok(), func(x opEntry) bool {
				return x.Verb == "raft" && x.Action.Kind() == upgrade.KindJoinNonvoter
			})
		})
		checkEvents(t, ctx, c, rs, []string{string(upgrade.ReasonStarted)})
		mgrs[0].stop(t)
		ru, err := getUpgrade(ctx, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("manager 1 stopped in phase %s; %d writes so far", phaseOf(ru.Status), len(log.ok()))
		if ru.Status.Idle() {
			t.Fatal("upgrade finished before manager 1 was stopped")
		}
		mgrs = append(mgrs, startManager(t, cp, rs, log, 2))
	}

	ru := waitUpgrade(t, ctx, c, rs, log, "blue-green upgrade done", 100*time.Second, upgraded)
	t.Logf("upgrade took %s", time.Since(begin).Round(time.Millisecond))
	greenPods, err := rs.WaitReady(ctx, green, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	if _, err := rs.WaitReady(ctx, rs.Spec.Name, 0, "", 10*time.Second); err != nil {
		t.Errorf("blue pods not reaped: %v", err)
	}
	events := recordedSince(ctx, rs, mark, len(blueUIDs), 10*time.Second)
	sets := rs.Recorder.SetEvents()
	ops := log.ok()
	t.Logf("writes:\n%s", log)
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	checkFinalStatus(t, ru)
	checkNoFailedWrites(t, log)

	// Raft: no voter ever down (nor catching up); votes and leadership all
	// green; every green server caught up after the lag before it was
	// promoted.
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
	if l := rs.Raft.Leader(); !isGreen(l) {
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
	for _, x := range ops {
		if a, ok := x.Action.(upgrade.Promote); ok && x.Verb == "raft" {
			promotions = append(promotions, allowance{At: x.At, Pod: a.Member, What: x.Action.String()})
		}
	}
	checkPromotedCaughtUp(t, rs, promotions)

	// No pod recreated; only the blue pods deleted, each through the
	// deletion of the blue StatefulSet written before it (its deletion
	// shown by the watch before the pod's); no partition changed.
	if recs := cluster.Recreations(events); len(recs) != 0 {
		t.Errorf("pods recreated during blue-green: %v", recs)
	}
	for _, e := range cluster.Terminations(events) {
		if uid, blue := blueUIDs[e.Pod]; !blue || e.UID != uid {
			t.Errorf("unexpected pod deletion %v", e)
		}
	}
	if n := len(cluster.Deletions(events)); n != len(blueUIDs) {
		t.Errorf("%d pod deletions, want the %d blue pods", n, len(blueUIDs))
	}
	allow := opAllowances(ops)
	if changes := checkPartitionWatch(t, sets, mark, allow); len(changes) != 0 {
		t.Errorf("partition changed during blue-green:\n%s", cluster.FormatSetEvents(changes))
	}
	for uid, d := range checkDisruptions(t, events, sets, allow) {
		if d.Why != "DeleteRevision" || d.By.Set != rs.Spec.Name {
			t.Errorf("%s (uid %s) terminated by %s (%s), want the blue StatefulSet's deletion", d.Event.Pod, uid, d.By, d.Why)
		}
	}

	// Write order: every join before any promotion, promotions before the
	// leadership move to green, the move before any demotion, every blue
	// voter demoted before any removal, blue removed before the Service
	// switch, blue deleted last.
	index := func(last bool, pred func(opEntry) bool) int {
		i := -1
		for j, x := range ops {
			if pred(x) {
				i = j
				if !last {
					break
				}
			}
		}
		return i
	}
	raftKind := func(k upgrade.ActionKind) func(opEntry) bool {
		return func(x opEntry) bool { return x.Verb == "raft" && x.Action.Kind() == k }
	}
	createGreen := index(false, func(x opEntry) bool { return x.Verb == "create" && x.Kind == "StatefulSet" && x.Name == green })
	lastJoin, firstPromote := index(true, raftKind(upgrade.KindJoinNonvoter)), index(false, raftKind(upgrade.KindPromote))
	lastPromote := index(true, raftKind(upgrade.KindPromote))
	move := index(false, func(x opEntry) bool {
		a, ok := x.Action.(upgrade.TransferLeadership)
		return x.Verb == "raft" && ok && isGreen(a.ToID)
	})
	firstDemote, lastDemote := index(false, raftKind(upgrade.KindDemote)), index(true, raftKind(upgrade.KindDemote))
	firstRemove, lastRemove := index(false, raftKind(upgrade.KindRemovePeer)), index(true, raftKind(upgrade.KindRemovePeer))
	switchSvc := index(false, func(x opEntry) bool { return x.Verb == "patch" && x.Kind == "Service" && x.Selects == green })
	deleteBlue := index(false, func(x opEntry) bool { return x.Verb == "delete" && x.Kind == "StatefulSet" && x.Name == rs.Spec.Name })
	t.Logf("write indexes: create green %d, last join %d, first promote %d, last promote %d, leader move %d, first demote %d, last demote %d, first remove %d, last remove %d, switch %d, delete blue %d",
		createGreen, lastJoin, firstPromote, lastPromote, move, firstDemote, lastDemote, firstRemove, lastRemove, switchSvc, deleteBlue)
	if !(createGreen >= 0 && createGreen < lastJoin && lastJoin < firstPromote && lastPromote < move && move < firstDemote &&
		lastDemote < firstRemove && lastRemove < switchSvc && switchSvc < deleteBlue) {
		t.Errorf("writes out of the blue-green order")
	}
	var joined, demoted, removed []string
	for _, x := range ops {
		switch a := x.Action.(type) {
		case upgrade.JoinNonvoter:
			if !slices.Contains(joined, a.Member) {
				joined = append(joined, a.Member)
			}
		case upgrade.Demote:
			if !slices.Contains(demoted, a.Member) {
				demoted = append(demoted, a.Member)
			}
		case upgrade.RemovePeer:
			if !slices.Contains(removed, a.Member) {
				removed = append(removed, a.Member)
			}
		}
	}
	slices.Sort(joined)
	slices.Sort(demoted)
	slices.Sort(removed)
	if !slices.Equal(joined, wantVoters) {
		t.Errorf("joined %v, want %v", joined, wantVoters)
	}
	if want := []string{"bao-0", "bao-1", "bao-2"}; !slices.Equal(demoted, want) {
		t.Errorf("demoted %v, want %v", demoted, want)
	}
	if want := []string{"bao-0", "bao-1", "bao-2"}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}

	// Kubernetes objects: the Service selects green, blue is gone.
	if _, err := rs.StatefulSet(ctx); !apierrors.IsNotFound(err) {
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
	checkLockReleased(t, ctx, rs)

	// Both strategies report a start and an outcome with the shared
	// reasons (UpgradeStarted, UpgradeSucceeded).
	checkEvents(t, ctx, c, rs,
		[]string{string(upgrade.ReasonStarted)},
		[]string{string(upgrade.ReasonSucceeded)})
	checkMetrics(t, rs, upgrade.StrategyBlueGreen, mgrs...)
	checkManagersWrote(t, log, len(mgrs))
}
