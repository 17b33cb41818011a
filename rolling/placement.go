package rolling

import (
	"slices"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/upgrade"
)

// placeLeader runs at the start of PhaseRolling, before another pod is
// chosen, and moves leadership onto an upgraded voter when
//
//   - an election put a member older than the target in charge after the
//     target had led (S8, upgrade.ReasonLeaderVersionRegressed), or
//   - the spec asks for upgrade.PlacementEarly and the leader is not
//     upgraded while an upgraded voter is caught up.
//
// The move is a targeted transfer to a caught-up, upgraded voter; a
// step-down only when every other voter is upgraded (any of them may win).
// It reports whether this Step does nothing else: it moved leadership, or it
// holds because a regressed leader's upgraded voters are still catching up.
// A move that is due but not safe yet (another voter down or lagging, no
// failure tolerance) leaves the usual order to go on: it restarts a member
// that is down first, and holds otherwise. A regressed leader that no upgraded voter can replace (none
// is left, or the adapter can only step down) does not hold the upgrade:
// restarting the remaining old members is then the way back to an
// upgraded leader, and the LeaderVersion condition says so meanwhile.
func (s *stepper) placeLeader() bool {
	u := s.st.Upgrade
	if s.voters <= 1 || !s.obs.Raft.Known || s.obs.Raft.LeaderUnknown {
		return false
	}
	l, ok := s.obs.Leader()
	if !ok {
		return false
	}
	lm := s.memberAt(l.Ordinal)
	if lm == nil || lm.Name != l.Name {
		return false
	}
	_, regressed := upgrade.RegressedLeader(u, s.obs)
	// Early moves leadership forward only: never early onto an older
	// version (a target changed back down).
	early := s.spec.LeaderPlacement == upgrade.PlacementEarly && !s.upgradedMember(lm) && !upgrade.VersionOlder(u.TargetVersion, lm.Version)
	if !regressed && !early {
		return false
	}
	upgraded := func(m upgrade.Member) bool { return !s.upgradedMember(&m) }
	if _, ok := s.safety.BestTransferTarget(s.obs, u.TargetVersion, upgraded); !ok {
		if regressed && s.obs.Capabilities.TargetedTransfer && s.hasUpgradedVoter() {
			// An upgraded voter is there but not caught up yet: wait for
			// it rather than restart more old members under an old leader.
			s.hold(upgrade.GateLeader, upgrade.ReasonLeaderVersionRegressed, l.Name,
				"%s leads on %s after %s had led; waiting for an upgraded voter to catch up to take over", l.Name, l.Version, u.TargetVersion)
			return true
		}
		return false
	}
	if !s.obs.Capabilities.TargetedTransfer && slices.ContainsFunc(s.obs.Members, func(m upgrade.Member) bool {
		return m.Name != l.Name && m.IsVoter() && !s.upgradedMember(&m)
	}) {
		// A step-down would let an old voter win as easily as an upgraded one.
		return false
	}
	if held := s.gate; !s.leaderMovable(lm) {
		// Not now (another voter down or lagging): the usual order goes
		// on, which restarts a member that is down first and holds
		// otherwise.
		s.gate = held
		return false
	}
	a, t, ok := contract.LeaderMove(s.obs, s.safety, *lm, u.TargetVersion, upgraded)
	if !ok {
		return false
	}
	r := u.Rolling
	r.TransferTarget = ""
	if a.Kind() == upgrade.KindTransferLeadership {
		r.TransferTarget = t.Name
	}
	r.LeaderMoves++
	s.act(a)
	why := "leader placement Early"
	if regressed {
		why = "the leader's version regressed (" + string(upgrade.ReasonLeaderVersionRegressed) + ")"
	}
	if r.TransferTarget != "" {
		s.event(upgrade.EventNormal, ReasonMovingLeadership, "moving leadership from %s to upgraded %s: %s", l.Name, t.Name, why)
	} else {
		s.event(upgrade.EventNormal, ReasonMovingLeadership, "asking %s to step down to an upgraded voter: %s", l.Name, why)
	}
	return true
}

// upgradedMember reports whether m runs the target: its pod is at the
// update revision and its reported version (when it reports one) is not
// older than the target.
func (s *stepper) upgradedMember(m *upgrade.Member) bool {
	return s.updated(m) && !upgrade.VersionOlder(m.Version, s.st.Upgrade.TargetVersion)
}

// hasUpgradedVoter reports whether a voter other than the leader runs the
// target, caught up or not.
func (s *stepper) hasUpgradedVoter() bool {
	for i := range s.obs.Members {
		if m := &s.obs.Members[i]; isVoter(m) && !s.obs.IsLeader(m.Name) && s.upgradedMember(m) {
			return true
		}
	}
	return false
}
