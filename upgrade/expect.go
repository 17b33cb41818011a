package upgrade

import (
	"fmt"
	"reflect"
	"strings"
	"time"

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

// ExpectationsOf returns the effects actions, decided on obs, are expected
// to have; nil when none (events, hooks and snapshots expect nothing the
// strategies wait on this way).
func ExpectationsOf(obs *Observation, actions []Action) *Expectations {
	var items []Expectation
	gen := func(w string) int64 {
		for i := range obs.Workloads {
			if obs.Workloads[i].Name == w {
				return obs.Workloads[i].Generation
			}
		}
		return 0
	}
	for _, a := range actions {
		switch a := a.(type) {
		case SetPartition:
			items = append(items, Expectation{Kind: ExpectPartition, Workload: a.Workload, Number: int64(a.Partition), Generation: gen(a.Workload)})
		case UpdateTemplate:
			items = append(items, Expectation{Kind: ExpectTemplate, Workload: a.Workload, Value: a.Image, Generation: gen(a.Workload)})
		case DeletePod:
			items = append(items, Expectation{Kind: ExpectPodReplaced, Member: a.Member, Value: a.UID})
		case TransferLeadership:
			items = append(items, Expectation{Kind: ExpectLeaderMoved, Member: a.From, Number: int64(obs.Raft.Term)})
		case StepDown:
			items = append(items, Expectation{Kind: ExpectLeaderMoved, Member: a.Member, Number: int64(obs.Raft.Term)})
		case JoinNonvoter:
			items = append(items, Expectation{Kind: ExpectMember, Member: a.Member})
		case Promote:
			items = append(items, Expectation{Kind: ExpectVoter, Member: a.Member})
		case Demote:
			items = append(items, Expectation{Kind: ExpectNonvoter, Member: a.Member})
		case RemovePeer:
			items = append(items, Expectation{Kind: ExpectAbsent, Member: a.Member})
		case SwitchService:
			items = append(items, Expectation{Kind: ExpectService, Workload: a.Workload})
		case CreateRevision:
			items = append(items, Expectation{Kind: ExpectWorkload, Workload: a.Workload})
		case DeleteRevision:
			items = append(items, Expectation{Kind: ExpectNoWorkload, Workload: a.Workload})
		case AcquireLock:
			items = append(items, Expectation{Kind: ExpectLock, Value: a.Holder})
		case ReleaseLock:
			items = append(items, Expectation{Kind: ExpectUnlocked, Value: a.Holder})
		}
	}
	if len(items) == 0 {
		return nil
	}
	return &Expectations{Items: items, Since: Time(obs.Now)}
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

// CheckExpected decides what a Step does about the expectations the
// persisted status carries: wait (a gate, the status returned unchanged),
// or go on (done is true when they were met or are overdue after timeout,
// and the status must drop them). Without expectations it returns nil,
// false. Decisions act only on observations that show their predecessor's
// effects, so an observation from before them (a stale cache) is never
// acted on, and no clock granularity limits how soon a Step may act.
func CheckExpected(obs *Observation, st *Status, timeout time.Duration) (wait *Gate, done bool) {
	e := st.Expected
	if e == nil {
		return nil, false
	}
	var pending []string
	for _, x := range e.Items {
		if !x.Met(obs) {
			pending = append(pending, x.String())
		}
	}
	if len(pending) == 0 || obs.Now.Sub(e.Since.Time) >= timeout {
		return nil, true
	}
	return &Gate{Name: GateStaleObservation, Reason: ReasonAwaitingEffects,
		Message: "waiting to observe the effects of the last decision: " + strings.Join(pending, "; ")}, false
}

// Unchanged returns *in when out, the status a waiting Step (no actions)
// produced from it, differs only in its conditions' messages (same types,
// statuses and reasons, so the same transition times), and out otherwise.
// A Step that only waits thereby returns the very status it was given, and
// a host never writes status while nothing changes; a changed reason or
// status, or any other field, is a change and is kept.
func Unchanged(in *Status, out Status) Status {
	if len(in.Conditions) != len(out.Conditions) {
		return out
	}
	for i := range out.Conditions {
		c, p := &out.Conditions[i], &in.Conditions[i]
		if c.Type != p.Type || c.Status != p.Status || c.Reason != p.Reason ||
			!c.LastTransitionTime.Equal(&p.LastTransitionTime) || c.ObservedGeneration != p.ObservedGeneration {
			return out
		}
	}
	conds := out.Conditions
	out.Conditions = in.Conditions
	same := reflect.DeepEqual(&out, in)
	out.Conditions = conds
	if !same {
		return out
	}
	return *in.DeepCopy()
}
