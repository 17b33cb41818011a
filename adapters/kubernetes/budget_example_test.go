package kubernetes_test

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/upgrade"
)

// ExampleSyncDisruptionBudgets writes the PodDisruptionBudget of a
// three-voter cluster: one pod may go while all three voters are caught up,
// none once the Raft view is unknown.
func ExampleSyncDisruptionBudgets() {
	ctx := context.Background()
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "openbao", Namespace: "vault", UID: "uid-openbao", Labels: map[string]string{"app": "openbao"}},
		Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "openbao"}}},
	}
	c := fake.NewClientBuilder().WithObjects(set).Build()
	cfg := kubernetes.Config{Namespace: "vault", Selector: map[string]string{"app": "openbao"}}
	show := func(budgets []upgrade.WorkloadBudget) {
		if err := kubernetes.SyncDisruptionBudgets(ctx, c, cfg, budgets); err != nil {
			fmt.Println(err)
			return
		}
		var pdb policyv1.PodDisruptionBudget
		if err := c.Get(ctx, client.ObjectKey{Namespace: "vault", Name: kubernetes.BudgetName("openbao")}, &pdb); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: minAvailable %s, selector %v, owner %s %s\n", pdb.Name, pdb.Spec.MinAvailable.String(),
			pdb.Spec.Selector.MatchLabels, pdb.OwnerReferences[0].Kind, pdb.OwnerReferences[0].Name)
	}
	// In a host: budgets := upgrade.DisruptionBudget(&obs), obs with its Raft view.
	show([]upgrade.WorkloadBudget{{Workload: "openbao", Pods: 3, Voters: 3, MinAvailable: 2}})
	show([]upgrade.WorkloadBudget{{Workload: "openbao", Pods: 3, Voters: 3, MinAvailable: 3,
		Gate: &upgrade.Gate{Name: upgrade.GateRaftHealthy, Reason: upgrade.ReasonRaftViewUnknown, Message: "no leader reachable"}}})
	// Output:
	// openbao-raftshift: minAvailable 2, selector map[app:openbao], owner StatefulSet openbao
	// openbao-raftshift: minAvailable 3, selector map[app:openbao], owner StatefulSet openbao
}
