// Package cluster is the end-to-end harness of raftshift: an in-process
// control plane (embedded etcd, a real kube-apiserver — optionally
// authorizing with RBAC — and the real StatefulSet controller of
// k8s.io/kubernetes), a scheduler and a kubelet stand-in, a watch recorder
// of pods and StatefulSets and a simulated Raft cluster kept in step with
// the pods.
//
// There is no kubelet and no scheduler: the stand-ins bind every new pod to
// NodeName, mark it Running and Ready (with the image of its spec) after a
// configurable boot delay, and terminate deleted pods gracefully: a deleted
// pod (bound, with a TerminationGracePeriod) stays Terminating, is turned
// unready at once (its server stopped serving) and is removed after
// SetSpec.TerminationDelay. The StatefulSet controller then recreates it
// exactly as it would on a real cluster, honouring the RollingUpdate
// partition, or with the OnDelete update strategy (SetSpec.UpdateStrategy)
// recreating only the pods something deleted. No garbage collector runs
// either: a reaper deletes the pods of a deleted StatefulSet.
//
// The recorder numbers pod and StatefulSet watch events in one sequence
// (Recorder.Mark) and keeps each object's resourceVersion, so that actions
// can be ordered against the events they caused and a pod's deletion
// against the StatefulSet's partition in force (SetBefore).
//
// The simulated Raft treats a Terminating pod's server as shutting down
// (down), makes a restarted or joining server catch up for a seeded random
// lag before it is healthy, and decides elections after a seeded random
// delay (SetSpec.CatchUpLag, ElectionTimeout, Seed).
//
// # Usage
//
//	cp := cluster.Start(t) // etcd + kube-apiserver + StatefulSet controller (cluster.WithRBAC() to authorize)
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
//	terms := cluster.Terminations(rs.Recorder.Events())    // deletions requested
//	set, _ := cluster.SetBefore(rs.Recorder.SetEvents(), "bao", terms[0].RV) // partition in force then
//	breaches := rs.Raft.Violations()
//
// Everything is torn down by t.Cleanup.
package cluster
