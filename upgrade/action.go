package upgrade

import (
	"fmt"
	"slices"
	"strings"
)

// ActionKind is the stable, machine-readable name of an Action type.
type ActionKind string

// Action kinds. The set is closed: every Action is one of the types below.
const (
	KindAcquireLock        ActionKind = "AcquireLock"
	KindReleaseLock        ActionKind = "ReleaseLock"
	KindSetPartition       ActionKind = "SetPartition"
	KindUpdateTemplate     ActionKind = "UpdateTemplate"
	KindTransferLeadership ActionKind = "TransferLeadership"
	KindStepDown           ActionKind = "StepDown"
	KindDeletePod          ActionKind = "DeletePod"
	KindCreateRevision     ActionKind = "CreateRevision"
	KindDeleteRevision     ActionKind = "DeleteRevision"
	KindJoinNonvoter       ActionKind = "JoinNonvoter"
	KindPromote            ActionKind = "Promote"
	KindDemote             ActionKind = "Demote"
	KindRemovePeer         ActionKind = "RemovePeer"
	KindSwitchService      ActionKind = "SwitchService"
	KindTakeSnapshot       ActionKind = "TakeSnapshot"
	KindRunHook            ActionKind = "RunHook"
)

// Action is one intended change to the cluster. Hosts execute the actions of
// a Decision in order and stop at the first failure. The set of Action types
// is closed (the interface has an unexported method).
//
// +kubebuilder:object:generate=false
type Action interface {
	// Kind returns the action's stable machine-readable kind.
	Kind() ActionKind
	// String returns a short human description.
	String() string
	isAction()
}

// AcquireLock takes the cluster-wide operation lock for Holder.
type AcquireLock struct {
	Holder string `json:"holder"`
}

// ReleaseLock releases the operation lock held by Holder.
type ReleaseLock struct {
	Holder string `json:"holder"`
}

// SetPartition sets the RollingUpdate partition of a workload. Lowering it
// lets the controller restart pods with ordinal >= Partition that are not at
// the update revision; raising it to Replicas locks the workload.
type SetPartition struct {
	Workload  string `json:"workload"`
	Partition int32  `json:"partition"`
}

// UpdateTemplate changes a workload's pod template to Image and Version.
// It must only be issued while the partition locks every pod.
type UpdateTemplate struct {
	Workload string `json:"workload"`
	Image    string `json:"image"`
	Version  string `json:"version"`
}

// TransferLeadership moves leadership from the current leader to a chosen
// voter (targeted transfer).
type TransferLeadership struct {
	From   string `json:"from"`
	To     string `json:"to"`
	ToID   string `json:"toId"`
	FromID string `json:"fromId"`
}

// StepDown asks the leader to step down; the cluster elects any voter.
type StepDown struct {
	Member string `json:"member"`
	ID     string `json:"id"`
}

// DeletePod deletes a pod so its controller recreates it. UID is a
// precondition: a pod already recreated under another UID is left alone.
type DeletePod struct {
	Member string `json:"member"`
	UID    string `json:"uid"`
}

// CreateRevision creates a new workload (the green StatefulSet) beside the
// existing one.
type CreateRevision struct {
	Workload string `json:"workload"`
	Image    string `json:"image"`
	Version  string `json:"version"`
	Replicas int32  `json:"replicas"`
}

// DeleteRevision deletes a workload and its pods.
type DeleteRevision struct {
	Workload string `json:"workload"`
}

// JoinNonvoter adds a member to the Raft configuration as a non-voter.
type JoinNonvoter struct {
	Member  string `json:"member"`
	ID      string `json:"id"`
	Address string `json:"address"`
}

// Promote turns a non-voter into a voter.
type Promote struct {
	Member string `json:"member"`
	ID     string `json:"id"`
}

// Demote turns a voter into a non-voter.
type Demote struct {
	Member string `json:"member"`
	ID     string `json:"id"`
}

// RemovePeer removes a member from the Raft configuration.
type RemovePeer struct {
	Member string `json:"member"`
	ID     string `json:"id"`
}

// SwitchService points the client-facing service at a workload.
type SwitchService struct {
	Service  string `json:"service"`
	Workload string `json:"workload"`
}

// TakeSnapshot takes a Raft snapshot / backup named Name.
type TakeSnapshot struct {
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
}

// RunHook runs a named validation hook; the host reports its outcome back
// through the strategy's spec or observation.
type RunHook struct {
	Hook  string `json:"hook"`
	Phase string `json:"phase"`
	// Attempt distinguishes runs of the same hook, so hosts can deduplicate.
	Attempt int32 `json:"attempt"`
}

// EventType is the severity of a recorded event.
type EventType string

// Event types (mirroring Kubernetes' Normal / Warning).
const (
	EventNormal  EventType = "Normal"
	EventWarning EventType = "Warning"
)

// Event is a human-readable record of what a Step decided (a Kubernetes
// Event, a log line). Events are returned in Decision.Events, never among
// the actions: a host emits them best-effort after persisting the status,
// and a failed event write never holds back an action.
type Event struct {
	Type    EventType `json:"type"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
}

func (AcquireLock) isAction()        {}
func (ReleaseLock) isAction()        {}
func (SetPartition) isAction()       {}
func (UpdateTemplate) isAction()     {}
func (TransferLeadership) isAction() {}
func (StepDown) isAction()           {}
func (DeletePod) isAction()          {}
func (CreateRevision) isAction()     {}
func (DeleteRevision) isAction()     {}
func (JoinNonvoter) isAction()       {}
func (Promote) isAction()            {}
func (Demote) isAction()             {}
func (RemovePeer) isAction()         {}
func (SwitchService) isAction()      {}
func (TakeSnapshot) isAction()       {}
func (RunHook) isAction()            {}

// Kind implements Action.
func (AcquireLock) Kind() ActionKind { return KindAcquireLock }

// Kind implements Action.
func (ReleaseLock) Kind() ActionKind { return KindReleaseLock }

// Kind implements Action.
func (SetPartition) Kind() ActionKind { return KindSetPartition }

// Kind implements Action.
func (UpdateTemplate) Kind() ActionKind { return KindUpdateTemplate }

// Kind implements Action.
func (TransferLeadership) Kind() ActionKind { return KindTransferLeadership }

// Kind implements Action.
func (StepDown) Kind() ActionKind { return KindStepDown }

// Kind implements Action.
func (DeletePod) Kind() ActionKind { return KindDeletePod }

// Kind implements Action.
func (CreateRevision) Kind() ActionKind { return KindCreateRevision }

// Kind implements Action.
func (DeleteRevision) Kind() ActionKind { return KindDeleteRevision }

// Kind implements Action.
func (JoinNonvoter) Kind() ActionKind { return KindJoinNonvoter }

// Kind implements Action.
func (Promote) Kind() ActionKind { return KindPromote }

// Kind implements Action.
func (Demote) Kind() ActionKind { return KindDemote }

// Kind implements Action.
func (RemovePeer) Kind() ActionKind { return KindRemovePeer }

// Kind implements Action.
func (SwitchService) Kind() ActionKind { return KindSwitchService }

// Kind implements Action.
func (TakeSnapshot) Kind() ActionKind { return KindTakeSnapshot }

// Kind implements Action.
func (RunHook) Kind() ActionKind { return KindRunHook }

func (a AcquireLock) String() string { return fmt.Sprintf("acquire operation lock for %q", a.Holder) }
func (a ReleaseLock) String() string {
	return fmt.Sprintf("release operation lock held by %q", a.Holder)
}
func (a SetPartition) String() string {
	return fmt.Sprintf("set partition of %s to %d", a.Workload, a.Partition)
}
func (a UpdateTemplate) String() string {
	return fmt.Sprintf("update template of %s to %s (%s)", a.Workload, a.Version, a.Image)
}
func (a TransferLeadership) String() string {
	return fmt.Sprintf("transfer leadership from %s to %s", a.From, a.To)
}
func (a StepDown) String() string { return fmt.Sprintf("step down leader %s", a.Member) }
func (a DeletePod) String() string {
	return fmt.Sprintf("delete pod %s (uid %s)", a.Member, a.UID)
}
func (a CreateRevision) String() string {
	return fmt.Sprintf("create workload %s with %d replicas at %s (%s)", a.Workload, a.Replicas, a.Version, a.Image)
}
func (a DeleteRevision) String() string { return fmt.Sprintf("delete workload %s", a.Workload) }
func (a JoinNonvoter) String() string {
	return fmt.Sprintf("join %s as non-voter (%s at %s)", a.Member, a.ID, a.Address)
}
func (a Promote) String() string { return fmt.Sprintf("promote %s to voter", a.Member) }
func (a Demote) String() string  { return fmt.Sprintf("demote %s to non-voter", a.Member) }
func (a RemovePeer) String() string {
	return fmt.Sprintf("remove %s from the raft configuration", a.Member)
}
func (a SwitchService) String() string {
	return fmt.Sprintf("switch service %s to %s", a.Service, a.Workload)
}
func (a TakeSnapshot) String() string { return fmt.Sprintf("take snapshot %s", a.Name) }
func (a RunHook) String() string {
	return fmt.Sprintf("run hook %s for phase %s (attempt %d)", a.Hook, a.Phase, a.Attempt)
}

// String renders the event as one line.
func (a Event) String() string {
	return fmt.Sprintf("event %s %s: %s", a.Type, a.Reason, a.Message)
}

// IsDisruptive reports whether an action can interrupt a Raft server,
// change leadership or change Raft membership. Hosts in break-glass (S7)
// must not run disruptive actions.
func IsDisruptive(a Action) bool {
	switch a.(type) {
	case AcquireLock, ReleaseLock, TakeSnapshot, RunHook:
		return false
	default:
		// Everything else can restart a pod (SetPartition is judged
		// conservatively: raising a partition restarts nothing, lowering it
		// may), move leadership or change membership.
		return true
	}
}

// AllKinds returns every ActionKind, sorted.
func AllKinds() []ActionKind {
	kinds := []ActionKind{
		KindAcquireLock, KindReleaseLock, KindSetPartition, KindUpdateTemplate,
		KindTransferLeadership, KindStepDown, KindDeletePod, KindCreateRevision,
		KindDeleteRevision, KindJoinNonvoter, KindPromote, KindDemote, KindRemovePeer,
		KindSwitchService, KindTakeSnapshot, KindRunHook,
	}
	slices.Sort(kinds)
	return kinds
}

// FormatActions renders actions one per line, for logs and golden files.
func FormatActions(actions []Action) string {
	var b strings.Builder
	for i, a := range actions {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(a.Kind()))
		b.WriteString(": ")
		b.WriteString(a.String())
	}
	return b.String()
}
