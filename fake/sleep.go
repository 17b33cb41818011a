package fake

import "time"

// Sleep advances the simulated clock by d without running a tick: nothing
// happens in the cluster meanwhile (no pod starts or stops, no election,
// no replication, no contact is lost), so every timestamp it reports is d
// older. It models a host asleep until its next reconcile, for instance
// until a maintenance window opens, while the cluster runs as it is; a
// time-gated strategy can then be driven across days of simulated time in
// a few ticks. Non-positive durations do nothing.
func (c *Cluster) Sleep(d time.Duration) {
	if d > 0 {
		c.slept += d
	}
}
