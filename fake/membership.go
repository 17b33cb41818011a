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
// at once, or after MembershipDelayTicks. A member already in the requested
// state, or with the same change pending, is left as it is: the request is
// idempotent, as adapters report a retried call whose first reply was lost.
func (c *Cluster) requestSuffrage(m *member, toVoter bool) {
	if !toVoter {
		m.autoPromote = false // a server demoted on request stays a non-voter
	}
	if m.pending && m.pendingToVoter == toVoter {
		return
	}
	if m.voter == toVoter {
		m.pending = false
		return
	}
	if c.cfg.MembershipDelayTicks <= 0 {
		c.setSuffrage(m, toVoter, "")
		return
	}
	m.pending, m.pendingToVoter, m.pendingDue = true, toVoter, c.tick+c.cfg.MembershipDelayTicks
	c.event("%s marked for %s; applied at tick %d", m.name, suffrageWord(toVoter), m.pendingDue)
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
	if why != "" {
		c.event("%s: %s %s", why, m.name, map[bool]string{true: "promoted to voter", false: "demoted to non-voter"}[voter])
	}
	if !voter && c.leader == m {
		c.loseLeader(fmt.Sprintf("leader %s demoted", m.name))
	}
}

// stepMembership applies delayed suffrage changes that are due and, with
// AutoPromoteTicks, promotes non-voters joined through JoinNonvoter that
// have been healthy long enough (a server demoted on request stays one),
// both only while a leader exists (autopilot runs on the leader).
func (c *Cluster) stepMembership() {
	if c.leader == nil || c.transfer != nil {
		return
	}
	for _, m := range c.members {
		if !m.present {
			m.pending = false
			continue
		}
		if m.pending && c.tick >= m.pendingDue {
			c.setSuffrage(m, m.pendingToVoter, "autopilot reconcile")
			continue
		}
		if n := c.cfg.AutoPromoteTicks; n > 0 && m.autoPromote && !m.voter && !m.pending && m.healthy &&
			c.Now().Sub(m.healthyAt) >= c.cfg.Tick*timeTicks(n) {
			c.setSuffrage(m, true, "autopilot promoted a stable non-voter on its own")
		}
	}
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
