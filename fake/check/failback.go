package check

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// older is the oracle's own version order: a strictly older than b by
// semver precedence (policy.Compare); versions that do not parse are never
// older.
func older(a, b string) bool {
	if a == "" || b == "" || a == b {
		return false
	}
	va, vb := parsed(a), parsed(b)
	return va != nil && vb != nil && va.Compare(vb) < 0
}

// versions memoizes policy.ParseVersion for older, which judges every
// member of every Step of a property run: a run sees a handful of
// versions, and parsing them again dominated the oracle's time. At most
// maxVersions are kept, so arbitrary inputs cannot grow it without bound.
var (
	versions    sync.Map // string -> *semver.Version (nil: does not parse)
	versionsLen atomic.Int32
)

const maxVersions = 1024

// parsed returns the version s names, or nil when it does not parse.
func parsed(s string) *semver.Version {
	if v, ok := versions.Load(s); ok {
		return v.(*semver.Version)
	}
	v, err := policy.ParseVersion(s)
	if err != nil {
		v = nil
	}
	if versionsLen.Load() < maxVersions {
		if _, loaded := versions.LoadOrStore(s, v); !loaded {
			versionsLen.Add(1)
		}
	}
	return v
}

// Failback judges S8, "the leader's version never regresses once the target
// has led, by an action of the strategy", for one Step: prev is the status
// the Step was given, d its Decision, obs the observation it decided on.
// It applies to an upgrade that moves forward (its target is newer than
// the version it started from, not older than the highest version that led
// or than the observed leader, and no blue-green rollback is under way):
//
//   - no TransferLeadership to a member running a version older than the
//     leader's, and once a version newer than the start has led (the
//     high-water mark of the status the Step was given, usually the
//     target) none to a member older than it — unless the leader is itself
//     older and no voter runs that version any more (every upgraded pod
//     came back old): then a member as new as the leader fails back no
//     further;
//   - no StepDown while another voter runs a version older than the
//     leader's (that voter could win the election);
//   - a Step whose observation shows a leader older than that high-water
//     mark (a regression, whoever caused it) is never silent:
//     the status it returns carries the LeaderVersion condition, True with
//     reason LeaderVersionRegressed, and its gate, when it has one, is
//     that regression's, LeaderMoveWouldFailBack (the strategy asks a
//     human rather than fail back further), or a hold by the spec's pause
//     or maintenance windows (which says when the upgrade goes on).
//
// Whether the Step corrected the regression as soon as it safely could (a
// targeted transfer to a caught-up upgraded voter) is not judged here: it
// depends on the strategy's phase; the strategies' step cases pin it.
func Failback(prev upgrade.Status, d upgrade.Decision, obs upgrade.Observation) error {
	u := prev.Upgrade
	next := d.Status.Upgrade
	if u == nil {
		u = next
	}
	if u == nil {
		return nil
	}
	fail := func(i int, member, format string, args ...any) error {
		return &Violation{Rule: "S8", Step: i, Member: member, Message: fmt.Sprintf(format, args...)}
	}
	byName := func(name string) *upgrade.Member {
		for i := range obs.Members {
			if obs.Members[i].Name == name {
				return &obs.Members[i]
			}
		}
		return nil
	}
	var leader *upgrade.Member
	if ln := leaderName(&obs); ln != "" {
		leader = byName(ln)
	}
	back := func(x *upgrade.UpgradeStatus) bool {
		if x == nil {
			return false
		}
		t := x.TargetVersion
		return !older(x.FromVersion, t) || older(t, x.LeaderHighWater) || (leader != nil && older(t, leader.Version)) ||
			(x.BlueGreen != nil && x.BlueGreen.RollingBack)
	}
	if back(u) || back(next) {
		return nil
	}
	// The floor: the highest version that led, once newer than the start.
	floor := ""
	if p := prev.Upgrade; p != nil && older(p.FromVersion, p.LeaderHighWater) {
		floor = p.LeaderHighWater
	}
	engaged := floor != ""
	transferFloor := floor
	if engaged && leader != nil && older(leader.Version, floor) {
		upgraded := false
		for _, m := range obs.Members {
			if m.Raft.Present && m.Raft.Suffrage == upgrade.Voter && m.Version != "" && !older(m.Version, floor) {
				upgraded = true
			}
		}
		if !upgraded {
			transferFloor = leader.Version
		}
	}
	for i, a := range d.Actions {
		switch a := a.(type) {
		case upgrade.TransferLeadership:
			to := byName(a.To)
			if to == nil || leader == nil {
				continue
			}
			if older(to.Version, leader.Version) {
				return fail(i, a.To, "transfer from %s (%s) to older %s (%s)", leader.Name, leader.Version, a.To, to.Version)
			}
			if engaged && older(to.Version, transferFloor) {
				return fail(i, a.To, "transfer to %s (%s) after %s led", a.To, to.Version, floor)
			}
		case upgrade.StepDown:
			if leader == nil {
				continue
			}
			for _, m := range obs.Members {
				if m.Name != leader.Name && m.Raft.Present && m.Raft.Suffrage == upgrade.Voter && older(m.Version, leader.Version) {
					return fail(i, m.Name, "%s (%s) steps down while older voter %s (%s) could win", leader.Name, leader.Version, m.Name, m.Version)
				}
			}
		}
	}
	if !engaged || next == nil || leader == nil || !obs.Raft.Known || obs.Raft.LeaderUnknown || !older(leader.Version, floor) {
		return nil
	}
	c := meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionLeaderVersion)
	if c == nil || c.Status != "True" || c.Reason != string(upgrade.ReasonLeaderVersionRegressed) {
		return fail(-1, leader.Name, "%s leads on %s after %s led, and the Step does not raise %s",
			leader.Name, leader.Version, floor, upgrade.ReasonLeaderVersionRegressed)
	}
	if g := d.Gate; g != nil && g.Reason != upgrade.ReasonLeaderVersionRegressed && g.Reason != upgrade.ReasonMoveFailsBack && g.Name != upgrade.GatePaused && g.Name != upgrade.GateMaintenanceWindow {
		return fail(-1, leader.Name, "%s leads on %s after %s led, and the Step's gate is %s", leader.Name, leader.Version, floor, g.Reason)
	}
	return nil
}
