package upgrade

import (
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"time"
)

// CatchUp defines when a member counts as caught up with the leader.
// Zero fields take the defaults of DefaultCatchUp (see WithDefaults).
type CatchUp struct {
	// MaxLag is how many log entries a member may trail the leader.
	//
	// +kubebuilder:validation:Minimum=0
	MaxLag uint64 `json:"maxLag,omitempty"`
	// MaxContact is the longest time since the leader last heard from it.
	MaxContact metav1.Duration `json:"maxContact,omitempty"`
	// Stabilization is how long it must have been healthy.
	Stabilization metav1.Duration `json:"stabilization,omitempty"`
}

// DefaultCatchUp mirrors autopilot's defaults: 1000 trailing entries, 10s
// last-contact threshold, 10s server stabilization time.
func DefaultCatchUp() CatchUp {
	return CatchUp{MaxLag: 1000, MaxContact: metav1.Duration{Duration: 10 * time.Second}, Stabilization: metav1.Duration{Duration: 10 * time.Second}}
}

// WithDefaults fills zero fields from DefaultCatchUp. A negative
// Stabilization or MaxContact means "do not check".
func (c CatchUp) WithDefaults() CatchUp {
	d := DefaultCatchUp()
	if c.MaxLag == 0 {
		c.MaxLag = d.MaxLag
	}
	if c.MaxContact.Duration == 0 {
		c.MaxContact.Duration = d.MaxContact.Duration
	}
	if c.Stabilization.Duration == 0 {
		c.Stabilization.Duration = d.Stabilization.Duration
	}
	return c
}

// CaughtUp reports whether member m is serving and caught up with the leader
// of obs under c (zero fields defaulted). It returns nil when caught up, or
// the first gate that holds. A member whose Raft state is unknown (or in an
// observation whose Raft view is unknown) is never caught up.
//
// The stabilization window counts from the member's own restart: the latest
// of its pod's StartedAt and ReadySince. Autopilot's StableSince is a
// cluster timestamp and is not used when either is known: it misses short
// restarts (predating them) and is reset for every server by each new
// leader, which must not restart the window of a member that did not
// restart. Only when the adapter reports neither pod time does StableSince
// stand in for them; when nothing is known the window is not held against
// the member. A member the strategy itself restarted is judged with
// CaughtUpAfterRestart, which also counts the strategy's own first
// observation of it caught up and autopilot's StableSince.
//
// A gate returned is newly allocated on every call: the caller may modify it.
func CaughtUp(obs *Observation, m Member, c CatchUp) *Gate {
	leader := leaderOf(obs)
	c = c.WithDefaults()
	lag := catchUpLag(obs, &m, leader, leader != nil, c)
	if lag == lagNone {
		return nil
	}
	return lagGate(obs, &m, leader, c, lag)
}

// leaderOf is obs.Leader() without copying members: a pointer into
// obs.Members, nil when there is no leader.
func leaderOf(obs *Observation) *Member {
	if obs.Raft.LeaderID != "" {
		for i := range obs.Members {
			if obs.Members[i].Raft.ID == obs.Raft.LeaderID {
				return &obs.Members[i]
			}
		}
		return nil
	}
	var found *Member
	for i := range obs.Members {
		if obs.Members[i].Raft.Leader {
			if found != nil {
				return nil
			}
			found = &obs.Members[i]
		}
	}
	return found
}

// stableStart is when m's stabilization window starts for CaughtUp: the
// latest of its pod's start and readiness, or autopilot's StableSince when
// the adapter reports neither.
func stableStart(m *Member) time.Time {
	t := m.Pod.StartedAt
	if m.Pod.ReadySince.After(t) {
		t = m.Pod.ReadySince
	}
	if t.IsZero() {
		return m.Raft.StableSince
	}
	return t
}

// CaughtUpAfterRestart is CaughtUp for a member the strategy itself
// restarted (or otherwise disrupted) and now verifies. Its stabilization
// window starts at the latest of the pod's StartedAt and ReadySince,
// observedSince — the strategy's own first observation of the member
// healthy and caught up after the restart, which it records in its status
// (zero: not observed yet, so the window starts now) — and autopilot's
// StableSince. Every one of them can only make the window end later: a
// restart autopilot missed (StableSince predating it) is still covered by
// the pod's times and the strategy's own observation.
func CaughtUpAfterRestart(obs *Observation, m Member, c CatchUp, observedSince time.Time) *Gate {
	c = c.WithDefaults()
	if g := CaughtUp(obs, m, c); g != nil {
		return g
	}
	if c.Stabilization.Duration <= 0 {
		return nil
	}
	start := obs.Now
	if !observedSince.IsZero() {
		start = observedSince
	}
	for _, t := range []time.Time{m.Pod.StartedAt, m.Pod.ReadySince, m.Raft.StableSince} {
		if t.After(start) {
			start = t
		}
	}
	stable := obs.Now.Sub(start)
	if stable >= c.Stabilization.Duration {
		return nil
	}
	if stable < 0 {
		stable = 0
	}
	return &Gate{Name: GateStabilized, Reason: ReasonNotStable, Member: m.Name,
		Message: fmt.Sprintf("%s stable for %s since its restart, needs %s", m.Name, stable.Truncate(time.Second), c.Stabilization.Duration)}
}

// lagGate builds the gate of a lag found by catchUpLag.
func lagGate(obs *Observation, m, leader *Member, c CatchUp, lag lagKind) *Gate {
	g := &Gate{Member: m.Name}
	switch lag {
	case lagPodMissing:
		g.Name, g.Reason, g.Message = GatePodReady, ReasonPodMissing, fmt.Sprintf("pod %s does not exist", m.Name)
	case lagCrashLooping:
		g.Name, g.Reason, g.Message = GatePodReady, ReasonPodCrashLooping, fmt.Sprintf("pod %s is crash-looping", m.Name)
	case lagTerminating:
		g.Name, g.Reason, g.Message = GatePodReady, ReasonPodTerminating, fmt.Sprintf("pod %s is terminating", m.Name)
	case lagPodNotReady:
		g.Name, g.Reason, g.Message = GatePodReady, ReasonPodNotReady, fmt.Sprintf("pod %s is not ready", m.Name)
	case lagNotPresent:
		g.Name, g.Reason, g.Message = GateRaftHealthy, ReasonNotInConfiguration, fmt.Sprintf("%s is not in the raft configuration", m.Name)
	case lagUnhealthy:
		g.Name, g.Reason, g.Message = GateRaftHealthy, ReasonRaftUnhealthy, fmt.Sprintf("raft reports %s unhealthy", m.Name)
	case lagNoLeader:
		g.Name, g.Reason, g.Message = GateLeader, ReasonNoLeader, "the cluster has no leader"
	case lagLog:
		g.Name, g.Reason = GateCaughtUp, ReasonLogLag
		g.Message = fmt.Sprintf("%s trails the leader by %d entries (max %d)", m.Name, leader.Raft.LastIndex-m.Raft.LastIndex, c.MaxLag)
	case lagTerm:
		g.Name, g.Reason = GateCaughtUp, ReasonTermBehind
		g.Message = fmt.Sprintf("%s last log term %d is behind the leader's %d", m.Name, m.Raft.LastTerm, leader.Raft.LastTerm)
	case lagContact:
		g.Name, g.Reason = GateCaughtUp, ReasonNoRecentContact
		g.Message = fmt.Sprintf("leader last heard from %s %s ago (max %s)", m.Name, m.Raft.LastContact, c.MaxContact.Duration)
	case lagUnknown:
		g.Name, g.Reason = GateRaftHealthy, ReasonRaftViewUnknown
		g.Message = fmt.Sprintf("the raft state of %s is unknown (the raft view is unknown or partial)", m.Name)
	case lagNotStable:
		g.Name, g.Reason = GateStabilized, ReasonNotStable
		g.Message = fmt.Sprintf("%s healthy for %s, needs %s", m.Name, obs.Now.Sub(stableStart(m)).Truncate(time.Second), c.Stabilization.Duration)
	}
	return g
}

// BestTransferTarget returns the voter leadership should move to: healthy,
// caught up, not the leader, not excluded, not older than the leader unless
// s.AllowFailback (S8, FailsBack), preferring members already at
// preferVersion, then the member up the longest (the earliest start of its
// current run: pod start or readiness, else autopilot's stable_since), then
// the highest last index, then the lowest name (fully deterministic).
//
// Up the longest rather than most recently restarted: a member that has just
// come back is still re-establishing its peer connections and warming up,
// so a transfer to it takes longer, and the leader refuses proposals while
// a transfer is under way (etcd drops them; its own hand-over on shutdown
// picks the longest-connected member for the same reason). Every candidate
// already passed the catch-up gate, so the last index only breaks ties.
// ok is false when no voter qualifies.
func (s Safety) BestTransferTarget(obs *Observation, preferVersion string, exclude func(Member) bool) (Member, bool) {
	var leaderName string
	leader := leaderOf(obs)
	if leader != nil {
		leaderName = leader.Name
	}
	c := s.CatchUp.WithDefaults()
	var best *Member
	better := func(a, b *Member) bool { // a better than b
		av, bv := a.Version == preferVersion, b.Version == preferVersion
		if av != bv {
			return av
		}
		if as, bs := stableStart(a), stableStart(b); !as.Equal(bs) {
			return as.Before(bs)
		}
		if a.Raft.LastIndex != b.Raft.LastIndex {
			return a.Raft.LastIndex > b.Raft.LastIndex
		}
		return a.Name < b.Name
	}
	for i := range obs.Members {
		m := &obs.Members[i]
		if !m.IsVoter() || m.Name == leaderName || (exclude != nil && exclude(*m)) {
			continue
		}
		if !s.AllowFailback && leader != nil && FailsBack(obs, m, leader) {
			continue // S8: never to a member older than the leader
		}
		if catchUpLag(obs, m, leader, leader != nil, c) != lagNone {
			continue
		}
		if best == nil || better(m, best) {
			best = m
		}
	}
	if best == nil {
		return Member{}, false
	}
	return *best, true
}
