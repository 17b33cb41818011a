package kubernetes

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raftshift/raftshift/upgrade"
)

func budget(workload string, pods, min int32, gate *upgrade.Gate) upgrade.WorkloadBudget {
	return upgrade.WorkloadBudget{Workload: workload, Pods: pods, Voters: pods, MinAvailable: min, Gate: gate}
}

func listBudgets(t *testing.T, c client.Client) map[string]policyv1.PodDisruptionBudget {
	t.Helper()
	var list policyv1.PodDisruptionBudgetList
	if err := c.List(context.Background(), &list, client.InNamespace(testNS)); err != nil {
		t.Fatal(err)
	}
	out := map[string]policyv1.PodDisruptionBudget{}
	for _, p := range list.Items {
		out[p.Name] = p
	}
	return out
}

func TestSyncDisruptionBudgets(t *testing.T) {
	ctx := context.Background()
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	green := sts("bao-green", "openbao/openbao:2.4.0", "2.4.0", 3, 0)
	// A selector without the revision label: the budget adds it.
	green.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bao"}}
	foreign := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses", Namespace: testNS,
		Labels: map[string]string{"app": "other", BudgetWorkloadLabel: "x"}}}
	c := fake.NewClientBuilder().WithObjects(&blue, &green, foreign).Build()
	cfg := testConfig()

	held := &upgrade.Gate{Name: upgrade.GateQuorum, Reason: upgrade.ReasonBudgetElsewhere, Message: "allotted to bao"}
	if err := SyncDisruptionBudgets(ctx, c, cfg, []upgrade.WorkloadBudget{budget("bao", 3, 2, nil), budget("bao-green", 3, 3, held)}); err != nil {
		t.Fatal(err)
	}
	got := listBudgets(t, c)
	b, g := got["bao-raftshift"], got["bao-green-raftshift"]
	if b.Spec.MinAvailable == nil || b.Spec.MinAvailable.IntValue() != 2 || g.Spec.MinAvailable.IntValue() != 3 {
		t.Fatalf("minAvailable blue %v green %v, want 2 and 3", b.Spec.MinAvailable, g.Spec.MinAvailable)
	}
	if want := map[string]string{"app": "bao", DefaultRevisionLabel: "bao-green"}; !subset(want, g.Spec.Selector.MatchLabels) || len(g.Spec.Selector.MatchLabels) != 2 {
		t.Errorf("green selector %v, want %v", g.Spec.Selector.MatchLabels, want)
	}
	if o := b.OwnerReferences; len(o) != 1 || o[0].Kind != "StatefulSet" || o[0].Name != "bao" || o[0].UID != blue.UID || !*o[0].Controller {
		t.Errorf("owner references %+v, want the StatefulSet bao", o)
	}
	if b.Labels[BudgetWorkloadLabel] != "bao" || b.Labels["app"] != "bao" {
		t.Errorf("labels %v", b.Labels)
	}
	if _, ok := b.Annotations[BudgetReasonAnnotation]; ok || g.Annotations[BudgetReasonAnnotation] == "" {
		t.Errorf("reason annotations: blue %v green %v", b.Annotations, g.Annotations)
	}

	// Nothing changed: no write.
	rv := b.ResourceVersion
	if err := SyncDisruptionBudgets(ctx, c, cfg, []upgrade.WorkloadBudget{budget("bao", 3, 2, nil), budget("bao-green", 3, 3, held)}); err != nil {
		t.Fatal(err)
	}
	if again := listBudgets(t, c)["bao-raftshift"]; again.ResourceVersion != rv {
		t.Errorf("an unchanged budget was rewritten (%s -> %s)", rv, again.ResourceVersion)
	}

	// The allotment moves to green; then blue goes: its budget is deleted,
	// and the foreign budget (another cluster's) is left alone.
	if err := SyncDisruptionBudgets(ctx, c, cfg, []upgrade.WorkloadBudget{budget("bao", 3, 3, held), budget("bao-green", 3, 2, nil)}); err != nil {
		t.Fatal(err)
	}
	got = listBudgets(t, c)
	if got["bao-raftshift"].Spec.MinAvailable.IntValue() != 3 || got["bao-green-raftshift"].Spec.MinAvailable.IntValue() != 2 {
		t.Fatalf("after the move: %v / %v", got["bao-raftshift"].Spec.MinAvailable, got["bao-green-raftshift"].Spec.MinAvailable)
	}
	if err := c.Delete(ctx, &blue); err != nil {
		t.Fatal(err)
	}
	if err := SyncDisruptionBudgets(ctx, c, cfg, []upgrade.WorkloadBudget{budget("bao-green", 3, 2, nil)}); err != nil {
		t.Fatal(err)
	}
	got = listBudgets(t, c)
	if _, ok := got["bao-raftshift"]; ok {
		t.Error("the budget of a workload that is gone was kept")
	}
	if _, ok := got["someone-elses"]; !ok {
		t.Error("a budget of another cluster was deleted")
	}
}

func TestPlanBudgetsTightensFirst(t *testing.T) {
	cfg := testConfig().WithDefaults()
	blue := sts("bao", "i", "1", 3, 3)
	green := sts("bao-green", "i", "1", 3, 3)
	sets := []appsv1.StatefulSet{blue, green}
	existing := []policyv1.PodDisruptionBudget{
		*desiredBudget(cfg, &green, budget("bao-green", 3, 3, nil)),
		*desiredBudget(cfg, &blue, budget("bao", 3, 2, nil)),
		*desiredBudget(cfg, &blue, budget("gone", 3, 2, nil)),
	}
	existing[2].Name = "gone-raftshift"
	for i := range existing {
		existing[i].ResourceVersion = "1"
	}
	// The allotment moves from blue to green: blue tightens first, then
	// green loosens, then the stale budget goes.
	changes := planBudgets(cfg, sets, existing, []upgrade.WorkloadBudget{budget("bao-green", 3, 2, nil), budget("bao", 3, 3, nil)})
	var order []string
	for _, ch := range changes {
		order = append(order, ch.verb()+" "+ch.pdb.Name)
	}
	want := []string{"update bao-raftshift", "update bao-green-raftshift", "delete gone-raftshift"}
	if len(order) != len(want) {
		t.Fatalf("changes %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("changes %v, want %v", order, want)
		}
	}
	// A budget someone switched to maxUnavailable is rewritten (and counts
	// as loosening: its old allowance is not comparable).
	existing[1].Spec.MinAvailable, existing[1].Spec.MaxUnavailable = nil, ptr.To(intstr.FromInt32(1))
	changes = planBudgets(cfg, sets[:1], existing[1:2], []upgrade.WorkloadBudget{budget("bao", 3, 2, nil)})
	if len(changes) != 1 || changes[0].pdb.Spec.MaxUnavailable != nil || changes[0].pdb.Spec.MinAvailable.IntValue() != 2 {
		t.Fatalf("maxUnavailable budget not rewritten: %+v", changes)
	}
}
