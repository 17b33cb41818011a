package contract

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// ValidatePlacement checks a spec's leaderPlacement with the same typed
// error in both strategies: "" (the default, Last), Last or Early.
func ValidatePlacement(p upgrade.LeaderPlacement) error {
	switch p {
	case "", upgrade.PlacementLast, upgrade.PlacementEarly:
		return nil
	}
	return fmt.Errorf("%w: leader placement %q is neither %s nor %s", upgrade.ErrInvalidSpec, p, upgrade.PlacementLast, upgrade.PlacementEarly)
}

// Failback is the S8 bookkeeping both strategies run on the status of every
// Step, waiting ones included, after deciding: it raises the upgrade's
// leader high-water mark to the observed leader's version (in a Step that
// only waits, only once the leader runs the target or newer: the one
// change S8 needs, so waiting Steps stay fixed points), and sets the
// LeaderVersion condition (True, LeaderVersionRegressed, transition time
// from now) while the leader has regressed below the target after the
// target led, removing it otherwise. It returns the regression gate, nil
// when the leader has not regressed. It never acts: correcting a regression
// is the strategy's (a targeted transfer to a caught-up upgraded voter).
func Failback(st *upgrade.Status, obs *upgrade.Observation, acting bool, now time.Time, generation int64) *upgrade.Gate {
	u := st.Upgrade
	if u == nil {
		removeCondition(st, upgrade.ConditionLeaderVersion)
		return nil
	}
	if l, ok := obs.Leader(); ok && l.Version != u.LeaderHighWater && (acting || !upgrade.VersionOlder(l.Version, u.TargetVersion)) {
		upgrade.RecordLeaderVersion(u, obs)
	}
	l, ok := upgrade.RegressedLeader(u, obs)
	if !ok {
		removeCondition(st, upgrade.ConditionLeaderVersion)
		return nil
	}
	g := upgrade.RegressionGate(u, l)
	upgrade.SetCondition(&st.Conditions, upgrade.ConditionLeaderVersion, metav1.ConditionTrue, g.Reason, g.Message, now, generation)
	return g
}

// FailbackSafety returns s with AllowFailback set during a blue-green
// rollback, where leadership returns to blue on purpose. Other moves back
// down (a rolling rollback or downgrade, a target changed back) need no
// exemption: Safety.Check already lets leadership go to a member at its
// workload's update revision, and a member older than that is a failback
// whatever the target.
func FailbackSafety(s upgrade.Safety, u *upgrade.UpgradeStatus) upgrade.Safety {
	if u != nil && u.BlueGreen != nil && u.BlueGreen.RollingBack {
		s.AllowFailback = true
	}
	return s
}

// FailbackExclude is the transfer-target filter of an upgrade past the
// failback point (upgrade.FailbackEngaged) moving leadership away from
// leader: members older than the highest version that led (usually the
// target) are never chosen. One exception: when leader itself runs an older
// version (an election failed back) and no voter of obs runs the highest
// version that led any more (its pods came back at the old revision), the
// floor is the leader's version: a member as new as the leader fails back
// no further, and without it the leader's pod could never restart. The
// transfer target choice still prefers the target version. Nil when the
// upgrade is not past the failback point.
func FailbackExclude(obs *upgrade.Observation, u *upgrade.UpgradeStatus, leader upgrade.Member) func(upgrade.Member) bool {
	if !upgrade.FailbackEngaged(u) {
		return nil
	}
	floor := u.LeaderHighWater
	if upgrade.VersionOlder(leader.Version, floor) && !voterAtLeast(obs, floor) {
		floor = leader.Version
	}
	return func(m upgrade.Member) bool { return upgrade.VersionOlder(m.Version, floor) || m.Version == "" }
}

// voterAtLeast reports whether a voter of obs runs version v or newer.
func voterAtLeast(obs *upgrade.Observation, v string) bool {
	for i := range obs.Members {
		m := &obs.Members[i]
		if m.IsVoter() && m.Version != "" && !upgrade.VersionOlder(m.Version, v) {
			return true
		}
	}
	return false
}

// removeCondition drops the condition of type typ from st, if present
// (meta.RemoveStatusCondition of older apimachinery releases panics on an
// empty list).
func removeCondition(st *upgrade.Status, typ string) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			st.Conditions = append(st.Conditions[:i:i], st.Conditions[i+1:]...)
			return
		}
	}
}
