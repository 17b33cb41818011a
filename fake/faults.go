package fake

import (
	"fmt"

	"github.com/raftshift/raftshift/upgrade"
)

func (c *Cluster) fault(format string, args ...any) {
	c.pending.Faults = append(c.pending.Faults, fmt.Sprintf(format, args...))
}

// KillPod kills the named pod's process: the pod disappears and its
// controller recreates it (new UID) under the usual revision rules. It fails
// with ErrPrecondition when the pod does not exist.
func (c *Cluster) KillPod(name string) error {
	m := c.byName[name]
	if m == nil || !m.exists {
		return precondition("pod %s does not exist", name)
	}
	c.fault("kill pod %s", name)
	c.deletePod(m, "killed", true)
	c.refresh()
	return nil
}

// KillLeader kills the leader's pod (see KillPod). It fails with
// ErrPrecondition when there is no leader.
func (c *Cluster) KillLeader() error {
	if c.leader == nil {
		return precondition("the cluster has no leader")
	}
	return c.KillPod(c.leader.name)
}

// Isolate partitions a member from the network: it can no longer take part
// in Raft. An isolated leader loses leadership after ElectionTimeout[0]
// ticks.
func (c *Cluster) Isolate(name string) error {
	m := c.byName[name]
	if m == nil {
		return precondition("no member %q", name)
	}
	c.fault("isolate %s", name)
	m.isolated = true
	c.refresh()
	return nil
}

// Heal ends a member's network partition.
func (c *Cluster) Heal(name string) error {
	m := c.byName[name]
	if m == nil {
		return precondition("no member %q", name)
	}
	c.fault("heal %s", name)
	m.isolated = false
	c.refresh()
	return nil
}

// SlowCatchUp sets how many entries per tick the named member replicates
// (0 stalls it), until HealAll.
func (c *Cluster) SlowCatchUp(name string, rate uint64) error {
	m := c.byName[name]
	if m == nil {
		return precondition("no member %q", name)
	}
	c.fault("slow catch-up of %s to %d entries per tick", name, rate)
	m.rate, m.rateSet = rate, true
	return nil
}

// StaleNext makes the next Observe return the snapshot taken ticksAgo ticks
// earlier, clamped to the ticks run so far and to StaleDepth.
func (c *Cluster) StaleNext(ticksAgo int) {
	c.fault("next observation is %d ticks stale", ticksAgo)
	c.stale = max(ticksAgo, 0)
}

// SetBadVersion marks a version bad (its pods crash-loop, including running
// ones, from the next tick) or good again (crash-looping pods recover).
func (c *Cluster) SetBadVersion(version string, bad bool) {
	c.fault("version %s bad=%t", version, bad)
	if bad {
		c.bad[version] = true
	} else {
		delete(c.bad, version)
	}
}

// SetHookFailure makes runs of hook that finish from now on fail (or
// succeed).
func (c *Cluster) SetHookFailure(hook string, fail bool) {
	c.fault("hook %s fail=%t", hook, fail)
	if fail {
		c.hookFail[hook] = true
	} else {
		delete(c.hookFail, hook)
	}
}

// HealAll stops every ongoing fault: isolated members rejoin, replication
// rates are reset and pending staleness and observation faults are cleared. Bad versions and hook
// failures stay.
func (c *Cluster) HealAll() {
	c.fault("heal all")
	for _, m := range c.members {
		m.isolated = false
		m.rate, m.rateSet = 0, false
	}
	c.stale = 0
	c.obsFaults = nil
	c.refresh()
}

// ElectLeader makes the named voter the leader now, in a new term, as a
// completed leadership transfer would: a setup helper for scenarios that
// start with the leader elsewhere. The member must be an up, reachable
// voter with the current leader's whole log (every member of a new
// cluster has it); otherwise it fails with ErrPrecondition.
func (c *Cluster) ElectLeader(name string) error {
	m := c.byName[name]
	if m == nil || !m.voter || !m.reachable() {
		return precondition("%s is not an up, reachable voter", name)
	}
	if c.leader == m {
		return nil
	}
	if l := c.leader; l != nil && (m.log.lastIndex() != l.log.lastIndex() || m.log.lastTerm() != l.log.lastTerm()) {
		return precondition("%s does not have the leader's whole log", name)
	}
	c.fault("elect %s", name)
	c.elect(m, "setup")
	c.replicate()
	c.refresh()
	return nil
}

// FailNextHandoff makes the next leadership handoff on shutdown fail
// (HandoffOnShutdown): the leader shuts down without handing over and the
// cluster elects a leader after an election timeout.
func (c *Cluster) FailNextHandoff() {
	c.fault("next handoff on shutdown fails")
	c.failHandoff = true
}

// FailNextLeaderMove makes the next StepDown or TransferLeadership fail
// as hashicorp/raft's LeadershipTransfer fails when its target does not take
// over in time: after a StepDown the leader keeps leading in its term; a
// TransferLeadership runs (client writes pause) until it times out after
// ElectionTimeout[1] ticks, the old leader still leading. Handoffs on
// shutdown are FailNextHandoff's.
func (c *Cluster) FailNextLeaderMove() {
	c.fault("next leadership move fails")
	c.failMove = true
}

// SelfJoin adds the named member to the Raft configuration as a non-voter
// that is never promoted on its own, as an OpenBao server configured with
// retry_join and retry_join_as_non_voter joins by itself (AutoPromoteTicks
// promotes only servers joined through JoinNonvoter). It needs a leader and
// a running pod; a member already in the configuration is left as it is.
// It fails with ErrPrecondition or ErrRejected like JoinNonvoter.
func (c *Cluster) SelfJoin(name string) error {
	m := c.byName[name]
	if m == nil {
		return precondition("no member %q", name)
	}
	if m.present {
		return nil
	}
	if err := c.apply(upgrade.JoinNonvoter{Member: name}); err != nil {
		return err
	}
	m.autoPromote = false
	c.event("%s joined by itself as a permanent non-voter", name)
	c.refresh()
	return nil
}
