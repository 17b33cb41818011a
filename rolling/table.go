package rolling

import (
	"github.com/looplab/fsm"

	"github.com/raftshift/raftshift/upgrade"
)

// Phase is a phase of the rolling upgrade state machine. It is persisted in
// upgrade.UpgradeStatus.Phase (Idle is represented by a nil Upgrade).
type Phase string

// Phases of a rolling upgrade.
const (
	// PhaseIdle: no upgrade in flight; Step watches for drift between the
	// spec and the status' current version.
	PhaseIdle Phase = "Idle"
	// PhaseLocking: the operation lock is taken and the StatefulSet
	// partition is raised to the replica count, so no pod can change when
	// the template does. Step waits for the observation to confirm both and
	// for the controller to settle.
	PhaseLocking Phase = "Locking"
	// PhaseSnapshotting: the optional pre-upgrade snapshot is taken and Step
	// waits for a backup that succeeded after the upgrade started.
	PhaseSnapshotting Phase = "Snapshotting"
	// PhaseTemplating: the pod template is changed to the target version and
	// Step waits for the controller to publish the new update revision.
	PhaseTemplating Phase = "Templating"
	// PhaseRolling: Step picks the next ordinal (highest first), skipping
	// pods already at the update revision, and finalizes once none is left.
	PhaseRolling Phase = "Rolling"
	// PhaseMovingLeader: the pod whose turn it is leads; leadership was asked
	// to move and Step waits for another voter to lead.
	PhaseMovingLeader Phase = "MovingLeader"
	// PhaseRestarting: the partition was lowered to the ordinal; Step waits
	// for the controller to replace the pod with one at the update revision.
	PhaseRestarting Phase = "Restarting"
	// PhaseVerifying: the new pod exists; Step waits until it is ready, Raft
	// healthy, caught up and stable on the target version.
	PhaseVerifying Phase = "Verifying"
)

// Event is an input of the rolling state machine.
type Event string

// Events of a rolling upgrade.
const (
	// EventStart: drift detected, policy and prerequisites passed.
	EventStart Event = "Start"
	// EventLocked: lock held, partition locks every pod, controller settled.
	EventLocked Event = "Locked"
	// EventSnapshotTaken: a backup newer than the upgrade's start exists.
	EventSnapshotTaken Event = "SnapshotTaken"
	// EventRetrySnapshot: no backup succeeded or runs a while after the
	// snapshot was requested; it is requested again.
	EventRetrySnapshot Event = "RetrySnapshot"
	// EventSnapshotSkipped: no pre-upgrade snapshot was requested.
	EventSnapshotSkipped Event = "SnapshotSkipped"
	// EventTemplateApplied: the template is at the target and settled.
	EventTemplateApplied Event = "TemplateApplied"
	// EventLeaderSelected: the next pod to restart leads; leadership moves.
	EventLeaderSelected Event = "LeaderSelected"
	// EventLeaderMoved: another member leads now.
	EventLeaderMoved Event = "LeaderMoved"
	// EventRetryTransfer: leadership did not move in time; ask again.
	EventRetryTransfer Event = "RetryTransfer"
	// EventPodSelected: the partition was lowered to the next ordinal.
	EventPodSelected Event = "PodSelected"
	// EventForceRestart: the controller will not replace a pod that is not
	// ready (OrderedReady); the pod is deleted explicitly.
	EventForceRestart Event = "ForceRestart"
	// EventLeaderChanged: the pod about to be restarted became the leader
	// before the controller replaced it; the partition is raised again and
	// leadership is moved first.
	EventLeaderChanged Event = "LeaderChanged"
	// EventReselect: the ordinal being restarted or verified must be
	// selected again: the partition no longer admits it (a lost or reverted
	// partition change) or its new pod came back at the old revision.
	EventReselect Event = "Reselect"
	// EventPodRestarted: a pod at the update revision replaced the old one.
	EventPodRestarted Event = "PodRestarted"
	// EventPodVerified: the new pod is ready, healthy, caught up and stable.
	EventPodVerified Event = "PodVerified"
	// EventCompleted: every pod runs the target; the upgrade is finalized.
	EventCompleted Event = "Completed"
	// EventTargetChanged: the spec's target changed mid-upgrade; the plan
	// restarts safely from the current state.
	EventTargetChanged Event = "TargetChanged"
	// EventTemplateDrift: past templating, the workload's template is not
	// at the target (changed by someone else, or seen applied through a
	// stale cache); the plan restarts from Locking.
	EventTemplateDrift Event = "TemplateDrift"
)

// table is the rolling strategy's transition table. Every phase change made
// by Step is checked against it with table.Next.
var table = upgrade.Table[Phase, Event]{
	Initial: PhaseIdle,
	Transitions: []upgrade.Transition[Phase, Event]{
		{From: PhaseIdle, Event: EventStart, To: PhaseLocking},
		{From: PhaseLocking, Event: EventLocked, To: PhaseSnapshotting},
		{From: PhaseSnapshotting, Event: EventSnapshotTaken, To: PhaseTemplating},
		{From: PhaseSnapshotting, Event: EventSnapshotSkipped, To: PhaseTemplating},
		{From: PhaseSnapshotting, Event: EventRetrySnapshot, To: PhaseSnapshotting},
		{From: PhaseTemplating, Event: EventTemplateApplied, To: PhaseRolling},
		{From: PhaseRolling, Event: EventLeaderSelected, To: PhaseMovingLeader},
		{From: PhaseMovingLeader, Event: EventRetryTransfer, To: PhaseMovingLeader},
		{From: PhaseMovingLeader, Event: EventLeaderMoved, To: PhaseRolling},
		{From: PhaseRolling, Event: EventPodSelected, To: PhaseRestarting},
		{From: PhaseRestarting, Event: EventForceRestart, To: PhaseRestarting},
		{From: PhaseRestarting, Event: EventLeaderChanged, To: PhaseRolling},
		{From: PhaseRestarting, Event: EventReselect, To: PhaseRolling},
		{From: PhaseRestarting, Event: EventPodRestarted, To: PhaseVerifying},
		{From: PhaseVerifying, Event: EventPodVerified, To: PhaseRolling},
		{From: PhaseVerifying, Event: EventReselect, To: PhaseRolling},
		{From: PhaseRolling, Event: EventCompleted, To: PhaseIdle},
		{From: PhaseLocking, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseSnapshotting, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseTemplating, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseRolling, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseMovingLeader, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseRestarting, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseVerifying, Event: EventTargetChanged, To: PhaseLocking},
		{From: PhaseRolling, Event: EventTemplateDrift, To: PhaseLocking},
		{From: PhaseMovingLeader, Event: EventTemplateDrift, To: PhaseLocking},
		{From: PhaseRestarting, Event: EventTemplateDrift, To: PhaseLocking},
		{From: PhaseVerifying, Event: EventTemplateDrift, To: PhaseLocking},
	},
}

// Table returns a copy of the rolling strategy's transition table: every phase
// change Step makes is checked against it (a host cannot change what Step
// does by editing the copy).
func Table() upgrade.Table[Phase, Event] { return table.Clone() }

// FSM returns a fresh looplab/fsm machine built from Table, positioned at
// phase. It is for hosts and tools (validation, visualisation); Step never
// builds one. The machine has no callbacks and must not be shared between
// goroutines.
func FSM(phase Phase) *fsm.FSM { return table.FSM(phase) }

// activePhase reports whether p is a phase of an upgrade in flight.
func activePhase(p Phase) bool {
	switch p {
	case PhaseLocking, PhaseSnapshotting, PhaseTemplating, PhaseRolling,
		PhaseMovingLeader, PhaseRestarting, PhaseVerifying:
		return true
	}
	return false
}
