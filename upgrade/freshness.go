package upgrade

// Reasons of the StaleObservation gate.
const (
	// ReasonObservationNotNewer: the observation is older than the last Step
	// that acted, so it predates that Step's actions.
	ReasonObservationNotNewer Reason = "ObservationOlderThanLastStep"
	// ReasonTermRegressed: the observation's Raft term is below a term
	// already seen, so it comes from an older view of the cluster.
	ReasonTermRegressed Reason = "TermRegressed"
	// ReasonWorkloadRegressed: the observation shows a workload at a
	// generation below one an earlier Step of the upgrade already saw, so
	// it comes from a cache older than that Step (an informer restarted
	// against a lagging API server).
	ReasonWorkloadRegressed Reason = "WorkloadGenerationRegressed"
)
