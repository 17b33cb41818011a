package contract

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// ExpectationsOf returns the effects actions, decided on obs, are expected
// to have; nil when none (events, hooks and snapshots expect nothing the
// strategies wait on this way).
func ExpectationsOf(obs *upgrade.Observation, actions []upgrade.Action) *upgrade.Expectations {
	var items []upgrade.Expectation
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
		case upgrade.SetPartition:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectPartition, Workload: a.Workload, Number: int64(a.Partition), Generation: gen(a.Workload)})
		case upgrade.UpdateTemplate:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectTemplate, Workload: a.Workload, Value: a.Image, Generation: gen(a.Workload)})
		case upgrade.DeletePod:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectPodReplaced, Member: a.Member, Value: a.UID})
		case upgrade.TransferLeadership:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectLeaderMoved, Member: a.From, Number: int64(obs.Raft.Term)})
		case upgrade.StepDown:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectLeaderMoved, Member: a.Member, Number: int64(obs.Raft.Term)})
		case upgrade.JoinNonvoter:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectMember, Member: a.Member})
		case upgrade.Promote:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectVoter, Member: a.Member})
		case upgrade.Demote:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectNonvoter, Member: a.Member})
		case upgrade.RemovePeer:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectAbsent, Member: a.Member})
		case upgrade.SwitchService:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectService, Workload: a.Workload})
		case upgrade.CreateRevision:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectWorkload, Workload: a.Workload})
		case upgrade.DeleteRevision:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectNoWorkload, Workload: a.Workload})
		case upgrade.AcquireLock:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectLock, Value: a.Holder})
		case upgrade.ReleaseLock:
			items = append(items, upgrade.Expectation{Kind: upgrade.ExpectUnlocked, Value: a.Holder})
		}
	}
	if len(items) == 0 {
		return nil
	}
	return &upgrade.Expectations{Items: items, Since: upgrade.Time(obs.Now)}
}

// CheckExpected decides what a Step does about the expectations the
// persisted status carries: wait (a gate, the status returned unchanged),
// or go on (done is true when they were met or are overdue after timeout,
// and the status must drop them). Without expectations it returns nil,
// false. Decisions act only on observations that show their predecessor's
// effects, so an observation from before them (a stale cache) is never
// acted on, and no clock granularity limits how soon a Step may act.
func CheckExpected(obs *upgrade.Observation, st *upgrade.Status, timeout time.Duration) (wait *upgrade.Gate, done bool) {
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
	return &upgrade.Gate{Name: upgrade.GateStaleObservation, Reason: upgrade.ReasonAwaitingEffects,
		Message: "waiting to observe the effects of the last decision: " + strings.Join(pending, "; ")}, false
}

// Unchanged returns a copy of *in when out, the status a waiting Step (no
// actions) produced from it, differs only in its conditions' messages (same
// types, statuses and reasons, so the same transition times), and out
// otherwise. A Step that only waits thereby returns the very status it was
// given, and
// a host never writes status while nothing changes; a changed reason or
// status, or any other field, is a change and is kept.
func Unchanged(in *upgrade.Status, out upgrade.Status) upgrade.Status {
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
	if !sameStatus(&out, in) {
		return out
	}
	out.Conditions = slices.Clone(in.Conditions) // values only: a deep copy
	return out
}

// CheckFresh returns a StaleObservation gate when obs must not be acted on
// given the persisted status, or nil when it may: an observation from
// before the last acting Step (at the status' one-second precision), or
// from a Raft term below upgrade.Status.ObservedTerm. An observation from the same
// second as the last acting Step passes: the Step's expectations
// (CheckExpected) decide whether it shows that Step's effects, so a host may
// act again as soon as it observes them. Both strategies apply this rule
// before acting; RecordStep maintains the fields it reads.
func CheckFresh(obs *upgrade.Observation, status *upgrade.Status) *upgrade.Gate {
	if t := status.LastStepTime.Time; !t.IsZero() && obs.Now.UTC().Truncate(time.Second).Before(t) {
		return &upgrade.Gate{Name: upgrade.GateStaleObservation, Reason: upgrade.ReasonObservationNotNewer,
			Message: fmt.Sprintf("observation from %s is older than the last step at %s",
				obs.Now.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))}
	}
	if obs.Raft.Known && obs.Raft.Term < status.ObservedTerm {
		return &upgrade.Gate{Name: upgrade.GateStaleObservation, Reason: upgrade.ReasonTermRegressed,
			Message: fmt.Sprintf("observed raft term %d is below the term %d already seen", obs.Raft.Term, status.ObservedTerm)}
	}
	return nil
}

// CheckGeneration returns a StaleObservation gate when w's generation is
// below floor, the highest generation of it an earlier Step of the upgrade
// saw, or nil: the observation comes from a cache older than that Step.
func CheckGeneration(w *upgrade.Workload, floor int64) *upgrade.Gate {
	if w.Generation >= floor {
		return nil
	}
	return &upgrade.Gate{Name: upgrade.GateStaleObservation, Reason: upgrade.ReasonWorkloadRegressed,
		Message: fmt.Sprintf("workload %s at generation %d is older than generation %d already seen (a workload recreated mid-upgrade needs a retry request)",
			w.Name, w.Generation, floor)}
}

// RecordStep stamps s after a Step that acted on obs: LastStepTime
// becomes obs.Now and ObservedTerm the highest term seen.
func RecordStep(s *upgrade.Status, obs *upgrade.Observation) {
	s.LastStepTime = upgrade.Time(obs.Now)
	RecordTerm(s, obs)
}

// RecordTerm raises s.ObservedTerm to the observation's term when it is known
// and higher.
func RecordTerm(s *upgrade.Status, obs *upgrade.Observation) {
	if obs.Raft.Known && obs.Raft.Term > s.ObservedTerm {
		s.ObservedTerm = obs.Raft.Term
	}
}

// MicroCeil is t rounded up to the microsecond, the precision of a
// metav1.MicroTime in JSON: a window measured from it never ends early and
// survives a status round trip unchanged.
func MicroCeil(t time.Time) metav1.MicroTime {
	tr := t.UTC().Truncate(time.Microsecond)
	if tr.Before(t.UTC()) {
		tr = tr.Add(time.Microsecond)
	}
	return metav1.NewMicroTime(tr)
}

// TimeCeil is Time rounded up to the next whole second. Use it for the start
// of a minimum window (sync duration, stabilization): measured from a
// rounded-up start, a window never ends early, whereas a truncated start
// could end it up to a second early.
func TimeCeil(t time.Time) metav1.Time {
	tr := t.UTC().Truncate(time.Second)
	if tr.Before(t.UTC()) {
		tr = tr.Add(time.Second)
	}
	return metav1.NewTime(tr)
}
