package upgrade

// BlueGreenProgress is the blue-green strategy's persisted progress.
type BlueGreenProgress struct {
	// Blue is the workload serving when the upgrade started.
	Blue string `json:"blue"`
	// Green is the workload being deployed at the target version.
	Green string `json:"green"`
	// AutoPromote is the promotion mode, snapshotted when the upgrade started.
	AutoPromote bool `json:"autoPromote,omitempty"`
	// RollingBack is true once the upgrade is being rolled back.
	RollingBack bool `json:"rollingBack,omitempty"`
}

// DeepCopy returns a copy of p sharing no memory with it.
func (p *BlueGreenProgress) DeepCopy() *BlueGreenProgress {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
