// Command operator is a minimal but production-shaped Kubernetes operator
// built on raftshift: a controller-runtime reconciler for the RaftUpgrade
// custom resource (raftshift.io/v1alpha1) that upgrades an OpenBao Raft
// cluster running in a StatefulSet with raftshift's rolling or blue-green
// strategy, the Kubernetes adapter (adapters/kubernetes) and the OpenBao
// adapter (adapters/openbao).
//
// # Usage
//
// Install the CRD, run the operator with the OpenBao address and token, and
// create a RaftUpgrade next to the cluster:
//
//	kubectl apply -f adapters/kubernetes/config/crd/raftshift.io_raftupgrades.yaml
//	kubectl apply -f examples/operator/config/rbac.yaml   # bind it to the operator's service account
//	BAO_TOKEN=... go run ./examples/operator \
//		-openbao-address https://bao-active.vault.svc:8200 \
//		-openbao-member-address 'https://{name}.bao-internal.{namespace}.svc:8200'
//	kubectl apply -f adapters/kubernetes/config/samples/raftupgrade.yaml
//	kubectl get raftupgrades -n vault -w
//
// The operator uses the default kubeconfig resolution of controller-runtime
// (in-cluster config, $KUBECONFIG, ~/.kube/config), leader election and the
// usual metrics and health endpoints. Spec.OpenBao overrides the address,
// the member address template and the token (from a Secret) per
// RaftUpgrade. The tests need no cluster:
//
//	go test ./examples/operator/
//
// A RaftUpgrade names the StatefulSet (Spec.StatefulSet), the client-facing
// Service, the label Selector of the cluster's StatefulSets, the container
// and version label, the target Version and Image, and the strategy with its
// options (Spec.Rolling is a rolling.Spec, Spec.BlueGreen a bluegreen.Spec;
// their version, image, workload and service fields are overridden by the
// shared ones; durations are JSON integers in nanoseconds, as
// time.Duration encodes). Its status is upgrade.Status verbatim: conditions (Ready,
// Progressing, Degraded, BreakGlass), the phase of the upgrade in flight,
// the last result. Requests (retry, rollback, promotion, break-glass
// acknowledgement) are the strategies' nonce fields in the spec.
//
// # Reconcile
//
// Each Reconcile is one Step:
//
//  1. Get the RaftUpgrade.
//  2. Observe: kubernetes.Observer reads the StatefulSets, pods, Service and
//     the operation-lock Lease; the RaftCluster (the OpenBao adapter, or a
//     fake in tests) adds the Raft view. Observation.Now comes from the
//     reconciler's injectable Clock. If the Raft view is unavailable the
//     strategy still runs with Raft.Known false and holds every disruptive
//     step (gate NoRaftView), and a warning event is recorded.
//  3. Decide: rolling.Step or bluegreen.Step with the persisted status. The
//     strategy of an upgrade in flight keeps driving it even if
//     Spec.Strategy changed; the new strategy applies from Idle.
//  4. Persist Decision.Status with Status().Update. A conflict requeues
//     without executing anything.
//  5. Execute Decision.Actions in order with a kubernetes.CompositeExecutor:
//     Kubernetes actions (partition, template, pod deletion, green
//     StatefulSet, Service switch, Lease lock, events on the RaftUpgrade)
//     through kubernetes.Executor, Raft actions (step-down, join, promote,
//     demote, remove-peer, snapshot) through the RaftCluster. The first
//     failure stops the list; it is reported as a warning event and the
//     RaftUpgrade is requeued.
//  6. Requeue after Decision.RequeueAfter. The controller also reconciles on
//     spec changes (not on its own status writes) and on any StatefulSet or
//     Pod change in the namespace.
//
// An invalid spec (unknown strategy, empty version, ...) sets Ready=False
// with reason StepFailed and waits for a spec change; a policy refusal
// (downgrade, skipped minor, image/version conflict) is a gate the strategy
// reports in the Ready condition, with no action and no requeue.
//
// # Status before actions
//
// The reconciler follows the host protocol of package upgrade: persist the
// status, then execute the actions, then emit the events. Both strategies
// survive a crash anywhere in it (every phase re-derives what is left to do
// from a fresh observation; an action that had no visible effect is issued
// again), and persisting first is the order that also fences concurrency:
//
//   - Persist first (this operator): Status().Update carries the
//     resourceVersion the decision was computed from, so a decision made
//     from a stale informer cache, by a second operator instance, or against
//     a spec edited meanwhile fails with a conflict and nothing is executed.
//     A crash between the write and the actions leaves a status ahead of the
//     cluster; the next Step sees from the observation that the actions did
//     not happen and requests them again (rolling at once, blue-green after
//     RetryAfter with one failure counted out of Spec.MaxFailures).
//   - Execute first would leave, on a crash or a lost status write, actions
//     done that the status does not know about, and a decision from a stale
//     status would already have acted before the conflict is noticed.
//
// The final decision of either strategy clears the upgrade and releases the
// lock together; if the operator dies after persisting it, the next idle
// Step sees its own lock held and releases it (both strategies do, through
// the same persist-then-execute path).
// TestCrashAfterPersist crashes the operator after the status write in every
// reconcile of a rolling and of a blue-green upgrade and checks that each
// run still completes with the lock released.
//
// # Tests
//
// The tests run the reconciler against controller-runtime's fake client
// and emulate, between reconciles, the StatefulSet controller (generations,
// revisions, partition-driven replacement of one pod at a time, highest
// ordinal first, only while every pod is ready; garbage collection of a
// deleted StatefulSet's pods) and an OpenBao Raft cluster (membership,
// leadership moved by step-down or transfer, health following the pods,
// per-incarnation stabilization time). The emulated Raft cluster fails the
// test if a pod is replaced while it leads.
package main
