package upgrade

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RollingProgress is the rolling strategy's persisted progress.
type RollingProgress struct {
	// Workload is the workload being rolled.
	Workload string `json:"workload"`
	// Replicas is the workload's replica count when the upgrade started; the
	// partition is locked at this value.
	Replicas int32 `json:"replicas"`
	// Ordering is who restarts pods in this upgrade ("Partition" or
	// "OnDelete"), chosen when it started.
	Ordering string `json:"ordering,omitempty"`
	// WorkloadUID and WorkloadGeneration are the workload incarnation this
	// upgrade's Steps saw last (upgrade.Workload.UID) and the highest
	// generation of it they saw. An observation showing that incarnation at
	// a lower generation comes from a cache older than a Step already taken
	// and is not acted on (StaleObservation, WorkloadGenerationRegressed): a
	// plan made from it could find the template as it was before this
	// upgrade changed it. A workload recreated mid-upgrade has another UID
	// and starts a new record; a host that reports no UID and recreates the
	// workload holds the upgrade on that gate.
	WorkloadUID        string `json:"workloadUID,omitempty"`
	WorkloadGeneration int64  `json:"workloadGeneration,omitempty"`
	// Ordinal is the ordinal being upgraded now (counting down from
	// replicas-1); -1 once every ordinal is done.
	Ordinal int32 `json:"ordinal"`
	// RestartedUID is the UID of the pod incarnation deleted for this
	// ordinal, to recognise its replacement.
	RestartedUID string `json:"restartedUID,omitempty"`
	// DeletedUID is the UID of a pod the strategy deleted itself (a pod the
	// controller would not replace because it was not ready), so the delete
	// is requested once per incarnation.
	DeletedUID string `json:"deletedUID,omitempty"`
	// HealthySince is when the strategy first observed the restarted member
	// of Ordinal healthy and caught up (zero until then, and again whenever
	// it is seen otherwise): its stabilization window counts from the latest
	// of this, its pod's start and readiness, and autopilot's stable_since
	// (upgrade.CaughtUpAfterRestart), never from a cluster timestamp alone.
	// It has microsecond precision, so a host that observes every 100 ms
	// loses no second to rounding.
	HealthySince metav1.MicroTime `json:"healthySince,omitempty"`
	// TransferTarget is the member leadership was last asked to move to (""
	// for an untargeted step-down).
	TransferTarget string `json:"transferTarget,omitempty"`
	// LeaderMoves counts leadership moves requested by this upgrade.
	LeaderMoves int32 `json:"leaderMoves,omitempty"`
	// Retargets counts targets changed mid-upgrade (each restarts the plan
	// from the current state). An upgrade that ends at the version it
	// started from after a retarget is a rollback (OutcomeRolledBack); one
	// that started at the current version and was never retargeted
	// converged a workload left locked by an interrupted decision
	// (OutcomeSucceeded).
	Retargets int32 `json:"retargets,omitempty"`
	// Snapshot is the name of the pre-upgrade snapshot requested, if any.
	Snapshot string `json:"snapshot,omitempty"`
	// Updated lists the members verified on the target version, in the
	// order they were upgraded.
	Updated []string `json:"updated,omitempty"`
	// Nonvoters are the members that were non-voters when the upgrade
	// started; one that votes later was promoted behind the strategy's
	// back (upgrade.ReasonUnexpectedPromotion).
	Nonvoters []string `json:"nonvoters,omitempty"`
	// UnexpectedVoters are the Nonvoters seen voting, in the order seen.
	UnexpectedVoters []string `json:"unexpectedVoters,omitempty"`
}
