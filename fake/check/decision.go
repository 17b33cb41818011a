package check

import (
	"fmt"
	"slices"

	"github.com/raftshift/raftshift/upgrade"
)

// Options is the catch-up definition and downtime allowance a Decision is
// judged with: those of the strategy's spec.
type Options struct {
	// CatchUp defines "caught up" (zero fields take upgrade.DefaultCatchUp).
	CatchUp upgrade.CatchUp
	// AllowDowntime relaxes S1 and S2 for clusters of one or two voters, as
	// the spec's opt-in does; it never allows demoting or removing the last
	// voter.
	AllowDowntime bool
	// KeepsVotersUp declares a strategy that never restarts a voter's pod
	// (blue-green): Decision ignores it; HistoryWith then holds a quiet
	// history to every voter up at every tick.
	KeepsVotersUp bool
}

// Decision judges an action list against the observation it was decided on:
// S1 (quorum and failure tolerance), S2 (one voter disrupted at a time), S3
// (the leader, and leadership moves) and S4 (membership changes, workload
// deletion, service switch), and "unknown is not absent" (no disruptive
// action on an unknown or partial Raft view). It re-derives every rule,
// catching up included, without package upgrade's Safety, so it can serve as
// the oracle Safety and the strategies are held to. It returns nil or a
// *Violation naming the rule, the action's index as Step and the member.
func Decision(obs upgrade.Observation, actions []upgrade.Action, opts Options) error {
	if !Judged(actions) {
		return nil
	}
	j := newJudge(obs, opts)
	for i, a := range actions {
		if err := j.action(i, a); err != nil {
			return err
		}
	}
	return j.finish()
}

// Judged reports whether Decision has anything to judge in actions: false
// when every action is one that touches no member (locks, snapshots, hooks,
// events, creating a workload).
func Judged(actions []upgrade.Action) bool {
	for _, a := range actions {
		switch a.(type) {
		case upgrade.AcquireLock, upgrade.ReleaseLock, upgrade.TakeSnapshot, upgrade.RunHook,
			upgrade.CreateRevision:
		default:
			return true
		}
	}
	return false
}

// judge is the state of one Decision check.
type judge struct {
	obs       upgrade.Observation
	opts      Options
	caught    map[string]bool
	voter     map[string]bool
	known     map[string]bool // member exists in the observation
	leader    string          // "" when none
	blind     bool
	voters0   int
	partition map[string]int32
	template  map[string]bool
	disrupted map[string]bool
	restarted string // the voter restarted, demoted or removed
	// crashRestart: the disrupted voter's pod crash-loops (a restart that
	// costs no availability).
	crashRestart bool
	shrink       bool
	moved        bool
	changes      int
	fail         func(rule string, i int, member, format string, args ...any) error
}

func newJudge(obs upgrade.Observation, opts Options) *judge {
	j := &judge{obs: obs, opts: opts, caught: map[string]bool{}, voter: map[string]bool{}, known: map[string]bool{},
		partition: map[string]int32{}, template: map[string]bool{}, disrupted: map[string]bool{}}
	j.fail = func(rule string, i int, member, format string, args ...any) error {
		return &Violation{Rule: rule, Step: i, Member: member, Message: fmt.Sprintf(format, args...)}
	}
	j.leader = leaderName(&obs)
	j.blind = !obs.Raft.Known || obs.Raft.LeaderUnknown
	for _, m := range obs.Members {
		j.blind = j.blind || m.Raft.Unknown
		j.caught[m.Name] = CaughtUp(&obs, m, opts.CatchUp)
		j.voter[m.Name] = m.Raft.Present && m.Raft.Suffrage == upgrade.Voter
		j.known[m.Name] = true
		if j.voter[m.Name] {
			j.voters0++
		}
	}
	for _, w := range obs.Workloads {
		j.partition[w.Name] = w.Partition
	}
	return j
}

// leaderName is the leader of obs: Raft.LeaderID when set, else the single
// member flagged leader; "" when none.
func leaderName(obs *upgrade.Observation) string {
	if obs.Raft.LeaderID != "" {
		for _, m := range obs.Members {
			if m.Raft.ID == obs.Raft.LeaderID {
				return m.Name
			}
		}
		return ""
	}
	name := ""
	for _, m := range obs.Members {
		if m.Raft.Leader {
			if name != "" {
				return ""
			}
			name = m.Name
		}
	}
	return name
}

// CaughtUp is the oracle's own judgement of "serving and caught up": the pod
// exists, is ready, not terminating or crash-looping; the Raft view and the
// member's Raft state are known; it is present and healthy; a leader exists;
// a follower trails by at most MaxLag entries, is not a term behind and was
// heard from within MaxContact; and its stabilization window, counted from
// the latest of its pod's start and readiness (autopilot's stable_since
// only when neither is known), has passed.
func CaughtUp(obs *upgrade.Observation, m upgrade.Member, c upgrade.CatchUp) bool {
	c = c.WithDefaults()
	if !m.Pod.Exists || !m.Pod.Ready || m.Pod.Terminating || m.Pod.CrashLooping {
		return false
	}
	if !obs.Raft.Known || obs.Raft.LeaderUnknown || m.Raft.Unknown || !m.Raft.Present || !m.Raft.Healthy {
		return false
	}
	ln := leaderName(obs)
	if ln == "" {
		return false
	}
	var leader upgrade.Member
	for _, x := range obs.Members {
		if x.Name == ln {
			leader = x
		}
	}
	if m.Name != ln {
		if leader.Raft.LastIndex > m.Raft.LastIndex+c.MaxLag {
			return false
		}
		if m.Raft.LastTerm < leader.Raft.LastTerm {
			return false
		}
		if c.MaxContact.Duration > 0 && m.Raft.LastContact > c.MaxContact.Duration {
			return false
		}
	}
	if c.Stabilization.Duration > 0 {
		start := m.Pod.StartedAt
		if m.Pod.ReadySince.After(start) {
			start = m.Pod.ReadySince
		}
		if start.IsZero() {
			start = m.Raft.StableSince
		}
		if !start.IsZero() && obs.Now.Sub(start) < c.Stabilization.Duration {
			return false
		}
	}
	return true
}

// hit records a disruption of member name by action i; deleted is true for
// a DeletePod (a graceful shutdown, which may hand leadership over).
func (j *judge) hit(i int, name string, deleted bool) error {
	if j.blind {
		return j.fail("S1", i, name, "disrupts %s on an unknown or partial raft view", name)
	}
	if name == j.leader && j.leader != "" && !(j.opts.AllowDowntime && j.voters0 == 1) {
		if !deleted || j.moved || !j.handoff(name) {
			return j.fail("S3", i, name, "disrupts the leader %s", name)
		}
		// S3's exception: the leader hands leadership over as its pod
		// shuts down; that is the list's leadership move.
		if len(j.disrupted) > 0 {
			return j.fail("S2", i, name, "the leader hands over while the list disrupts voters %v", keys(j.disrupted))
		}
		j.disrupted[name] = true
		j.restarted = name
		j.moved = true
		return nil
	}
	if !j.voter[name] {
		return nil
	}
	if j.moved {
		return j.fail("S3", i, name, "disrupts voter %s after leadership moved", name)
	}
	j.disrupted[name] = true
	if m, _ := j.obs.Member(name); m.Pod.Exists && m.Pod.CrashLooping && !j.caught[name] {
		// A crash-looping process serves nothing: its restart costs no
		// availability (still one voter disrupted per decision).
		j.crashRestart = true
		return nil
	}
	j.restarted = name
	return nil
}

func (j *judge) action(i int, a upgrade.Action) error {
	if j.blind {
		switch a := a.(type) {
		case upgrade.TransferLeadership, upgrade.StepDown, upgrade.Promote, upgrade.Demote, upgrade.RemovePeer,
			upgrade.JoinNonvoter, upgrade.SwitchService:
			return j.fail("S4", i, "", "%s on an unknown or partial raft view", a)
		case upgrade.DeleteRevision:
			if len(j.obs.WorkloadMembers(a.Workload)) > 0 {
				return j.fail("S4", i, "", "%s on an unknown or partial raft view", a)
			}
		}
	}
	switch a := a.(type) {
	case upgrade.DeletePod:
		if !j.known[a.Member] {
			return j.fail("S1", i, a.Member, "deletes unknown pod %s", a.Member)
		}
		return j.hit(i, a.Member, true)
	case upgrade.SetPartition:
		w, ok := j.obs.Workload(a.Workload)
		if !ok {
			return j.fail("S2", i, "", "sets the partition of unknown workload %s", a.Workload)
		}
		if w.UpdateStrategy == upgrade.UpdateOnDelete {
			j.partition[a.Workload] = a.Partition
			break // an OnDelete controller ignores the partition
		}
		for _, m := range j.obs.WorkloadMembers(a.Workload) {
			if m.Ordinal >= a.Partition && m.Ordinal < j.partition[a.Workload] &&
				(m.Revision != w.UpdateRevision || j.template[a.Workload]) {
				if err := j.hit(i, m.Name, false); err != nil {
					return err
				}
			}
		}
		j.partition[a.Workload] = a.Partition
	case upgrade.UpdateTemplate:
		w, ok := j.obs.Workload(a.Workload)
		if !ok {
			return j.fail("S2", i, "", "changes the template of unknown workload %s", a.Workload)
		}
		if w.UpdateStrategy != upgrade.UpdateOnDelete && j.partition[a.Workload] < w.Replicas {
			return j.fail("S2", i, "", "changes the template of %s with partition %d < %d replicas",
				a.Workload, j.partition[a.Workload], w.Replicas)
		}
		j.template[a.Workload] = true
	case upgrade.TransferLeadership, upgrade.StepDown:
		from, to := "", ""
		if t, ok := a.(upgrade.TransferLeadership); ok {
			from, to = t.From, t.To
		} else {
			from = a.(upgrade.StepDown).Member
		}
		if j.moved || j.leader == "" || from != j.leader {
			return j.fail("S3", i, from, "moves leadership from %s (leader %q, already moved %v)", from, j.leader, j.moved)
		}
		if len(j.disrupted) > 0 {
			return j.fail("S2", i, from, "moves leadership while the list disrupts voters %v", keys(j.disrupted))
		}
		if to != "" && (!j.voter[to] || !j.caught[to] || to == j.leader) {
			return j.fail("S3", i, to, "moves leadership to %s, not a healthy caught-up voter", to)
		}
		if to == "" {
			others := 0
			for _, m := range j.obs.Members {
				if m.Name != j.leader && j.voter[m.Name] && j.caught[m.Name] {
					others++
				}
			}
			if others == 0 {
				return j.fail("S3", i, from, "steps down with no healthy caught-up voter to take over")
			}
		}
		j.moved = true
	case upgrade.Promote:
		j.changes++
		if !j.known[a.Member] || j.voter[a.Member] || !j.caught[a.Member] {
			return j.fail("S4", i, a.Member, "promotes %s, not a healthy caught-up non-voter", a.Member)
		}
		if len(j.disrupted) > 0 {
			return j.fail("S2", i, a.Member, "promotes %s while the list disrupts voters %v", a.Member, keys(j.disrupted))
		}
		j.voter[a.Member] = true
		j.disrupted[a.Member] = true
	case upgrade.Demote, upgrade.RemovePeer:
		j.changes++
		name := memberOf(a)
		if !j.known[name] {
			return j.fail("S4", i, name, "changes the membership of unknown member %s", name)
		}
		if name == j.leader && j.leader != "" {
			return j.fail("S3", i, name, "demotes or removes the leader %s", name)
		}
		if j.voter[name] {
			j.shrink = true
			left := 0
			for _, v := range j.voter {
				if v {
					left++
				}
			}
			if left == 1 {
				return j.fail("S1", i, name, "demotes or removes the last voter %s", name)
			}
		}
		if err := j.hit(i, name, false); err != nil {
			return err
		}
		j.voter[name] = false
	case upgrade.JoinNonvoter:
		j.changes++
		if j.voter[a.Member] {
			return j.fail("S4", i, a.Member, "joins %s, already a voter", a.Member)
		}
	case upgrade.DeleteRevision:
		for _, m := range j.obs.WorkloadMembers(a.Workload) {
			if j.voter[m.Name] || m.Name == j.leader {
				return j.fail("S4", i, m.Name, "deletes workload %s holding voter %s", a.Workload, m.Name)
			}
		}
	case upgrade.SwitchService:
		if j.moved || j.leader == "" || leaderWorkload(&j.obs, j.leader) != a.Workload {
			return j.fail("S4", i, "", "switches the service to %s, which does not hold the leader", a.Workload)
		}
	case upgrade.AcquireLock, upgrade.ReleaseLock, upgrade.TakeSnapshot, upgrade.RunHook,
		upgrade.CreateRevision:
	default:
		return j.fail("S1", i, "", "unknown action %T", a)
	}
	if j.changes > 1 {
		return j.fail("S4", i, "", "%d membership changes in one decision", j.changes)
	}
	return nil
}

// finish applies the rules that judge the list as a whole.
func (j *judge) finish() error {
	if len(j.disrupted) > 1 {
		return j.fail("S2", -1, "", "%d voters disrupted by one decision: %v", len(j.disrupted), keys(j.disrupted))
	}
	if j.restarted == "" || (j.opts.AllowDowntime && j.voters0 <= 2) {
		return nil
	}
	healthy := 0
	for _, m := range j.obs.Members {
		if m.Raft.Present && m.Raft.Suffrage == upgrade.Voter {
			if j.caught[m.Name] {
				healthy++
			} else if m.Name != j.restarted {
				return j.fail("S2", -1, j.restarted, "voter %s disrupted while voter %s is not caught up", j.restarted, m.Name)
			}
		}
	}
	after, votersAfter := healthy, j.voters0
	if j.caught[j.restarted] {
		after--
		if healthy-upgrade.Quorum(j.voters0) < 1 {
			return j.fail("S1", -1, j.restarted, "voter %s disrupted with failure tolerance %d", j.restarted, healthy-upgrade.Quorum(j.voters0))
		}
	}
	if j.shrink {
		votersAfter--
	}
	if after < upgrade.Quorum(votersAfter) {
		return j.fail("S1", -1, j.restarted, "%d healthy voters would remain of %d", after, votersAfter)
	}
	return nil
}

// handoff reports whether deleting the pod of the leader hands leadership
// over by itself (S3's exception): the workload does so on shutdown, the
// leader's pod is the last of its workload not at the update revision, and
// every other voter is a caught-up member of that workload at the update
// revision.
func (j *judge) handoff(leader string) bool {
	if !j.obs.Capabilities.HandoffOnShutdown {
		return false
	}
	wl := leaderWorkload(&j.obs, leader)
	w, ok := j.obs.Workload(wl)
	if !ok {
		return false
	}
	for _, m := range j.obs.Members {
		if m.Name == leader {
			continue
		}
		if m.Workload == wl && (!m.Pod.Exists || m.Pod.Terminating || m.Revision != w.UpdateRevision) {
			return false
		}
		if j.voter[m.Name] && (m.Workload != wl || !j.caught[m.Name]) {
			return false
		}
	}
	return true
}

func leaderWorkload(obs *upgrade.Observation, leader string) string {
	for _, m := range obs.Members {
		if m.Name == leader {
			return m.Workload
		}
	}
	return ""
}

func memberOf(a upgrade.Action) string {
	switch a := a.(type) {
	case upgrade.Demote:
		return a.Member
	case upgrade.RemovePeer:
		return a.Member
	}
	return ""
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
