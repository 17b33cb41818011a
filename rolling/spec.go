package rolling

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"time"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// DefaultLockHolder is the operation-lock identity used when Spec.LockHolder
// is empty.
const DefaultLockHolder = "raftshift/rolling"

// Defaults applied to zero Spec durations.
const (
	// DefaultStepTimeout bounds each step (one phase wait, one pod's restart
	// and verification) before the upgrade pauses as Degraded.
	DefaultStepTimeout = 15 * time.Minute
	// DefaultRetryInterval is how long Step waits for a requested
	// leadership move or snapshot before requesting it again.
	DefaultRetryInterval = 15 * time.Second
	// DefaultPollInterval is the RequeueAfter of a Decision that waits.
	DefaultPollInterval = 2 * time.Second
	// ActionRequeue is the RequeueAfter of a Decision that carries actions.
	ActionRequeue = time.Second
)

// Spec is the desired state of a rolling upgrade: the target version and
// image of one StatefulSet-like workload, and how carefully to get there.
// It is JSON-tagged so hosts can embed it in a CRD spec.
//
// +kubebuilder:object:generate=true
type Spec struct {
	// Version is the target workload version (strict semver, one optional
	// leading "v"). Step requires it (ErrInvalidSpec when empty); it is optional in
	// the schema so a host can fill it from a shared field of its own API.
	//
	// +kubebuilder:validation:Pattern=`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`
	Version string `json:"version,omitempty"`
	// Image is the target container image; a semver tag must match Version.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// Workload names the workload to roll; it may be empty when the
	// observation holds exactly one workload.
	Workload string `json:"workload,omitempty"`
	// Rules is the version policy (downgrades, skipped minors, ...).
	Rules policy.Rules `json:"rules,omitempty"`
	// Prerequisites are the preflight checks run before an upgrade starts.
	// LockHolder is always this spec's lock holder; Workloads defaults to
	// the rolled workload.
	Prerequisites policy.Prerequisites `json:"prerequisites,omitempty"`
	// CatchUp defines when a member counts as caught up (zero fields take
	// upgrade.DefaultCatchUp).
	CatchUp upgrade.CatchUp `json:"catchUp,omitempty"`
	// AllowDowntime opts in to restarts that lose quorum, which one- and
	// two-voter clusters cannot avoid. It is ignored for clusters of three
	// or more voters, which always keep quorum.
	AllowDowntime bool `json:"allowDowntime,omitempty"`
	// LockHolder is the operation-lock identity (DefaultLockHolder if empty).
	LockHolder string `json:"lockHolder,omitempty"`
	// Snapshot requests a pre-upgrade snapshot: the template does not change
	// before a backup newer than the upgrade's start succeeded.
	Snapshot bool `json:"snapshot,omitempty"`
	// StepTimeout is the per-step deadline (DefaultStepTimeout if zero).
	StepTimeout metav1.Duration `json:"stepTimeout,omitempty"`
	// RetryInterval is how long to wait for a requested leadership move or
	// snapshot before the request is repeated (DefaultRetryInterval if
	// zero).
	RetryInterval metav1.Duration `json:"retryInterval,omitempty"`
	// PollInterval is the RequeueAfter of waiting Decisions
	// (DefaultPollInterval if zero).
	PollInterval metav1.Duration `json:"pollInterval,omitempty"`
	// Ordering chooses who restarts pods: Partition (the StatefulSet
	// controller, one ordinal admitted at a time by lowering the
	// partition), OnDelete (the strategy deletes exactly one pod at the
	// moment it is safe: followers first, the leader last after a targeted
	// transfer or its own handoff) or empty to follow the workload's update
	// strategy (OnDelete for an OnDelete workload, Partition otherwise).
	// OnDelete needs an OnDelete workload (a RollingUpdate controller
	// recreates a deleted pod below the partition at the old revision) or a
	// host without a controller; Partition needs RollingUpdate.
	Ordering Ordering `json:"ordering,omitempty"`
	// LeaderPlacement is when leadership moves onto the target version:
	// Last (the default, OpenBao's documented order: followers first, the
	// leader when its own pod is next) or Early (leadership moves to the
	// first upgraded, caught-up voter and stays on upgraded voters). See
	// upgrade.PlacementLast and upgrade.PlacementEarly for the trade-off
	// (forwarding window against failback window).
	LeaderPlacement upgrade.LeaderPlacement `json:"leaderPlacement,omitempty"`
	// RetryNonce requests a retry of a paused or degraded upgrade when it
	// differs from Status.Handled.Retry: the step deadline budget is reset
	// and the pause cleared. Each nonce is acted on once.
	RetryNonce string `json:"retryNonce,omitempty"`
	// MaintenanceWindows are the UTC cron windows in which a pod restart
	// (and the leadership move before it) may start; empty: any time.
	// Outside them the upgrade holds between pods with gate
	// MaintenanceWindow. Each window must last at least StepTimeout plus
	// CatchUp.Stabilization, and a pod starts only while the window stays
	// open that long.
	//
	// +kubebuilder:validation:MaxItems=32
	MaintenanceWindows []upgrade.MaintenanceWindow `json:"maintenanceWindows,omitempty"`
	// Paused holds the upgrade at its next safe point (between pods, never
	// with a pod down or a leadership move in flight) with gate Paused, and
	// keeps an idle cluster from starting one. Setting it back to false
	// resumes from the status.
	Paused bool `json:"paused,omitempty"`
}

// Ordering is who restarts the pods of a rolling upgrade.
//
// +kubebuilder:validation:Enum=Partition;OnDelete
type Ordering string

// Orderings.
const (
	// OrderingPartition: the StatefulSet controller restarts the pods the
	// partition admits. Caveat: once the partition admits a pod, the
	// controller restarts it on its own schedule, as soon as the pods look
	// Ready, whatever Raft says at that moment; the strategy lowers the
	// partition only in the Decision that finds that pod safe to restart,
	// but a fault between that Decision and the controller's action is not
	// seen in time. When the leader sits at the highest ordinal it restarts
	// first, so such upgrades make two leader changes.
	OrderingPartition Ordering = "Partition"
	// OrderingOnDelete: the strategy deletes exactly one pod when it is
	// safe, rechecking S1–S3 against the observation of that Step:
	// followers first (those already down first, then the highest ordinal
	// first), then leadership moves to an
	// upgraded, caught-up voter (or the leader hands it over on shutdown,
	// where the workload does so), then the old leader last. With targeted
	// transfer that is exactly one leader change whatever the starting
	// leader, and the controller restarts nothing on its own.
	OrderingOnDelete Ordering = "OnDelete"
)

// withDefaults validates spec and fills its defaults.
func (s Spec) withDefaults() (Spec, error) {
	switch {
	case s.StepTimeout.Duration < 0:
		return s, fmt.Errorf("%w: step timeout %s is negative", upgrade.ErrInvalidSpec, s.StepTimeout.Duration)
	case s.RetryInterval.Duration < 0:
		return s, fmt.Errorf("%w: retry interval %s is negative", upgrade.ErrInvalidSpec, s.RetryInterval.Duration)
	case s.PollInterval.Duration < 0:
		return s, fmt.Errorf("%w: poll interval %s is negative", upgrade.ErrInvalidSpec, s.PollInterval.Duration)
	case s.Ordering != "" && s.Ordering != OrderingPartition && s.Ordering != OrderingOnDelete:
		return s, fmt.Errorf("%w: ordering %q is neither %s nor %s", upgrade.ErrInvalidSpec, s.Ordering, OrderingPartition, OrderingOnDelete)
	}
	if err := contract.ValidatePlacement(s.LeaderPlacement); err != nil {
		return s, err
	}
	// One spelling: "v2.4.0" and "2.4.0" are the same target, stored as
	// "2.4.0" (a change of spelling alone never starts an upgrade).
	s.Version = policy.Canonical(s.Version)
	if s.LockHolder == "" {
		s.LockHolder = DefaultLockHolder
	}
	if s.StepTimeout.Duration == 0 {
		s.StepTimeout.Duration = DefaultStepTimeout
	}
	if s.RetryInterval.Duration == 0 {
		s.RetryInterval.Duration = DefaultRetryInterval
	}
	if s.PollInterval.Duration == 0 {
		s.PollInterval.Duration = DefaultPollInterval
	}
	s.CatchUp = s.CatchUp.WithDefaults()
	return s, nil
}

// stepRoom is one pod's budget, the least time a maintenance window must
// have left for a restart to start: the step deadline (which bounds a
// restart and its verification) plus the stabilization window.
func (s Spec) stepRoom() time.Duration {
	return s.StepTimeout.Duration + max(s.CatchUp.Stabilization.Duration, 0)
}
