package upgrade

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// BlueGreenProgress is the blue-green strategy's persisted progress.
type BlueGreenProgress struct {
	// Blue is the workload serving when the upgrade started.
	Blue string `json:"blue"`
	// Green is the workload being deployed at the target version.
	Green string `json:"green"`
	// BlueReplicas is the number of blue members when the upgrade started.
	BlueReplicas int32 `json:"blueReplicas,omitempty"`
	// GreenReplicas is the number of green members requested.
	GreenReplicas int32 `json:"greenReplicas,omitempty"`
	// AutoPromote is the promotion mode, snapshotted when the upgrade started.
	AutoPromote bool `json:"autoPromote,omitempty"`
	// RollingBack is true once the upgrade is being rolled back or aborted.
	RollingBack bool `json:"rollingBack,omitempty"`
	// RollbackReason is the machine-readable trigger of the rollback or abort.
	RollbackReason Reason `json:"rollbackReason,omitempty"`
	// RollbackMessage explains the rollback or abort trigger.
	RollbackMessage string `json:"rollbackMessage,omitempty"`
	// PromotionStarted is true once a green member was (or may have been)
	// promoted to voter: from then on failures roll back instead of aborting.
	PromotionStarted bool `json:"promotionStarted,omitempty"`
	// PointOfNoReturn is true once cleanup started removing blue peers: the
	// upgrade then only rolls forward.
	PointOfNoReturn bool `json:"pointOfNoReturn,omitempty"`
	// SyncedSince is when every green member was first seen caught up in the
	// current sync streak (zero when not in sync).
	SyncedSince metav1.Time `json:"syncedSince,omitempty"`
	// WindowSince is when the window the current phase waits out began, at
	// microsecond precision (rounded up, so a window never ends early): the
	// sync window from the first observation of green in sync, the
	// stabilization window from entering Stabilizing. Zero when the phase
	// has no window running; statuses written before it existed fall back
	// to SyncedSince and PhaseStartedAt (second precision).
	WindowSince metav1.MicroTime `json:"windowSince,omitempty"`
	// HookAttempt is the attempt number of the hook run of the current phase
	// (0 when none was requested).
	HookAttempt int32 `json:"hookAttempt,omitempty"`
	// HookRequestedAt is when the current hook run was requested.
	HookRequestedAt metav1.Time `json:"hookRequestedAt,omitempty"`
	// HookPassed is true once the current phase's hook run succeeded.
	HookPassed bool `json:"hookPassed,omitempty"`
	// LeaderMoves counts leadership moves requested in the current
	// leadership phase.
	LeaderMoves int32 `json:"leaderMoves,omitempty"`
	// LeaderMoveTerm is the Raft term observed when the last leadership move
	// was requested; a higher term means an election happened since.
	LeaderMoveTerm uint64 `json:"leaderMoveTerm,omitempty"`
	// LastAction identifies the last progress action issued, to notice
	// actions that had no effect (re-issuing it counts a failure).
	LastAction string `json:"lastAction,omitempty"`
	// LastActionAt is when LastAction was issued.
	LastActionAt metav1.Time `json:"lastActionAt,omitempty"`
	// UnexpectedPromotion is true once a green member was seen voting before
	// this strategy promoted it (upgrade.ReasonUnexpectedPromotion).
	UnexpectedPromotion bool `json:"unexpectedPromotion,omitempty"`
	// BreakGlassFrom is the phase break-glass was entered from.
	BreakGlassFrom string `json:"breakGlassFrom,omitempty"`
	// BreakGlassCount counts break-glass entries of this upgrade.
	BreakGlassCount int32 `json:"breakGlassCount,omitempty"`
}
