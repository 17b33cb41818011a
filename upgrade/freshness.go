package upgrade

import (
	"fmt"
	"time"
)

// Reasons of the StaleObservation gate.
const (
	// ReasonObservationNotNewer: the observation is older than the last Step
	// that acted, so it predates that Step's actions.
	ReasonObservationNotNewer Reason = "ObservationOlderThanLastStep"
	// ReasonTermRegressed: the observation's Raft term is below a term
	// already seen, so it comes from an older view of the cluster.
	ReasonTermRegressed Reason = "TermRegressed"
)

// CheckFresh returns a StaleObservation gate when obs must not be acted on
// given the persisted status, or nil when it may: an observation from
// before the last acting Step (at the status' one-second precision), or
// from a Raft term below Status.ObservedTerm. An observation from the same
// second as the last acting Step passes: the Step's expectations
// (CheckExpected) decide whether it shows that Step's effects, so a host may
// act again as soon as it observes them. Both strategies apply this rule
// before acting; RecordStep maintains the fields it reads.
func CheckFresh(obs *Observation, status *Status) *Gate {
	if t := status.LastStepTime.Time; !t.IsZero() && obs.Now.UTC().Truncate(time.Second).Before(t) {
		return &Gate{Name: GateStaleObservation, Reason: ReasonObservationNotNewer,
			Message: fmt.Sprintf("observation from %s is older than the last step at %s",
				obs.Now.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))}
	}
	if obs.Raft.Known && obs.Raft.Term < status.ObservedTerm {
		return &Gate{Name: GateStaleObservation, Reason: ReasonTermRegressed,
			Message: fmt.Sprintf("observed raft term %d is below the term %d already seen", obs.Raft.Term, status.ObservedTerm)}
	}
	return nil
}

// RecordStep stamps status after a Step that acted on obs: LastStepTime
// becomes obs.Now and ObservedTerm the highest term seen.
func (s *Status) RecordStep(obs *Observation) {
	s.LastStepTime = Time(obs.Now)
	s.RecordTerm(obs)
}

// RecordTerm raises ObservedTerm to the observation's term when it is known
// and higher.
func (s *Status) RecordTerm(obs *Observation) {
	if obs.Raft.Known && obs.Raft.Term > s.ObservedTerm {
		s.ObservedTerm = obs.Raft.Term
	}
}
