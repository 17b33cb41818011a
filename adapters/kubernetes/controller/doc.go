// Package controller is raftshift's reusable Kubernetes reconciler: it
// drives RaftUpgrade objects (raftshift.io/v1alpha1, package
// ../api/v1alpha1) with the rolling and blue-green strategies inside a
// controller-runtime manager. A host supplies only its Raft adapter (a
// RaftProvider returning, for OpenBao, an *openbao.Adapter) and installs the
// CRD; everything else is here.
//
// # Host protocol
//
// Every reconcile follows the protocol of package upgrade:
//
//  1. Observe: the StatefulSets, pods, Service and lock Lease of the
//     RaftUpgrade's namespace through the Kubernetes adapter, then the Raft
//     side through the RaftCluster. A Raft read that fails leaves the view
//     unknown, and the strategies refuse every disruptive action.
//  2. Step: the strategy of the upgrade in flight (or of the spec when
//     idle) decides, purely.
//  3. Persist: the new status is written with Status().Update, carrying the
//     resourceVersion the decision was computed from. A conflict (stale
//     cache, a second operator, a spec edit) drops the decision and
//     requeues: nothing is executed on a status that was not recorded.
//  4. Execute the actions in order through kubernetes.CompositeExecutor
//     (Kubernetes actions) and the RaftCluster (Raft actions), stopping at
//     the first failure, then emit the decision's events through the
//     events.k8s.io recorder, best-effort.
//  5. Requeue after Decision.RequeueAfter.
//
// The manager may crash or restart anywhere in this sequence: the next
// reconcile calls Step with the persisted status and a fresh observation,
// and the strategies converge from any prefix of executed actions.
//
// # Drains
//
// With Reconciler.DisruptionBudgets, every reconcile also keeps one
// PodDisruptionBudget per workload at upgrade.DisruptionBudget of its
// observation (kubernetes.SyncDisruptionBudgets), right after observing
// and before Step, and requeues within BudgetResync. EvictionHandler is the
// pods/eviction validating webhook that judges each eviction on a fresh
// observation (Safety.CanDisrupt, leadership moved first, the operation
// lock respected); ../config/webhook/eviction.yaml registers it.
//
// # Metrics
//
// Metrics (see Metrics) are registered with controller-runtime's registry
// and served by the manager's metrics endpoint: the phase of each
// RaftUpgrade, the seconds each gate held it, leadership moves, upgrades by
// outcome and Step latency.
package controller
