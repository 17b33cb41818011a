// Command operator is a minimal but production-shaped Kubernetes operator
// built on raftshift: a controller-runtime reconciler for the RaftUpgrade
// custom resource (raftshift.io/v1alpha1) that upgrades an OpenBao Raft
// cluster running in a StatefulSet with raftshift's rolling or blue-green
// strategy, the Kubernetes adapter (adapters/kubernetes) and the OpenBao
// adapter (adapters/openbao).
//
// # Usage
//
// Install the CRD and RBAC, run the operator with the OpenBao address and
// token, and create a RaftUpgrade next to the cluster:
//
//	kubectl apply -f adapters/kubernetes/config/crd/raftshift.io_raftupgrades.yaml
//	kubectl apply -f examples/operator/config/rbac.yaml
//	BAO_TOKEN=... go run ./examples/operator -kubeconfig ~/.kube/config \
//		-leader-election-namespace default \
//		-openbao-address https://bao-active.vault.svc:8200 \
//		-openbao-member-address 'https://{name}.bao-internal.{namespace}.svc:8200'
//	kubectl apply -f adapters/kubernetes/config/samples/raftupgrade.yaml
//	kubectl get raftupgrades -n vault -w
//
// Outside a cluster, leader election needs -leader-election-namespace (or
// -leader-elect=false); -kubeconfig and -context select the cluster, and
// -namespace confines the operator to one namespace. In a cluster, build
// the image with the Dockerfile (the build context is the repository root;
// ko works too) and apply config/manager.yaml: a Namespace, a
// ServiceAccount, a ClusterRoleBinding to the ClusterRole of
// config/rbac.yaml, and a two-replica Deployment with leader election.
//
// The operator uses the default kubeconfig resolution of controller-runtime
// (in-cluster config, $KUBECONFIG, ~/.kube/config), leader election and the
// usual metrics and health endpoints (the reconciler's Prometheus metrics
// are served on -metrics-bind-address). Spec.OpenBao overrides the address,
// the member address template and the token (from a Secret) per
// RaftUpgrade.
//
// This program is a thin main over the library: the reconciler, its host
// protocol (observe, Step, persist with optimistic concurrency, execute,
// emit events), its metrics and its tests live in
// github.com/raftshift/raftshift/adapters/kubernetes/controller, the
// RaftUpgrade API type and its generated CRD in
// github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1. What is
// left here is what only an OpenBao operator knows: OpenBaoProvider builds
// an *openbao.Adapter per RaftUpgrade (address, member address template,
// token Secret, snapshot directory), and main wires flags, the manager and
// the reconciler.
package main
