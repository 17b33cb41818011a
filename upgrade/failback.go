package upgrade

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// LeaderPlacement is when, during an upgrade, leadership moves onto the
// target version.
//
// +kubebuilder:validation:Enum=Last;Early
type LeaderPlacement string

// Leader placements.
const (
	// PlacementLast (the default, OpenBao's documented order) upgrades the
	// followers first and moves leadership only when the leader's own pod
	// is next: the old leader serves until then and leadership lands on an
	// upgraded voter when it moves. Upgraded standbys forward to an old
	// active node for most of the upgrade (the forwarding window), and the
	// window in which an election could fail back to an old member is
	// short: it opens when leadership first lands on the target version.
	PlacementLast LeaderPlacement = "Last"
	// PlacementEarly moves leadership to the first upgraded, caught-up
	// voter as soon as there is one, and keeps it on upgraded voters from
	// then on. Standbys never forward to an older active node (for version
	// pairs whose upgraded standbys cannot, such as OpenBao 2.5.4 -> 2.6.2,
	// openbao/openbao#3899), at the price of a longer failback window: from
	// the first upgraded voter until the last old voter is upgraded, an
	// election after a leader fault could pick an old voter, which Step then
	// corrects (LeaderVersionRegressed). Early needs targeted transfer; with
	// step-down only, the early move waits until every other voter is at
	// least as new as the target.
	PlacementEarly LeaderPlacement = "Early"
)

// ReasonLeaderVersionRegressed: an election put a member older than the
// upgrade's target in charge after a target-version member had led. Both
// strategies raise it as a gate and in the LeaderVersion condition, and move
// leadership back to a caught-up, upgraded voter where they safely can.
const ReasonLeaderVersionRegressed Reason = "LeaderVersionRegressed"

// ReasonMoveFailsBack: leadership must leave the leader (its pod is next
// to restart), but every voter that could take over runs an older version
// (a targeted transfer would fail back), or a step-down could elect one
// (StepDownAllowed is false). Nothing happens until the older voters are
// upgraded by other means (the OnDelete ordering upgrades the leader last)
// or a human decides.
const ReasonMoveFailsBack Reason = "LeaderMoveWouldFailBack"

// ConditionLeaderVersion is True (reason LeaderVersionRegressed) while an
// upgrade in flight sees a leader older than its target after the target
// has led; it is absent otherwise.
const ConditionLeaderVersion = "LeaderVersion"

// parseVersion parses a version strictly (semver StrictNewVersion, one
// optional leading "v"), nil when it does not parse.
func parseVersion(s string) *semver.Version {
	if s == "" {
		return nil
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil
	}
	return v
}

// validVersion reports whether s parses strictly.
func validVersion(s string) bool {
	if _, ok := release(s); ok {
		return true
	}
	return parseVersion(s) != nil
}

// VersionOlder reports whether version a is strictly older than b by semver
// precedence. Versions that do not parse strictly (or are empty, as a
// member whose version the adapter cannot tell) are never older: the rules
// built on it only refuse what the observation shows.
func VersionOlder(a, b string) bool {
	if a == b || a == "" || b == "" {
		return false
	}
	if c, ok := compareRelease(a, b); ok {
		return c < 0
	}
	va, vb := parseVersion(a), parseVersion(b)
	return va != nil && vb != nil && va.LessThan(vb)
}

// compareRelease compares two plain releases (MAJOR.MINOR.PATCH, one
// optional leading "v", no prerelease or build metadata, no leading zeros)
// without allocating, as semver would; ok is false when either is not that
// simple form, and the caller then parses them with semver.
func compareRelease(a, b string) (int, bool) {
	pa, ok := release(a)
	if !ok {
		return 0, false
	}
	pb, ok := release(b)
	if !ok {
		return 0, false
	}
	for i := range pa {
		switch {
		case pa[i] < pb[i]:
			return -1, true
		case pa[i] > pb[i]:
			return 1, true
		}
	}
	return 0, true
}

// release parses a plain MAJOR.MINOR.PATCH (see compareRelease).
func release(s string) ([3]uint64, bool) {
	var p [3]uint64
	if len(s) > 0 && s[0] == 'v' {
		s = s[1:]
	}
	part, digits := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if digits == 0 || part == 2 {
				return p, false
			}
			part++
			digits = 0
		case c >= '0' && c <= '9':
			if (digits == 1 && p[part] == 0) || digits >= 18 {
				return p, false // a leading zero, or too long for the fast path
			}
			p[part] = p[part]*10 + uint64(c-'0')
			digits++
		default:
			return p, false
		}
	}
	return p, part == 2 && digits > 0
}

// HigherVersion returns the higher of two versions by semver precedence;
// a version that does not parse loses to one that does, and "" to anything.
func HigherVersion(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	}
	if c, ok := compareRelease(a, b); ok {
		if c < 0 {
			return b
		}
		return a
	}
	va, vb := parseVersion(a), parseVersion(b)
	switch {
	case va == nil:
		return b
	case vb == nil:
		return a
	case vb.GreaterThan(va):
		return b
	}
	return a
}

// StepDownAllowed reports whether leader may step down without letting an
// older voter win the election that follows (S8): every other voter in obs
// is at least as new as leader, or runs its workload's update revision (the
// version the cluster is being moved to: a rollback or a downgrade, where
// leadership returning to older members is the plan). Adapters that can
// only step down (no targeted transfer) rely on it: with an older voter in
// the configuration the election is a coin toss that may fail back.
// Versions that do not parse are not compared.
func StepDownAllowed(obs *Observation, leader Member) bool {
	for i := range obs.Members {
		m := &obs.Members[i]
		if m.Name != leader.Name && m.IsVoter() && FailsBack(obs, m, &leader) {
			return false
		}
	}
	return true
}

// FailsBack reports whether leadership moving from leader to m would fail
// back, as far as obs alone tells: m runs an older version than leader and
// is not at its workload's update revision (a member at the update revision
// runs what the cluster is being moved to).
func FailsBack(obs *Observation, m, leader *Member) bool {
	if !VersionOlder(m.Version, leader.Version) {
		return false
	}
	if w, ok := obs.Workload(m.Workload); ok && m.Revision != "" && m.Revision == w.UpdateRevision {
		return false
	}
	return true
}

// FailbackEngaged reports whether the upgrade u has reached the point after
// which leadership must never move back to an older member (S8): it moves
// to a newer version (not a rollback or downgrade), and a version newer than
// the one it started from has led (UpgradeStatus.LeaderHighWater), not
// newer than the target (above it, the upgrade is a move back down: a
// target changed back mid-upgrade). The high-water mark is usually the
// target; after a target changed upwards mid-upgrade it may be the earlier
// target, which stays the floor leadership must not fall below.
func FailbackEngaged(u *UpgradeStatus) bool {
	if u == nil || u.LeaderHighWater == "" || (u.BlueGreen != nil && u.BlueGreen.RollingBack) {
		return false
	}
	hw, t, from := u.LeaderHighWater, u.TargetVersion, u.FromVersion
	return VersionOlder(from, t) && VersionOlder(from, hw) && !VersionOlder(t, hw)
}

// RecordLeaderVersion raises u.LeaderHighWater to the version of obs's
// leader (no change without a known leader or a version that parses) and
// reports whether it changed.
func RecordLeaderVersion(u *UpgradeStatus, obs *Observation) bool {
	l := leaderOf(obs)
	if u == nil || l == nil || l.Version == u.LeaderHighWater || !obs.Raft.Known || obs.Raft.LeaderUnknown || !validVersion(l.Version) {
		return false
	}
	hw := HigherVersion(u.LeaderHighWater, l.Version)
	if hw == u.LeaderHighWater {
		return false
	}
	u.LeaderHighWater = hw
	return true
}

// RegressedLeader returns the leader of obs and true when the upgrade u is
// past the failback point (FailbackEngaged) and the leader runs a version
// older than the highest that led (usually the target): an election failed
// back.
func RegressedLeader(u *UpgradeStatus, obs *Observation) (Member, bool) {
	if u == nil || u.LeaderHighWater == "" || !obs.Raft.Known || obs.Raft.LeaderUnknown {
		return Member{}, false
	}
	l := leaderOf(obs)
	if l == nil || l.Version == u.LeaderHighWater || !FailbackEngaged(u) || !VersionOlder(l.Version, u.LeaderHighWater) {
		return Member{}, false
	}
	return *l, true
}

// RegressionGate is the LeaderVersionRegressed gate for leader under u.
func RegressionGate(u *UpgradeStatus, leader Member) *Gate {
	return &Gate{Name: GateLeader, Reason: ReasonLeaderVersionRegressed, Member: leader.Name,
		Message: fmt.Sprintf("%s leads on %s although %s has led; leadership must move back to an upgraded voter",
			leader.Name, leader.Version, u.LeaderHighWater)}
}

// failbackCheck is Safety.Check's S8 rule for one leadership move, decided
// from the observation alone: a transfer to a voter older than the leader,
// or a step-down while a voter older than the leader could win, unless that
// voter runs its workload's update revision (the observation's own sign of
// a rollback or downgrade).
func (s Safety) failbackCheck(obs *Observation, leader *Member, to string) string {
	if s.AllowFailback || leader == nil {
		return ""
	}
	if to == "" {
		if !StepDownAllowed(obs, *leader) {
			return fmt.Sprintf("%s (%s) may not step down: an older voter could win the election", leader.Name, leader.Version)
		}
		return ""
	}
	if t, ok := obs.Member(to); ok && FailsBack(obs, &t, leader) {
		return fmt.Sprintf("transfer target %s runs %s, older than the leader %s (%s)", to, t.Version, leader.Name, leader.Version)
	}
	return ""
}
