// Package bluegreen is raftshift's blue-green upgrade strategy for Raft
// clusters (OpenBao first): a second workload ("green") at the target
// version joins the Raft cluster as non-voters, catches up, is validated,
// takes over the votes and the leadership, and the old workload ("blue") is
// removed — one membership change at a time, never losing quorum.
//
// Step is a pure function of (Spec, upgrade.Observation, upgrade.Status): no
// I/O, no clock (the time is Observation.Now), no randomness, no goroutines.
// It never mutates its inputs and returns identical decisions for identical
// inputs. All progress lives in the returned status (upgrade.UpgradeStatus
// with upgrade.BlueGreenProgress), so a host that crashes and restarts with
// the persisted status reaches the same outcome.
//
// # Usage
//
// A host (a Kubernetes operator, a CLI, a test with package fake) runs:
//
//	for {
//		obs := observe()                           // adapters -> upgrade.Observation
//		d, err := bluegreen.Step(spec, obs, status)
//		if err != nil {                            // bad spec/status: fix input, nothing was decided
//			report(err)
//		}
//		if persist(d.Status) != nil {              // 1. persist first (e.g. CRD status)
//			continue                               //    a failed write executes nothing
//		}
//		execute(d.Actions)                         // 2. in order, stop at the first failure
//		emit(d.Events)                             // 3. best-effort
//		wait(d.RequeueAfter)                       // 4. or until something changes
//	}
//
// This is the host protocol of package upgrade, the same for every
// strategy; a host may crash anywhere in it. A lock left held by a finished
// upgrade (a crash after persisting the final status) is released by the
// next idle Step, and so is a green workload created by a start whose
// status was never persisted, once the spec asks for another target: an
// idle Step deletes a workload named like a green one (GreenName) that
// neither serves nor is the spec target's green and holds no member of a
// known, complete Raft configuration (event StrayGreenDeleted).
//
// Decision.Gate names what holds progress (policy, prerequisites, sync,
// hook, promotion, quorum, break-glass...) with a machine-readable reason; the
// same reason is surfaced in the Progressing condition. Ready, Progressing,
// Degraded and BreakGlass conditions are maintained with
// LastTransitionTime taken from Observation.Now.
//
// # Phases
//
// The transition table (Table; diagram in testdata/bluegreen.mmd, FSM for a
// looplab/fsm machine) is checked on every phase change:
//
//	Idle -> DeployingGreen -> JoiningMesh -> Syncing -> Validating -> AwaitingPromotion
//	     -> Promoting -> TransferringLeadership -> DemotingBlue -> Stabilizing -> Cleanup -> Idle
//
// What each phase does:
//
//   - Idle: when spec.Version/Image differ from Status.CurrentVersion/Image,
//     policy.Evaluate (no downgrade, no invalid version, no skipped minor,
//     no image/version conflict) and policy.CheckPrerequisites (lock,
//     leader, every blue member ready, autopilot, failure tolerance, backups)
//     must pass, or Step returns a gate and no action (S6). Blue is the
//     workload the service selects; it needs at least two voters. The
//     upgrade starts with AcquireLock and CreateRevision.
//   - DeployingGreen: waits until every green pod is ready.
//   - JoiningMesh: JoinNonvoter, one green member per step.
//   - Syncing: every green member present, healthy and caught up
//     (upgrade.CaughtUp with Spec.CatchUp) for Spec.MinSyncDuration.Duration.
//   - Validating: RunHook(Spec.PrePromotionHook, "PrePromotion"); the
//     verdict is read from Observation.Hooks.
//   - AwaitingPromotion: see promotion modes below.
//   - Promoting: Promote, one caught-up green non-voter per step, only while
//     every voter is healthy.
//   - TransferringLeadership: TransferLeadership to
//     upgrade.Safety.BestTransferTarget among green voters when the host has
//     Capabilities.TargetedTransfer, else StepDown (an election picks any
//     up-to-date voter; it is repeated until a green voter leads, at most
//     Spec.MaxLeaderMoves times, re-issued only after the term changed).
//   - DemotingBlue: Demote, one blue voter per step, never the leader, each
//     passing upgrade.Safety.Check, the most up-to-date first (the voters
//     most likely to win an election leave first); if a blue member leads
//     again, leadership moves back to green first and the Step raises
//     Leader/LeaderVersionRegressed and the LeaderVersion condition (S8).
//     Once leadership reached green (UpgradeStatus.LeaderHighWater is the
//     target), the window in which a blue voter could still win an
//     election is this phase: it lasts at most BlueReplicas Steps (one
//     demotion per Step, each awaited in the next observation), bounded by
//     Timeouts.Step per demotion, and ends when the last blue voter is a
//     non-voter.
//   - Stabilizing: RunHook(Spec.PostPromotionHook, "PostPromotion") and
//     Spec.StabilizationWindow.Duration with every green member healthy.
//   - Cleanup: the point of no return. RemovePeer for each blue member (one
//     per step), SwitchService to green, DeleteRevision of blue, then
//     ReleaseLock and, in the same status, CurrentVersion/CurrentImage set
//     to the target, Upgrade cleared and LastResult recorded (S5).
//
// The green workload is named GreenName(base, version, image):
// "<base>-<first 8 hex digits of sha256(version NUL image)>", base being
// Spec.Workload (else Spec.Service, else the observed service name).
//
// # Promotion modes
//
// Spec.AutoPromote is snapshotted into the status when the upgrade starts;
// changing it mid-upgrade has no effect. With auto-promotion, Promoting
// follows validation immediately. Otherwise the upgrade waits in
// AwaitingPromotion (gate Promotion/AwaitingManualPromotion) until
// Spec.PromoteNonce differs from Status.Handled.Promotion; the nonce is then
// recorded as handled. Timeouts.Promotion (0: forever) aborts a promotion
// nobody approves.
//
// # Maintenance windows and pause
//
// Spec.MaintenanceWindows (UTC cron windows, see upgrade.MaintenanceWindow)
// and Spec.Paused hold the upgrade at its safe point, AwaitingPromotion:
// the promotion (Promoting through Cleanup, one disruptive step that
// finishes once started) starts only inside a window with at least
// Timeouts.Step plus StabilizationWindow left, and never while paused.
// Deploying, joining, syncing and validating green change no voter and run
// on to the safe point; a promotion nonce set while held is kept for the
// window; aborts and rollbacks are never held. Outside a window the gate
// is MaintenanceWindow, its message and RequeueAfter name the next
// opening; a pause gives gate Paused and also keeps an idle cluster from
// starting. The hold is recorded once in UpgradeStatus.Held (deadlines do
// not run while held) and the upgrade resumes from the status. Bad windows
// return an error wrapping upgrade.ErrInvalidSpec and
// upgrade.ErrInvalidWindow, as in package rolling.
//
// # Requests
//
// Requests are spec fields holding nonces, acted on once and recorded in
// Status.Handled, so re-applying the same spec (GitOps) never repeats them:
// PromoteNonce, RollbackNonce, BreakGlassAck and RetryNonce. Nonces set
// while idle are recorded when the next upgrade starts and do not affect it.
//
// # Abort and rollback
//
// Triggers: a manual rollback request; a failed or timed-out hook; a
// crash-looping green pod; green not in sync within Timeouts.Sync; no
// progress for Timeouts.Step (the step clock,
// UpgradeStatus.StepStartedAt, restarts on every new action and phase);
// an action re-issued Spec.MaxFailures times without visible effect
// (UpgradeStatus.Failures; an action is only re-issued after
// Spec.RetryAfter.Duration); leadership moves exhausted; and a spec whose target
// changed.
//
// Before any green member is (or may be) a voter the upgrade aborts
// (Aborting): green non-voters are removed from the configuration and the
// green workload is deleted; blue is not touched. LastResult is Aborted.
//
// Once a green member was promoted, the upgrade rolls back:
// RollbackRestoringBlue (re-join / promote blue members until every blue
// member votes), RollbackTransferringLeadership (leadership back to a blue
// voter), RollbackDemotingGreen (one green voter per step, unhealthy ones
// first, never the leader), RollbackCleanup (remove green peers, keep the
// service on blue, delete green), then Idle with CurrentVersion unchanged
// and LastResult RolledBack. A workload holding voters is never deleted.
//
// Reverting Spec.Version to the blue version mid-upgrade is a rollback (an
// abort before any green voter). Changing it to a third version rolls back
// first; the new target starts from Idle afterwards. An invalid version
// mid-upgrade only holds (gate Policy). After an aborted or rolled-back
// upgrade, the same target is not retried until Spec.RetryNonce changes.
//
// Past the point of no return (Cleanup) nothing rolls back: rollback
// requests are recorded and refused (event RollbackRefused, Degraded
// condition), and deadlines or failures are reported as Degraded
// (PastPointOfNoReturn) while cleanup rolls forward.
//
// # Break-glass
//
// When a rollback or abort cannot proceed safely — fewer blue members than
// a blue quorum are left (gone or crash-looping), no rollback progress for
// Timeouts.Rollback, rollback failures or leadership moves exhausted — Step
// enters the BreakGlass phase: Status.BreakGlass holds a nonce (16 hex
// digits of sha256 over target version, green workload, phase, entry time,
// reason and entry count — no randomness), a message and recovery steps;
// the BreakGlass and Degraded conditions are True. From then on Step emits
// no disruptive action (upgrade.IsDisruptive) (S7).
//
// Procedure: read Status.BreakGlass, repair the cluster by hand (restore a
// quorum of blue members, make sure there is a leader), then set
// Spec.BreakGlassAck to the exact nonce. Step records it in
// Status.Handled.BreakGlassAck, clears Status.BreakGlass and resumes the
// rollback from RollbackRestoringBlue with fresh deadlines and failure
// counts; every rollback step skips work already done. If the cause
// persists, break-glass is entered again with a new nonce.
//
// # Stale observations
//
// An observation older than Status.LastStepTime or with a Raft term below
// Status.ObservedTerm is not acted on (gate StaleObservation). Every Step
// that acts records both. Step also runs upgrade.Safety.Check on its own
// actions against the observation (defense in depth) and returns an error
// wrapping upgrade.ErrUnsafe instead of an unsafe decision.
package bluegreen

//go:generate go tool controller-gen object paths=.
