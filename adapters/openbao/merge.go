package openbao

import (
	"slices"
	"strings"

	"github.com/raftshift/raftshift/upgrade"
)

// State is everything the adapter read from OpenBao at one instant. Read
// produces it; Merge turns it into the Raft parts of an upgrade.Observation.
// A State is plain data: hosts may log it, persist it or build one by hand
// in tests. A State may be partial (some reads failed); Merge then marks
// what it could not learn as unknown.
type State struct {
	// Leader is the sys/leader answer Read used (nil when no node answered).
	Leader *LeaderInfo `json:"leader,omitempty"`
	// Configuration is sys/storage/raft/configuration (nil when no node
	// answered it: the Raft view is unknown).
	Configuration *Configuration `json:"configuration,omitempty"`
	// ConfigurationFrom names the client that answered the configuration
	// (ActiveNode or a member name).
	ConfigurationFrom string `json:"configurationFrom,omitempty"`
	// Autopilot is sys/storage/raft/autopilot/state; nil when autopilot is
	// unavailable (HTTP 404 or an empty answer, e.g. autopilot disabled or
	// still starting after an election) or no node answered it. Without it
	// no member's health, lag or contact is known.
	Autopilot *AutopilotState `json:"autopilot,omitempty"`
	// Health is each member's own sys/health, by member name (only filled
	// when the adapter has per-member clients).
	Health map[string]MemberHealth `json:"health,omitempty"`
	// Errors lists every call of the read that failed, one line each, in
	// call order (for logs; the view already reflects them).
	Errors []string `json:"errors,omitempty"`
}

// LeaderInfo is the part of sys/leader the adapter uses.
type LeaderInfo struct {
	// From names the client that answered (ActiveNode or a member name).
	From string `json:"from,omitempty"`
	// HAEnabled is true for HA (Raft) storage.
	HAEnabled bool `json:"haEnabled"`
	// IsSelf is true when the answering node is the active node. Only then
	// is the answer first-hand: a standby reports the last leader recorded
	// in its storage, which may be dead.
	IsSelf bool `json:"isSelf"`
	// LeaderAddress is the active node's API address (the leader_api_addr
	// used to join new servers).
	LeaderAddress string `json:"leaderAddress,omitempty"`
	// LeaderClusterAddress is the active node's cluster address.
	LeaderClusterAddress string `json:"leaderClusterAddress,omitempty"`
	// RaftCommittedIndex is the answering node's Raft commit index.
	RaftCommittedIndex uint64 `json:"raftCommittedIndex,omitempty"`
	// RaftAppliedIndex is the answering node's applied index.
	RaftAppliedIndex uint64 `json:"raftAppliedIndex,omitempty"`
}

// MemberHealth is one member's sys/health answer.
type MemberHealth struct {
	// Reachable is false when the call failed; Error then says why.
	Reachable bool `json:"reachable"`
	// Error is the failed call's message (one line).
	Error string `json:"error,omitempty"`
	// Initialized, Sealed, Standby and PerformanceStandby mirror sys/health.
	// Standby says nothing about a leader existing: a standby answers the
	// same while the cluster has no leader.
	Initialized        bool `json:"initialized"`
	Sealed             bool `json:"sealed"`
	Standby            bool `json:"standby"`
	PerformanceStandby bool `json:"performanceStandby,omitempty"`
	// Version is the OpenBao version the member runs.
	Version string `json:"version,omitempty"`
}

// Serving reports whether the member answered and is initialized and
// unsealed, the precondition for taking part in Raft.
func (h MemberHealth) Serving() bool { return h.Reachable && h.Initialized && !h.Sealed }

// NodeIDFunc maps a member to its Raft node ID. The default (nil) is the
// member's name, matching the OpenBao Helm chart and operators, which set
// node_id to the pod name.
type NodeIDFunc func(m upgrade.Member) string

func (f NodeIDFunc) id(m upgrade.Member) string {
	if f == nil {
		return m.Name
	}
	return f(m)
}

// Merge returns a copy of obs whose Raft parts (Raft, each member's Raft,
// Capabilities) come from st, with the capabilities of an adapter with
// default settings (Capabilities). Adapter.Merge uses an adapter's own
// settings. obs is typically the Kubernetes adapter's observation; its
// workload, backup, lock and hook fields are kept and obs itself is never
// modified. Merge is pure and deterministic.
//
// Members are matched to Raft servers by nodeID (nil: member name). The
// Raft configuration is authoritative for membership, suffrage, address and
// leadership; autopilot supplies health, log indexes, last contact and
// stability. A Raft server that matches no member is appended as a member
// named after its node ID with no pod, so quorum arithmetic always sees
// every voter.
//
// Unknown is never absent. Without a configuration (st nil, or no node
// answered) the view is unknown: Raft.Known is false and every member's
// Raft is Unknown, keeping only its ID and Address. With a configuration,
// a member in it is Unknown when autopilot is unavailable, when autopilot
// has no entry for it (or reports it "none"), or, for a follower, when
// autopilot did not report its last contact; Present, Suffrage and Leader
// still come from the configuration. Failure tolerance and autopilot
// health are those autopilot reports, zero without autopilot. Contradictory
// leaders leave LeaderID empty (a known leaderless view).
//
// RaftView.Term is the leader's last log term as autopilot reports it (0
// without autopilot); CommitIndex is sys/leader's raft_committed_index when
// the active node itself answered (0 otherwise).
//
// A member whose own sys/health answered (in any state: sealed,
// uninitialized, standby) has a running pod whose API answers: Merge sets
// its Pod.Running (when the pod exists) and leaves Pod.Ready alone.
func Merge(obs upgrade.Observation, st *State, nodeID NodeIDFunc) upgrade.Observation {
	return merge(obs, st, nodeID, Capabilities())
}

func merge(obs upgrade.Observation, st *State, nodeID NodeIDFunc, caps upgrade.Capabilities) upgrade.Observation {
	out := *obs.DeepCopy()
	out.Capabilities = caps
	if st != nil {
		for i := range out.Members {
			m := &out.Members[i]
			if h, ok := st.Health[m.Name]; ok && h.Reachable && m.Pod.Exists {
				m.Pod.Running = true
			}
		}
	}
	if st == nil || st.Configuration == nil {
		out.Raft = upgrade.RaftView{}
		for i := range out.Members {
			m := &out.Members[i]
			m.Raft = upgrade.MemberRaft{Unknown: true, ID: nodeID.id(*m), Address: m.Raft.Address}
		}
		return out
	}

	servers := st.Configuration.Servers
	byID := make(map[string]int, len(servers))
	for i, s := range servers {
		byID[s.NodeID] = i
	}
	leaderID := leaderOf(st, servers, byID)

	matched := make(map[string]bool, len(servers))
	for i := range out.Members {
		m := &out.Members[i]
		id := nodeID.id(*m)
		var health *MemberHealth
		if h, ok := st.Health[m.Name]; ok {
			health = &h
		}
		var srv *Server
		if j, ok := byID[id]; ok && !matched[id] {
			srv = &servers[j]
			matched[id] = true
		}
		m.Raft = memberRaft(id, m.Raft.Address, srv, st.Autopilot, health, leaderID)
	}
	// Servers no member claims, in node-ID order.
	var extra []string
	for _, s := range servers {
		if !matched[s.NodeID] {
			extra = append(extra, s.NodeID)
		}
	}
	slices.Sort(extra)
	for _, id := range extra {
		srv := &servers[byID[id]]
		out.Members = append(out.Members, upgrade.Member{
			Name: id,
			Raft: memberRaft(id, "", srv, st.Autopilot, nil, leaderID),
		})
	}

	// The configuration is only answered while an active node exists: a
	// configuration without a (single, agreed) leader means the adapter
	// could not tell who leads, not that nobody does.
	out.Raft = upgrade.RaftView{Known: true, LeaderID: leaderID, LeaderUnknown: leaderID == ""}
	if st.Leader != nil && st.Leader.IsSelf {
		out.Raft.CommitIndex = st.Leader.RaftCommittedIndex
	}
	if ap := st.Autopilot; ap != nil {
		out.Raft.AutopilotHealthy = ap.Healthy
		out.Raft.FailureTolerance = int32(min(max(ap.FailureTolerance, 0), 1<<31-1))
		if l, ok := ap.Servers[leaderID]; ok && leaderID != "" {
			// The leader's last log term: a new leader appends an entry in
			// its own term, so this is the current term once it has
			// committed anything.
			out.Raft.Term = l.LastTerm
		}
	}
	return out
}

// leaderOf returns the leader's node ID: the single configuration server
// flagged leader, else autopilot's leader when it is in the configuration.
// Contradictory answers yield "" (no known leader), which blocks every
// leader-dependent step.
func leaderOf(st *State, servers []Server, byID map[string]int) string {
	leader := ""
	for _, s := range servers {
		if s.Leader {
			if leader != "" {
				return ""
			}
			leader = s.NodeID
		}
	}
	if st.Autopilot != nil && st.Autopilot.Leader != "" {
		apLeader := st.Autopilot.Leader
		if _, ok := byID[apLeader]; !ok {
			return leader
		}
		if leader == "" {
			return apLeader
		}
		if leader != apLeader {
			return ""
		}
	}
	return leader
}

// memberRaft builds one member's Raft state. srv nil: the server is not in
// the configuration (known absent). ap nil: autopilot unavailable.
func memberRaft(id, prevAddress string, srv *Server, ap *AutopilotState, health *MemberHealth, leaderID string) upgrade.MemberRaft {
	r := upgrade.MemberRaft{ID: id, Address: prevAddress}
	if srv == nil {
		return r
	}
	r.Present = true
	r.Address = srv.Address
	r.Suffrage = upgrade.Nonvoter
	if srv.Voter {
		r.Suffrage = upgrade.Voter
	}
	r.Leader = id == leaderID && leaderID != ""
	if ap == nil {
		r.Unknown = true
		return r
	}
	a, ok := ap.Servers[id]
	if !ok || strings.EqualFold(a.Status, StatusNone) {
		r.Unknown = true
		return r
	}
	if !a.LastContactKnown && !r.Leader && !a.IsLeader() {
		r.Unknown = true
		return r
	}
	serving := health == nil || health.Serving()
	r.Healthy = a.Healthy && serving
	r.LastIndex = a.LastIndex
	r.LastTerm = a.LastTerm
	r.LastContact = a.LastContact
	r.StableSince = a.StableSince
	return r
}
