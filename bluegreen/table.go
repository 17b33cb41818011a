package bluegreen

import (
	"github.com/looplab/fsm"

	"github.com/raftshift/raftshift/upgrade"
)

// Phase is a blue-green phase, persisted in UpgradeStatus.Phase.
type Phase string

// Phases of the blue-green strategy. Idle is not persisted (Status.Upgrade
// is nil while idle).
const (
	PhaseIdle                   Phase = "Idle"
	PhaseDeployingGreen         Phase = "DeployingGreen"
	PhaseJoiningMesh            Phase = "JoiningMesh"
	PhaseSyncing                Phase = "Syncing"
	PhaseValidating             Phase = "Validating"
	PhaseAwaitingPromotion      Phase = "AwaitingPromotion"
	PhasePromoting              Phase = "Promoting"
	PhaseTransferringLeadership Phase = "TransferringLeadership"
	PhaseDemotingBlue           Phase = "DemotingBlue"
	PhaseStabilizing            Phase = "Stabilizing"
	PhaseCleanup                Phase = "Cleanup"
	PhaseAborting               Phase = "Aborting"
	PhaseRestoringBlue          Phase = "RollbackRestoringBlue"
	PhaseRollbackLeadership     Phase = "RollbackTransferringLeadership"
	PhaseDemotingGreen          Phase = "RollbackDemotingGreen"
	PhaseRollbackCleanup        Phase = "RollbackCleanup"
	PhaseBreakGlass             Phase = "BreakGlass"
)

// Event is a transition trigger of the blue-green table.
type Event string

// Events of the blue-green table.
const (
	EventStart          Event = "Start"
	EventGreenReady     Event = "GreenReady"
	EventJoined         Event = "Joined"
	EventSynced         Event = "Synced"
	EventValidated      Event = "Validated"
	EventPromote        Event = "Promote"
	EventPromoted       Event = "Promoted"
	EventLeaderOnGreen  Event = "LeaderOnGreen"
	EventLeaderLost     Event = "LeaderLost"
	EventBlueDemoted    Event = "BlueDemoted"
	EventStabilized     Event = "Stabilized"
	EventCompleted      Event = "Completed"
	EventAbort          Event = "Abort"
	EventAborted        Event = "Aborted"
	EventRollback       Event = "Rollback"
	EventBlueRestored   Event = "BlueRestored"
	EventLeaderOnBlue   Event = "LeaderOnBlue"
	EventGreenDemoted   Event = "GreenDemoted"
	EventRolledBack     Event = "RolledBack"
	EventBreakGlass     Event = "EnterBreakGlass"
	EventAcknowledged   Event = "Acknowledged"
	EventResumeRollback Event = "ResumeRollback"
)

// table is the blue-green transition table. Step checks every phase change
// against it with table.Next.
var table = upgrade.Table[Phase, Event]{
	Initial: PhaseIdle,
	Transitions: []upgrade.Transition[Phase, Event]{
		{From: PhaseIdle, Event: EventStart, To: PhaseDeployingGreen},
		{From: PhaseDeployingGreen, Event: EventGreenReady, To: PhaseJoiningMesh},
		{From: PhaseJoiningMesh, Event: EventJoined, To: PhaseSyncing},
		{From: PhaseSyncing, Event: EventSynced, To: PhaseValidating},
		{From: PhaseValidating, Event: EventValidated, To: PhaseAwaitingPromotion},
		{From: PhaseAwaitingPromotion, Event: EventPromote, To: PhasePromoting},
		{From: PhasePromoting, Event: EventPromoted, To: PhaseTransferringLeadership},
		{From: PhaseTransferringLeadership, Event: EventLeaderOnGreen, To: PhaseDemotingBlue},
		{From: PhaseDemotingBlue, Event: EventLeaderLost, To: PhaseTransferringLeadership},
		{From: PhaseDemotingBlue, Event: EventBlueDemoted, To: PhaseStabilizing},
		{From: PhaseStabilizing, Event: EventStabilized, To: PhaseCleanup},
		{From: PhaseCleanup, Event: EventCompleted, To: PhaseIdle},

		// Before any green voter: abort (delete green, touch nothing else).
		{From: PhaseDeployingGreen, Event: EventAbort, To: PhaseAborting},
		{From: PhaseJoiningMesh, Event: EventAbort, To: PhaseAborting},
		{From: PhaseSyncing, Event: EventAbort, To: PhaseAborting},
		{From: PhaseValidating, Event: EventAbort, To: PhaseAborting},
		{From: PhaseAwaitingPromotion, Event: EventAbort, To: PhaseAborting},
		{From: PhasePromoting, Event: EventAbort, To: PhaseAborting},
		{From: PhaseAborting, Event: EventAborted, To: PhaseIdle},

		// After a green voter, before the point of no return: roll back.
		// A green voter can exist in any forward phase (a Promote executed
		// by a host that crashed before persisting, or a workload that
		// promotes non-voters on its own): those phases roll back too.
		{From: PhaseDeployingGreen, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseJoiningMesh, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseSyncing, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseValidating, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseAwaitingPromotion, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseAborting, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhasePromoting, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseTransferringLeadership, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseDemotingBlue, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseStabilizing, Event: EventRollback, To: PhaseRestoringBlue},
		{From: PhaseRestoringBlue, Event: EventBlueRestored, To: PhaseRollbackLeadership},
		{From: PhaseRollbackLeadership, Event: EventLeaderOnBlue, To: PhaseDemotingGreen},
		{From: PhaseDemotingGreen, Event: EventLeaderLost, To: PhaseRollbackLeadership},
		{From: PhaseDemotingGreen, Event: EventGreenDemoted, To: PhaseRollbackCleanup},
		{From: PhaseRollbackCleanup, Event: EventRolledBack, To: PhaseIdle},
		// A rollback step found blue incomplete again (a blue member was
		// lost and rejoined): restore it first.
		{From: PhaseRollbackLeadership, Event: EventResumeRollback, To: PhaseRestoringBlue},
		{From: PhaseDemotingGreen, Event: EventResumeRollback, To: PhaseRestoringBlue},

		// Repair cannot proceed safely: halt for a human (S7).
		{From: PhaseAborting, Event: EventBreakGlass, To: PhaseBreakGlass},
		{From: PhaseRestoringBlue, Event: EventBreakGlass, To: PhaseBreakGlass},
		{From: PhaseRollbackLeadership, Event: EventBreakGlass, To: PhaseBreakGlass},
		{From: PhaseDemotingGreen, Event: EventBreakGlass, To: PhaseBreakGlass},
		{From: PhaseRollbackCleanup, Event: EventBreakGlass, To: PhaseBreakGlass},
		// After the exact nonce is acknowledged, the rollback resumes from
		// its first step (every rollback step skips work already done).
		{From: PhaseBreakGlass, Event: EventAcknowledged, To: PhaseRestoringBlue},
	},
}

// Table returns a copy of the blue-green strategy's transition table: every phase
// change Step makes is checked against it (a host cannot change what Step
// does by editing the copy).
func Table() upgrade.Table[Phase, Event] { return table.Clone() }

// FSM returns a fresh looplab/fsm machine built from Table, positioned at
// phase. It is for validation and visualisation; Step never uses it. Build
// one per goroutine.
func FSM(phase Phase) *fsm.FSM { return table.FSM(phase) }

// Mermaid renders Table as a Mermaid state diagram.
func Mermaid() string { return table.Mermaid() }
