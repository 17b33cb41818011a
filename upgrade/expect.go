package upgrade

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExpectKind names an effect an acting Decision expects to observe.
type ExpectKind string

// Expectation kinds, one per action that changes the cluster.
const (
	// ExpectPartition: Workload's partition is Number and its generation is
	// above Generation (the change was made, not an old cache).
	ExpectPartition ExpectKind = "Partition"
	// ExpectTemplate: Workload's template image is Value and its generation
	// is above Generation.
	ExpectTemplate ExpectKind = "Template"
	// ExpectPodReplaced: the pod of Member with UID Value is gone: absent,
	// terminating, or replaced by another incarnation.
	ExpectPodReplaced ExpectKind = "PodReplaced"
	// ExpectLeaderMoved: Member no longer leads, or the term is above Number
	// (an election happened, whoever won it).
	ExpectLeaderMoved ExpectKind = "LeaderMoved"
	// ExpectMember: Member is in the Raft configuration.
	ExpectMember ExpectKind = "Member"
	// ExpectVoter: Member is a voter.
	ExpectVoter ExpectKind = "Voter"
	// ExpectNonvoter: Member is a non-voter.
	ExpectNonvoter ExpectKind = "Nonvoter"
	// ExpectAbsent: Member is out of the Raft configuration.
	ExpectAbsent ExpectKind = "Absent"
	// ExpectService: the service targets Workload.
	ExpectService ExpectKind = "Service"
	// ExpectWorkload: Workload exists.
	ExpectWorkload ExpectKind = "Workload"
	// ExpectNoWorkload: Workload is gone.
	ExpectNoWorkload ExpectKind = "NoWorkload"
	// ExpectLock: the operation lock is held by Value.
	ExpectLock ExpectKind = "Lock"
	// ExpectUnlocked: the operation lock is not held by Value.
	ExpectUnlocked ExpectKind = "Unlocked"
)

// Expectation is one effect an acting Decision expects the next
// observations to show (the approach of kube-controller-manager's
// ControllerExpectations): the next Step acts only once the observation
// shows every effect, or once they are overdue.
type Expectation struct {
	// Kind is the effect.
	Kind ExpectKind `json:"kind"`
	// Workload, Member, Value, Number and Generation are its arguments (see
	// the kinds).
	Workload   string `json:"workload,omitempty"`
	Member     string `json:"member,omitempty"`
	Value      string `json:"value,omitempty"`
	Number     int64  `json:"number,omitempty"`
	Generation int64  `json:"generation,omitempty"`
}

// Expectations are the effects the last acting Decision expects, and when
// it was made.
type Expectations struct {
	// Items are the effects, in the order of the actions.
	Items []Expectation `json:"items"`
	// Since is Observation.Now of the Step that decided (one-second
	// precision).
	Since metav1.Time `json:"since"`
}

// Met reports whether obs shows the effect.
func (e Expectation) Met(obs *Observation) bool {
	member := func() (Member, bool) { return obs.Member(e.Member) }
	switch e.Kind {
	case ExpectPartition:
		w, ok := obs.Workload(e.Workload)
		return ok && int64(w.Partition) == e.Number && w.Generation > e.Generation
	case ExpectTemplate:
		w, ok := obs.Workload(e.Workload)
		return ok && w.Image == e.Value && w.Generation > e.Generation
	case ExpectPodReplaced:
		m, ok := member()
		return !ok || !m.Pod.Exists || m.Pod.Terminating || m.Pod.UID != e.Value
	case ExpectLeaderMoved:
		if !obs.Raft.Known || obs.Raft.LeaderUnknown {
			return false
		}
		if int64(obs.Raft.Term) > e.Number {
			return true
		}
		l, ok := obs.Leader()
		return ok && l.Name != e.Member
	case ExpectMember:
		m, ok := member()
		return ok && obs.Raft.Known && !m.Raft.Unknown && m.Raft.Present
	case ExpectVoter:
		m, ok := member()
		return ok && obs.Raft.Known && !m.Raft.Unknown && m.IsVoter()
	case ExpectNonvoter:
		m, ok := member()
		return ok && obs.Raft.Known && !m.Raft.Unknown && m.IsNonvoter()
	case ExpectAbsent:
		m, ok := member()
		return obs.Raft.Known && (!ok || (!m.Raft.Unknown && !m.Raft.Present))
	case ExpectService:
		return obs.Service.Workload == e.Workload
	case ExpectWorkload:
		_, ok := obs.Workload(e.Workload)
		return ok
	case ExpectNoWorkload:
		_, ok := obs.Workload(e.Workload)
		return !ok
	case ExpectLock:
		return obs.Lock.Holder == e.Value
	case ExpectUnlocked:
		return obs.Lock.Holder != e.Value
	}
	return true
}

// String renders the expectation for gates and events.
func (e Expectation) String() string {
	switch e.Kind {
	case ExpectPartition:
		return fmt.Sprintf("partition of %s at %d", e.Workload, e.Number)
	case ExpectTemplate:
		return fmt.Sprintf("template of %s at %s", e.Workload, e.Value)
	case ExpectPodReplaced:
		return fmt.Sprintf("pod %s (%s) replaced", e.Member, e.Value)
	case ExpectLeaderMoved:
		return fmt.Sprintf("leadership away from %s (or a term above %d)", e.Member, e.Number)
	case ExpectMember:
		return e.Member + " in the raft configuration"
	case ExpectVoter:
		return e.Member + " a voter"
	case ExpectNonvoter:
		return e.Member + " a non-voter"
	case ExpectAbsent:
		return e.Member + " out of the raft configuration"
	case ExpectService:
		return "service on " + e.Workload
	case ExpectWorkload:
		return "workload " + e.Workload + " created"
	case ExpectNoWorkload:
		return "workload " + e.Workload + " deleted"
	case ExpectLock:
		return "lock held by " + e.Value
	case ExpectUnlocked:
		return "lock released by " + e.Value
	}
	return string(e.Kind)
}

// ReasonAwaitingEffects: the last acting Decision's effects are not
// observed yet; the Step waits (GateStaleObservation).
const ReasonAwaitingEffects Reason = "AwaitingEffects"
