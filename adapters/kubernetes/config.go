package kubernetes

import (
	"errors"
	"fmt"
	"slices"
)

// Default values applied to a zero Config field.
const (
	// DefaultRevisionLabel is the pod-template label that tells the
	// workloads (blue / green) of one cluster apart. CreateRevision sets it
	// to the new StatefulSet's name and SwitchService selects on it.
	DefaultRevisionLabel = "raftshift.io/revision"
	// DefaultLockSuffix is appended to Config.ServiceName to name the
	// operation-lock Lease when Config.LockName is empty.
	DefaultLockSuffix = "-raftshift-lock"
	// DefaultLockName names the operation-lock Lease when neither
	// Config.LockName nor Config.ServiceName is set.
	DefaultLockName = "raftshift-lock"
	// DefaultFieldOwner is the field manager of every write.
	DefaultFieldOwner = "raftshift"
	// LastAppliedAnnotation is kubectl's annotation; it is never copied to
	// a cloned StatefulSet.
	LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
)

// DefaultCrashLoopReasons are the container waiting reasons that mark a pod
// CrashLooping: states that will not fix themselves without a change.
var DefaultCrashLoopReasons = []string{
	"CrashLoopBackOff",
	"ImagePullBackOff",
	"ErrImagePull",
	"CreateContainerConfigError",
}

// Config tells the adapter where the cluster lives and how its objects carry
// versions. The zero value works for a single-container StatefulSet whose
// image tag is the version.
type Config struct {
	// Namespace of the cluster's objects. Empty means the objects' own
	// namespace (BuildObservation) or the default namespace of the client.
	Namespace string `json:"namespace,omitempty"`
	// Selector selects the cluster's StatefulSets by their own labels.
	// Empty selects every StatefulSet of the namespace. It must not include
	// RevisionLabel: green StatefulSets carry the cluster's labels with a
	// different RevisionLabel value.
	Selector map[string]string `json:"selector,omitempty"`
	// ServiceName is the client-facing Service whose selector picks a
	// workload (SwitchService, Observation.Service). Empty: no service.
	ServiceName string `json:"serviceName,omitempty"`
	// Container names the Raft server's container in the pod template. Empty
	// means the only container; with several containers and no name the
	// image is not observed and UpdateTemplate fails with
	// ErrContainerNotFound.
	Container string `json:"container,omitempty"`
	// VersionAnnotation is the pod-template (and pod) annotation carrying the
	// version. It wins over VersionLabel and the image tag when present.
	VersionAnnotation string `json:"versionAnnotation,omitempty"`
	// VersionLabel is the pod-template (and pod) label carrying the version,
	// e.g. "app.kubernetes.io/version". It must not be part of the
	// StatefulSet's selector (selectors are immutable). When neither
	// VersionAnnotation nor VersionLabel is present the image tag is the
	// version.
	VersionLabel string `json:"versionLabel,omitempty"`
	// RevisionLabel tells blue and green workloads apart (default
	// DefaultRevisionLabel). Give the first StatefulSet's pod template this
	// label (value: its own name) so that SwitchService can point the Service
	// back at it exactly.
	RevisionLabel string `json:"revisionLabel,omitempty"`
	// LockName names the coordination.k8s.io/v1 Lease used as the operation
	// lock (default ServiceName+DefaultLockSuffix, or DefaultLockName).
	LockName string `json:"lockName,omitempty"`
	// CrashLoopReasons overrides DefaultCrashLoopReasons.
	CrashLoopReasons []string `json:"crashLoopReasons,omitempty"`
	// FieldOwner is the field manager of writes (default DefaultFieldOwner).
	FieldOwner string `json:"fieldOwner,omitempty"`
}

// WithDefaults returns a copy of c with every empty field that has a
// default filled in.
func (c Config) WithDefaults() Config {
	if c.RevisionLabel == "" {
		c.RevisionLabel = DefaultRevisionLabel
	}
	if c.LockName == "" {
		if c.ServiceName != "" {
			c.LockName = c.ServiceName + DefaultLockSuffix
		} else {
			c.LockName = DefaultLockName
		}
	}
	if c.CrashLoopReasons == nil {
		c.CrashLoopReasons = DefaultCrashLoopReasons
	}
	if c.FieldOwner == "" {
		c.FieldOwner = DefaultFieldOwner
	}
	return c
}

func (c Config) crashLoopReason(reason string) bool {
	return reason != "" && slices.Contains(c.CrashLoopReasons, reason)
}

// Sentinel errors; test with errors.Is.
var (
	// ErrNotKubernetesAction is returned for Raft actions (StepDown,
	// TransferLeadership, JoinNonvoter, Promote, Demote, RemovePeer,
	// TakeSnapshot, RunHook): a host routes them to its Raft adapter.
	ErrNotKubernetesAction = errors.New("not a kubernetes action")
	// ErrLockHeld means the operation lock is held by another holder. The
	// concrete error is a *LockHeldError.
	ErrLockHeld = errors.New("operation lock held by another holder")
	// ErrWorkloadNotFound means an action names a StatefulSet that does not
	// exist.
	ErrWorkloadNotFound = errors.New("workload not found")
	// ErrForeignWorkload means an action names a StatefulSet that exists but
	// does not match Config.Selector: it is not the cluster's, and is left
	// alone.
	ErrForeignWorkload = errors.New("statefulset does not match the cluster selector")
	// ErrServiceNotFound means the Service to switch does not exist.
	ErrServiceNotFound = errors.New("service not found")
	// ErrContainerNotFound means the configured container is not in the pod
	// template (or no container is configured and there are several).
	ErrContainerNotFound = errors.New("container not found")
	// ErrNoSourceWorkload means CreateRevision found no single StatefulSet
	// to clone.
	ErrNoSourceWorkload = errors.New("no source workload to clone")
	// ErrUnsupportedUpdateStrategy means SetPartition found a StatefulSet
	// whose update strategy type is neither RollingUpdate (or empty, its
	// default) nor OnDelete: the adapter does not guess what its controller
	// does, nor switch the strategy. (SetPartition on OnDelete succeeds
	// without a write: OnDelete has no partition to set.)
	ErrUnsupportedUpdateStrategy = errors.New("unsupported update strategy")
	// ErrInvalidAction means an action's fields cannot be acted on (empty
	// names, negative partition, missing pod UID precondition).
	ErrInvalidAction = errors.New("invalid action")
	// ErrNotPatch is returned by PatchFor when an action's change is not a
	// patch (a create, a delete, an event or nothing).
	ErrNotPatch = errors.New("change is not a patch")
)

// LockHeldError reports that the operation lock is held by someone else.
type LockHeldError struct {
	// Lease is the Lease's name.
	Lease string
	// Holder is the current holder.
	Holder string
	// Requester is the holder named by the refused action.
	Requester string
}

// Error implements error.
func (e *LockHeldError) Error() string {
	return fmt.Sprintf("lease %s is held by %q, not %q", e.Lease, e.Holder, e.Requester)
}

// Is makes errors.Is(err, ErrLockHeld) true.
func (e *LockHeldError) Is(target error) bool { return target == ErrLockHeld }
