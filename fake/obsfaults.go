package fake

import (
	"fmt"
	"slices"
	"strings"

	"github.com/raftshift/raftshift/upgrade"
)

// ObservationFaultKind is one way a real adapter's observation is
// incomplete or stale. Each kind produces what a correct adapter reports in
// that situation (unknown is never absent): strategies must recognise it.
type ObservationFaultKind string

// Observation fault kinds.
const (
	// FaultRaftUnknown: the adapter's read failed (no leader reachable, the
	// active node was killed): RaftView.Known is false and every member's
	// Raft state is reduced to its ID and address and marked Unknown.
	FaultRaftUnknown ObservationFaultKind = "raft-unknown"
	// FaultMemberUnknown: one member's Raft stats are missing (autopilot has
	// no entry for it, its endpoint did not answer): the configuration still
	// shows its suffrage, its stats are zero and it is marked Unknown.
	FaultMemberUnknown ObservationFaultKind = "member-unknown"
	// FaultNoAutopilot: autopilot did not answer; every present member's
	// health, indexes and contact are unknown (marked Unknown, zeroed).
	FaultNoAutopilot ObservationFaultKind = "no-autopilot"
	// FaultLeaderUnknown: the leader could not be determined (contradictory
	// answers): LeaderID is empty, no member is flagged leader and
	// RaftView.LeaderUnknown says so (a leader may well exist).
	FaultLeaderUnknown ObservationFaultKind = "leader-unknown"
	// FaultNoLastContact: a member's last contact was not reported: it is
	// marked Unknown with LastContact zero.
	FaultNoLastContact ObservationFaultKind = "no-last-contact"
	// FaultStaleCache: a stale informer cache: workloads, pods, service and
	// lock come from TicksAgo ticks earlier while the Raft view (read live
	// from the cluster) and Now are current.
	FaultStaleCache ObservationFaultKind = "stale-cache"
)

// ObservationFaultKinds lists every kind, in a fixed order.
func ObservationFaultKinds() []ObservationFaultKind {
	return []ObservationFaultKind{FaultRaftUnknown, FaultMemberUnknown, FaultNoAutopilot, FaultLeaderUnknown,
		FaultNoLastContact, FaultStaleCache}
}

// ObservationFault describes how the next observation is degraded.
type ObservationFault struct {
	// Kind is the fault.
	Kind ObservationFaultKind
	// Member names the member of FaultMemberUnknown and FaultNoLastContact
	// (empty: the first member present in the configuration that does not
	// lead).
	Member string
	// TicksAgo is the age of the cache of FaultStaleCache (clamped to the
	// ticks run and to StaleDepth; at least 1).
	TicksAgo int
}

// FaultNextObservation degrades the next Observe (faults requested before it
// apply in order). It fails with ErrPrecondition for an unknown kind.
func (c *Cluster) FaultNextObservation(f ObservationFault) error {
	if !slices.Contains(ObservationFaultKinds(), f.Kind) {
		return precondition("unknown observation fault %q", f.Kind)
	}
	desc := string(f.Kind)
	if f.Member != "" {
		desc += " " + f.Member
	}
	if f.Kind == FaultStaleCache {
		desc += fmt.Sprintf(" %d ticks", f.TicksAgo)
	}
	c.fault("next observation: %s", desc)
	c.obsFaults = append(c.obsFaults, f)
	return nil
}

// applyObservationFault degrades o as f describes.
func (c *Cluster) applyObservationFault(o *upgrade.Observation, f ObservationFault) {
	unknown := func(m *upgrade.Member) {
		m.Raft = upgrade.MemberRaft{ID: m.Raft.ID, Address: m.Raft.Address, Present: m.Raft.Present,
			Suffrage: m.Raft.Suffrage, Leader: m.Raft.Leader, Unknown: true}
	}
	target := func() *upgrade.Member {
		for i := range o.Members {
			m := &o.Members[i]
			if (f.Member != "" && m.Name == f.Member) || (f.Member == "" && m.Raft.Present && !m.Raft.Leader) {
				return m
			}
		}
		return nil
	}
	switch f.Kind {
	case FaultRaftUnknown:
		o.Raft = upgrade.RaftView{}
		for i := range o.Members {
			m := &o.Members[i]
			m.Raft = upgrade.MemberRaft{ID: m.Raft.ID, Address: m.Raft.Address, Unknown: true}
		}
	case FaultMemberUnknown:
		if m := target(); m != nil {
			unknown(m)
		}
	case FaultNoAutopilot:
		o.Raft.AutopilotHealthy, o.Raft.FailureTolerance = false, 0
		for i := range o.Members {
			if o.Members[i].Raft.Present {
				unknown(&o.Members[i])
			}
		}
	case FaultLeaderUnknown:
		o.Raft.LeaderID, o.Raft.LeaderUnknown = "", true
		for i := range o.Members {
			o.Members[i].Raft.Leader = false
		}
	case FaultNoLastContact:
		if m := target(); m != nil {
			m.Raft.LastContact, m.Raft.Unknown = 0, true
		}
	case FaultStaleCache:
		k := min(max(f.TicksAgo, 1), c.tick, StaleDepth)
		if k <= 0 {
			return
		}
		*o = staleCache(&c.ring[(c.tick-k)%len(c.ring)], o)
	}
}

// staleCache combines an old snapshot's Kubernetes part (workloads, pods,
// service, lock) with the fresh Raft part and time of live.
func staleCache(old, live *upgrade.Observation) upgrade.Observation {
	out := cloneObservation(old)
	out.Now, out.Raft, out.Capabilities, out.Hooks, out.Backup = live.Now, live.Raft, live.Capabilities, live.Hooks, live.Backup
	raftOf := map[string]upgrade.MemberRaft{}
	for _, m := range live.Members {
		raftOf[m.Name] = m.Raft
	}
	seen := map[string]bool{}
	for i := range out.Members {
		m := &out.Members[i]
		seen[m.Name] = true
		if r, ok := raftOf[m.Name]; ok {
			m.Raft = r
		} else {
			m.Raft = upgrade.MemberRaft{ID: m.Raft.ID, Address: m.Raft.Address}
		}
	}
	for _, m := range live.Members {
		if !seen[m.Name] && m.Raft.Present {
			// A server the cache has no pod for yet.
			out.Members = append(out.Members, upgrade.Member{Name: m.Name, Workload: m.Workload, Ordinal: m.Ordinal, Raft: m.Raft})
		}
	}
	slices.SortStableFunc(out.Members, func(a, b upgrade.Member) int {
		if c := strings.Compare(a.Workload, b.Workload); c != 0 {
			return c
		}
		return int(a.Ordinal) - int(b.Ordinal)
	})
	return out
}
