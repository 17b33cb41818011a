package fake

import (
	"maps"
	"slices"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// Observe returns what a host sees: normally the current state, but after
// StaleNext(n) the next call returns the snapshot taken n ticks earlier
// (clamped to the ticks run and to StaleDepth). The result shares no memory
// with the cluster.
//
// Observation faults requested with FaultNextObservation are applied to that
// next observation, in the order requested.
func (c *Cluster) Observe() upgrade.Observation {
	k := min(c.stale, c.tick, StaleDepth)
	c.stale = 0
	var o upgrade.Observation
	if k <= 0 {
		o = c.Truth()
	} else {
		o = cloneObservation(&c.ring[(c.tick-k)%len(c.ring)])
	}
	faults := c.obsFaults
	c.obsFaults = nil
	for _, f := range faults {
		c.applyObservationFault(&o, f)
	}
	return o
}

// Truth returns the true current state, ignoring StaleNext. The result shares
// no memory with the cluster.
func (c *Cluster) Truth() upgrade.Observation {
	o := upgrade.Observation{
		Workloads: make([]upgrade.Workload, 0, len(c.workloads)),
		Members:   make([]upgrade.Member, 0, len(c.members)),
		Hooks:     make([]upgrade.HookStatus, 0, len(c.hooks)),
	}
	c.fill(&o)
	o.Workloads = nilIfEmpty(o.Workloads)
	o.Members = nilIfEmpty(o.Members)
	o.Hooks = nilIfEmpty(o.Hooks)
	o.Service.Selector = maps.Clone(o.Service.Selector)
	return o
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// cloneObservation deep-copies o, normalising empty slices to nil.
func cloneObservation(o *upgrade.Observation) upgrade.Observation {
	c := *o
	c.Workloads = cloneSlice(o.Workloads)
	c.Members = cloneSlice(o.Members)
	c.Hooks = cloneSlice(o.Hooks)
	c.Service.Selector = maps.Clone(o.Service.Selector)
	return c
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// fill writes the current state into o, reusing o's slices.
func (c *Cluster) fill(o *upgrade.Observation) {
	now := c.Now()
	o.Now = now

	o.Workloads = slices.Grow(o.Workloads[:0], len(c.workloads))
	for _, w := range c.workloads {
		t := w.revisions[w.update]
		v := upgrade.Workload{
			Name:               w.name,
			UID:                w.uid,
			UpdateStrategy:     updateStrategy(w),
			Replicas:           int32(w.replicas),
			Partition:          int32(w.partition),
			CurrentRevision:    w.current,
			UpdateRevision:     w.update,
			Generation:         w.generation,
			ObservedGeneration: w.observed,
			Image:              t.image,
			Version:            t.version,
		}
		for _, m := range c.members {
			if m.workload != w.name || !m.exists || m.ordinal >= w.replicas {
				continue
			}
			if c.ready(m) {
				v.ReadyReplicas++
			}
			if m.revision == w.update {
				v.UpdatedReplicas++
			}
		}
		o.Workloads = append(o.Workloads, v)
	}

	o.Service = upgrade.Service{Name: c.cfg.Service, Selector: c.selector, Workload: c.serviceTarget()}

	voters, healthyVoters, allHealthy := 0, 0, true
	o.Members = slices.Grow(o.Members[:0], len(c.members))
	for _, m := range c.members {
		v := upgrade.Member{
			Name:     m.name,
			Workload: m.workload,
			Ordinal:  int32(m.ordinal),
			Raft: upgrade.MemberRaft{
				ID:          m.id,
				Address:     m.address,
				Present:     m.present,
				Leader:      m == c.leader,
				Healthy:     m.healthy,
				LastIndex:   m.log.lastIndex(),
				LastTerm:    m.log.lastTerm(),
				StableSince: m.stableSince,
			},
		}
		if m.exists {
			v.Revision, v.Version, v.Image = m.revision, m.version, m.image
			v.Pod = upgrade.PodStatus{
				Exists:       true,
				UID:          m.uid,
				Phase:        upgrade.PodPending,
				Running:      m.up(),
				Ready:        c.ready(m),
				CrashLooping: m.phase == podCrashing,
				Restarts:     m.restarts,
				StartedAt:    m.startedAt,
			}
			if c.ready(m) {
				v.Pod.ReadySince = m.readySince
			}
			if m.phase != podStarting {
				v.Pod.Phase = upgrade.PodRunning
			}
		}
		if m.present {
			v.Raft.Suffrage = upgrade.Nonvoter
			if m.voter {
				v.Raft.Suffrage = upgrade.Voter
				voters++
				if m.healthy {
					healthyVoters++
				} else {
					allHealthy = false
				}
			}
			v.Raft.LastContact = time.Duration(c.contact(m)) * c.cfg.Tick
		}
		o.Members = append(o.Members, v)
	}

	// The simulation always knows its Raft view, leaderless or not (as an
	// adapter that reads the configuration from any member does);
	// observation faults make it unknown or partial.
	o.Raft = upgrade.RaftView{Known: true, Term: c.term, CommitIndex: c.commit}
	if c.leader != nil {
		o.Raft.LeaderID = c.leader.id
		o.Raft.FailureTolerance = int32(max(0, healthyVoters-upgrade.Quorum(voters)))
		o.Raft.AutopilotHealthy = allHealthy && voters > 0
	}

	o.Backup = c.backup
	o.Lock = c.lock
	o.Capabilities = upgrade.Capabilities{TargetedTransfer: c.cfg.TargetedTransfer, NonVoters: true, Snapshots: true,
		HandoffOnShutdown: c.cfg.HandoffOnShutdown,
		AutoPromotion:     c.cfg.AutoPromoteTicks > 0, MembershipDelay: time.Duration(c.cfg.MembershipDelayTicks) * c.cfg.Tick}
	o.Hooks = o.Hooks[:0]
	for _, h := range c.hooks {
		o.Hooks = append(o.Hooks, h.status)
	}
}

func updateStrategy(w *workload) upgrade.UpdateStrategy {
	if w.onDelete {
		return upgrade.UpdateOnDelete
	}
	return upgrade.UpdateRollingUpdate
}
