package upgrade

import (
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sentinel errors wrapped by the strategies; test with errors.Is.
var (
	// ErrIllegalTransition means a strategy chose an edge absent from its
	// transition table (a bug, or a corrupted status).
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrInvalidSpec means the desired spec cannot be acted on.
	ErrInvalidSpec = errors.New("invalid spec")
	// ErrInvalidStatus means the persisted status is inconsistent.
	ErrInvalidStatus = errors.New("invalid status")
	// ErrInvalidObservation means the observation is inconsistent.
	ErrInvalidObservation = errors.New("invalid observation")
	// ErrUnsafe means an action list would break a Raft safety rule.
	ErrUnsafe = errors.New("unsafe action")
)

// GateName names a check that can hold an upgrade's progress.
type GateName string

// Gate names shared by the strategies.
const (
	GatePolicy           GateName = "Policy"
	GatePrerequisites    GateName = "Prerequisites"
	GateLock             GateName = "OperationLock"
	GateStaleObservation GateName = "StaleObservation"
	GateWorkloadSettled  GateName = "WorkloadSettled"
	GateSnapshot         GateName = "Snapshot"
	GatePodReady         GateName = "PodReady"
	GateRaftHealthy      GateName = "RaftHealthy"
	GateCaughtUp         GateName = "CaughtUp"
	GateStabilized       GateName = "Stabilized"
	GateQuorum           GateName = "Quorum"
	GateLeader           GateName = "Leader"
	GateLeaderTransfer   GateName = "LeaderTransfer"
	GateDeadline         GateName = "Deadline"
	GateCrashLoop        GateName = "CrashLoop"
	GateDowntime         GateName = "Downtime"
	GateHook             GateName = "Hook"
	GatePromotion        GateName = "Promotion"
	GateSync             GateName = "Sync"
	GateBreakGlass       GateName = "BreakGlass"
	GateMembership       GateName = "Membership"
)

// Reason is a machine-readable CamelCase explanation, usable as a
// metav1.Condition reason.
type Reason string

// Gate is a named refusal to progress, with a machine-readable reason.
type Gate struct {
	Name    GateName `json:"name"`
	Reason  Reason   `json:"reason"`
	Message string   `json:"message,omitempty"`
	// Member is the member the gate is about, if any.
	Member string `json:"member,omitempty"`
}

// Error makes a Gate usable as an error.
func (g *Gate) Error() string {
	if g.Member != "" {
		return "gate " + string(g.Name) + " (" + string(g.Reason) + ") on " + g.Member + ": " + g.Message
	}
	return "gate " + string(g.Name) + " (" + string(g.Reason) + "): " + g.Message
}

// Decision is what a strategy's Step returns: the status to persist, the
// actions to execute in order, the events to emit, and when to call Step
// again.
//
// The host protocol is the same for every strategy: persist Status first
// (with optimistic concurrency), then execute Actions in order, stopping at
// the first failure, then emit Events best-effort. A host that crashes
// anywhere in between calls Step again with the persisted status and a fresh
// observation; Step accepts any status it produced with any prefix of its
// actions executed.
// +kubebuilder:object:generate=false
type Decision struct {
	// Actions to execute in order; a host stops at the first failure and
	// calls Step again with a fresh observation.
	Actions []Action `json:"-"`
	// Events to emit after persisting; never among the actions.
	Events []Event `json:"events,omitempty"`
	// Status is the new status to persist (conditions included).
	Status Status `json:"status"`
	// RequeueAfter is when to call Step again at the latest (0: only on change).
	RequeueAfter time.Duration `json:"requeueAfter,omitempty"`
	// Gate is the gate holding progress, if any.
	Gate *Gate `json:"gate,omitempty"`
}

// Condition types set by the strategies.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
	ConditionBreakGlass  = "BreakGlass"
)

// SetCondition sets a condition in conds with meta.SetStatusCondition, its
// LastTransitionTime taken from now (never from the wall clock: a zero now
// gives a zero transition time) and its ObservedGeneration from generation
// (Observation.Generation). Like
// meta.SetStatusCondition it keeps the old transition time when the status
// did not change.
func SetCondition(conds *[]metav1.Condition, typ string, status metav1.ConditionStatus, reason Reason, message string,
	now time.Time, generation int64) {
	if conds == nil {
		return
	}
	c := metav1.Condition{Type: typ, Status: status, Reason: string(reason), Message: message,
		ObservedGeneration: generation, LastTransitionTime: metav1.NewTime(now.UTC().Truncate(time.Second))}
	if !now.IsZero() {
		meta.SetStatusCondition(conds, c)
		return
	}
	// meta.SetStatusCondition would read the clock for a zero time: never.
	if old := meta.FindStatusCondition(*conds, typ); old != nil {
		if old.Status == status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	*conds = append(*conds, c)
}

// Time converts an observation time to a status timestamp at the precision
// that survives a JSON round trip (one second).
func Time(t time.Time) metav1.Time { return metav1.NewTime(t.UTC().Truncate(time.Second)) }
