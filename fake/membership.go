package fake

import (
	"fmt"
	"time"
)

// ready reports whether m's pod reports Ready under Config.Readiness.
func (c *Cluster) ready(m *member) bool {
	if !m.up() {
		return false
	}
	return c.cfg.Readiness != ReadyWhenMember || m.present
}

// requestSuffrage applies a Promote (toVoter) or Demote of a present member:
// at once, or after MembershipDelayTicks, and never before the last change
// of the voter set is committed (configStable). A member already in the
// requested state, with the same change pending, or with its removal
// pending, is left as it is: the request is idempotent, as adapters report
// a retried call whose first reply was lost.
func (c *Cluster) requestSuffrage(m *member, toVoter bool) {
	if !toVoter {
		m.autoPromote = false // a server demoted on request stays a non-voter
	}
	if m.pendingRemove || (m.pending && m.pendingToVoter == toVoter) {
		return
	}
	if m.voter == toVoter {
		m.pending = false
		return
	}
	if c.cfg.MembershipDelayTicks <= 0 && c.configStable() {
		c.setSuffrage(m, toVoter, "")
		return
	}
	m.pending, m.pendingToVoter, m.pendingDue = true, toVoter, c.tick+max(c.cfg.MembershipDelayTicks, 0)
	if c.cfg.MembershipDelayTicks > 0 {
		c.event("%s marked for %s; applied at tick %d", m.name, suffrageWord(toVoter), m.pendingDue)
	} else {
		c.event("%s marked for %s; %s", m.name, suffrageWord(toVoter), c.configWait())
	}
}

// configStable reports whether the last change of the voter set is
// committed. Raft implementations (hashicorp/raft, etcd) take one
// configuration change at a time: the next waits until the last one's log
// entry is committed under the configuration it made, so a quorum of that
// configuration holds every committed entry before the voter set changes
// again. That is what keeps single-server changes from electing a leader
// without committed entries, however far behind the remaining voters are.
func (c *Cluster) configStable() bool { return c.commit >= c.configIndex }

// configWait describes what a queued membership change waits for.
func (c *Cluster) configWait() string {
	return fmt.Sprintf("waits for the configuration change at index %d to commit (commit index %d)", c.configIndex, c.commit)
}

// logConfig appends the log entry of a change of the voter set to the
// leader's log (the caller made sure there is a leader).
func (c *Cluster) logConfig() {
	if l := c.leader; l != nil {
		l.log.add(c.term, 1)
		c.configIndex = l.log.lastIndex()
	}
}

func suffrageWord(voter bool) string {
	if voter {
		return "promotion"
	}
	return "demotion"
}

// setSuffrage changes m's suffrage now.
func (c *Cluster) setSuffrage(m *member, voter bool, why string) {
	m.pending = false
	m.voter = voter
	m.autoPromote = false // a server demoted on request stays a non-voter
	c.logConfig()
	if why != "" {
		c.event("%s: %s %s", why, m.name, map[bool]string{true: "promoted to voter", false: "demoted to non-voter"}[voter])
	}
	if !voter && c.leader == m {
		c.loseLeader(fmt.Sprintf("leader %s demoted", m.name))
	}
}

// stepMembership applies one due membership change (a delayed or queued
// suffrage change or removal) once the last change of the voter set is
// committed and, with AutoPromoteTicks, promotes non-voters joined through
// JoinNonvoter that have been healthy long enough (a server demoted on
// request stays one), both only while a leader exists (autopilot runs on
// the leader).
func (c *Cluster) stepMembership() {
	if c.leader == nil || c.transfer != nil {
		return
	}
	for _, m := range c.members {
		if !m.present {
			m.pending, m.pendingRemove = false, false
		}
	}
	if !c.configStable() {
		return
	}
	for _, m := range c.members {
		if !m.present {
			continue
		}
		if (m.pending || m.pendingRemove) && c.tick >= m.pendingDue {
			if m.pendingRemove {
				c.removePeer(m, "queued removal applied")
			} else {
				c.setSuffrage(m, m.pendingToVoter, "autopilot reconcile")
			}
			return // the voter set changed: the next change waits for it to commit
		}
		if n := c.cfg.AutoPromoteTicks; n > 0 && m.autoPromote && !m.voter && !m.pending && m.healthy &&
			c.Now().Sub(m.healthyAt) >= c.cfg.Tick*timeTicks(n) {
			c.setSuffrage(m, true, "autopilot promoted a stable non-voter on its own")
			return
		}
	}
}

// requestRemoval removes a present member from the configuration: at once,
// or, for a voter while the last change of the voter set is not committed,
// once it is (a removal already queued is left as it is).
func (c *Cluster) requestRemoval(m *member) {
	if m.pendingRemove {
		return
	}
	if m.voter && !c.configStable() {
		m.pendingRemove, m.pendingDue = true, c.tick
		c.event("%s marked for removal; %s", m.name, c.configWait())
		return
	}
	c.removePeer(m, "")
}

// removePeer takes m out of the configuration now.
func (c *Cluster) removePeer(m *member, why string) {
	wasVoter := m.voter
	m.present, m.voter, m.pending, m.pendingRemove = false, false, false, false
	if wasVoter {
		c.logConfig()
	}
	if why != "" {
		c.event("%s: %s removed from the configuration", why, m.name)
	}
	if c.leader == m {
		c.loseLeader(fmt.Sprintf("leader %s removed from the configuration", m.name))
	}
	c.dropMember(m)
}

func timeTicks(n int) time.Duration { return time.Duration(n) }

// handoff makes the leader l, shutting down gracefully, hand leadership to
// its most up-to-date reachable voter (last log term, then last index, then
// member order), which first receives l's whole log, as hashicorp/raft's
// LeadershipTransfer does: a new term, no tick without a leader. With no
// such voter, or after FailNextHandoff, l just stops leading.
func (c *Cluster) handoff(l *member) {
	var best *member
	for _, m := range c.members {
		if m == l || !m.voter || !m.reachable() || l.isolated {
			continue
		}
		if best == nil || m.log.lastTerm() > best.log.lastTerm() ||
			(m.log.lastTerm() == best.log.lastTerm() && m.log.lastIndex() > best.log.lastIndex()) {
			best = m
		}
	}
	if best == nil || c.failHandoff {
		c.failHandoff = false
		c.event("leader %s shut down without handing leadership over", l.name)
		return
	}
	best.log.copyFrom(l.log, l.log.lastIndex()+1)
	c.elect(best, fmt.Sprintf("handoff on shutdown from %s", l.name))
	c.replicate()
}
