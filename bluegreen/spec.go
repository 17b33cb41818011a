package bluegreen

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// Spec is the desired state of a blue-green managed cluster. It is
// JSON-tagged so hosts can embed it in a CRD spec. Requests (promotion,
// rollback, break-glass acknowledgement) are nonces: a request is acted on
// once, when its nonce differs from the one recorded in Status.Handled.
//
// +kubebuilder:object:generate=true
type Spec struct {
	// Version is the desired workload version (strict semver, one optional
	// leading "v"). Step requires it (ErrInvalidSpec when empty); it is optional in
	// the schema so a host can fill it from a shared field of its own API.
	//
	// +kubebuilder:validation:Pattern=`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`
	Version string `json:"version,omitempty"`
	// Image is the container image for Version.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// Workload is the base name of the workloads. The green workload is
	// named GreenName(Workload, Version, Image). Empty: Service, then the
	// observed service's name.
	Workload string `json:"workload,omitempty"`
	// Service is the client-facing service switched to green in cleanup.
	// Empty: the observed service's name.
	Service string `json:"service,omitempty"`
	// Replicas is the number of green members. 0: as many as blue has.
	//
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=99
	Replicas int32 `json:"replicas,omitempty"`
	// RaftPort is the Raft port of green members (default 8201).
	//
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	RaftPort int32 `json:"raftPort,omitempty"`
	// PeerDomain is the DNS suffix of the Raft addresses of members joined
	// by the strategy: "<pod>.<PeerDomain>:<RaftPort>". Empty:
	// "<pod>.<workload>:<RaftPort>" (a headless service named like the
	// workload).
	PeerDomain string `json:"peerDomain,omitempty"`
	// LockHolder is this operation's lock identity (default "raftshift-bluegreen").
	LockHolder string `json:"lockHolder,omitempty"`

	// AutoPromote promotes green without a human once it is synced and
	// validated. The value is snapshotted when an upgrade starts.
	AutoPromote bool `json:"autoPromote,omitempty"`
	// PromoteNonce requests manual promotion while AwaitingPromotion.
	PromoteNonce string `json:"promoteNonce,omitempty"`
	// RollbackNonce requests a rollback (or abort) of the upgrade in flight.
	RollbackNonce string `json:"rollbackNonce,omitempty"`
	// BreakGlassAck acknowledges break-glass; it must equal
	// Status.BreakGlass.Nonce.
	BreakGlassAck string `json:"breakGlassAck,omitempty"`
	// RetryNonce allows another attempt at a target whose last upgrade was
	// aborted or rolled back (without it, Step holds instead of retrying a
	// failed target forever).
	RetryNonce string `json:"retryNonce,omitempty"`

	// PrePromotionHook is run (RunHook, phase "PrePromotion") in Validating;
	// empty: no hook.
	PrePromotionHook string `json:"prePromotionHook,omitempty"`
	// PostPromotionHook is run (RunHook, phase "PostPromotion") in
	// Stabilizing; empty: no hook.
	PostPromotionHook string `json:"postPromotionHook,omitempty"`

	// Policy are the version rules checked before an upgrade starts.
	Policy policy.Rules `json:"policy,omitempty"`
	// Prerequisites are the preflight checks run before an upgrade starts.
	// LockHolder and Workloads are filled in by Step.
	Prerequisites policy.Prerequisites `json:"prerequisites,omitempty"`
	// CatchUp defines "caught up" for sync, promotion and leadership moves.
	CatchUp upgrade.CatchUp `json:"catchUp,omitempty"`
	// MinSyncDuration is how long green must stay caught up before
	// validation starts.
	MinSyncDuration metav1.Duration `json:"minSyncDuration,omitempty"`
	// StabilizationWindow is how long green must serve healthily after
	// blue was demoted before cleanup (the point of no return).
	StabilizationWindow metav1.Duration `json:"stabilizationWindow,omitempty"`

	// Timeouts bound the phases; zero fields take defaults.
	Timeouts Timeouts `json:"timeouts,omitempty"`
	// RetryAfter is how long an issued action may take to show its effect
	// before it is issued again (counted as a failure). Default 5s.
	RetryAfter metav1.Duration `json:"retryAfter,omitempty"`
	// MaxFailures is how many re-issues of one action are tolerated before
	// the upgrade aborts or rolls back (default 5).
	//
	// +kubebuilder:validation:Minimum=0
	MaxFailures int32 `json:"maxFailures,omitempty"`
	// MaxLeaderMoves caps the leadership moves (transfers or step-downs) of
	// one leadership phase (default 10).
	//
	// +kubebuilder:validation:Minimum=0
	MaxLeaderMoves int32 `json:"maxLeaderMoves,omitempty"`
	// LeaderPlacement is when leadership moves onto the target version
	// (upgrade.PlacementLast, the default, or upgrade.PlacementEarly); it
	// is validated like the rolling strategy's, with the same typed error.
	// Blue-green has one placement whatever the value: leadership moves to
	// green once every green member is a caught-up voter, and stays on green
	// (blue voters are demoted right after, most up-to-date first, so the
	// window in which a blue voter could win an election lasts the
	// DemotingBlue phase: one demotion per Step, at most BlueReplicas-1
	// Steps, each bounded by Timeouts.Step). A blue leader elected in that
	// window is moved back to green at once (LeaderVersionRegressed).
	LeaderPlacement upgrade.LeaderPlacement `json:"leaderPlacement,omitempty"`
	// RequeueAfter is the polling interval while waiting (default 5s).
	RequeueAfter metav1.Duration `json:"requeueAfter,omitempty"`

	// MaintenanceWindows are the UTC cron windows in which the promotion
	// (green voters, leadership to green, blue demoted and removed) may
	// start; empty: any time. Outside them the upgrade holds at
	// AwaitingPromotion with gate MaintenanceWindow. Each window must last
	// at least Timeouts.Step plus StabilizationWindow, and the promotion
	// starts only while the window stays open that long.
	//
	// +kubebuilder:validation:MaxItems=32
	MaintenanceWindows []upgrade.MaintenanceWindow `json:"maintenanceWindows,omitempty"`
	// Paused holds the upgrade at its next safe point (AwaitingPromotion,
	// or idle) with gate Paused. Setting it back to false resumes from the
	// status.
	Paused bool `json:"paused,omitempty"`
}

// Timeouts bound how long the strategy waits without progress. A step's
// clock (UpgradeStatus.StepStartedAt) restarts whenever the strategy issues
// a new action or enters a phase.
//
// +kubebuilder:object:generate=true
type Timeouts struct {
	// Step bounds every automated forward step (default 10m). Expiry aborts
	// or rolls back.
	Step metav1.Duration `json:"step,omitempty"`
	// Sync bounds Syncing, where green replicates the whole log or a
	// snapshot (default 30m). Expiry aborts.
	Sync metav1.Duration `json:"sync,omitempty"`
	// Hook bounds a hook run (default 10m). Expiry counts as hook failure.
	Hook metav1.Duration `json:"hook,omitempty"`
	// Promotion bounds AwaitingPromotion (default 0: wait for a human
	// forever). Expiry aborts.
	Promotion metav1.Duration `json:"promotion,omitempty"`
	// Rollback bounds every rollback or abort step (default 10m). Expiry
	// enters break-glass.
	Rollback metav1.Duration `json:"rollback,omitempty"`
}

// MaxReplicas bounds Spec.Replicas (and the CRD schema's maximum).
const MaxReplicas = 99

// Defaults.
const (
	DefaultLockHolder     = "raftshift/bluegreen"
	DefaultRaftPort       = 8201
	DefaultRetryAfter     = 5 * time.Second
	DefaultMaxFailures    = 5
	DefaultMaxLeaderMoves = 10
	DefaultRequeueAfter   = 5 * time.Second
	DefaultStepTimeout    = 10 * time.Minute
	DefaultSyncTimeout    = 30 * time.Minute
	DefaultHookTimeout    = 10 * time.Minute
	DefaultRollback       = 10 * time.Minute
)

// Hook phases reported in RunHook.Phase.
const (
	HookPhasePrePromotion  = "PrePromotion"
	HookPhasePostPromotion = "PostPromotion"
)

// withDefaults returns s with zero fields defaulted.
func (s Spec) withDefaults() Spec {
	// One spelling: "v2.4.0" and "2.4.0" are the same target, stored as
	// "2.4.0" (a change of spelling alone never starts an upgrade).
	s.Version = policy.Canonical(s.Version)
	if s.RaftPort == 0 {
		s.RaftPort = DefaultRaftPort
	}
	if s.LockHolder == "" {
		s.LockHolder = DefaultLockHolder
	}
	if s.RetryAfter.Duration == 0 {
		s.RetryAfter.Duration = DefaultRetryAfter
	}
	if s.MaxFailures == 0 {
		s.MaxFailures = DefaultMaxFailures
	}
	if s.MaxLeaderMoves == 0 {
		s.MaxLeaderMoves = DefaultMaxLeaderMoves
	}
	if s.RequeueAfter.Duration == 0 {
		s.RequeueAfter.Duration = DefaultRequeueAfter
	}
	if s.Timeouts.Step.Duration == 0 {
		s.Timeouts.Step.Duration = DefaultStepTimeout
	}
	if s.Timeouts.Sync.Duration == 0 {
		s.Timeouts.Sync.Duration = DefaultSyncTimeout
	}
	if s.Timeouts.Hook.Duration == 0 {
		s.Timeouts.Hook.Duration = DefaultHookTimeout
	}
	if s.Timeouts.Rollback.Duration == 0 {
		s.Timeouts.Rollback.Duration = DefaultRollback
	}
	return s
}

// validate rejects specs that cannot be acted on at all (version policy is
// checked separately and reported as a gate).
func (s Spec) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", upgrade.ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case s.Replicas < 0 || s.Replicas > MaxReplicas:
		return bad("replicas %d is out of range 0..%d", s.Replicas, MaxReplicas)
	case s.RaftPort < 0 || s.RaftPort > 65535:
		return bad("raft port %d is out of range", s.RaftPort)
	case s.MinSyncDuration.Duration < 0, s.StabilizationWindow.Duration < 0, s.RetryAfter.Duration < 0, s.RequeueAfter.Duration < 0:
		return bad("durations must not be negative")
	case s.Timeouts.Step.Duration < 0, s.Timeouts.Sync.Duration < 0, s.Timeouts.Hook.Duration < 0, s.Timeouts.Promotion.Duration < 0, s.Timeouts.Rollback.Duration < 0:
		return bad("timeouts must not be negative")
	case s.MaxFailures < 0, s.MaxLeaderMoves < 0:
		return bad("failure caps must not be negative")
	case len(s.Workload) > 200, len(s.Service) > 200, len(s.LockHolder) > 200:
		return bad("names must be at most 200 characters")
	}
	return contract.ValidatePlacement(s.LeaderPlacement)
}

// GreenName is the deterministic name of the green workload for a target:
// "<base>-<h>" where h is the first 8 hex digits of
// sha256(version + "\x00" + image). base is cut to 54 characters so the
// name stays a valid 63-character DNS label.
func GreenName(base, version, image string) string {
	sum := sha256.Sum256([]byte(version + "\x00" + image))
	if len(base) > 54 {
		base = base[:54]
	}
	var h [8]byte
	hex.Encode(h[:], sum[:4])
	return base + "-" + string(h[:])
}
