// Package v1alpha1 is the raftshift.io/v1alpha1 API: RaftUpgrade, a
// namespaced request to move one Raft cluster (a StatefulSet of OpenBao or
// any Raft server) to a version with raftshift's rolling or blue-green
// strategy. Its status is upgrade.Status, written by the host that drives
// the strategy (examples/operator is one).
//
// The DeepCopy functions (zz_generated.deepcopy.go) and the
// CustomResourceDefinition (../../config/crd/raftshift.io_raftupgrades.yaml)
// are generated from these types by controller-gen:
//
//	go generate ./adapters/kubernetes/...
//
// +kubebuilder:object:generate=true
// +groupName=raftshift.io
package v1alpha1

//go:generate go tool controller-gen object paths=.
//go:generate go tool controller-gen crd paths=. output:crd:artifacts:config=../../config/crd
