package bluegreen

import (
	"fmt"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/upgrade"
)

// blueComplete reports whether every blue member is a voter.
func (r *run) blueComplete() bool {
	members := r.members(r.bg.Blue)
	if len(members) < int(r.bg.BlueReplicas) {
		return false
	}
	for _, m := range members {
		if !m.IsVoter() {
			return false
		}
	}
	return true
}

// blueQuorumLost enters break-glass when too few blue members are left
// (gone or crash-looping) for blue to hold a quorum again.
func (r *run) blueQuorumLost(members []upgrade.Member) (Event, bool) {
	lost := int(r.bg.BlueReplicas) - len(members)
	for _, m := range members {
		if m.Pod.CrashLooping {
			lost++
		}
	}
	if _, ok := r.obs.Workload(r.bg.Blue); !ok || int(r.bg.BlueReplicas)-lost < upgrade.Quorum(int(r.bg.BlueReplicas)) {
		return r.enterBreakGlass(ReasonBlueQuorumLost,
			fmt.Sprintf("%d of %d blue members are gone or crash-looping; blue cannot hold quorum again", lost, r.bg.BlueReplicas)), true
	}
	return "", false
}

func (r *run) restoringBlue() Event {
	members := r.members(r.bg.Blue)
	if ev, lost := r.blueQuorumLost(members); lost {
		return ev
	}
	if r.blueComplete() {
		return EventBlueRestored
	}
	if _, ok := r.leader(); !ok {
		return ""
	}
	for _, m := range members {
		switch {
		case m.IsVoter():
			continue
		case !m.Raft.Present:
			r.join(m)
		default:
			if g := r.caughtUp(m); g != nil {
				r.holdGate(g)
				return ""
			}
			r.issue("Promote:"+m.Name, upgrade.Promote{Member: m.Name, ID: raftID(m)})
		}
		return ""
	}
	r.hold(upgrade.GateMembership, upgrade.ReasonPodMissing, "%d of %d blue members exist; waiting for the missing ones",
		len(members), r.bg.BlueReplicas)
	return ""
}

func (r *run) rollbackLeadership() Event {
	if ev, lost := r.blueQuorumLost(r.members(r.bg.Blue)); lost {
		return ev
	}
	if !r.blueComplete() {
		return EventResumeRollback
	}
	done, exhausted := r.moveLeadership(r.bg.Blue, r.bg.Green, r.up.FromVersion)
	switch {
	case done:
		return EventLeaderOnBlue
	case exhausted:
		return r.enterBreakGlass(ReasonLeaderMovesExhausted,
			fmt.Sprintf("leadership did not return to blue after %d moves", r.bg.LeaderMoves))
	}
	return ""
}

func (r *run) demotingGreen() Event {
	if ev, lost := r.blueQuorumLost(r.members(r.bg.Blue)); lost {
		return ev
	}
	if !r.blueComplete() {
		return EventResumeRollback
	}
	leader, ok := r.leader()
	if !ok {
		return ""
	}
	if leader.Workload != r.bg.Blue {
		return EventLeaderLost
	}
	if r.demoteOne(r.bg.Green) {
		return ""
	}
	return EventGreenDemoted
}

// removeGreen ends an abort or a rollback: green non-voters leave the
// configuration, green is deleted, the lock is released; CurrentVersion
// is unchanged.
func (r *run) removeGreen() Event {
	if r.greenHasVoter() {
		// Never delete a workload holding voters. A green voter while
		// aborting was promoted behind this strategy's back (a decision
		// executed but never persisted, or a workload that promotes
		// non-voters itself): roll back instead, which demotes it safely.
		if r.phase() == PhaseAborting {
			r.bg.PromotionStarted = true
			r.bg.RollbackReason = ReasonGreenVoterInAbort
			r.bg.RollbackMessage = fmt.Sprintf("green workload %s holds voters while aborting; rolling back", r.bg.Green)
			r.event(upgrade.EventWarning, ReasonGreenVoterInAbort, "%s", r.bg.RollbackMessage)
			return EventRollback
		}
		r.hold(upgrade.GateMembership, ReasonGreenVoterInAbort, "green workload %s holds voters; it cannot be deleted", r.bg.Green)
		return ""
	}
	members := r.members(r.bg.Green)
	for _, m := range members {
		if !m.Raft.Present {
			continue
		}
		if _, ok := r.leader(); !ok {
			return ""
		}
		r.issue("RemovePeer:"+m.Name, upgrade.RemovePeer{Member: m.Name, ID: raftID(m)})
		return ""
	}
	if r.obs.Service.Workload != r.bg.Blue {
		if l, ok := r.obsLeader(); ok && l.Workload == r.bg.Blue {
			r.issue("SwitchService:"+r.bg.Blue, upgrade.SwitchService{Service: r.serviceName(), Workload: r.bg.Blue})
			return ""
		}
	}
	if _, ok := r.obs.Workload(r.bg.Green); ok {
		r.issue("DeleteRevision:"+r.bg.Green, upgrade.DeleteRevision{Workload: r.bg.Green})
		return ""
	}
	if len(members) > 0 {
		r.hold(upgrade.GateWorkloadSettled, upgrade.ReasonPodTerminating, "%d green pods are still terminating", len(members))
		return ""
	}
	outcome, ev := upgrade.OutcomeRolledBack, EventRolledBack
	if r.phase() == PhaseAborting {
		outcome, ev = upgrade.OutcomeAborted, EventAborted
	} else if !r.bg.PromotionStarted {
		outcome = upgrade.OutcomeAborted
	}
	r.actions = append(r.actions, upgrade.ReleaseLock{Holder: r.up.LockHolder})
	r.st.LastResult = contract.Result(r.up, outcome, string(r.bg.RollbackReason)+": "+r.bg.RollbackMessage, r.now)
	r.ended = r.st.LastResult
	r.event(upgrade.EventWarning, upgrade.OutcomeReason(outcome), "upgrade of %s to %s ended %s: %s", r.bg.Blue, r.up.TargetVersion, outcome, r.ended.Message)
	return ev
}
