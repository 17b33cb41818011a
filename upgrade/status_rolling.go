package upgrade

// RollingProgress is the rolling strategy's persisted progress.
type RollingProgress struct {
	// Workload is the workload being rolled.
	Workload string `json:"workload"`
	// Ordinal is the ordinal being upgraded now (counting down from
	// replicas-1); -1 once every ordinal is done.
	Ordinal int32 `json:"ordinal"`
	// RestartedUID is the UID of the pod incarnation deleted for this
	// ordinal, to recognise its replacement.
	RestartedUID string `json:"restartedUID,omitempty"`
	// LeaderMoves counts leadership moves requested by this upgrade.
	LeaderMoves int32 `json:"leaderMoves,omitempty"`
}

// DeepCopy returns a copy of p sharing no memory with it.
func (p *RollingProgress) DeepCopy() *RollingProgress {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
