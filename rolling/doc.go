// Package rolling is raftshift's partition-driven rolling upgrade of one
// StatefulSet-like workload running a Raft cluster (OpenBao, Vault, any
// hashicorp/raft or etcd-style quorum).
//
// Step is a pure function: it takes the desired Spec, an
// upgrade.Observation of the cluster and the persisted upgrade.Status, and
// returns an upgrade.Decision — the actions to execute in order, the status
// to persist and when to call Step again. It performs no I/O, never reads the
// clock (Observation.Now is its only time), never mutates its inputs and is
// deterministic. Every action list it returns has passed
// upgrade.Safety.Check against the observation it was given.
//
// # Usage
//
// A host (a Kubernetes operator, a CLI, a test driving package fake) loops:
//
//	for {
//		obs := observe()                      // adapters -> upgrade.Observation
//		d, err := rolling.Step(spec, obs, status)
//		if err != nil {
//			// bad input (errors.Is upgrade.ErrInvalidSpec, ErrInvalidObservation,
//			// ErrInvalidStatus): nothing to execute; report and retry later
//		}
//		if persist(d.Status) != nil {          // 1. persist first (e.g. the CRD status)
//			continue                           //    a failed write executes nothing
//		}
//		for _, a := range d.Actions {          // 2. in order, stop at the first failure
//			if err := execute(a); err != nil {
//				break
//			}
//		}
//		emit(d.Events)                         // 3. best-effort
//		wait(d.RequeueAfter)                   // 4. or until something changes
//	}
//
// This is the host protocol of package upgrade, the same for every
// strategy. A host may crash anywhere in it: every phase re-derives what is
// left to do from the observation (a partition change that never happened
// is requested again, an ordinal whose pod was already replaced is
// followed, a lock already held is not acquired twice, a lock left held by
// a finished upgrade is released, and a partition it left above 0 is
// converged by an upgrade to the current version that locks it at the
// replica count first and ends OutcomeSucceeded, "converged on"), so calling
// Step with the persisted
// status and a fresh observation reaches the same end.
//
// Decision.Gate names the check holding progress, if any; the same
// machine-readable reason is surfaced in the status conditions Ready,
// Progressing and Degraded (transition times taken from Observation.Now).
//
// # Phases
//
// The phases and their edges are the transition Table (rendered in
// testdata/rolling.mmd); every phase change of Step is checked with
// table.Next, and FSM builds a looplab/fsm machine from the same table for
// tools. Idle is the absence of an upgrade (Status.Upgrade == nil).
//
//   - Idle: Step compares the spec's version and image with
//     Status.CurrentVersion/CurrentImage. An empty CurrentVersion adopts the
//     version of a settled, healthy, uniform workload without acting. On
//     drift, policy.Evaluate (invalid versions, downgrades, skipped minors,
//     image/version conflicts) and policy.CheckPrerequisites (lock, leader,
//     readiness, autopilot, failure tolerance, backups) run first; a refusal
//     is a gate and no action. Then the operation lock is acquired and the
//     partition raised to the replica count.
//   - Locking: wait until the partition locks every pod and the controller
//     settled.
//   - Snapshotting: with Spec.Snapshot, take a snapshot and wait for a backup
//     that succeeded after the upgrade started (asking again after
//     Spec.RetryInterval.Duration when no backup is running).
//   - Templating: change the pod template (no pod can restart: the partition
//     locks them all) and wait for the new update revision.
//   - Rolling: pick the highest ordinal whose pod is not at the update
//     revision (pods already there are skipped). If it leads, move
//     leadership first (MovingLeader); otherwise, once every other voter is
//     healthy and caught up and the failure tolerance is at least one, lower
//     the partition to it (Restarting). With no ordinal left and every member
//     caught up on the target, finalize.
//   - MovingLeader: TransferLeadership (to a voter already on the target when
//     the host supports targeted transfer) or StepDown; wait until another
//     member leads; ask again after Spec.RetryInterval.Duration.
//   - Restarting: wait for the controller to replace the pod. An OrderedReady
//     controller never replaces a pod that is not ready, so such a pod is
//     deleted explicitly (once per incarnation). If the pod becomes leader
//     before it is replaced, the partition is raised above it again and
//     leadership moves first.
//   - Verifying: wait until the new pod is ready, Raft healthy, caught up
//     within Spec.CatchUp and stable for its stabilization window, on the
//     target version; then the next ordinal. A pod that comes back at the old
//     revision (killed while the partition was above it) is selected again.
//
// Finalizing is atomic: one Decision clears Status.Upgrade and sets
// CurrentVersion/CurrentImage (S5), records LastResult, sets Ready=True and
// Progressing=False, restores the partition to 0 and releases the lock.
//
// # Leadership
//
// Leadership moves only to a healthy, caught-up voter, only when the leader
// is the next pod to restart, and preferably to a voter already running the
// target. Because the partition restarts ordinals from the highest down, a
// leader at any ordinal but the highest is moved exactly once, to an
// upgraded voter that never restarts again: with targeted transfer the whole
// upgrade causes one leadership change. A leader at the highest ordinal
// restarts first, before any voter runs the target, so its successor moves
// leadership once more when its own turn comes (two changes, the minimum
// for that order). Without targeted transfer a step-down lets Raft elect any
// voter (usually the one with the longest log).
//
// # No failback (S8) and leader placement
//
// UpgradeStatus.LeaderHighWater records the highest version that has led
// during the upgrade. Once the target has led, leadership never moves back
// to an older member: transfer targets are upgraded voters only, and a
// step-down is issued only when every other voter is at least as new as the
// leader (upgrade.StepDownAllowed; with an older voter in the configuration
// the election could fail back). If an election puts an older member in
// charge anyway (a leader fault), the next Step in Rolling moves leadership
// at once to a caught-up, upgraded voter by a targeted transfer, and every
// Step raises the gate Leader/LeaderVersionRegressed and the LeaderVersion
// condition until an upgraded voter leads again. Without targeted transfer
// (or with no upgraded voter left) it is reported the same way and the
// upgrade goes on: restarting the remaining old members is then the way
// back. A leader whose pod must restart next while only older voters could
// take over (a leader on an earlier target after a retarget, in Partition
// ordering) is held with LeaderTransfer/LeaderMoveWouldFailBack for a human
// rather than failed back.
//
// Spec.LeaderPlacement chooses when leadership reaches the target: Last
// (the default, OpenBao's documented order: followers first, the leader
// when its own pod is next) or Early (as soon as an upgraded voter is
// caught up and stable, leadership moves to it by a targeted transfer, and
// stays on upgraded voters). Last keeps upgraded standbys forwarding to an
// old active node for most of the upgrade (the forwarding window) and opens
// the failback window late; Early closes the forwarding window (OpenBao
// 2.5.4 -> 2.6.2 standbys cannot forward to an old active node,
// openbao/openbao#3899) and opens the failback window from the first
// upgraded voter until the last old voter is upgraded. Early needs targeted
// transfer; with step-down only it behaves like Last.
//
// # Deadlines, crash loops and retries
//
// Each step (one phase wait, one pod's restart and verification) has
// Spec.StepTimeout.Duration, counted from UpgradeStatus.StepStartedAt and reset
// whenever a step completes. On expiry the upgrade pauses
// (UpgradeStatus.Paused, gate Deadline) with Degraded=True carrying the
// holding gate's reason, and nothing disruptive happens any more. A pod of
// the new revision that crash-loops pauses the rollout the same way (gate
// CrashLoop); nothing else restarts. Setting Spec.RetryNonce to a new value
// clears a pause and resets the step budget (the nonce is recorded in
// Status.Handled.Retry and acted on once).
//
// To recover from a bad version, change the spec's target: to a fixed
// version, or back to the version the upgrade started from (a rollback,
// recorded as OutcomeRolledBack: RollingProgress.Retargets tells it from a
// convergence that started at the current version).
//
// # Maintenance windows and pause
//
// Spec.MaintenanceWindows (UTC cron windows, see upgrade.MaintenanceWindow)
// and Spec.Paused hold the upgrade at its safe point, the Rolling phase
// between two pods: a pod restart (with the leadership move before it)
// starts only inside a window with at least StepTimeout plus
// CatchUp.Stabilization left, and never while paused. Locking,
// Snapshotting and Templating restart nothing and run on to the safe
// point; MovingLeader, Restarting and Verifying finish the pod in flight
// first. Outside a window the gate is MaintenanceWindow, its message and
// RequeueAfter name the next opening; a pause gives gate Paused and also
// keeps an idle cluster from starting. The hold is recorded once in
// UpgradeStatus.Held and the upgrade resumes from the status, with a fresh
// step deadline. Bad windows return an error wrapping
// upgrade.ErrInvalidSpec and upgrade.ErrInvalidWindow.
//
// # Target changed mid-upgrade
//
// A spec target that differs from the upgrade in flight is handled
// explicitly: it is evaluated by policy against the version the upgrade
// started from (FromVersion). If refused, the upgrade holds where it is
// with the policy gate and no action until the spec is fixed. If allowed,
// the plan restarts safely from the current state: the partition is locked
// again, the template changed to the new target, and the ordinals walked
// again from the highest, skipping pods already at the new revision (going
// back to FromVersion therefore only restarts the pods already upgraded).
// CurrentVersion stays at FromVersion until the end.
//
// # One- and two-voter clusters
//
// Restarting a member of a one- or two-voter cluster loses quorum, so an
// upgrade holds on the Downtime gate unless Spec.AllowDowntime opts in. A
// single voter is restarted in place (no step-down is possible). With two
// voters, leadership still moves to the other voter before the leader
// restarts, and a restart waits until the other voter is caught up — except
// for a member that is already down (a crash-looping pod that cost the
// quorum), which may be restarted to recover. AllowDowntime is ignored for
// three voters or more.
//
// # Stale observations
//
// Step refuses to act (gate StaleObservation) on an observation that is not
// newer than Status.LastStepTime (one-second precision: an observation from
// the second of the last acting Step may predate its actions) or that has a
// lower Raft term than Status.ObservedTerm; both are updated by every
// Decision that carries actions. It also refuses an observation that shows
// the workload at a generation below the highest one this upgrade has seen
// (RollingProgress.WorkloadGeneration, recorded by every Step of the
// upgrade, per workload UID): an informer cache older than a Step already
// taken could show the template as it was before this upgrade changed it
// and the partition before it was locked, and a plan made from it would
// end the upgrade with neither where it belongs.
//
// # Controller caveat
//
// The StatefulSet controller replaces a pod below the partition as soon as
// every pod is Ready; it does not know Raft. Step lowers the partition only
// when every voter is healthy and caught up, so in practice the controller
// acts at once; a fault between the two (a follower lost right then) can
// still let the controller restart a second member, which Raft survives only
// within its failure tolerance.
package rolling

//go:generate go tool controller-gen object paths=.
