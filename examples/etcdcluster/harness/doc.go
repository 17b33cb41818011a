// Package harness upgrades a real etcd cluster, running in this process,
// with the raftshift strategies through the etcd adapter, and measures what
// clients see.
//
// Cluster runs one embedded etcd member (go.etcd.io/etcd/server/v3/embed)
// per emulated pod on 127.0.0.1, each with its own data directory and
// fixed URLs, like a StatefulSet pod keeps its DNS name and volume. Its
// workloads behave like StatefulSets: under RollingUpdate the emulated
// controller restarts the highest outdated pod at or above the partition
// once every pod serves; under OnDelete it only recreates pods something
// deleted. Deleting a pod takes it out of the clients' endpoints, lets it
// drain, then closes its etcd gracefully (etcd hands leadership over when
// a leader stops); the pod comes back on the same data directory at the
// template's version. The version is a label: every member runs the same
// binary. A new member (blue-green's green pods) starts once the strategy
// has added it as a learner, with the whole membership as its initial
// cluster. Every member keeps StrictReconfigCheck on, and MaxLearners is
// raised to the green size.
//
// Host is the operator: it builds each observation from the pods (the
// Cluster) and from etcd itself (adapters/etcd over a client of every
// member), and executes a Decision's actions in order, stopping at the
// first failure: Raft actions through the adapter, the rest on the
// Cluster. etcd cannot demote a voter, so the host executes blue-green's
// Demote as a removal (etcd.DemoteAsRemove).
//
// Run starts a fresh cluster, runs a Load (a writer putting keys
// continuously, a reader checking linearizable reads against the
// acknowledged writes) and a leader Monitor, drives rolling.Step or
// bluegreen.Step every 100ms with the host protocol (observe, Step, persist
// the status, execute, emit events) or runs the naive Baseline, optionally
// kills the leader mid-upgrade, then reads every acknowledged write back.
// Scenario.Leader places leadership on a chosen member first (MoveLeader
// through the adapter), and before a rolling upgrade the run plans it with
// fake/plan from an observation of the real cluster, so the Report sets the
// predicted restart order and leader changes beside the real ones.
// The Report gives the duration, leader changes, the longest write gap,
// failed and lost writes, and linearizability violations.
//
// # Usage
//
//	rep, err := harness.Run(ctx, harness.Scenario{
//		Strategy: harness.Rolling, Ordering: rolling.OrderingOnDelete, Members: 5, Dir: dir,
//	})
//	if err != nil { ... }
//	fmt.Print(harness.FormatTable([]harness.Report{rep})) // lost writes and violations must be 0
package harness
