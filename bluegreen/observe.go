package bluegreen

import "github.com/raftshift/raftshift/upgrade"

type memberList struct {
	workload string
	members  []upgrade.Member
}

// members returns r.obs.WorkloadMembers(workload): the members of a
// workload by ordinal. The result is shared and must not be modified.
func (r *run) members(workload string) []upgrade.Member {
	for i := range r.nmemo {
		if r.memo[i].workload == workload {
			return r.memo[i].members
		}
	}
	ms := workloadMembers(&r.obs, workload)
	if r.nmemo < len(r.memo) {
		r.memo[r.nmemo] = memberList{workload: workload, members: ms}
		r.nmemo++
	}
	return ms
}

// workloadMembers is obs.WorkloadMembers(name) without allocating when the
// observation lists the workload's members contiguously in strictly
// increasing ordinal order (the usual case): the sorted result is then
// that sub-slice, capped so it cannot be appended to in place.
func workloadMembers(obs *upgrade.Observation, name string) []upgrade.Member {
	start, end := -1, -1
	for i := range obs.Members {
		if obs.Members[i].Workload != name {
			continue
		}
		switch {
		case start < 0:
			start = i
		case end != i || obs.Members[i].Ordinal <= obs.Members[i-1].Ordinal:
			return obs.WorkloadMembers(name)
		}
		end = i + 1
	}
	if start < 0 {
		return nil
	}
	return obs.Members[start:end:end]
}

// greenHasVoter reports whether any green member is observed as a voter.
func (r *run) greenHasVoter() bool {
	for _, m := range r.obs.Members {
		if m.Workload == r.bg.Green && m.IsVoter() {
			return true
		}
	}
	return false
}

func (r *run) caughtUp(m upgrade.Member) *upgrade.Gate {
	return upgrade.CaughtUp(&r.obs, m, r.spec.CatchUp)
}

// obsLeader is r.obs.Leader(), looked up once per Step.
func (r *run) obsLeader() (upgrade.Member, bool) {
	if !r.leaderDone {
		r.leaderM, r.leaderOK = r.obs.Leader()
		r.leaderDone = true
	}
	return r.leaderM, r.leaderOK
}

// leader returns the leader, holding with a gate when there is none.
func (r *run) leader() (upgrade.Member, bool) {
	l, ok := r.obsLeader()
	if !ok || !r.obs.Raft.Known {
		r.hold(upgrade.GateLeader, upgrade.ReasonNoLeader, "the cluster has no leader")
		return upgrade.Member{}, false
	}
	return l, true
}

// votersHealthy holds unless every voter is serving and caught up (S2).
func (r *run) votersHealthy() bool {
	for i := range r.obs.Members {
		if m := &r.obs.Members[i]; m.IsVoter() {
			if g := r.caughtUp(*m); g != nil {
				if g.Reason == upgrade.ReasonRaftViewUnknown {
					r.holdGate(g) // unknown is not unhealthy: say so
					return false
				}
				// g is fresh (CaughtUp allocates every gate): reuse it.
				g.Name, g.Reason, g.Member = upgrade.GateQuorum, upgrade.ReasonOtherVoterDisrupted, m.Name
				g.Message = "membership changes wait until every voter is healthy and caught up: " + g.Message
				r.holdGate(g)
				return false
			}
		}
	}
	return true
}
