// Package cluster is the end-to-end harness of raftshift: an in-process
// control plane (embedded etcd, a real kube-apiserver and the real
// StatefulSet controller of k8s.io/kubernetes), a pod-readiness loop that
// stands in for the kubelet, a watch recorder of pod lifecycles and a
// simulated Raft cluster kept in step with the pods.
//
// There is no kubelet and no scheduler: pods stay unscheduled, the
// readiness loop marks each new pod Running and Ready (with the image of its
// spec) after a configurable boot delay, and deleting a pod removes it at
// once (unscheduled pods have no grace period). The StatefulSet controller
// then recreates it exactly as it would on a real cluster, honouring the
// RollingUpdate partition.
//
// # Usage
//
//	cp := cluster.Start(t)                   // etcd + kube-apiserver + StatefulSet controller
//	rs := cp.NewRaftSet(t, cluster.SetSpec{  // namespace, StatefulSet, Services, ready loop, Raft
//		Image: "example.com/openbao:2.3.1", Version: "2.3.1", Partition: 3,
//	})
//	rs.WaitReady(t, 3)
//	obs := rs.Raft.Fill(kubeObservation)     // add the simulated Raft view
//	_ = rs.Raft.Execute(ctx, upgrade.StepDown{Member: "bao-2", ID: "bao-2"})
//
// Everything is torn down by t.Cleanup.
package cluster
