package bluegreen

import "github.com/raftshift/raftshift/upgrade"

// members returns the members of a workload by ordinal.
func (r *run) members(workload string) []upgrade.Member {
	return r.obs.WorkloadMembers(workload)
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
