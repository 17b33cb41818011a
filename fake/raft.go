package fake

import (
	"fmt"
	"slices"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func (c *Cluster) voterCount() int {
	n := 0
	for _, m := range c.members {
		if m.present && m.voter {
			n++
		}
	}
	return n
}

// connectedVoters counts the voters the leader can talk to, itself included.
func (c *Cluster) connectedVoters() int {
	l := c.leader
	if l == nil {
		return 0
	}
	n := 1
	if l.isolated {
		return n
	}
	for _, m := range c.members {
		if m != l && m.voter && m.reachable() {
			n++
		}
	}
	return n
}

func (c *Cluster) writable() bool {
	return c.leader != nil && !c.leader.isolated && c.connectedVoters() >= upgrade.Quorum(c.voterCount())
}

func (c *Cluster) electionTimeout() int {
	lo, hi := c.cfg.ElectionTimeout[0], c.cfg.ElectionTimeout[1]
	return lo + c.rng.IntN(hi-lo+1)
}

// loseLeader ends the current leadership and schedules an election.
func (c *Cluster) loseLeader(why string) {
	if c.leader == nil {
		return
	}
	c.event("%s (term %d)", why, c.term)
	c.leader = nil
	c.transfer = nil
	c.lease = 0
	c.electionDue = c.tick + c.electionTimeout()
}

// elect makes m the leader of a new term; it appends its no-op entry.
func (c *Cluster) elect(m *member, how string) {
	c.stepDown = nil
	c.term++
	c.leader = m
	c.lease = 0
	c.transfer = nil
	if keep := matchIndex(c.committed, m.log); keep < c.commit {
		// Never expected: membership changes are ordered as Raft orders
		// them (configStable), so a quorum of every configuration holds
		// the committed entries. Reported, not hidden, if the model breaks.
		c.event("DATA LOSS: %s leads term %d without committed entries %d..%d", m.name, c.term, keep+1, c.commit)
		c.pending.LostCommitted += c.commit - keep
		c.committed.truncate(keep)
		c.commit = keep
	}
	m.log.add(c.term, 1)
	if c.cfg.AutopilotQuirks {
		// A new leader's autopilot starts its server health afresh.
		for _, x := range c.members {
			if x.present {
				x.stableSince = c.Now()
			}
		}
	}
	c.event("%s: %s leads term %d", how, m.name, c.term)
	c.pending.Elections = append(c.pending.Elections, Election{Term: c.term, Leader: m.name, Previous: c.lastLeader})
	c.lastLeader = m.name
}

// election runs an election among the up, reachable voters; it needs a
// quorum of the voter set and picks a voter with the most up-to-date log:
// the target of a step-down when it is one of them (stepDownTarget), else
// one chosen by the seed.
func (c *Cluster) election() {
	voters := c.voterCount()
	n := 0
	for _, m := range c.members {
		if m.voter && m.reachable() {
			n++
		}
	}
	if voters == 0 || n < upgrade.Quorum(voters) {
		c.electionDue = c.tick + c.electionTimeout()
		return
	}
	best := c.mostUpToDate(nil)
	w := best[0]
	how := "election"
	if t := c.stepDown; t != nil && slices.Contains(best, t) {
		w, how = t, fmt.Sprintf("leadership transfer after %s stepped down", c.lastLeader)
	} else if len(best) > 1 {
		w = best[c.rng.IntN(len(best))]
	}
	c.elect(w, how)
}

// mostUpToDate returns the reachable voters but skip whose logs are the
// most up-to-date (highest last term, then last index), in member order.
func (c *Cluster) mostUpToDate(skip *member) []*member {
	var best []*member
	for _, m := range c.members {
		if m == skip || !m.voter || !m.reachable() {
			continue
		}
		if len(best) > 0 {
			bt, bi := best[0].log.lastTerm(), best[0].log.lastIndex()
			t, i := m.log.lastTerm(), m.log.lastIndex()
			if t < bt || (t == bt && i < bi) {
				continue
			}
			if t > bt || i > bi {
				best = best[:0]
			}
		}
		best = append(best, m)
	}
	return best
}

// stepDownTarget returns the voter a step-down of the leader l hands
// leadership to, after catching it up with l's whole log, or nil when l
// reaches no voter: the most up-to-date reachable voter but l (ties broken
// by the seed). OpenBao's sys/step-down releases its HA lock, which with
// integrated storage is hashicorp/raft's LeadershipTransfer: the leader
// picks its most up-to-date follower and tells it to campaign at once, so
// the old leader does not win the election it caused (unless the target
// cannot take over by then, when the election is open).
func (c *Cluster) stepDownTarget(l *member) *member {
	if l.isolated {
		return nil
	}
	best := c.mostUpToDate(l)
	if len(best) == 0 {
		return nil
	}
	t := best[0]
	if len(best) > 1 {
		t = best[c.rng.IntN(len(best))]
	}
	t.log.copyFrom(l.log, l.log.lastIndex()+1)
	return t
}

func (c *Cluster) rateOf(m *member) uint64 {
	if m.rateSet {
		return m.rate
	}
	return c.cfg.ReplicationRate
}

// replicate sends the leader's log to every member it can reach.
func (c *Cluster) replicate() {
	l := c.leader
	l.reached = c.tick
	if l.isolated {
		return
	}
	for _, m := range c.members {
		if m == l || !m.reachable() {
			continue
		}
		m.log.copyFrom(l.log, c.rateOf(m))
		m.reached = c.tick
	}
}

func (c *Cluster) stepRaft() {
	if l := c.leader; l != nil {
		if l.isolated || c.connectedVoters() < upgrade.Quorum(c.voterCount()) {
			c.lease++
			if c.lease >= c.cfg.ElectionTimeout[0] {
				c.loseLeader(fmt.Sprintf("leader %s lost leadership: cannot reach a quorum", l.name))
			}
		} else {
			c.lease = 0
		}
	}
	if l := c.leader; l != nil {
		if c.transfer == nil && c.writable() {
			l.log.add(c.term, c.cfg.WriteRate)
		}
		c.replicate()
	}
	if t := c.transfer; t != nil {
		l := c.leader
		switch {
		case !t.voter || !t.reachable() || l.isolated:
			c.transfer = nil
			c.event("leadership transfer from %s to %s abandoned: target unreachable", l.name, t.name)
		case !c.transferFails && t.log.lastIndex() == l.log.lastIndex() && t.log.lastTerm() == l.log.lastTerm():
			c.transfer = nil
			c.elect(t, fmt.Sprintf("leadership transferred from %s", l.name))
			c.replicate()
		case c.tick >= c.transferDue:
			c.transfer = nil
			c.event("leadership transfer from %s to %s timed out", l.name, t.name)
		}
	}
	if c.leader == nil && c.tick >= c.electionDue {
		c.election()
		if c.leader != nil {
			c.replicate()
		}
	}
	c.advanceCommit()
}

// advanceCommit moves the commit index to the highest entry of the current
// term stored on a quorum of voters.
func (c *Cluster) advanceCommit() {
	l := c.leader
	if l == nil {
		return
	}
	c.scratch = c.scratch[:0]
	for _, m := range c.members {
		if !m.present || !m.voter {
			continue
		}
		if m == l {
			c.scratch = append(c.scratch, l.log.lastIndex())
		} else {
			c.scratch = append(c.scratch, matchIndex(m.log, l.log))
		}
	}
	q := upgrade.Quorum(len(c.scratch))
	if len(c.scratch) == 0 {
		return
	}
	slices.Sort(c.scratch)
	n := c.scratch[len(c.scratch)-q]
	if n > c.commit && l.log.termAt(n) == c.term {
		c.committed.copyFrom(l.log, n-c.commit)
		c.commit = n
	}
}

// contact returns the ticks since the leader last reached m.
func (c *Cluster) contact(m *member) int {
	l := c.leader
	if l == m || (l != nil && !l.isolated && m.reachable()) {
		return 0
	}
	return c.tick - m.reached
}

// refresh recomputes the autopilot-like health of every member.
func (c *Cluster) refresh() {
	var ref uint64
	if c.leader != nil {
		ref = c.leader.log.lastIndex()
	} else {
		for _, m := range c.members {
			if m.present {
				ref = max(ref, m.log.lastIndex())
			}
		}
	}
	now := c.Now()
	for _, m := range c.members {
		h := m.up() && !m.isolated && m.present
		if h && m != c.leader {
			lag := uint64(0)
			if ref > m.log.lastIndex() {
				lag = ref - m.log.lastIndex()
			}
			h = time.Duration(c.contact(m))*c.cfg.Tick <= healthyContact && lag <= healthyLag
		}
		if h && !m.healthy {
			m.healthyAt = now
			// Autopilot polls too slowly to notice a short restart: with
			// its quirks the reported stable_since only moves on first
			// health and on a new leader (elect).
			if !c.cfg.AutopilotQuirks || m.stableSince.IsZero() {
				m.stableSince = now
			}
		}
		m.healthy = h
	}
}

// record closes the tick's Record.
func (c *Cluster) record() {
	r := c.pending
	c.pending = Record{}
	r.Tick = c.tick
	r.Time = c.Now()
	r.Term = c.term
	if c.leader != nil {
		r.Leader = c.leader.name
		r.ServiceHasLeader = c.leader.workload == c.serviceTarget()
	}
	for _, m := range c.members {
		if m.present && m.voter {
			r.Voters++
			if m.reachable() {
				r.VotersUp++
			}
		}
	}
	r.Writable = c.writable()
	r.ServiceWorkload = c.serviceTarget()
	c.history = append(c.history, r)
}
