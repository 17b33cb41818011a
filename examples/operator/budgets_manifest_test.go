package main

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestRBACCoversDisruptionBudgets: the role lets the reconciler read
// PodDisruptionBudgets through its cache and create, patch and delete them
// (kubernetes.SyncDisruptionBudgets), in the policy API group.
func TestRBACCoversDisruptionBudgets(t *testing.T) {
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(docs(t, "config/rbac.yaml")[0], &role); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, "policy") && slices.Contains(r.Resources, "poddisruptionbudgets") {
			for _, v := range r.Verbs {
				granted[v] = true
			}
		}
	}
	for _, v := range []string{"get", "list", "watch", "create", "patch", "delete"} {
		if !granted[v] {
			t.Errorf("rbac.yaml does not grant %s on policy poddisruptionbudgets", v)
		}
	}
}
