// Package kubernetes connects raftshift's strategies to Kubernetes: it builds
// the workload part of an upgrade.Observation from StatefulSets, their Pods
// and the client-facing Service, and turns Actions into exact object
// changes carried out with a controller-runtime client.
//
// Observing: BuildObservation is a pure, deterministic function of the
// objects (workloads sorted by name, members by workload then ordinal, absent
// pods of the desired ordinal range reported with Pod.Exists false). It reads
// replicas, the RollingUpdate partition, revisions and generations, each
// pod's controller-revision-hash, Ready condition, phase, deletion timestamp
// (Terminating) and container waiting reasons (CrashLoopBackOff,
// ImagePullBackOff, ErrImagePull, CreateContainerConfigError -> CrashLooping).
// Versions come from Config.VersionAnnotation, then Config.VersionLabel, then
// the image tag of Config.Container. Observer lists the objects with a
// client.Reader and adds the operation lock. The Raft view is left zero for
// the Raft adapter (adapters/openbao). RevisionVersions decodes
// ControllerRevisions into the image and version of each revision.
//
// Acting: Plan (and PatchFor for the patch-type actions) maps an Action and
// the current objects to a Change without I/O:
//
//   - SetPartition: JSON merge patch of spec.updateStrategy.rollingUpdate.partition
//     with the object's resourceVersion as optimistic lock.
//   - UpdateTemplate: strategic merge patch of the configured container's image
//     and the version label / annotation, same precondition.
//   - DeletePod: Delete with a UID precondition; a pod that is gone, terminating
//     or recreated under another UID counts as done.
//   - CreateRevision: Create of a clone of the StatefulSet the Service targets
//     (GreenStatefulSet); AlreadyExists counts as done.
//   - DeleteRevision: Delete (background propagation); NotFound counts as done.
//   - SwitchService: merge patch of the Service selector to the target's
//     selector plus Config.RevisionLabel.
//   - AcquireLock / ReleaseLock: holderIdentity of a coordination.k8s.io/v1
//     Lease named Config.LockName; a lock held by another holder is a
//     *LockHeldError (ErrLockHeld).
//   - RecordEvent: record.EventRecorder, when the Executor has one.
//   - Raft actions: ErrNotKubernetesAction, for CompositeExecutor to route.
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
