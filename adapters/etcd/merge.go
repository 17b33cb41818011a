package etcd

import (
	"slices"

	"github.com/raftshift/raftshift/upgrade"
)

// Merge returns a copy of obs whose Raft parts (Raft, each member's Raft,
// Capabilities) come from st. obs is the host's observation of its pods
// (for example the Kubernetes adapter's); its workload, service, backup,
// lock and hook fields are kept and obs itself is never modified. Merge is
// pure and deterministic.
//
// Pairing: each listed etcd member is paired with at most one member of obs
// (see MatchBy); an etcd member no pod matches is appended as a pod-less
// member named after it ("etcd member <id>" before it has started), so
// quorum arithmetic always sees every voter. A member of obs no etcd member
// matches is absent from the cluster (Present false), a fact known from
// the list.
//
// Unknown is never absent:
//
//   - no list (st nil, or no member answered it): Raft.Known is false and
//     every member's Raft is Unknown, keeping only its previous ID and
//     Address;
//   - a listed member without a Status (its endpoint did not answer, it
//     has not started, or another member answered there): Unknown, with
//     Present, Suffrage, ID and Address from the list;
//   - the leader: only a member that itself answered as leader at the
//     highest term seen, with no answer at that term naming another, leads.
//     Without such a member the leader is unknown (Raft.LeaderUnknown),
//     except when every voter answered and none knows a leader: a known
//     election. A serializable list (no leader reachable) always leaves the
//     leader unknown.
//
// A member that answered is Healthy when it reports no error (etcd's own
// "no leader", alarms such as NOSPACE) and, for a follower, names the
// leader at the leader's term. etcd does not report how long ago a
// follower heard from the leader; one that names the leader has heard from
// it within an election timeout (etcd's PreVote and CheckQuorum drop a
// leader not heard from), so LastContact is 0. LastIndex is the applied
// index (what the member has caught up with), LastTerm its current term.
// Raft.Term is the highest term seen, CommitIndex the leader's commit
// index, FailureTolerance the healthy voters beyond a quorum of the voters
// in the list, AutopilotHealthy true when every listed member is healthy.
// A member whose own Status answered runs: Merge sets its Pod.Running
// (Pod.Ready stays the host's readiness).
func (a *Adapter) Merge(obs upgrade.Observation, st *State) upgrade.Observation {
	out := *obs.DeepCopy()
	out.Capabilities = a.Capabilities()
	if st == nil || st.List == nil || len(st.List.Members) == 0 {
		out.Raft = upgrade.RaftView{}
		for i := range out.Members {
			r := &out.Members[i].Raft
			*r = upgrade.MemberRaft{Unknown: true, ID: r.ID, Address: r.Address}
		}
		return out
	}
	list := st.List.Members
	leader, leaderUnknown, term := leaderOf(st)
	if !st.Linearizable {
		leader, leaderUnknown = 0, true
	}
	var leaderStatus *Status
	if leader != 0 {
		leaderStatus = st.status(leader)
	}

	paired := make([]bool, len(list))
	for i := range out.Members {
		m := &out.Members[i]
		k := -1
		for j, e := range list {
			if !paired[j] && a.matches(e, *m) {
				k = j
				break
			}
		}
		if k < 0 {
			m.Raft = upgrade.MemberRaft{ID: m.Raft.ID, Address: m.Raft.Address}
			continue
		}
		paired[k] = true
		s := st.status(list[k].ID)
		m.Raft = memberRaft(list[k], s, leader, leaderStatus)
		if s != nil {
			m.Pod.Running = true
		}
	}
	var extra []upgrade.Member
	for j, e := range list {
		if paired[j] {
			continue
		}
		name := e.Name
		if name == "" {
			name = "etcd member " + FormatID(e.ID)
		}
		if _, clash := out.Member(name); clash {
			name += " (" + FormatID(e.ID) + ")"
		}
		extra = append(extra, upgrade.Member{Name: name, Raft: memberRaft(e, st.status(e.ID), leader, leaderStatus)})
	}
	slices.SortFunc(extra, func(x, y upgrade.Member) int {
		switch {
		case x.Name < y.Name:
			return -1
		case x.Name > y.Name:
			return 1
		}
		return 0
	})
	out.Members = append(out.Members, extra...)

	out.Raft = upgrade.RaftView{Known: true, LeaderUnknown: leaderUnknown, Term: term}
	if leader != 0 {
		out.Raft.LeaderID = FormatID(leader)
		out.Raft.CommitIndex = leaderStatus.RaftIndex
	}
	voters, healthyVoters, healthy := 0, 0, 0
	for _, e := range list {
		r := memberRaft(e, st.status(e.ID), leader, leaderStatus)
		if r.Healthy {
			healthy++
		}
		if !e.IsLearner {
			voters++
			if r.Healthy {
				healthyVoters++
			}
		}
	}
	out.Raft.FailureTolerance = int32(max(0, upgrade.FailureTolerance(voters, healthyVoters)))
	out.Raft.AutopilotHealthy = leader != 0 && healthy == len(list)
	return out
}

// leaderOf finds the leader in the answers (see Merge): its ID (0 when
// none is confirmed), whether the leader is unknown rather than absent,
// and the highest term answered.
func leaderOf(st *State) (leader uint64, unknown bool, term uint64) {
	for _, ep := range st.Endpoints {
		if ep.Status != nil {
			term = max(term, ep.Status.RaftTerm)
		}
	}
	named := map[uint64]bool{}
	var self []uint64
	for _, ep := range st.Endpoints {
		s := ep.Status
		if s == nil || s.RaftTerm != term || s.Leader == 0 {
			continue
		}
		named[s.Leader] = true
		if s.Leader == s.MemberID {
			self = append(self, s.MemberID)
		}
	}
	if len(self) == 1 && len(named) == 1 && named[self[0]] {
		return self[0], false, term
	}
	if len(named) > 0 {
		return 0, true, term
	}
	// Nobody names a leader: a known election only when every voter said
	// so itself.
	for _, e := range st.List.Members {
		if !e.IsLearner && st.status(e.ID) == nil {
			return 0, true, term
		}
	}
	return 0, false, term
}

// memberRaft builds a listed member's Raft state from its Status (nil: not
// answered, Unknown).
func memberRaft(e Member, s *Status, leader uint64, ls *Status) upgrade.MemberRaft {
	r := upgrade.MemberRaft{ID: FormatID(e.ID), Present: true, Suffrage: upgrade.Voter}
	if len(e.PeerURLs) > 0 {
		r.Address = e.PeerURLs[0]
	}
	if e.IsLearner {
		r.Suffrage = upgrade.Nonvoter
	}
	if s == nil {
		r.Unknown = true
		return r
	}
	r.Leader = leader != 0 && e.ID == leader
	r.LastIndex, r.LastTerm = s.RaftAppliedIndex, s.RaftTerm
	switch {
	case len(s.Errors) > 0:
	case r.Leader:
		r.Healthy = true
	case ls != nil:
		r.Healthy = s.Leader == leader && s.RaftTerm == ls.RaftTerm
	}
	return r
}
