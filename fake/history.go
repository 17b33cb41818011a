package fake

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Record is the state of the cluster at the end of one tick, with what
// happened since the previous tick.
type Record struct {
	// Tick is the tick number (1 for the first tick).
	Tick int
	// Time is the simulated time at the end of the tick.
	Time time.Time
	// Term is the current Raft term.
	Term uint64
	// Leader is the leading pod's name, "" when there is none.
	Leader string
	// Voters is the size of the voter set; VotersUp counts voters that are
	// up and reachable.
	Voters, VotersUp int
	// Writable is true when a leader exists and a quorum of voters is up and
	// reachable from it.
	Writable bool
	// ServiceWorkload is the workload the service selects ("" when it
	// selects none).
	ServiceWorkload string
	// ServiceHasLeader is true when the service's workload holds the leader.
	ServiceHasLeader bool
	// Actions are the String()s of the actions applied since the previous
	// tick.
	Actions []string
	// Faults are the faults injected since the previous tick.
	Faults []string
	// Events are what happened since the previous tick (elections, pod
	// restarts, refused actions, emitted events, ...).
	Events []string
	// Elections are the leaders established since the previous tick (by
	// election or leadership transfer), in order.
	Elections []Election
	// LostCommitted counts committed log entries discarded since the previous
	// tick because a leader was elected without them. Raft never does this,
	// and neither does the model: membership changes are ordered as Raft
	// orders them (see the package documentation), so anything but 0 is a
	// bug in the simulation, checked by every history check.
	LostCommitted uint64
}

// Election is one leader establishment: Leader leads Term.
type Election struct {
	// Term is the new term.
	Term uint64
	// Leader is the pod leading it.
	Leader string
	// Previous is the last leader before this one ("" for none), however
	// long the cluster was leaderless in between.
	Previous string
}

func (r Record) clone() Record {
	r.Actions = slices.Clone(r.Actions)
	r.Faults = slices.Clone(r.Faults)
	r.Events = slices.Clone(r.Events)
	r.Elections = slices.Clone(r.Elections)
	return r
}

// String renders the record on one line, for timelines.
func (r Record) String() string {
	var b strings.Builder
	leader := r.Leader
	if leader == "" {
		leader = "-"
	}
	fmt.Fprintf(&b, "t=%d %s term=%d leader=%s voters=%d/%d", r.Tick, r.Time.UTC().Format("15:04:05"), r.Term, leader, r.VotersUp, r.Voters)
	if r.Writable {
		b.WriteString(" writable")
	} else {
		b.WriteString(" read-only")
	}
	fmt.Fprintf(&b, " svc=%s", r.ServiceWorkload)
	if r.ServiceHasLeader {
		b.WriteString("(leader)")
	}
	for _, part := range []struct {
		name  string
		items []string
	}{{"actions", r.Actions}, {"faults", r.Faults}, {"events", r.Events}} {
		if len(part.items) > 0 {
			fmt.Fprintf(&b, " | %s: %s", part.name, strings.Join(part.items, "; "))
		}
	}
	return b.String()
}

// Metrics summarises a history.
type Metrics struct {
	// LeaderChanges counts elections (or transfers) that established a
	// leader other than the previous one.
	LeaderChanges int
	// TicksWithoutLeader counts ticks ending with no leader.
	TicksWithoutLeader int
	// LongestLeaderless is the longest run of ticks without a leader.
	LongestLeaderless int
	// Elections counts leader establishments (elections and transfers).
	Elections int
	// TicksNotWritable counts ticks ending not writable.
	TicksNotWritable int
	// LostCommitted counts committed entries lost (see Record.LostCommitted);
	// anything but 0 is a bug in the simulation.
	LostCommitted uint64
}

// Summarize computes the Metrics of a history.
func Summarize(h []Record) Metrics {
	var m Metrics
	run := 0
	for _, r := range h {
		m.Elections += len(r.Elections)
		m.LostCommitted += r.LostCommitted
		for _, e := range r.Elections {
			if e.Leader != e.Previous {
				m.LeaderChanges++
			}
		}
		if !r.Writable {
			m.TicksNotWritable++
		}
		if r.Leader == "" {
			m.TicksWithoutLeader++
			run++
			m.LongestLeaderless = max(m.LongestLeaderless, run)
			continue
		}
		run = 0
	}
	return m
}

// CheckHistory checks the model's Raft invariants over a history: terms never
// decrease, every election is for a term newer than all before it, and no
// term ever has two leaders (every election and every record's leader is
// tracked per term).
func CheckHistory(h []Record) error {
	leaders := map[uint64]string{}
	var term, elected uint64
	for _, r := range h {
		for _, e := range r.Elections {
			if e.Leader == "" {
				return fmt.Errorf("tick %d: election of term %d without a leader", r.Tick, e.Term)
			}
			if e.Term <= elected {
				return fmt.Errorf("tick %d: election of term %d after term %d was elected", r.Tick, e.Term, elected)
			}
			if e.Term > r.Term {
				return fmt.Errorf("tick %d: election of term %d beyond the record's term %d", r.Tick, e.Term, r.Term)
			}
			if prev, ok := leaders[e.Term]; ok && prev != e.Leader {
				return fmt.Errorf("tick %d: term %d has two leaders, %s and %s", r.Tick, e.Term, prev, e.Leader)
			}
			leaders[e.Term] = e.Leader
			elected = e.Term
		}
		if r.Term < term {
			return fmt.Errorf("tick %d: term went back from %d to %d", r.Tick, term, r.Term)
		}
		term = r.Term
		if r.Leader == "" {
			continue
		}
		if prev, ok := leaders[r.Term]; ok && prev != r.Leader {
			return fmt.Errorf("tick %d: term %d has two leaders, %s and %s", r.Tick, r.Term, prev, r.Leader)
		}
		leaders[r.Term] = r.Leader
	}
	return nil
}
