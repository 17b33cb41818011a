package upgrade

// simMember is the safety-relevant state of one member during Check.
type simMember struct {
	m        *Member // into obs.Members, read only
	voter    bool
	present  bool
	up       bool // serving and caught up
	disrupt  bool // disrupted by an earlier action of the list
	restart  bool // restarted (or demoted / removed) by an earlier action
	workload string
}

// simWorkload is the partition and template state of a workload during Check.
type simWorkload struct {
	name      string
	partition int32
	templated bool // UpdateTemplate earlier in the list
}

type simState struct {
	obs       *Observation
	blind     *Gate // the view is unknown or partial (CheckView)
	members   []simMember
	leader    int // index into members, -1 when none
	moving    bool
	workloads []simWorkload
	voterHits int
	changes   int
}

// newSim builds the simulation of obs.
func newSim(obs *Observation, c CatchUp) simState {
	s := simState{obs: obs, leader: -1, blind: CheckView(obs),
		members: make([]simMember, 0, len(obs.Members)), workloads: make([]simWorkload, 0, len(obs.Workloads))}
	c = c.WithDefaults()
	leader := leaderOf(obs)
	hasLeader := leader != nil
	for i := range obs.Members {
		m := &obs.Members[i]
		s.members = append(s.members, simMember{
			m: m, voter: m.IsVoter(), present: m.Raft.Present,
			up: catchUpLag(obs, m, leader, hasLeader, c) == lagNone, workload: m.Workload,
		})
		if hasLeader && m.Name == leader.Name {
			s.leader = i
		}
	}
	for _, w := range obs.Workloads {
		s.workloads = append(s.workloads, simWorkload{name: w.Name, partition: w.Partition})
	}
	return s
}

// workload returns the simulated state of a workload (nil when unknown).
func (s *simState) workload(name string) *simWorkload {
	for i := range s.workloads {
		if s.workloads[i].name == name {
			return &s.workloads[i]
		}
	}
	return nil
}

func (s *simState) find(name string) int {
	for i := range s.members {
		if s.members[i].m.Name == name {
			return i
		}
	}
	return -1
}

func (s *simState) counts() (voters, healthy int) {
	for _, m := range s.members {
		if m.voter {
			voters++
			if m.up && !m.disrupt {
				healthy++
			}
		}
	}
	return voters, healthy
}

// CanDisrupt reports whether the named voter may be restarted (or demoted /
// removed) now: it is not the leader, no other voter is disrupted, and the
// healthy voters left still form a quorum with failure tolerance to spare.
// It returns nil when allowed, or the gate that holds.
func (s Safety) CanDisrupt(obs *Observation, member string) *Gate {
	sim := newSim(obs, s.CatchUp)
	i := sim.find(member)
	if i < 0 {
		return &Gate{Name: GateQuorum, Reason: ReasonPodMissing, Member: member, Message: "no such member " + member}
	}
	_, g := s.disruptVoter(&sim, i, disruptDelete)
	return g
}

// disruptKind is how an action disrupts a member.
type disruptKind uint8

const (
	disruptRestart disruptKind = iota // a controller restarts the pod (partition)
	disruptDelete                     // the pod is deleted gracefully (DeletePod)
	disruptShrink                     // the member leaves the voter set (Demote, RemovePeer)
)

func memberOf(a Action) string {
	switch a := a.(type) {
	case Demote:
		return a.Member
	case RemovePeer:
		return a.Member
	}
	return ""
}

// needsSim reports whether checking actions reads the simulated members or
// workloads (every action but the few that never touch either).
func needsSim(actions []Action) bool {
	for _, a := range actions {
		switch a.(type) {
		case AcquireLock, ReleaseLock, TakeSnapshot, RunHook, CreateRevision:
		default:
			return true
		}
	}
	return false
}
