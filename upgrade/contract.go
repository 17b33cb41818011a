package upgrade

// Reasons both strategies use in their conditions and results: one
// vocabulary, whatever the strategy.
const (
	// ReasonUpToDate: idle, the cluster runs the spec's version.
	ReasonUpToDate Reason = "UpToDate"
	// ReasonAdopted: idle, the running version was adopted as current.
	ReasonAdopted Reason = "AdoptedRunningVersion"
	// ReasonIdle: no upgrade in progress.
	ReasonIdle Reason = "Idle"
	// ReasonAsExpected: nothing is degraded.
	ReasonAsExpected Reason = "AsExpected"
	// ReasonUpgrading: an upgrade is in progress.
	ReasonUpgrading Reason = "Upgrading"
	// ReasonStarted: an upgrade started (the event of the Step that
	// started it, in both strategies).
	ReasonStarted Reason = "UpgradeStarted"
	// ReasonSucceeded: the last upgrade reached its target.
	ReasonSucceeded Reason = "UpgradeSucceeded"
	// ReasonRolledBack: the last upgrade was rolled back.
	ReasonRolledBack Reason = "UpgradeRolledBack"
	// ReasonAborted: the last upgrade was aborted before any change of
	// membership.
	ReasonAborted Reason = "UpgradeAborted"
	// ReasonNotEngaged: break-glass is not engaged.
	ReasonNotEngaged Reason = "NotEngaged"
	// ReasonRetryRequired: the last upgrade to this target failed; a new
	// retry nonce is needed to try again.
	ReasonRetryRequired Reason = "RetryRequired"
	// ReasonPaused: the upgrade holds for a human.
	ReasonPaused Reason = "UpgradePaused"
)

// OutcomeReason is the reason recorded for an outcome.
func OutcomeReason(o Outcome) Reason {
	switch o {
	case OutcomeSucceeded:
		return ReasonSucceeded
	case OutcomeRolledBack:
		return ReasonRolledBack
	}
	return ReasonAborted
}
