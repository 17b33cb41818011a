package upgrade

import "fmt"

// Quorum is the number of voters needed for a majority of a voter set.
func Quorum(voters int) int { return voters/2 + 1 }

// FailureTolerance is how many more healthy voters may fail before the
// cluster loses quorum (negative when quorum is already lost).
func FailureTolerance(voters, healthyVoters int) int { return healthyVoters - Quorum(voters) }

// Gate reasons produced by the safety helpers.
const (
	ReasonPodMissing          Reason = "PodMissing"
	ReasonPodNotReady         Reason = "PodNotReady"
	ReasonPodCrashLooping     Reason = "PodCrashLooping"
	ReasonPodTerminating      Reason = "PodTerminating"
	ReasonNotInConfiguration  Reason = "NotInConfiguration"
	ReasonRaftUnhealthy       Reason = "RaftUnhealthy"
	ReasonNoLeader            Reason = "NoLeader"
	ReasonLogLag              Reason = "LogLag"
	ReasonTermBehind          Reason = "TermBehind"
	ReasonNoRecentContact     Reason = "NoRecentContact"
	ReasonNotStable           Reason = "NotStableLongEnough"
	ReasonIsLeader            Reason = "IsLeader"
	ReasonOtherVoterDisrupted Reason = "OtherVoterDisrupted"
	ReasonNoFailureTolerance  Reason = "NoFailureTolerance"
	ReasonQuorumLost          Reason = "QuorumLost"
	ReasonNoTransferTarget    Reason = "NoTransferTarget"
	// ReasonRaftViewUnknown: the Raft view is unknown or partial (the
	// adapter's read failed, a member's stats are missing); nothing
	// disruptive happens until it is complete again.
	ReasonRaftViewUnknown Reason = "RaftViewUnknown"
)

// CheckView returns a RaftHealthy gate with reason RaftViewUnknown when the
// Raft view of obs is unknown (RaftView.Known is false) or partial (a
// member's Raft state is Unknown), or nil when it is complete.
//
// Unknown is never absent: with an incomplete view a member that looks
// absent or like a non-voter may be a voter, and a member that looks
// healthy may not be. Safety.Check refuses every disruptive action on such a
// view, and both strategies only wait (or take actions that disrupt no one:
// locks, raising a partition, a template change behind a locked partition,
// snapshots, hooks, events).
func CheckView(obs *Observation) *Gate {
	if !obs.Raft.Known {
		return &Gate{Name: GateRaftHealthy, Reason: ReasonRaftViewUnknown,
			Message: "the raft view is unknown (the adapter could not read it, e.g. no leader reachable); nothing disruptive happens until it is known"}
	}
	if obs.Raft.LeaderUnknown {
		return &Gate{Name: GateRaftHealthy, Reason: ReasonRaftViewUnknown,
			Message: "the raft view is partial: the adapter could not tell who leads; nothing disruptive happens until it can"}
	}
	for i := range obs.Members {
		if m := &obs.Members[i]; m.Raft.Unknown {
			return &Gate{Name: GateRaftHealthy, Reason: ReasonRaftViewUnknown, Member: m.Name,
				Message: "the raft view is partial: the raft state of " + m.Name + " could not be read; nothing disruptive happens until it is"}
		}
	}
	return nil
}

// lagKind is the first reason a member is not caught up (lagNone: it is).
type lagKind uint8

const (
	lagNone lagKind = iota
	lagPodMissing
	lagCrashLooping
	lagTerminating
	lagPodNotReady
	lagNotPresent
	lagUnhealthy
	lagNoLeader
	lagLog
	lagTerm
	lagContact
	lagNotStable
	lagUnknown
)

// catchUpLag decides CaughtUp without building a gate; c must have its
// defaults applied and leader is only read when hasLeader.
func catchUpLag(obs *Observation, m, leader *Member, hasLeader bool, c CatchUp) lagKind {
	switch {
	case !m.Pod.Exists:
		return lagPodMissing
	case m.Pod.CrashLooping:
		return lagCrashLooping
	case m.Pod.Terminating:
		return lagTerminating
	case !m.Pod.Ready:
		return lagPodNotReady
	case !obs.Raft.Known || obs.Raft.LeaderUnknown || m.Raft.Unknown:
		return lagUnknown
	case !m.Raft.Present:
		return lagNotPresent
	case !m.Raft.Healthy:
		return lagUnhealthy
	}
	if !hasLeader {
		return lagNoLeader
	}
	if leader.Name != m.Name {
		if leader.Raft.LastIndex > m.Raft.LastIndex && leader.Raft.LastIndex-m.Raft.LastIndex > c.MaxLag {
			return lagLog
		}
		if m.Raft.LastTerm < leader.Raft.LastTerm {
			return lagTerm
		}
		if c.MaxContact.Duration > 0 && m.Raft.LastContact > c.MaxContact.Duration {
			return lagContact
		}
	}
	if c.Stabilization.Duration > 0 {
		if start := stableStart(m); !start.IsZero() && obs.Now.Sub(start) < c.Stabilization.Duration {
			return lagNotStable
		}
	}
	return lagNone
}

// Safety applies the Raft safety rules S1–S4 with a given catch-up
// definition.
type Safety struct {
	// CatchUp defines "caught up" for transfer and promotion targets and for
	// the one-disruption-at-a-time rule.
	CatchUp CatchUp
	// AllowDowntime relaxes S1 (and the "another voter is not caught up"
	// part of S2: a voter whose pod is not serving still holds every other
	// restart back) for clusters that cannot keep quorum through a restart
	// (one or two voters), after the operator opted in explicitly; it has no
	// effect on clusters of three or more voters. It also allows restarting
	// the leader of a single-voter cluster, which has no voter to hand over to.
	AllowDowntime bool
	// AllowFailback lifts S8 for a deliberate move back to an older
	// version (a rollback or a downgrade), where leadership has to return
	// to older members. Strategies set it only for such upgrades.
	AllowFailback bool
}

// SafetyError is a violated safety rule.
// +kubebuilder:object:generate=false
type SafetyError struct {
	// Rule is the invariant broken ("S1".."S4", "S8").
	Rule string
	// Index is the position of the offending action.
	Index int
	// Action is the offending action.
	Action Action
	// Message explains the violation.
	Message string
}

// Error implements error.
func (e *SafetyError) Error() string {
	return fmt.Sprintf("%s: action %d (%s): %s", e.Rule, e.Index, e.Action, e.Message)
}

// Unwrap makes errors.Is(err, ErrUnsafe) true.
func (e *SafetyError) Unwrap() error { return ErrUnsafe }

// A restart of a voter whose pod crash-loops (its process is not running)
// disrupts no one: S1 and S2 do not hold it back (one restart per list
// still), so a cluster can recover from a version that crash-loops even
// with other voters down. Demoting or removing it still follows S1.

// handoffOK reports whether deleting the pod of the leader i hands
// leadership over by itself, as S3's one exception allows: the workload
// declares HandoffOnShutdown, the leader's pod is the last one of its
// workload not at the update revision, and every other voter is a member of
// that workload, upgraded, serving and caught up (stability included) and
// not disrupted by the list. Failure tolerance is checked by the caller.
func (sim *simState) handoffOK(i int) bool {
	if !sim.obs.Capabilities.HandoffOnShutdown {
		return false
	}
	l := &sim.members[i]
	w, ok := sim.obs.Workload(l.workload)
	if !ok {
		return false
	}
	for j := range sim.members {
		o := &sim.members[j]
		if j == i {
			continue
		}
		if o.workload == l.workload && (!o.m.Pod.Exists || o.m.Pod.Terminating || o.m.Revision != w.UpdateRevision) {
			return false
		}
		if o.voter && (o.workload != l.workload || !o.up || o.disrupt) {
			return false
		}
	}
	return true
}

// disruptVoter applies the S1–S3 preconditions of disrupting member i and
// marks it disrupted. The rule string is "" when allowed.
//
// Every disruption is judged at its own position in the list, against every
// rule: a member already disrupted by an earlier action of the list is not
// exempt from the leader and leadership-move rules (a second DeletePod of a
// pod after a step-down is refused like the first would be). Only the
// counting rules (one voter at a time, quorum, failure tolerance) treat a
// repeated disruption of the same member as the disruption already counted.
//
// Deleting the leader's pod is allowed only as S3's handoff exception
// (handoffOK); it then counts as the list's leadership move.
func (s Safety) disruptVoter(sim *simState, i int, kind disruptKind) (string, *Gate) {
	shrink := kind == disruptShrink
	m := &sim.members[i]
	gate := func(name GateName, r Reason, format string, args ...any) *Gate {
		return &Gate{Name: name, Reason: r, Member: m.m.Name, Message: fmt.Sprintf(format, args...)}
	}
	if sim.blind != nil {
		// Unknown is not absent: a member that looks like a non-voter (or
		// absent) on an incomplete view may be a voter, the leader even.
		return "S1", gate(GateRaftHealthy, ReasonRaftViewUnknown, "%s cannot be disrupted: %s", m.m.Name, sim.blind.Message)
	}
	voters, healthy := sim.counts()
	// The leader check comes first: an observation that names a leader
	// without marking it a voter must not let the leader be restarted.
	handoff := false
	if i == sim.leader {
		switch {
		case s.AllowDowntime && voters == 1 && m.voter:
		case kind == disruptDelete && !sim.moving && sim.handoffOK(i):
			handoff = true
		default:
			return "S3", gate(GateLeader, ReasonIsLeader, "%s is the leader; move leadership first", m.m.Name)
		}
	}
	if !m.voter {
		return "", nil
	}
	if sim.moving {
		return "S3", gate(GateLeaderTransfer, ReasonNoLeader, "leadership is moving; wait for the new leader before disrupting %s", m.m.Name)
	}
	if shrink && voters <= 1 {
		// Whatever the downtime allowance: a configuration without voters
		// can never elect a leader again.
		return "S1", gate(GateQuorum, ReasonQuorumLost, "%s is the last voter; demoting or removing it leaves no voter", m.m.Name)
	}
	if m.restart {
		// Already disrupted by an earlier action of the list (SetPartition
		// then DeletePod of the same pod): still the one voter disrupted,
		// already counted against quorum and failure tolerance.
		return "", nil
	}
	// AllowDowntime only relaxes the rules for clusters that cannot keep
	// quorum through a restart anyway (one or two voters).
	downtime := s.AllowDowntime && voters <= 2
	if sim.voterHits > 0 {
		return "S2", gate(GateQuorum, ReasonOtherVoterDisrupted, "another voter is already disrupted by this decision")
	}
	if m.m.Pod.Exists && m.m.Pod.CrashLooping && !m.up && !shrink {
		// Its process is not running: restarting it disrupts no one, and
		// it is the way back from a version that crash-loops, even when
		// other voters are down too or quorum is already lost.
		sim.voterHits++
		m.disrupt, m.restart = true, true
		return "", nil
	}
	for j, o := range sim.members {
		if j == i || !o.voter {
			continue
		}
		if (!o.up || o.disrupt) && !downtime {
			return "S2", gate(GateQuorum, ReasonOtherVoterDisrupted, "voter %s is not healthy and caught up", o.m.Name)
		}
		// Downtime relaxes Raft health only (without quorum no voter is
		// healthy): a voter whose pod is down still counts as disrupted,
		// so a second pod never goes down beside it.
		if downtime && (o.disrupt || !podServing(o.m)) {
			return "S2", gate(GateQuorum, ReasonOtherVoterDisrupted, "voter %s is down (its pod is not serving)", o.m.Name)
		}
	}
	after := healthy
	if m.up && !m.disrupt {
		after--
	}
	votersAfter := voters
	if shrink {
		votersAfter--
	}
	if !downtime {
		if m.up && healthy-Quorum(voters) < 1 {
			return "S1", gate(GateQuorum, ReasonNoFailureTolerance, "failure tolerance is %d with %d/%d healthy voters",
				healthy-Quorum(voters), healthy, voters)
		}
		if after < Quorum(votersAfter) {
			return "S1", gate(GateQuorum, ReasonQuorumLost, "%d healthy voters would remain, quorum of %d is %d",
				after, votersAfter, Quorum(votersAfter))
		}
	}
	sim.voterHits++
	m.disrupt = true
	m.restart = true
	if handoff {
		sim.moving = true // the leader hands leadership over as it shuts down
	}
	return "", nil
}

// Check rejects an action list that would break S1–S4 when executed in order
// against obs. It simulates the list's effects (partition changes,
// leadership moves, membership changes) and returns a *SafetyError wrapping
// ErrUnsafe for the first violation.
//
// On an unknown or partial Raft view (CheckView) every action that could
// disrupt a member is refused, whatever the member looks like: a pod
// restart (DeletePod, a SetPartition that admits a pod not at the update
// revision), a leadership move, a membership change, deleting a workload
// with members, and a service switch. Locks, snapshots, hooks, events,
// CreateRevision, raising a partition and a template change behind a locked
// partition disrupt no one and pass.
//
//   - S1: no voter is disrupted unless healthy voters stay >= quorum, and
//     never with failure tolerance 0; the last voter is never demoted or
//     removed, downtime allowed or not.
//   - S2: at most one voter disrupted; none while another is not caught up.
//   - S3: the leader is never restarted, demoted or removed (one exception:
//     where the workload hands leadership over on shutdown, DeletePod of the
//     leader's pod, the last of its workload not upgraded, with every other
//     voter in that workload upgraded and caught up and failure tolerance to
//     spare, is the list's leadership move); leadership moves
//     only to a healthy caught-up voter, and no action disrupts a voter in
//     the same list after leadership moves (not even one the list already
//     disrupted); leadership does not move in a list that already disrupted
//     a voter (S2).
//   - S4: at most one membership change; promotion only of healthy caught-up
//     non-voters; no workload holding voters is deleted; the service only
//     targets the workload holding the leader.
//   - S8 (unless AllowFailback): leadership never moves to an older member,
//     as far as the observation alone decides it: no transfer to a voter
//     running a version older than the leader's, and no step-down while a
//     voter older than the leader could win the election (StepDownAllowed).
//     A member at its workload's update revision is exempt: it runs what
//     the cluster is being moved to (a rollback or downgrade). Versions
//     that do not parse are not compared. The observation alone cannot tell
//     a blue-green rollback from a failback to blue; the strategies exclude
//     the latter themselves (upgrade.FailbackEngaged).
func (s Safety) Check(obs Observation, actions []Action) error {
	var sim simState
	if needsSim(actions) {
		sim = newSim(&obs, s.CatchUp)
	}
	fail := func(rule string, i int, a Action, format string, args ...any) error {
		return &SafetyError{Rule: rule, Index: i, Action: a, Message: fmt.Sprintf(format, args...)}
	}
	disrupt := func(i int, a Action, idx int, kind disruptKind) error {
		if rule, g := s.disruptVoter(&sim, idx, kind); g != nil {
			return fail(rule, i, a, "%s", g.Message)
		}
		return nil
	}
	member := func(i int, a Action, name string) (int, error) {
		idx := sim.find(name)
		if idx < 0 {
			return -1, fail("S1", i, a, "unknown member %q", name)
		}
		return idx, nil
	}
	membership := func(i int, a Action) error {
		if sim.blind != nil {
			return fail("S4", i, a, "no membership change: %s", sim.blind.Message)
		}
		sim.changes++
		if sim.changes > 1 {
			return fail("S4", i, a, "more than one membership change in one decision")
		}
		return nil
	}
	for i, a := range actions {
		switch a := a.(type) {
		case AcquireLock, ReleaseLock, TakeSnapshot, RunHook, CreateRevision:
		case SetPartition:
			w, ok := obs.Workload(a.Workload)
			if !ok {
				return fail("S2", i, a, "unknown workload %q", a.Workload)
			}
			sw := sim.workload(a.Workload)
			old := sw.partition
			sw.partition = a.Partition
			if w.UpdateStrategy == UpdateOnDelete {
				break // an OnDelete controller ignores the partition
			}
			for idx, m := range sim.members {
				if m.workload != a.Workload || m.m.Ordinal < a.Partition || m.m.Ordinal >= old {
					continue
				}
				if m.m.Revision == w.UpdateRevision && !sw.templated {
					continue
				}
				if err := disrupt(i, a, idx, disruptRestart); err != nil {
					return err
				}
			}
		case UpdateTemplate:
			w, ok := obs.Workload(a.Workload)
			if !ok {
				return fail("S2", i, a, "unknown workload %q", a.Workload)
			}
			sw := sim.workload(a.Workload)
			if w.UpdateStrategy != UpdateOnDelete && sw.partition < w.Replicas {
				return fail("S2", i, a, "template of %s changed while its partition (%d) does not lock all %d pods",
					a.Workload, sw.partition, w.Replicas)
			}
			sw.templated = true
		case DeletePod:
			idx, err := member(i, a, a.Member)
			if err != nil {
				return err
			}
			if err := disrupt(i, a, idx, disruptDelete); err != nil {
				return err
			}
		case StepDown, TransferLeadership:
			var from, to string
			if t, ok := a.(TransferLeadership); ok {
				from, to = t.From, t.To
			} else {
				from = a.(StepDown).Member
			}
			if sim.blind != nil {
				return fail("S3", i, a, "leadership does not move: %s", sim.blind.Message)
			}
			if sim.moving {
				return fail("S3", i, a, "leadership is already moving in this decision")
			}
			if sim.leader < 0 || sim.members[sim.leader].m.Name != from {
				return fail("S3", i, a, "%s is not the leader", from)
			}
			if to != "" {
				idx, err := member(i, a, to)
				if err != nil {
					return err
				}
				t := sim.members[idx]
				if !t.voter || !t.up || t.disrupt || idx == sim.leader {
					return fail("S3", i, a, "transfer target %s is not a healthy caught-up voter", to)
				}
				if msg := s.failbackCheck(&obs, sim.members[sim.leader].m, to); msg != "" {
					return fail("S8", i, a, "%s", msg)
				}
			} else {
				others := 0
				for idx, m := range sim.members {
					if idx != sim.leader && m.voter && m.up && !m.disrupt {
						others++
					}
				}
				if others == 0 {
					return fail("S3", i, a, "no healthy caught-up voter can take over from %s", from)
				}
				if msg := s.failbackCheck(&obs, sim.members[sim.leader].m, ""); msg != "" {
					return fail("S8", i, a, "%s", msg)
				}
			}
			if sim.voterHits > 0 {
				// The election or transfer would run with a voter down: the
				// cluster would have less failure tolerance than S1 demands
				// at the moment it has no leader.
				return fail("S2", i, a, "leadership cannot move in a decision that already disrupts a voter")
			}
			sim.moving = true
		case JoinNonvoter:
			if err := membership(i, a); err != nil {
				return err
			}
			if idx := sim.find(a.Member); idx >= 0 && sim.members[idx].voter {
				return fail("S4", i, a, "%s is already a voter", a.Member)
			}
		case Promote:
			if err := membership(i, a); err != nil {
				return err
			}
			idx, err := member(i, a, a.Member)
			if err != nil {
				return err
			}
			m := &sim.members[idx]
			if m.voter || !m.present {
				return fail("S4", i, a, "%s is not a non-voter", a.Member)
			}
			if !m.up || m.disrupt {
				return fail("S4", i, a, "%s is not healthy and caught up", a.Member)
			}
			// A voter in a membership change counts as disrupted (S2), and
			// leadership cannot move to it in the same decision (S3).
			if sim.voterHits > 0 {
				return fail("S2", i, a, "another voter is already disrupted by this decision")
			}
			sim.voterHits++
			m.voter = true
			m.disrupt = true
		case Demote, RemovePeer:
			if err := membership(i, a); err != nil {
				return err
			}
			name := memberOf(a)
			idx, err := member(i, a, name)
			if err != nil {
				return err
			}
			if idx == sim.leader {
				return fail("S3", i, a, "%s is the leader", name)
			}
			if err := disrupt(i, a, idx, disruptShrink); err != nil {
				return err
			}
			sim.members[idx].voter = false
			if _, ok := a.(RemovePeer); ok {
				sim.members[idx].present = false
			}
		case DeleteRevision:
			if sim.blind != nil {
				for _, m := range sim.members {
					if m.workload == a.Workload {
						return fail("S4", i, a, "workload %s may hold voters: %s", a.Workload, sim.blind.Message)
					}
				}
			}
			for idx, m := range sim.members {
				if m.workload != a.Workload {
					continue
				}
				if idx == sim.leader {
					return fail("S4", i, a, "workload %s holds the leader %s", a.Workload, m.m.Name)
				}
				if m.voter {
					return fail("S4", i, a, "workload %s still holds voter %s", a.Workload, m.m.Name)
				}
			}
		case SwitchService:
			if sim.blind != nil {
				return fail("S4", i, a, "the service does not switch: %s", sim.blind.Message)
			}
			if sim.moving || sim.leader < 0 || sim.members[sim.leader].workload != a.Workload {
				return fail("S4", i, a, "workload %s does not hold the leader", a.Workload)
			}
		default:
			return fail("S1", i, a, "unknown action type %T", a)
		}
	}
	return nil
}

// ReasonUnexpectedPromotion: a member votes although the strategy never
// promoted it (a workload that promotes non-voters on its own, such as
// OpenBao's autopilot for servers joined through the join API). It counts
// as a voter for every safety rule from the moment it is seen.
const ReasonUnexpectedPromotion Reason = "UnexpectedPromotion"

// ReasonIncomplete: an upgrade cannot complete yet because a member of the
// workload is missing, down, unhealthy or not caught up.
const ReasonIncomplete Reason = "CompletionPending"

// CompletionGate returns the gate that holds the completion of an upgrade
// onto workload, or nil when it may complete in this observation (S5): the
// Raft view is complete, the workload has exactly want members, each one up,
// healthy and caught up (CaughtUp), and the leader is one of them. Version
// checks are the strategy's (they compare versions as semver).
func CompletionGate(obs *Observation, workload string, want int, c CatchUp) *Gate {
	if g := CheckView(obs); g != nil {
		return g
	}
	n := 0
	for i := range obs.Members {
		m := &obs.Members[i]
		if m.Workload != workload {
			continue
		}
		n++
		if g := CaughtUp(obs, *m, c); g != nil {
			g.Message = "the upgrade completes only with every member up and caught up: " + g.Message
			return g
		}
	}
	if n != want {
		return &Gate{Name: GatePodReady, Reason: ReasonIncomplete,
			Message: fmt.Sprintf("%d of %d members of %s observed; the upgrade completes only with all of them", n, want, workload)}
	}
	if l := leaderOf(obs); l == nil || l.Workload != workload {
		return &Gate{Name: GateLeader, Reason: ReasonNoLeader,
			Message: "the upgrade completes only while a member of " + workload + " leads"}
	}
	return nil
}

// podServing reports whether m's pod exists and is ready, and is not
// being deleted.
func podServing(m *Member) bool {
	return m.Pod.Exists && m.Pod.Ready && !m.Pod.Terminating
}
