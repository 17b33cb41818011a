package fake

import (
	"fmt"
	"time"
)

// createPod creates a new pod incarnation for m from w's revisions.
func (c *Cluster) createPod(m *member, w *workload) {
	rev := w.current
	if m.ordinal >= w.partition || w.onDelete {
		rev = w.update
	}
	t := w.revisions[rev]
	c.uidSeq++
	m.exists = true
	m.uid = fmt.Sprintf("uid-%d", c.uidSeq)
	m.revision, m.image, m.version = rev, t.image, t.version
	m.phase = podStarting
	m.since = c.tick
	m.recreateAt = -1
	m.startedAt = c.Now()
	m.readySince = time.Time{}
	m.restarts = 0
}

// deletePod removes m's pod; its controller recreates it unless recreate is
// false.
//
// A pod deleted gracefully (not killed) whose member leads hands
// leadership over first with HandoffOnShutdown.
func (c *Cluster) deletePod(m *member, why string, recreate bool) {
	if why != "killed" && c.cfg.HandoffOnShutdown && c.leader == m {
		c.handoff(m)
	}
	m.exists = false
	m.phase = podAbsent
	m.uid = ""
	m.restarts = 0
	m.recreateAt = -1
	if recreate {
		// Absent in exactly one tick's Record, recreated in the next.
		m.recreateAt = c.tick + 2
		if c.inTick {
			m.recreateAt = c.tick + 1
		}
	}
	c.event("pod %s %s", m.name, why)
	c.processDown(m)
}

// processDown reacts to m's Raft process stopping.
func (c *Cluster) processDown(m *member) {
	if c.leader == m {
		c.loseLeader(fmt.Sprintf("leader %s went down", m.name))
	}
}

// Now returns the simulated time: Config.Start plus TickCount ticks.
func (c *Cluster) Now() time.Time {
	return c.cfg.Start.Add(time.Duration(c.tick)*c.cfg.Tick + c.slept)
}

// TickCount returns how many ticks have run.
func (c *Cluster) TickCount() int { return c.tick }

// History returns one Record per tick run so far (a copy).
func (c *Cluster) History() []Record {
	out := make([]Record, len(c.history))
	for i, r := range c.history {
		out[i] = r.clone()
	}
	return out
}

// Run advances the cluster by ticks ticks.
func (c *Cluster) Run(ticks int) {
	for range ticks {
		c.Tick()
	}
}

// Tick advances simulated time by one tick: controllers observe their
// generation and StatefulSet rolling updates progress (judging readiness as
// of the previous tick), pods start, crash or are recreated, hooks and
// snapshots finish, then Raft runs (leader lease, client writes,
// replication, leadership transfer, elections and commit). The tick ends
// with a Record in the history.
func (c *Cluster) Tick() {
	c.tick++
	c.inTick = true
	defer func() { c.inTick = false }()
	for _, w := range c.workloads {
		w.observed = w.generation
	}
	c.stepControllers()
	c.stepPods()
	c.stepJobs()
	c.stepRaft()
	c.stepMembership()
	c.refresh()
	c.record()
	c.fill(&c.ring[c.tick%len(c.ring)])
}

func (c *Cluster) stepPods() {
	for _, m := range c.members {
		if !m.exists {
			w := c.findWorkload(m.workload)
			if m.recreateAt >= 0 && w != nil && m.ordinal < w.replicas && c.tick >= m.recreateAt {
				c.createPod(m, w)
				c.event("pod %s created (%s, %s, %s)", m.name, m.uid, m.revision, m.version)
			}
			continue
		}
		bad := c.bad[m.version]
		switch m.phase {
		case podStarting:
			if bad && c.tick >= m.since+1 {
				m.phase, m.since = podCrashing, c.tick
				m.restarts++
				c.event("pod %s is crash-looping (version %s)", m.name, m.version)
			} else if !bad && c.tick >= m.since+c.cfg.PodStartTicks {
				m.phase, m.since = podRunning, c.tick
				m.readySince = c.Now()
				c.event("pod %s ready", m.name)
			}
		case podRunning:
			if bad {
				m.phase, m.since = podCrashing, c.tick
				m.restarts++
				c.event("pod %s crashed (version %s)", m.name, m.version)
				c.processDown(m)
			}
		case podCrashing:
			if !bad {
				m.phase, m.since = podStarting, c.tick
				m.restarts++
				c.event("pod %s restarting", m.name)
			} else if (c.tick-m.since)%crashBackoffTicks == 0 {
				m.restarts++
			}
		}
	}
}

// stepControllers runs every StatefulSet's OrderedReady rolling update.
func (c *Cluster) stepControllers() {
	for _, w := range c.workloads {
		ready, updated := 0, 0
		var victim *member
		for _, m := range c.members {
			if m.workload != w.name || m.ordinal >= w.replicas || !m.exists {
				continue
			}
			if c.ready(m) {
				ready++
			}
			if m.revision == w.update {
				updated++
			} else if m.ordinal >= w.partition {
				victim = m // members are sorted by ordinal: the highest wins
			}
		}
		if ready == w.replicas && victim != nil && !w.onDelete {
			c.deletePod(victim, fmt.Sprintf("deleted by controller %s for update to %s", w.name, w.update), true)
		}
		if updated == w.replicas && w.current != w.update {
			w.current = w.update
			c.event("workload %s: current revision is now %s", w.name, w.update)
		}
	}
}

// stepJobs finishes hooks and snapshots that are due.
func (c *Cluster) stepJobs() {
	for i := range c.hooks {
		h := &c.hooks[i]
		if h.status.Done || c.tick < h.due {
			continue
		}
		h.status.Done = true
		h.status.Succeeded = !c.hookFail[h.status.Hook]
		verdict := "succeeded"
		if !h.status.Succeeded {
			verdict = "failed"
		}
		h.status.Message = fmt.Sprintf("hook %s %s", h.status.Hook, verdict)
		c.event("hook %s for phase %s (attempt %d) %s", h.status.Hook, h.status.Phase, h.status.Attempt, verdict)
	}
	if c.backup.InProgress && c.tick >= c.snapDue {
		c.backup.InProgress = false
		c.backup.LastSuccess = c.Now()
		c.event("snapshot completed")
	}
}
