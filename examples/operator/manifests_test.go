package main

import (
	"bytes"
	"os"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// docs splits a multi-document YAML file.
func docs(t *testing.T, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, d := range bytes.Split(raw, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// TestManifestsFitTogether decodes the deployable manifests strictly and
// checks they refer to each other: the Deployment runs as the
// ServiceAccount the ClusterRoleBinding binds to the ClusterRole of
// rbac.yaml, with leader election in its own namespace.
func TestManifestsFitTogether(t *testing.T) {
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(docs(t, "config/rbac.yaml")[0], &role); err != nil {
		t.Fatal(err)
	}
	kinds := map[string][]byte{}
	for _, d := range docs(t, "config/manager.yaml") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(d, &u.Object); err != nil {
			t.Fatal(err)
		}
		kinds[u.GetKind()] = d
	}
	var binding rbacv1.ClusterRoleBinding
	var deploy appsv1.Deployment
	if err := yaml.UnmarshalStrict(kinds["ClusterRoleBinding"], &binding); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(kinds["Deployment"], &deploy); err != nil {
		t.Fatal(err)
	}
	if kinds["ServiceAccount"] == nil || kinds["Namespace"] == nil {
		t.Fatalf("kinds %v", len(kinds))
	}
	sa := binding.Subjects[0]
	if binding.RoleRef.Name != role.Name || sa.Kind != "ServiceAccount" || sa.Name != deploy.Spec.Template.Spec.ServiceAccountName ||
		sa.Namespace != deploy.Namespace {
		t.Fatalf("binding %+v does not bind %s to the deployment's account %s/%s", binding, role.Name, deploy.Namespace,
			deploy.Spec.Template.Spec.ServiceAccountName)
	}
	c := deploy.Spec.Template.Spec.Containers[0]
	var podNS bool
	for _, e := range c.Env {
		podNS = podNS || (e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace")
	}
	if !podNS {
		t.Fatal("the deployment does not pass POD_NAMESPACE for leader election")
	}
	// The role covers every resource the reconciler touches.
	need := map[string]bool{"raftupgrades": false, "raftupgrades/status": false, "statefulsets": false, "pods": false,
		"services": false, "leases": false, "events": false, "secrets": false, "poddisruptionbudgets": false}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			if _, ok := need[res]; ok {
				need[res] = true
			}
		}
	}
	for res, ok := range need {
		if !ok {
			t.Errorf("rbac.yaml grants nothing on %s", res)
		}
	}
}
