// Package kubernetes connects raftshift's strategies to Kubernetes: it builds
// the workload part of an upgrade.Observation from StatefulSets, their Pods
// and the client-facing Service, and turns Actions into exact object
// changes carried out with a controller-runtime client.
//
// Observing: Observer.Observe lists the objects and builds the workload part
// of the Observation with a pure, deterministic function of the
// objects (workloads sorted by name, members by workload then ordinal, absent
// pods of the desired ordinal range reported with Pod.Exists false). It reads
// replicas, the update strategy (spec.updateStrategy.type -> UpdateStrategy:
// RollingUpdate, also for an empty type as the API server defaults it, or
// OnDelete), the RollingUpdate partition (0 for OnDelete, which has none),
// revisions and generations, and for each pod its
// controller-revision-hash, phase, Ready condition (Ready, and ReadySince
// from the condition's lastTransitionTime while it is true), Running (phase
// Running with every container running and past its startup probe: enough
// to join Raft before readiness), StartedAt (the latest
// state.running.startedAt of its containers, so a container restart inside
// the pod counts; status.startTime when none runs), deletion timestamp
// (Terminating), restart count and container waiting reasons
// (CrashLoopBackOff, ImagePullBackOff, ErrImagePull,
// CreateContainerConfigError -> CrashLooping). The API server stores these
// times at one-second precision (truncated), so a time read from it may
// predate the event by up to a second.
// Versions come from Config.VersionAnnotation, then Config.VersionLabel, then
// the image tag of Config.Container. Observer lists the objects with a
// client.Reader and adds the operation lock. The Raft view is left zero for
// the Raft adapter (adapters/openbao). ControllerRevisions are decoded into
// the image and version of each revision.
//
// Acting: Executor plans each Action against the current objects without I/O
// (an internal, table-tested function) and then writes the change:
//
//   - SetPartition: JSON merge patch of spec.updateStrategy.rollingUpdate.partition
//     with the object's resourceVersion as optimistic lock. On an OnDelete
//     StatefulSet it is a no-op that succeeds (no write): OnDelete has
//     no partition and its controller restarts nothing on its own, whatever
//     the partition. The rolling strategy never sends it in OnDelete ordering;
//     a host composing actions may. A strategy type Kubernetes does not know
//     fails with ErrUnsupportedUpdateStrategy.
//   - UpdateTemplate: strategic merge patch of the configured container's image
//     and the version label / annotation, same precondition. The partition is
//     not checked: on RollingUpdate the strategy sends it only behind a
//     partition holding every pod; on OnDelete a template change restarts
//     nothing, whatever the partition.
//   - DeletePod: Delete with a UID precondition; a pod that is gone, terminating
//     or recreated under another UID counts as done. With OnDelete this is
//     how pods move to the new template: the controller recreates the deleted
//     pod at the update revision, and no other.
//   - CreateRevision: Create of a clone of the StatefulSet the Service targets
//     (RollingUpdate with partition 0, or OnDelete for an
//     OnDelete source); AlreadyExists counts as done.
//   - DeleteRevision: Delete (background propagation); NotFound counts as done.
//   - SwitchService: merge patch of the Service selector to the target's
//     selector plus Config.RevisionLabel.
//   - AcquireLock / ReleaseLock: holderIdentity of a coordination.k8s.io/v1
//     Lease named Config.LockName; a lock held by another holder is a
//     *LockHeldError (ErrLockHeld).
//   - Decision.Events: events.k8s.io Events through the Executor's
//     events.EventRecorder, best-effort (Emit).
//   - Raft actions: ErrNotKubernetesAction, for CompositeExecutor to route.
//
// Budgets: SyncDisruptionBudgets keeps one policy/v1 PodDisruptionBudget
// per StatefulSet at the minAvailable of upgrade.DisruptionBudget
// (create, merge patch, delete when the workload goes), tightening first.
//
// Both rolling orderings run through the same Executor: Partition
// (RollingUpdate StatefulSets: SetPartition admits one ordinal at a time and
// the controller restarts it) and OnDelete (OnDelete StatefulSets:
// UpdateTemplate, then one DeletePod at a time, followers first and the
// leader last, and the controller restarts nothing on its own).
//
// Executor applies a Decision's actions in order against freshly read objects,
// retries conflicts with retry.RetryOnConflict, stops at the first failure
// (an *ActionError naming the action) and is idempotent: executing the same
// Decision twice leaves the same objects. Workload actions refuse
// StatefulSets that do not match Config.Selector (ErrForeignWorkload).
//
// # Usage
//
//	cfg := kubernetes.Config{Namespace: "vault", Selector: map[string]string{"app": "openbao"},
//		ServiceName: "openbao", Container: "openbao", VersionLabel: "app.kubernetes.io/version"}
//	obs, err := (&kubernetes.Observer{Reader: mgr.GetClient(), Config: cfg}).Observe(ctx)
//	// ... fill obs.Raft with the OpenBao adapter, then:
//	decision, err := rolling.Step(spec, obs, status)
//	exec := kubernetes.CompositeExecutor{
//		Kubernetes: &kubernetes.Executor{Client: mgr.GetClient(), Config: cfg, Recorder: recorder},
//		Raft:       openbaoExecutor, // implements kubernetes.RaftExecutor
//	}
//	err = exec.Apply(ctx, decision) // *kubernetes.ActionError names the failed action
//
// Give the first StatefulSet's pod template the label Config.RevisionLabel
// (default "raftshift.io/revision") with its own name as value and include it
// in its selector: blue-green then switches the Service between blue and green
// exactly, in both directions.
package kubernetes
