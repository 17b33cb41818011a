package controller

import (
	"context"
	"errors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/upgrade"
)

func raftUpgrade(name, version string, strategy upgrade.Strategy) *v1alpha1.RaftUpgrade {
	return &v1alpha1.RaftUpgrade{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec: v1alpha1.RaftUpgradeSpec{
			Strategy:     strategy,
			Version:      version,
			Image:        image(version),
			StatefulSet:  "bao",
			Service:      "bao",
			Selector:     map[string]string{"app": "bao"},
			Container:    "openbao",
			VersionLabel: versionLabel,
		},
	}
}

// isClusterWrite reports whether a logged write changes the cluster (not
// the RaftUpgrade's own status).
func isClusterWrite(w string) bool { return !strings.HasPrefix(w, "status RaftUpgrade/") }

// drive reconciles until the upgrade is done, running the emulated
// controllers between reconciles, and checks after every reconcile that
// the status was persisted before anything in the cluster changed.
func drive(t *testing.T, c *cluster, r *Reconciler, name, target string, maxRounds int) (rounds int) {
	t.Helper()
	for rounds = 1; rounds <= maxRounds; rounds++ {
		c.round = rounds
		c.clock.Advance(3 * time.Second)
		res, writes, err := c.reconcile(r, name)
		if err != nil {
			t.Fatalf("round %d: reconcile: %v", rounds, err)
		}
		var ru v1alpha1.RaftUpgrade
		c.get(&ru, name)
		acted := slices.ContainsFunc(writes, isClusterWrite)
		if acted {
			if len(writes) == 0 || writes[0] != "status RaftUpgrade/"+name {
				t.Fatalf("round %d: cluster changed before the status was persisted: %v", rounds, writes)
			}
			if got, want := ru.Status.LastStepTime, upgrade.Time(c.clock.Now()); !got.Equal(&want) {
				t.Fatalf("round %d: persisted lastStepTime %v, want %v (writes %v)", rounds, got, want, writes)
			}
		}
		done := ru.Status.Upgrade == nil && ru.Status.CurrentVersion == target
		if !done && res.RequeueAfter <= 0 {
			t.Fatalf("round %d: upgrade in flight but no requeue (status %+v)", rounds, ru.Status.Upgrade)
		}
		if done {
			return rounds
		}
		c.settle()
	}
	var ru v1alpha1.RaftUpgrade
	c.get(&ru, name)
	t.Fatalf("upgrade not done after %d rounds; status %+v upgrade %+v conditions %+v", maxRounds, ru.Status, ru.Status.Upgrade, ru.Status.Conditions)
	return rounds
}

func TestRollingUpgradeCompletes(t *testing.T) {
	cases := []struct {
		name     string
		leader   string
		targeted bool
		// moves is the number of leadership changes expected.
		moves int
	}{
		// OpenBao: no targeted transfer, the leader at ordinal 0 steps
		// down once and is restarted last.
		{name: "step-down leader at 0", leader: "bao-0", moves: 1},
		// A leader in the middle steps down too; the election picks the
		// upgraded bao-2, so leadership moves exactly once.
		{name: "step-down leader at 1", leader: "bao-1", moves: 1},
		// Targeted transfer (hashicorp/raft hosts).
		{name: "transfer leader at 1", leader: "bao-1", targeted: true, moves: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ru := raftUpgrade("upgrade", "2.5.0", upgrade.StrategyRolling)
			c := newCluster(t, "2.4.1", 3, tc.leader, tc.targeted, ru)
			rec := events.NewFakeRecorder(1000)
			r := c.reconciler(c.recorded(nil), rec)
			c.replaced = nil

			rounds := drive(t, c, r, "upgrade", "2.5.0", 200)

			var got v1alpha1.RaftUpgrade
			c.get(&got, "upgrade")
			st := got.Status
			if st.CurrentVersion != "2.5.0" || st.CurrentImage != image("2.5.0") || st.Upgrade != nil {
				t.Fatalf("final status: current %s (%s), upgrade %+v", st.CurrentVersion, st.CurrentImage, st.Upgrade)
			}
			if st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded || st.LastResult.FromVersion != "2.4.1" {
				t.Fatalf("last result %+v", st.LastResult)
			}
			if c := meta.FindStatusCondition(st.Conditions, upgrade.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
				t.Fatalf("Ready condition %+v", c)
			}
			// Highest ordinal first; the leader's pod is never replaced
			// while it leads (checked by the emulator at each deletion).
			if want := []string{"bao-2", "bao-1", "bao-0"}; !slices.Equal(c.replaced, want) {
				t.Fatalf("replacement order %v, want %v", c.replaced, want)
			}
			if c.raft.moves != tc.moves {
				t.Fatalf("%d leadership changes, want %d (log %v)", c.raft.moves, tc.moves, c.log)
			}
			if tc.leader == "bao-0" && c.replaced[len(c.replaced)-1] != tc.leader {
				t.Fatalf("leader's pod %s not replaced last: %v", tc.leader, c.replaced)
			}
			// Every pod runs the target, the partition is back at 0 and
			// the operation lock is released.
			for ord, p := range c.pods("bao") {
				if p.Spec.Containers[0].Image != image("2.5.0") || p.Labels[versionLabel] != "2.5.0" {
					t.Fatalf("pod %d runs %s (%s)", ord, p.Spec.Containers[0].Image, p.Labels[versionLabel])
				}
			}
			var set appsv1.StatefulSet
			c.get(&set, "bao")
			if p := *set.Spec.UpdateStrategy.RollingUpdate.Partition; p != 0 {
				t.Fatalf("partition %d after the upgrade", p)
			}
			var lease coordinationv1.Lease
			c.get(&lease, "bao-raftshift-lock")
			if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
				t.Fatalf("lock still held by %q", *h)
			}
			// Events were recorded on the RaftUpgrade.
			events := drain(rec)
			if !slices.ContainsFunc(events, func(e string) bool { return strings.Contains(e, "UpgradeStarted") }) ||
				!slices.ContainsFunc(events, func(e string) bool { return strings.Contains(e, "Succeeded") }) {
				t.Fatalf("events %v", events)
			}
			// Metrics: one succeeded upgrade, the leadership moves the
			// strategy executed, the phase back to Idle, gates timed.
			m := c.metrics
			if got := testutil.ToFloat64(m.Upgrades.WithLabelValues(testNS, "upgrade", "Rolling", "Succeeded")); got != 1 {
				t.Errorf("raftshift_upgrades_total{Succeeded} = %v, want 1", got)
			}
			moves := testutil.ToFloat64(m.LeaderMoves.WithLabelValues(testNS, "upgrade", "TransferLeadership")) +
				testutil.ToFloat64(m.LeaderMoves.WithLabelValues(testNS, "upgrade", "StepDown"))
			if moves < 1 || moves > 3 {
				t.Errorf("raftshift_leadership_moves_total = %v", moves)
			}
			if got := testutil.ToFloat64(m.Phase.WithLabelValues(testNS, "upgrade", "", "Idle")); got != 1 {
				t.Errorf("raftshift_upgrade_phase{Idle} = %v", got)
			}
			if n := testutil.CollectAndCount(m.Phase); n != 1 {
				t.Errorf("%d phase series, want only the current one", n)
			}
			if n := testutil.CollectAndCount(m.GateHeld); n == 0 {
				t.Error("no gate held any time")
			}
			if n := testutil.CollectAndCount(m.StepLatency); n != 1 {
				t.Errorf("step latency series %d", n)
			}
			t.Logf("%s: %d reconciles, log %v", tc.name, rounds, c.log)
		})
	}
}

func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestPolicyRefusalChangesNothing(t *testing.T) {
	ru := raftUpgrade("downgrade", "2.3.0", upgrade.StrategyRolling)
	ru.Status.CurrentVersion, ru.Status.CurrentImage = "2.4.1", image("2.4.1")
	c := newCluster(t, "2.4.1", 3, "bao-0", false, ru)
	r := c.reconciler(c.recorded(nil), events.NewFakeRecorder(100))
	var before appsv1.StatefulSet
	c.get(&before, "bao")
	podsBefore := c.pods("bao")

	for round := range 3 {
		c.clock.Advance(3 * time.Second)
		res, writes, err := c.reconcile(r, "downgrade")
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(writes, isClusterWrite) {
			t.Fatalf("round %d: a refused upgrade wrote to the cluster: %v", round, writes)
		}
		if round > 0 && len(writes) > 0 {
			t.Fatalf("round %d: unchanged status written again: %v", round, writes)
		}
		if res.RequeueAfter != 0 {
			t.Fatalf("round %d: policy refusal requeues after %s; it should wait for a spec change", round, res.RequeueAfter)
		}
	}
	var got v1alpha1.RaftUpgrade
	c.get(&got, "downgrade")
	cond := meta.FindStatusCondition(got.Status.Conditions, upgrade.ConditionReady)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "Downgrade" {
		t.Fatalf("Ready condition %+v, want False/Downgrade", cond)
	}
	if got.Status.Upgrade != nil || got.Status.CurrentVersion != "2.4.1" {
		t.Fatalf("status changed: %+v", got.Status)
	}
	var after appsv1.StatefulSet
	c.get(&after, "bao")
	if after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("statefulset changed: %s -> %s", before.ResourceVersion, after.ResourceVersion)
	}
	for ord, p := range c.pods("bao") {
		if p.UID != podsBefore[ord].UID {
			t.Fatalf("pod %d replaced", ord)
		}
	}
	var lease coordinationv1.Lease
	if err := c.base.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: "bao-raftshift-lock"}, &lease); !apierrors.IsNotFound(err) {
		t.Fatalf("lock lease exists or error: %v", err)
	}
	if c.raft.moves != 0 || slices.ContainsFunc(c.log, func(w string) bool { return strings.HasPrefix(w, "raft ") }) {
		t.Fatalf("raft actions: %v", c.log)
	}
}

// TestStatusConflictExecutesNothing: a decision whose status cannot be
// persisted (stale cache, concurrent writer) is dropped without side
// effects and decided again.
func TestStatusConflictExecutesNothing(t *testing.T) {
	ru := raftUpgrade("upgrade", "2.5.0", upgrade.StrategyRolling)
	ru.Status.CurrentVersion, ru.Status.CurrentImage = "2.4.1", image("2.4.1")
	c := newCluster(t, "2.4.1", 3, "bao-0", false, ru)
	conflicts := 1
	cl := c.recorded(func(op string, obj client.Object) error {
		if op == "status" && conflicts > 0 {
			conflicts--
			return apierrors.NewConflict(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "raftupgrades"}, obj.GetName(),
				errors.New("the object has been modified"))
		}
		return nil
	})
	r := c.reconciler(cl, nil)
	c.clock.Advance(3 * time.Second)
	res, writes, err := c.reconcile(r, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != ConflictRequeue {
		t.Fatalf("conflict: requeue %s, want %s", res.RequeueAfter, ConflictRequeue)
	}
	if !slices.Equal(writes, []string{"status RaftUpgrade/upgrade"}) {
		t.Fatalf("conflict: writes %v, want only the refused status write", writes)
	}
	// The next reconcile starts the upgrade: status first, then the lock
	// and the partition.
	c.clock.Advance(time.Second)
	_, writes, err = c.reconcile(r, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"status RaftUpgrade/upgrade", "create Lease/bao-raftshift-lock", "patch StatefulSet/bao"}
	if !slices.Equal(writes, want) {
		t.Fatalf("after conflict: writes %v, want %v", writes, want)
	}
}

// TestRaftUnavailableHolds: without a Raft view nothing disruptive happens
// and the condition says why.
func TestRaftUnavailableHolds(t *testing.T) {
	ru := raftUpgrade("upgrade", "2.5.0", upgrade.StrategyRolling)
	ru.Status.CurrentVersion, ru.Status.CurrentImage = "2.4.1", image("2.4.1")
	c := newCluster(t, "2.4.1", 3, "bao-0", false, ru)
	c.raft.fail = errors.New("connection refused")
	rec := events.NewFakeRecorder(100)
	r := c.reconciler(c.recorded(nil), rec)
	c.clock.Advance(3 * time.Second)
	res, writes, err := c.reconcile(r, "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(writes, isClusterWrite) {
		t.Fatalf("cluster written without a raft view: %v", writes)
	}
	if res.RequeueAfter <= 0 {
		t.Fatalf("no requeue while the raft view is unavailable")
	}
	var got v1alpha1.RaftUpgrade
	c.get(&got, "upgrade")
	cond := meta.FindStatusCondition(got.Status.Conditions, upgrade.ConditionReady)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "NoRaftView" {
		t.Fatalf("Ready condition %+v, want False/NoRaftView", cond)
	}
	if events := drain(rec); !slices.ContainsFunc(events, func(e string) bool { return strings.Contains(e, ReasonRaftUnavailable) }) {
		t.Fatalf("events %v", events)
	}
}

// TestInvalidSpec: an unknown strategy is reported, not acted on.
func TestInvalidSpec(t *testing.T) {
	ru := raftUpgrade("bad", "2.5.0", "Canary")
	c := newCluster(t, "2.4.1", 3, "bao-0", false, ru)
	r := c.reconciler(c.recorded(nil), events.NewFakeRecorder(100))
	res, writes, err := c.reconcile(r, "bad")
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 0 || slices.ContainsFunc(writes, isClusterWrite) {
		t.Fatalf("invalid spec: requeue %s, writes %v", res.RequeueAfter, writes)
	}
	var got v1alpha1.RaftUpgrade
	c.get(&got, "bad")
	cond := meta.FindStatusCondition(got.Status.Conditions, upgrade.ConditionReady)
	if cond == nil || cond.Reason != ReasonStepFailed || !strings.Contains(cond.Message, "Canary") {
		t.Fatalf("Ready condition %+v", cond)
	}
}

func TestBlueGreenUpgradeCompletes(t *testing.T) {
	ru := raftUpgrade("upgrade", "2.5.0", upgrade.StrategyBlueGreen)
	ru.Spec.BlueGreen = &bluegreen.Spec{AutoPromote: true}
	c := newCluster(t, "2.4.1", 3, "bao-0", false, ru)
	rec := events.NewFakeRecorder(1000)
	r := c.reconciler(c.recorded(nil), rec)

	rounds := drive(t, c, r, "upgrade", "2.5.0", 300)

	var got v1alpha1.RaftUpgrade
	c.get(&got, "upgrade")
	if st := got.Status; st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded {
		t.Fatalf("last result %+v", st.LastResult)
	}
	green := bluegreen.GreenName("bao", "2.5.0", image("2.5.0"))
	var set appsv1.StatefulSet
	if err := c.base.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: "bao"}, &set); !apierrors.IsNotFound(err) {
		t.Fatalf("blue statefulset still exists (err %v)", err)
	}
	c.get(&set, green)
	pods := c.pods(green)
	if len(pods) != 3 {
		t.Fatalf("green has %d pods", len(pods))
	}
	for _, p := range pods {
		if p.Spec.Containers[0].Image != image("2.5.0") {
			t.Fatalf("green pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
		}
		if s := c.raft.voters[p.Name]; s != upgrade.Voter {
			t.Fatalf("green pod %s has suffrage %q", p.Name, s)
		}
	}
	if len(c.raft.voters) != 3 || !strings.HasPrefix(c.raft.leader, green+"-") {
		t.Fatalf("raft configuration %v, leader %s", c.raft.voters, c.raft.leader)
	}
	var svc corev1.Service
	c.get(&svc, "bao")
	if svc.Spec.Selector[revLabel] != green {
		t.Fatalf("service selector %v does not target %s", svc.Spec.Selector, green)
	}
	t.Logf("blue-green: %d reconciles, %d leadership changes, log %v", rounds, c.raft.moves, c.log)
}

// TestCrashAfterPersist: whatever reconcile the operator "crashes" in —
// right after persisting the status, before any action ran — the upgrade
// still completes, every pod runs the target and the lock is released.
// This is the crash window of the persist-first order (see doc.go).
func TestCrashAfterPersist(t *testing.T) {
	for _, strategy := range []upgrade.Strategy{upgrade.StrategyRolling, upgrade.StrategyBlueGreen} {
		t.Run(string(strategy), func(t *testing.T) {
			// A clean run tells how many reconciles there are.
			clean := func(crash int) (*cluster, int) {
				ru := raftUpgrade("upgrade", "2.5.0", strategy)
				ru.Spec.BlueGreen = &bluegreen.Spec{AutoPromote: true}
				c := newCluster(t, "2.4.1", 3, "bao-1", false, ru)
				c.crashRound = crash
				r := c.reconciler(c.recorded(nil), nil)
				return c, drive(t, c, r, "upgrade", "2.5.0", 400)
			}
			_, n := clean(-1)
			for crash := 1; crash <= n; crash++ {
				c, _ := clean(crash)
				// The crash may have lost the final ReleaseLock: one more
				// reconcile must converge the lock.
				c.round = 0
				c.clock.Advance(3 * time.Second)
				if _, _, err := c.reconcile(c.reconciler(c.recorded(nil), nil), "upgrade"); err != nil {
					t.Fatal(err)
				}
				var lease coordinationv1.Lease
				c.get(&lease, "bao-raftshift-lock")
				if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
					t.Errorf("crash in round %d of %d: lock still held by %q after the upgrade", crash, n, *h)
				}
			}
		})
	}
}
