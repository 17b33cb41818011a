package upgrade

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Strategy names an upgrade strategy.
//
// +kubebuilder:validation:Enum=Rolling;BlueGreen
type Strategy string

// Strategies.
const (
	StrategyRolling   Strategy = "Rolling"
	StrategyBlueGreen Strategy = "BlueGreen"
)

// Outcome is how an upgrade ended.
//
// +kubebuilder:validation:Enum=Succeeded;RolledBack;Aborted
type Outcome string

// Outcomes.
const (
	OutcomeSucceeded  Outcome = "Succeeded"
	OutcomeRolledBack Outcome = "RolledBack"
	OutcomeAborted    Outcome = "Aborted"
)

// Status is everything a strategy persists between Steps. It is JSON-tagged
// and deep-copyable so hosts can embed it in a CRD status. All progress lives
// here: a host that crashes and calls Step again with the persisted Status and
// a fresh Observation reaches the same outcome.
//
// Timestamps are metav1.Time, which serialises with one-second precision;
// strategies only compare them at that precision.
type Status struct {
	// CurrentVersion is the version the whole cluster runs when no upgrade is
	// in progress. It changes only together with Upgrade (S5).
	CurrentVersion string `json:"currentVersion,omitempty"`
	// CurrentImage is the image matching CurrentVersion.
	CurrentImage string `json:"currentImage,omitempty"`
	// Upgrade is the upgrade in progress; nil when idle.
	Upgrade *UpgradeStatus `json:"upgrade,omitempty"`
	// Conditions are Ready / Progressing / Degraded style conditions.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastResult is the outcome of the last finished upgrade.
	LastResult *Result `json:"lastResult,omitempty"`
	// BreakGlass is set while automation is halted awaiting a human (S7).
	BreakGlass *BreakGlass `json:"breakGlass,omitempty"`
	// Handled records the request nonces already acted on, so requests
	// expressed as spec fields are GitOps-safe (never acted on twice).
	Handled HandledRequests `json:"handled,omitempty"`
	// ObservedTerm is the highest Raft term seen; an Observation with a lower
	// term is stale and is not acted on.
	ObservedTerm uint64 `json:"observedTerm,omitempty"`
	// LastStepTime is Observation.Now of the last Step that acted; an
	// Observation older than it is stale.
	LastStepTime metav1.Time `json:"lastStepTime,omitempty"`
	// Expected are the effects the last acting Decision expects to
	// observe; the next Step acts only once they show (or are overdue).
	Expected *Expectations `json:"expected,omitempty"`
}

// HandledRequests records which spec requests have been acted on.
type HandledRequests struct {
	// Retry is the last retry nonce handled.
	Retry string `json:"retry,omitempty"`
	// Rollback is the last rollback nonce handled.
	Rollback string `json:"rollback,omitempty"`
	// Promotion is the last manual promotion nonce handled.
	Promotion string `json:"promotion,omitempty"`
	// BreakGlassAck is the last break-glass acknowledgement handled.
	BreakGlassAck string `json:"breakGlassAck,omitempty"`
}

// Result summarises a finished upgrade.
type Result struct {
	Outcome       Outcome     `json:"outcome"`
	FromVersion   string      `json:"fromVersion,omitempty"`
	TargetVersion string      `json:"targetVersion,omitempty"`
	Reason        string      `json:"reason,omitempty"`
	Message       string      `json:"message,omitempty"`
	StartedAt     metav1.Time `json:"startedAt,omitempty"`
	FinishedAt    metav1.Time `json:"finishedAt,omitempty"`
	// Retried is true once a retry was requested after this upgrade ended:
	// a failed target may then be tried again.
	Retried bool `json:"retried,omitempty"`
}

// BreakGlass halts automation until a human acknowledges Nonce.
type BreakGlass struct {
	// Nonce must be copied into the spec's acknowledgement field to resume.
	// It is derived deterministically from the status (no randomness).
	Nonce string `json:"nonce"`
	// Reason is machine-readable.
	Reason string `json:"reason"`
	// Message explains what failed.
	Message string `json:"message"`
	// RecoverySteps tells the human what to check before acknowledging.
	RecoverySteps []string `json:"recoverySteps,omitempty"`
	// EnteredAt is when automation halted.
	EnteredAt metav1.Time `json:"enteredAt"`
}

// UpgradeStatus is the progress of the upgrade in flight.
type UpgradeStatus struct {
	// Strategy is the strategy driving this upgrade.
	Strategy Strategy `json:"strategy"`
	// Phase is the strategy's current phase.
	Phase string `json:"phase"`
	// FromVersion and FromImage are what the cluster ran when it started.
	FromVersion string `json:"fromVersion,omitempty"`
	FromImage   string `json:"fromImage,omitempty"`
	// TargetVersion and TargetImage are what the cluster is moving to.
	TargetVersion string `json:"targetVersion"`
	TargetImage   string `json:"targetImage,omitempty"`
	// LockHolder is the operation-lock identity used by this upgrade.
	LockHolder string `json:"lockHolder,omitempty"`
	// StartedAt is when the upgrade started.
	StartedAt metav1.Time `json:"startedAt"`
	// PhaseStartedAt is when the current phase was entered.
	PhaseStartedAt metav1.Time `json:"phaseStartedAt"`
	// StepStartedAt starts the current step's deadline clock (per-step
	// deadlines, reset by progress and by retry requests).
	StepStartedAt metav1.Time `json:"stepStartedAt"`
	// Failures counts consecutive failed attempts of the current step.
	Failures int32 `json:"failures,omitempty"`
	// Paused is set with a reason when the upgrade holds for a human.
	Paused *Pause `json:"paused,omitempty"`
	// Held is set while the upgrade holds at its strategy's safe point
	// because the spec pauses it or no maintenance window is open. Unlike
	// Paused it needs no human: the upgrade resumes from this status when
	// the pause is lifted or a window opens, and time held never counts
	// against a step deadline.
	Held *Pause `json:"held,omitempty"`
	// Rolling is the rolling strategy's progress.
	Rolling *RollingProgress `json:"rolling,omitempty"`
	// BlueGreen is the blue-green strategy's progress.
	BlueGreen *BlueGreenProgress `json:"blueGreen,omitempty"`
	// LeaderHighWater is the highest version (by semver precedence, parsed
	// strictly like every version) that has led the cluster during this
	// upgrade, as observed by the Steps. Once it reaches a newer target,
	// leadership never moves back to an older member (S8; see
	// FailbackEngaged).
	LeaderHighWater string `json:"leaderHighWater,omitempty"`
}

// Pause records why an upgrade stopped progressing and waits for a human.
type Pause struct {
	Gate    GateName    `json:"gate"`
	Reason  Reason      `json:"reason"`
	Message string      `json:"message,omitempty"`
	Member  string      `json:"member,omitempty"`
	Since   metav1.Time `json:"since"`
}

// Idle reports whether no upgrade is in progress.
func (s *Status) Idle() bool { return s.Upgrade == nil }
