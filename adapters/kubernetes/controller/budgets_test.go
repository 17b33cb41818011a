package controller

import (
	"errors"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/client-go/tools/events"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/upgrade"
)

// TestReconcilerKeepsDisruptionBudgets: with DisruptionBudgets, every
// reconcile of a rolling upgrade leaves the workload's PodDisruptionBudget
// at the quorum-pinned minAvailable of what it observed: one pod may go
// while the three voters are caught up, none while one restarts or the
// Raft view is unknown; the upgrade still completes.
func TestReconcilerKeepsDisruptionBudgets(t *testing.T) {
	ru := raftUpgrade("upgrade", "2.5.0", upgrade.StrategyRolling)
	c := newCluster(t, "2.4.1", 3, "bao-0", true, ru)
	r := c.reconciler(c.recorded(nil), events.NewFakeRecorder(1000))
	r.DisruptionBudgets = true
	budget := func() int {
		t.Helper()
		var pdb policyv1.PodDisruptionBudget
		c.get(&pdb, kubernetes.BudgetName("bao"))
		if pdb.Spec.Selector.MatchLabels["app"] != "bao" || pdb.OwnerReferences[0].Name != "bao" {
			t.Fatalf("budget selector %v owner %v", pdb.Spec.Selector, pdb.OwnerReferences)
		}
		return pdb.Spec.MinAvailable.IntValue()
	}
	seen := map[int]int{}
	for round := 1; ; round++ {
		if round > 200 {
			t.Fatal("upgrade not done after 200 rounds")
		}
		c.round = round
		c.clock.Advance(3 * time.Second)
		ready := 0
		for _, p := range c.pods("bao") {
			if podReady(p) {
				ready++
			}
		}
		if _, _, err := c.reconcile(r, "upgrade"); err != nil {
			t.Fatal(err)
		}
		min := budget()
		seen[min]++
		if ready < 3 && min != 3 {
			t.Fatalf("round %d: %d pods ready but minAvailable %d", round, ready, min)
		}
		var got v1alpha1.RaftUpgrade
		c.get(&got, "upgrade")
		if got.Status.Upgrade == nil && got.Status.CurrentVersion == "2.5.0" {
			break
		}
		c.settle()
	}
	if seen[2] == 0 || seen[3] == 0 {
		t.Fatalf("minAvailable values seen %v, want both 2 and 3", seen)
	}
	// An unknown Raft view lets nothing go.
	c.raft.fail = errors.New("connection refused")
	c.clock.Advance(time.Minute)
	if _, _, err := c.reconcile(r, "upgrade"); err != nil {
		t.Fatal(err)
	}
	if min := budget(); min != 3 {
		t.Fatalf("minAvailable %d with an unknown raft view, want 3", min)
	}
}
