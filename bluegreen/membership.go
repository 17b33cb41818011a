package bluegreen

import (
	"fmt"
	"slices"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/upgrade"
)

// issue emits progress actions identified by key. Issuing the same key
// again means the previous attempt had no visible effect: it is held back
// for RetryAfter and then counted in UpgradeStatus.Failures.
func (r *run) issue(key string, acts ...upgrade.Action) bool {
	if r.blind(acts...) {
		return false
	}
	if r.bg.LastAction == key {
		// A membership change the workload applies asynchronously (OpenBao's
		// autopilot at its next reconcile) is awaited for at least the
		// declared delay, and re-issuing it is not a failure: the adapters'
		// membership calls are idempotent, and the step deadline bounds a
		// change that never lands.
		async := r.asyncMembership(acts)
		retry := r.spec.RetryAfter.Duration
		if async {
			retry = max(retry, r.obs.Capabilities.MembershipDelay)
		}
		if wait := retry - r.now.Sub(r.bg.LastActionAt.Time); wait > 0 {
			r.hold(upgrade.GateMembership, ReasonActionPending, "waiting for %s to take effect", key)
			r.requeue = wait
			return false
		}
		if !async {
			r.up.Failures++
		}
	} else {
		r.up.Failures = 0
		r.up.StepStartedAt = upgrade.Time(r.now)
	}
	r.bg.LastAction = key
	r.bg.LastActionAt = upgrade.Time(r.now)
	r.actions = append(r.actions, acts...)
	return true
}

// asyncMembership reports whether acts change membership and the workload
// applies membership changes asynchronously (Capabilities.MembershipDelay).
func (r *run) asyncMembership(acts []upgrade.Action) bool {
	if r.obs.Capabilities.MembershipDelay <= 0 {
		return false
	}
	for _, a := range acts {
		switch a.(type) {
		case upgrade.JoinNonvoter, upgrade.Promote, upgrade.Demote:
			return true
		}
	}
	return false
}

func (r *run) address(m upgrade.Member) string {
	if m.Raft.Address != "" {
		return m.Raft.Address // the adapter knows where the member listens
	}
	domain := r.spec.PeerDomain
	if domain == "" {
		domain = m.Workload
	}
	return fmt.Sprintf("%s.%s:%d", m.Name, domain, r.spec.RaftPort)
}

func raftID(m upgrade.Member) string {
	if m.Raft.ID != "" {
		return m.Raft.ID
	}
	return m.Name
}

// join issues a JoinNonvoter for a member whose pod runs (Running or
// Ready: readiness may need membership first).
func (r *run) join(m upgrade.Member) {
	if !m.Joinable() {
		r.holdGate(&upgrade.Gate{Name: upgrade.GatePodReady, Reason: upgrade.ReasonPodNotReady, Member: m.Name,
			Message: fmt.Sprintf("pod %s is not running, it cannot join", m.Name)})
		return
	}
	r.issue("JoinNonvoter:"+m.Name, upgrade.JoinNonvoter{Member: m.Name, ID: raftID(m), Address: r.address(m)})
}

// moveLeadership moves leadership towards a voter of workload to,
// preferring members at version. It returns true when the leader is
// already there.
//
// With step-down only, an election picks any up-to-date voter, so the
// other voters of from are demoted first (one per step, each
// safety-checked): the election can then only be won by a voter of to or
// by the old leader again.
func (r *run) moveLeadership(to, from, version string) (done bool, exhausted bool) {
	leader, ok := r.obsLeader()
	if !ok || !r.obs.Raft.Known {
		r.hold(upgrade.GateLeaderTransfer, ReasonElection, "no leader (election in progress)")
		return false, false
	}
	if leader.Workload == to {
		return true, false
	}
	if r.bg.LeaderMoves > 0 && r.obs.Raft.Term <= r.bg.LeaderMoveTerm {
		if wait := r.spec.RetryAfter.Duration - r.now.Sub(r.bg.LastActionAt.Time); wait > 0 {
			r.hold(upgrade.GateLeaderTransfer, ReasonLeaderMoveInFlight, "leadership move %d requested; waiting for an election", r.bg.LeaderMoves)
			r.requeue = wait
			return false, false
		}
	}
	if r.bg.LeaderMoves >= r.spec.MaxLeaderMoves {
		return false, true
	}
	if !r.obs.Capabilities.TargetedTransfer {
		for _, m := range r.members(from) {
			if m.IsVoter() && m.Name != leader.Name {
				r.demoteOne(from)
				return false, false
			}
		}
	}
	if !r.obs.Capabilities.TargetedTransfer {
		// A step-down lets any up-to-date voter win: wait until every
		// voter of the destination is caught up and stable, so the
		// election is short and lands there.
		for _, m := range r.members(to) {
			if m.IsVoter() {
				if g := r.caughtUp(m); g != nil {
					g.Name = upgrade.GateLeaderTransfer
					g.Message = "stepping down waits for every voter of " + to + " to be caught up: " + g.Message
					r.holdGate(g)
					return false, false
				}
			}
		}
	}
	a, _, ok := contract.LeaderMove(&r.obs, r.safety, leader, version, func(m upgrade.Member) bool { return m.Workload != to })
	if !ok {
		r.holdGate(&upgrade.Gate{Name: upgrade.GateLeaderTransfer, Reason: upgrade.ReasonNoTransferTarget,
			Message: fmt.Sprintf("no healthy caught-up voter of %s can take leadership", to)})
		return false, false
	}
	if r.issue(fmt.Sprintf("%s:%s@%d", a.Kind(), leader.Name, r.obs.Raft.Term), a) {
		r.bg.LeaderMoves++
		r.bg.LeaderMoveTerm = r.obs.Raft.Term
	}
	return false, false
}

// demoteOne demotes one voter of workload (never the leader), trying
// unhealthy voters first, then by descending ordinal; each candidate must
// pass the safety check. It returns false when workload has no voter left.
func (r *run) demoteOne(workload string) bool {
	type cand struct {
		m  *upgrade.Member
		up bool
	}
	var buf [16]cand
	cands := buf[:0]
	members := r.members(workload)
	for i := range members {
		if members[i].IsVoter() {
			cands = append(cands, cand{m: &members[i]})
		}
	}
	if len(cands) == 0 {
		return false
	}
	if _, ok := r.leader(); !ok {
		return true
	}
	if r.blind(upgrade.Demote{}) {
		return true
	}
	for i := range cands {
		cands[i].up = r.caughtUp(*cands[i].m) == nil
	}
	// Unhealthy voters first (they cost no tolerance), then the most
	// up-to-date ones: the voters most likely to win an election leave the
	// voter set first, which shortens the window in which an election
	// could fail back to the old side.
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.up != b.up {
			if a.up {
				return 1
			}
			return -1
		}
		if a.m.Raft.LastIndex != b.m.Raft.LastIndex {
			if a.m.Raft.LastIndex > b.m.Raft.LastIndex {
				return -1
			}
			return 1
		}
		return int(b.m.Ordinal) - int(a.m.Ordinal)
	})
	var firstErr error
	for _, c := range cands {
		m := c.m
		a := upgrade.Demote{Member: m.Name, ID: raftID(*m)}
		var act upgrade.Action = a // boxed once for both uses
		err := r.safety.Check(r.obs, []upgrade.Action{act})
		if err == nil {
			if r.issue("Demote:"+m.Name, act) && len(r.actions) == 1 {
				r.checked, r.hasChecked = a, true
			}
			return true
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	r.hold(upgrade.GateQuorum, ReasonMembershipPending, "no %s voter can be demoted safely yet: %v", workload, firstErr)
	return true
}
