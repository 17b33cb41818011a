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
// RollingUpdate partition, or with the OnDelete update strategy
// (SetSpec.UpdateStrategy) recreating only the pods something deleted. No
// garbage collector runs either: a reaper deletes the pods of a deleted
// StatefulSet.
//
// # Usage
//
//	cp := cluster.Start(t) // etcd + kube-apiserver + StatefulSet controller
//	rs := cp.NewRaftSet(t, cluster.SetSpec{ // namespace, StatefulSet, Services, loops, Raft
//		Image: "example.com/openbao/openbao:2.3.1", Version: "2.3.1", Partition: 0,
//		InitialLeader: 2, TargetedTransfer: true,
//	})
//	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, "", time.Minute)
//	...
//	obs, err := observer.Observe(ctx) // the raftshift Kubernetes adapter
//	rs.Raft.Fill(&obs)                // add the simulated Raft view
//	err = rs.Raft.Execute(ctx, nil, upgrade.StepDown{Member: "bao-2", ID: "bao-2"})
//	recs := cluster.Recreations(rs.Recorder.Events())
//	breaches := rs.Raft.Violations()
//
// Everything is torn down by t.Cleanup.
package cluster
