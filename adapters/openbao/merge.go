package openbao

import (
	"slices"
	"strings"

	"github.com/raftshift/raftshift/upgrade"
)

// State is everything the adapter read from OpenBao at one instant. Read
// produces it; Merge turns it into the Raft parts of an upgrade.Observation.
// A State is plain data: hosts may log it, persist it or build one by hand
// in tests.
type State struct {
	// Leader is sys/leader as answered by the active-node client (nil when
	// not read).
	Leader *LeaderInfo `json:"leader,omitempty"`
	// Configuration is sys/storage/raft/configuration (nil when not read).
	Configuration *Configuration `json:"configuration,omitempty"`
	// Autopilot is sys/storage/raft/autopilot/state; nil when autopilot is
	// unavailable (HTTP 404 or an empty answer, e.g. autopilot disabled or
	// still starting after an election).
	Autopilot *AutopilotState `json:"autopilot,omitempty"`
	// Health is each member's own sys/health, by member name (only filled
	// when the adapter has per-member clients).
	Health map[string]MemberHealth `json:"health,omitempty"`
}

// LeaderInfo is the part of sys/leader the adapter uses.
type LeaderInfo struct {
	// HAEnabled is true for HA (Raft) storage.
	HAEnabled bool `json:"haEnabled"`
	// IsSelf is true when the answering node is the active node.
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
	// Error is the failed call's message.
	Error string `json:"error,omitempty"`
	// Initialized, Sealed, Standby and PerformanceStandby mirror sys/health.
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

// Capabilities are what OpenBao supports: non-voters and snapshots, but no
// targeted leadership transfer (sys/step-down only).
func Capabilities() upgrade.Capabilities {
	return upgrade.Capabilities{TargetedTransfer: false, NonVoters: true, Snapshots: true}
}

// Merge returns a copy of obs whose Raft parts (Raft, each member's Raft,
// Capabilities) come from st. obs is typically the Kubernetes adapter's
// observation; its workload, pod, backup, lock and hook fields are kept and
// obs itself is never modified. Merge is pure and deterministic.
//
// Members are matched to Raft servers by nodeID (nil: member name). The
// Raft configuration is authoritative for membership, suffrage, address and
// leadership; autopilot supplies health, log indexes, last contact and
// stability (when st.Configuration is nil they are derived from autopilot's
// status and node_type instead). A Raft server that matches no member is
// appended as a member named after its node ID with no pod, so quorum
// arithmetic always sees every voter.
//
// RaftView.Term is the leader's last log term as autopilot reports it (0
// without autopilot); CommitIndex is sys/leader's raft_committed_index.
//
// Without autopilot a member counts as healthy when it is in the
// configuration and its own sys/health says initialized and unsealed; with
// neither it is unhealthy, so strategies refuse to disrupt anything. A nil
// st yields Raft.Known == false.
func Merge(obs upgrade.Observation, st *State, nodeID NodeIDFunc) upgrade.Observation {
	out := *obs.DeepCopy()
	out.Capabilities = Capabilities()
	if st == nil || (st.Configuration == nil && st.Autopilot == nil) {
		out.Raft = upgrade.RaftView{}
		for i := range out.Members {
			out.Members[i].Raft = upgrade.MemberRaft{ID: nodeID.id(out.Members[i]), Address: out.Members[i].Raft.Address}
		}
		return out
	}

	servers := serversOf(st)
	byID := make(map[string]int, len(servers))
	for i, s := range servers {
		byID[s.NodeID] = i
	}
	leaderID := leaderOf(st, servers, byID)
	var ap map[string]AutopilotServer
	if st.Autopilot != nil {
		ap = st.Autopilot.Servers
	}

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
		m.Raft = memberRaft(id, m.Raft.Address, srv, ap, st.Autopilot != nil, health, leaderID)
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
			Raft: memberRaft(id, "", srv, ap, st.Autopilot != nil, nil, leaderID),
		})
	}

	out.Raft = upgrade.RaftView{Known: true, LeaderID: leaderID}
	if st.Leader != nil {
		out.Raft.CommitIndex = st.Leader.RaftCommittedIndex
	}
	if st.Autopilot != nil {
		out.Raft.AutopilotHealthy = st.Autopilot.Healthy
		out.Raft.FailureTolerance = int32(st.Autopilot.FailureTolerance)
		if l, ok := ap[leaderID]; ok && leaderID != "" {
			// The leader's last log term: a new leader appends an entry in
			// its own term, so this is the current term once it has
			// committed anything.
			out.Raft.Term = l.LastTerm
		}
	} else {
		voters, healthy := 0, 0
		for _, m := range out.Members {
			if m.IsVoter() {
				voters++
				if m.Raft.Healthy {
					healthy++
				}
			}
		}
		out.Raft.FailureTolerance = int32(max(0, upgrade.FailureTolerance(voters, healthy)))
	}
	return out
}

// serversOf returns the Raft configuration, or one derived from autopilot
// (status and node_type) when the configuration was not read.
func serversOf(st *State) []Server {
	if st.Configuration != nil {
		return slices.Clone(st.Configuration.Servers)
	}
	ids := make([]string, 0, len(st.Autopilot.Servers))
	for id := range st.Autopilot.Servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Server, 0, len(ids))
	for _, id := range ids {
		s := st.Autopilot.Servers[id]
		suffrage, ok := s.Suffrage()
		if !ok || id == "" {
			continue
		}
		out = append(out, Server{
			NodeID:  id,
			Address: s.Address,
			Leader:  s.IsLeader() || (st.Autopilot.Leader == id && id != ""),
			Voter:   suffrage == upgrade.Voter,
		})
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

func memberRaft(id, prevAddress string, srv *Server, ap map[string]AutopilotServer, haveAutopilot bool,
	health *MemberHealth, leaderID string) upgrade.MemberRaft {
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
	serving := health == nil || health.Serving()
	if a, ok := ap[id]; ok {
		r.Healthy = a.Healthy && serving && !strings.EqualFold(a.Status, StatusNone)
		r.LastIndex = a.LastIndex
		r.LastTerm = a.LastTerm
		r.LastContact = a.LastContact
		r.StableSince = a.StableSince
	} else if !haveAutopilot {
		r.Healthy = health != nil && health.Serving()
	}
	return r
}
