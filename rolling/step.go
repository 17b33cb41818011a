package rolling

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// Reasons used by the rolling strategy in gates and conditions, besides the
// reasons of package upgrade and package policy.
const (
	ReasonCannotAdopt          upgrade.Reason = "CannotAdoptRunningVersion"
	ReasonDowntimeNotAllowed   upgrade.Reason = "DowntimeNotAllowed"
	ReasonSnapshotsUnsupported upgrade.Reason = "SnapshotsUnsupported"
	ReasonSnapshotPending      upgrade.Reason = "SnapshotPending"
	ReasonLockPending          upgrade.Reason = "LockPending"
	ReasonLockLost             upgrade.Reason = "LockHeldByOther"
	ReasonPartitionPending     upgrade.Reason = "PartitionPending"
	ReasonNotSettled           upgrade.Reason = "WorkloadNotSettled"
	ReasonTemplatePending      upgrade.Reason = "TemplatePending"
	ReasonReplicasChanged      upgrade.Reason = "ReplicasChanged"
	ReasonAwaitingController   upgrade.Reason = "AwaitingController"
	ReasonPodRestarting        upgrade.Reason = "PodRestarting"
	ReasonVersionMismatch      upgrade.Reason = "VersionMismatch"
	ReasonLeadershipMoving     upgrade.Reason = "LeadershipMoving"
	ReasonTargetChanged        upgrade.Reason = "TargetChanged"
	ReasonRetryRequested       upgrade.Reason = "RetryRequested"
	ReasonRestartingPod        upgrade.Reason = "RestartingPod"
	ReasonMovingLeadership     upgrade.Reason = "MovingLeadership"
	ReasonTemplateDrift        upgrade.Reason = "TemplateDrift"
)

// maxChain bounds the phase changes one Step may chain without actions.
const maxChain = 16

// Step decides the next move of a rolling upgrade. It is a pure function:
// given the desired spec, an observation of the cluster and the persisted
// status, it returns the actions to execute in order, the new status to
// persist and when to call it again. It never mutates its inputs, never
// reads the clock (obs.Now is the only time) and is deterministic.
//
// Bad input (an empty version or image, an unknown workload, a corrupted
// status) returns an error wrapping upgrade.ErrInvalidSpec,
// upgrade.ErrInvalidObservation or upgrade.ErrInvalidStatus and no action.
// Every refusal to progress is reported as Decision.Gate and in the
// status' conditions. Step checks its own actions with upgrade.Safety.Check
// before returning them and returns an error wrapping upgrade.ErrUnsafe
// instead of an unsafe list.
func Step(spec Spec, obs upgrade.Observation, status upgrade.Status) (upgrade.Decision, error) {
	s, err := newStepper(spec, &obs, &status)
	if err != nil {
		return upgrade.Decision{Status: *status.DeepCopy()}, err
	}
	// The last Decision's effects must show before anything else is
	// decided (or be overdue): until then Step waits, status unchanged.
	if g, done := contract.CheckExpected(&obs, &status, s.spec.RetryInterval.Duration); g != nil {
		st := *status.DeepCopy()
		if rg := contract.Failback(&st, &obs, false, s.condNow, obs.Generation); rg != nil {
			rg.Message += "; " + g.Message
			g = rg
		}
		return upgrade.Decision{Status: st, Gate: g, RequeueAfter: ActionRequeue}, nil
	} else if done {
		s.st.Expected = nil
	}
	if err := s.run(); err != nil {
		return upgrade.Decision{Status: *status.DeepCopy()}, err
	}
	if u := s.st.Upgrade; u != nil {
		// The floor a later, staler observation is held to (stale).
		r := u.Rolling
		if r.WorkloadUID != s.w.UID {
			r.WorkloadUID, r.WorkloadGeneration = s.w.UID, 0
		}
		r.WorkloadGeneration = max(r.WorkloadGeneration, s.w.Generation)
	}
	if len(s.actions) > 0 {
		if err := s.safety.Check(obs, s.actions); err != nil {
			return upgrade.Decision{Status: *status.DeepCopy()}, fmt.Errorf("rolling: refusing own decision: %w", err)
		}
		contract.RecordStep(&s.st, &obs)
		s.st.Expected = contract.ExpectationsOf(&obs, s.actions)
		if s.st.Upgrade == nil {
			// A finished upgrade waits on nothing: its release of the lock
			// is checked by the idle Steps (a leftover lock is released).
			s.st.Expected = nil
		}
	} else {
		s.st = contract.Unchanged(&status, s.st)
	}
	return upgrade.Decision{Actions: s.actions, Events: s.events, Status: s.st, RequeueAfter: s.requeue, Gate: s.gate}, nil
}

type stepper struct {
	spec    Spec
	obs     *upgrade.Observation
	st      upgrade.Status
	w       upgrade.Workload
	members []upgrade.Member // members of w, by ordinal
	voters  int
	safety  upgrade.Safety
	actions []upgrade.Action
	events  []upgrade.Event
	gate    *upgrade.Gate
	requeue time.Duration
	// outcome is set when this Step finalized the upgrade.
	outcome *upgrade.Result
	// condNow is the time stamped on conditions.
	condNow time.Time
	// ondelete is true when the strategy deletes pods itself
	// (OrderingOnDelete) rather than lowering the partition.
	ondelete bool
	// holdRule is spec.paused and the spec's maintenance windows;
	// holdRequeue is when to look again while it holds.
	holdRule    contract.Hold
	holdRequeue time.Duration
}

func newStepper(spec Spec, obs *upgrade.Observation, status *upgrade.Status) (*stepper, error) {
	if err := contract.Validate(spec.Version, spec.Image, obs); err != nil {
		return nil, fmt.Errorf("rolling: %w", err)
	}
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("rolling: %w", err)
	}
	hold, err := contract.ParseHold(spec.Paused, spec.MaintenanceWindows, spec.stepRoom())
	if err != nil {
		return nil, fmt.Errorf("rolling: %w", err)
	}
	s := &stepper{spec: spec, obs: obs, st: *status.DeepCopy(), condNow: obs.Now, holdRule: hold}
	if t := status.LastStepTime.Time; t.After(s.condNow) {
		s.condNow = t
	}
	name := spec.Workload
	if u := status.Upgrade; u != nil && u.Rolling != nil && name == "" {
		name = u.Rolling.Workload
	}
	if name == "" {
		if len(obs.Workloads) != 1 {
			return nil, fmt.Errorf("rolling: %w: workload must be named when the observation has %d workloads",
				upgrade.ErrInvalidSpec, len(obs.Workloads))
		}
		name = obs.Workloads[0].Name
	}
	w, ok := obs.Workload(name)
	if !ok {
		return nil, fmt.Errorf("rolling: %w: workload %q not observed", upgrade.ErrInvalidObservation, name)
	}
	if w.Replicas <= 0 {
		return nil, fmt.Errorf("rolling: %w: workload %q has %d replicas", upgrade.ErrInvalidObservation, name, w.Replicas)
	}
	s.w = w
	s.members = obs.WorkloadMembers(name)
	for i := range obs.Members {
		if isVoter(&obs.Members[i]) {
			s.voters++
		}
	}
	s.safety = upgrade.Safety{CatchUp: spec.CatchUp, AllowDowntime: spec.AllowDowntime && s.voters <= 2}
	s.safety = contract.FailbackSafety(s.safety, status.Upgrade)
	s.ondelete = s.ordering() == OrderingOnDelete
	if err := s.validateStatus(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stepper) validateStatus() error {
	u := s.st.Upgrade
	if u == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("rolling: %w: "+format, append([]any{upgrade.ErrInvalidStatus}, args...)...)
	}
	switch {
	case u.Strategy != upgrade.StrategyRolling:
		return bad("upgrade in flight uses strategy %q", u.Strategy)
	case !activePhase(Phase(u.Phase)):
		return bad("unknown phase %q", u.Phase)
	case u.Rolling == nil:
		return bad("rolling progress is missing")
	case u.Rolling.Workload != s.w.Name:
		return bad("upgrade in flight rolls workload %q, not %q", u.Rolling.Workload, s.w.Name)
	case u.TargetVersion == "" || u.TargetImage == "":
		return bad("upgrade in flight has no target")
	case u.LockHolder == "":
		return bad("upgrade in flight has no lock holder")
	case u.Rolling.Replicas <= 0:
		return bad("upgrade in flight has %d replicas", u.Rolling.Replicas)
	case u.Rolling.Ordinal < -1 || u.Rolling.Ordinal >= u.Rolling.Replicas:
		return bad("ordinal %d is out of range for %d replicas", u.Rolling.Ordinal, u.Rolling.Replicas)
	}
	return nil
}

// run computes the decision into s.
func (s *stepper) run() error {
	s.handleRetry()
	var err error
	if s.st.Upgrade == nil {
		err = s.idle()
	} else {
		err = s.active()
	}
	if err != nil {
		return err
	}
	// S8: record who led, and never be silent about a regressed leader (a
	// hold keeps its gate, which says when the upgrade goes on, and so does
	// LeaderMoveWouldFailBack, which asks a human; the LeaderVersion
	// condition reports the regression meanwhile).
	if g := contract.Failback(&s.st, s.obs, len(s.actions) > 0, s.condNow, s.obs.Generation); g != nil && !contract.IsHold(s.gate) && (s.gate == nil || (s.gate.Reason != upgrade.ReasonLeaderVersionRegressed && s.gate.Reason != upgrade.ReasonMoveFailsBack)) {
		if s.gate != nil {
			g.Message += "; " + s.gate.Message
		}
		s.gate = g
	}
	s.setConditions()
	switch {
	case len(s.actions) == 0 && contract.IsHold(s.gate):
		// Held at the safe point (even in the Step that records the hold
		// with an event): look again when the next window opens, or on a
		// spec change for a pause.
		s.requeue = s.holdRequeue
	case len(s.actions) > 0 || len(s.events) > 0:
		s.requeue = ActionRequeue
	case s.outcome != nil:
	case s.st.Upgrade != nil && s.st.Upgrade.Paused == nil:
		s.requeue = s.spec.PollInterval.Duration
	case s.st.Upgrade == nil && s.gate != nil && s.gate.Name != upgrade.GatePolicy:
		s.requeue = s.spec.PollInterval.Duration
	}
	return nil
}

func (s *stepper) hold(name upgrade.GateName, r upgrade.Reason, member, format string, args ...any) {
	s.gate = &upgrade.Gate{Name: name, Reason: r, Member: member, Message: fmt.Sprintf(format, args...)}
}

func (s *stepper) act(a ...upgrade.Action) { s.actions = append(s.actions, a...) }

func (s *stepper) event(t upgrade.EventType, r upgrade.Reason, format string, args ...any) {
	s.events = append(s.events, upgrade.Event{Type: t, Reason: string(r), Message: fmt.Sprintf(format, args...)})
}

// stale reports (and gates) an observation that must not be acted on
// (contract.CheckFresh: not newer than the last acting Step, or from a lower
// Raft term; during an upgrade also contract.CheckGeneration: the workload
// below the generation this upgrade already saw).
func (s *stepper) stale() bool {
	g := contract.CheckFresh(s.obs, &s.st)
	if u := s.st.Upgrade; g == nil && u != nil && u.Rolling.WorkloadUID == s.w.UID {
		// Found by the soak: a revert, a retarget, then a cache from
		// before the revert showed the template at the target and the
		// partition at 0, and the upgrade ended with the partition left
		// at 1.
		g = contract.CheckGeneration(&s.w, u.Rolling.WorkloadGeneration)
	}
	if g != nil {
		s.hold(g.Name, g.Reason, "", "%s", g.Message)
		return true
	}
	return false
}

// handleRetry records a new retry request and, during an upgrade, clears
// its pause and resets the step deadline budget.
func (s *stepper) handleRetry() {
	if !contract.HandleRetry(s.spec.RetryNonce, &s.st, s.obs.Now) {
		return
	}
	if u := s.st.Upgrade; u != nil && u.Rolling != nil {
		u.Rolling.Snapshot = "" // a pending snapshot is requested again
		u.Rolling.DeletedUID = ""
	}
}

// ---------------------------------------------------------------- active

func (s *stepper) phase() Phase { return Phase(s.st.Upgrade.Phase) }

// transition moves the upgrade along the table. progress resets the step
// deadline.
func (s *stepper) transition(ev Event, progress bool) error {
	u := s.st.Upgrade
	next, err := table.Next(Phase(u.Phase), ev)
	if err != nil {
		return fmt.Errorf("rolling: %w", err)
	}
	now := upgrade.Time(s.obs.Now)
	u.Phase = string(next)
	u.PhaseStartedAt = now
	u.Held = nil // a hold ends with any phase change
	if progress {
		u.StepStartedAt = now
		u.Failures = 0
	}
	return nil
}

func (s *stepper) active() error {
	u := s.st.Upgrade
	if s.stale() {
		return nil
	}
	if !policy.SameVersion(s.spec.Version, u.TargetVersion) || s.spec.Image != u.TargetImage {
		return s.retarget()
	}
	if u.Paused != nil {
		s.gate = &upgrade.Gate{Name: u.Paused.Gate, Reason: u.Paused.Reason, Member: u.Paused.Member, Message: u.Paused.Message}
		return nil
	}
	if s.w.Replicas != u.Rolling.Replicas {
		s.hold(upgrade.GateWorkloadSettled, ReasonReplicasChanged, "",
			"workload %s was scaled from %d to %d replicas during the upgrade; scale it back to continue",
			s.w.Name, u.Rolling.Replicas, s.w.Replicas)
		return s.deadline()
	}
	if h := s.obs.Lock.Holder; h != u.LockHolder {
		if h == "" {
			s.act(upgrade.AcquireLock{Holder: u.LockHolder})
			s.hold(upgrade.GateLock, ReasonLockPending, "", "re-acquiring the operation lock")
			return nil
		}
		s.hold(upgrade.GateLock, ReasonLockLost, "", "operation lock is held by %q", h)
		return s.deadline()
	}
	s.unexpectedPromotion()
	for i := 0; i < maxChain; i++ {
		if s.crashLoop() {
			return nil
		}
		var ev Event
		var err error
		progress := true
		if s.templateDrifted() {
			// The template is not (or no longer) at the target: someone
			// changed it, or an earlier Step saw it applied through a
			// stale cache. Restart the plan from Locking, which raises
			// the partition before the template changes again.
			if err := s.transition(EventTemplateDrift, false); err != nil {
				return err
			}
			s.event(upgrade.EventWarning, ReasonTemplateDrift, "the template of %s is not at %s; locking it again", s.w.Name, u.TargetVersion)
			continue
		}
		switch s.phase() {
		case PhaseLocking:
			ev = s.locking()
		case PhaseSnapshotting:
			ev = s.snapshotting()
			progress = ev != EventRetrySnapshot
		case PhaseTemplating:
			ev = s.templating()
		case PhaseRolling:
			ev, err = s.rolling()
		case PhaseMovingLeader:
			ev = s.movingLeader()
			progress = ev != EventRetryTransfer
		case PhaseRestarting:
			ev = s.restarting()
			progress = ev != EventForceRestart && ev != EventReselect
		case PhaseVerifying:
			ev = s.verifying()
			progress = ev != EventReselect
		}
		if err != nil {
			return err
		}
		if ev != "" {
			if err := s.transition(ev, progress); err != nil {
				return err
			}
		}
		if s.st.Upgrade == nil || ev == "" || len(s.actions) > 0 || len(s.events) > 0 {
			break
		}
	}
	if s.gate != nil && len(s.actions) == 0 && len(s.events) == 0 {
		return s.deadline()
	}
	return nil
}

// deadline pauses the upgrade when the current step has waited longer than
// the step timeout. The Degraded condition carries the holding gate's
// reason; nothing disruptive happens until a retry request or a new target.
func (s *stepper) deadline() error {
	u := s.st.Upgrade
	if u == nil || s.gate == nil || s.spec.StepTimeout.Duration <= 0 || contract.IsHold(s.gate) {
		return nil
	}
	if u.Held != nil {
		// The status records a hold, but another gate holds this Step: the
		// hold ended without a Step that persisted its end (that status was
		// lost, or a gate before the safe point applies first). Time held
		// never counts against the deadline, so the budget restarts now,
		// as at any resumption.
		if ev, ok := contract.Resume(u, s.obs.Now); ok {
			s.events = append(s.events, ev)
		}
		return nil
	}
	waited := s.obs.Now.Sub(u.StepStartedAt.Time)
	if waited <= s.spec.StepTimeout.Duration {
		return nil
	}
	g := s.gate
	u.Paused = &upgrade.Pause{
		Gate:   upgrade.GateDeadline,
		Reason: g.Reason,
		Member: g.Member,
		Message: fmt.Sprintf("step exceeded its %s deadline waiting on gate %s: %s; fix the cause and set retryNonce to retry",
			s.spec.StepTimeout.Duration, g.Name, g.Message),
		Since: upgrade.Time(s.obs.Now),
	}
	s.gate = &upgrade.Gate{Name: upgrade.GateDeadline, Reason: g.Reason, Member: g.Member, Message: u.Paused.Message}
	s.event(upgrade.EventWarning, upgrade.ReasonPaused, "%s", u.Paused.Message)
	return nil
}

// retarget handles a target changed mid-upgrade: the new target is
// evaluated against the version the upgrade started from; if allowed, the
// plan restarts safely from the current state (partition locked again,
// template changed again, ordinals walked again from the top, skipping pods
// already at the new revision). A refused target holds the upgrade where it
// is, without any action.
func (s *stepper) retarget() error {
	u := s.st.Upgrade
	if err := policy.Evaluate(policy.Input{From: u.FromVersion, To: s.spec.Version, Image: s.spec.Image}, s.spec.Rules); err != nil {
		if err := s.refuse(err); err != nil {
			return err
		}
		s.gate.Message = "new target refused mid-upgrade: " + s.gate.Message
		return nil
	}
	old := u.TargetVersion
	u.TargetVersion, u.TargetImage = s.spec.Version, s.spec.Image
	u.Paused = nil
	r := u.Rolling
	r.Ordinal = r.Replicas - 1
	r.RestartedUID, r.DeletedUID, r.TransferTarget, r.Snapshot = "", "", "", ""
	r.HealthySince = metav1.MicroTime{}
	r.Updated = nil
	r.Retargets++
	if err := s.transition(EventTargetChanged, true); err != nil {
		return err
	}
	// The plan restarts from what this observation shows; a later one from
	// a stale cache, showing the template as it was before this upgrade
	// changed it, is held to RollingProgress.WorkloadGeneration (stale).
	if s.obs.Lock.Holder == "" {
		s.act(upgrade.AcquireLock{Holder: u.LockHolder})
	}
	if !s.ondelete && s.w.Partition < s.w.Replicas {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: s.w.Replicas})
	}
	s.event(upgrade.EventNormal, ReasonTargetChanged, "target changed from %s to %s mid-upgrade; restarting the plan from the current state",
		old, s.spec.Version)
	return nil
}

// crashLoop pauses the upgrade when a pod at the new revision crash-loops.
func (s *stepper) crashLoop() bool {
	switch s.phase() {
	case PhaseRolling, PhaseMovingLeader, PhaseRestarting, PhaseVerifying:
	default:
		return false
	}
	u := s.st.Upgrade
	for i := range s.members {
		m := &s.members[i]
		if m.Pod.Exists && m.Pod.CrashLooping && m.Revision == s.w.UpdateRevision {
			msg := fmt.Sprintf("pod %s crash-loops on %s; the rollout is paused and nothing else restarts. "+
				"Recover by setting the spec to a fixed version (or back to %s): the plan restarts from the current state", m.Name, u.TargetVersion, u.FromVersion)
			u.Paused = &upgrade.Pause{Gate: upgrade.GateCrashLoop, Reason: upgrade.ReasonPodCrashLooping, Member: m.Name,
				Message: msg, Since: upgrade.Time(s.obs.Now)}
			s.gate = &upgrade.Gate{Name: upgrade.GateCrashLoop, Reason: upgrade.ReasonPodCrashLooping, Member: m.Name, Message: msg}
			s.actions, s.events = nil, nil
			s.event(upgrade.EventWarning, upgrade.ReasonPaused, "%s", msg)
			return true
		}
	}
	return false
}

// unexpectedPromotion reports members that were non-voters when the
// upgrade started and vote now: the workload promoted them on its own.
// They count as voters for every rule from now on (the observation says
// so); the report is an event once and the Degraded condition.
func (s *stepper) unexpectedPromotion() {
	r := s.st.Upgrade.Rolling
	for _, name := range r.Nonvoters {
		if slices.Contains(r.UnexpectedVoters, name) {
			continue
		}
		if m, ok := s.obs.Member(name); ok && m.IsVoter() {
			r.UnexpectedVoters = append(r.UnexpectedVoters, name)
			s.event(upgrade.EventWarning, upgrade.ReasonUnexpectedPromotion,
				"%s was a non-voter when the upgrade started and votes now: it was promoted behind the upgrade's back and counts as a voter", name)
		}
	}
}

// templateDrifted reports whether, past templating, the workload's
// template is not at the target.
func (s *stepper) templateDrifted() bool {
	switch s.phase() {
	case PhaseRolling, PhaseMovingLeader, PhaseRestarting, PhaseVerifying:
		return !s.templateAtTarget()
	}
	return false
}

func (s *stepper) templateAtTarget() bool {
	u := s.st.Upgrade
	return s.w.Image == u.TargetImage && (s.w.Version == "" || policy.SameVersion(s.w.Version, u.TargetVersion))
}

func (s *stepper) locking() Event {
	if !s.ondelete && s.w.Partition < s.w.Replicas {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: s.w.Replicas})
		s.hold(upgrade.GateWorkloadSettled, ReasonPartitionPending, "", "locking the partition of %s at %d", s.w.Name, s.w.Replicas)
		return ""
	}
	if !s.w.Settled() {
		s.hold(upgrade.GateWorkloadSettled, ReasonNotSettled, "", "workload %s: controller has not observed generation %d", s.w.Name, s.w.Generation)
		return ""
	}
	return EventLocked
}

func (s *stepper) snapshotting() Event {
	u := s.st.Upgrade
	if !s.spec.Snapshot {
		return EventSnapshotSkipped
	}
	if b := s.obs.Backup; !b.LastSuccess.IsZero() && !b.LastSuccess.Truncate(time.Second).Before(u.StartedAt.Time) {
		return EventSnapshotTaken
	}
	s.hold(upgrade.GateSnapshot, ReasonSnapshotPending, "", "waiting for a backup newer than the upgrade's start (%s)",
		u.StartedAt.UTC().Format(time.RFC3339))
	if s.obs.Backup.InProgress {
		return ""
	}
	var ev Event
	if u.Rolling.Snapshot != "" {
		if s.obs.Now.Sub(u.PhaseStartedAt.Time) < s.spec.RetryInterval.Duration {
			return ""
		}
		// the request was lost or the snapshot failed: ask again
		ev = EventRetrySnapshot
		u.Failures++
	}
	name := "raftshift-pre-upgrade-" + u.TargetVersion + "-" + strconv.FormatInt(u.StartedAt.Unix(), 10)
	u.Rolling.Snapshot = name
	s.act(upgrade.TakeSnapshot{Name: name, Reason: "pre-upgrade snapshot before " + u.FromVersion + " -> " + u.TargetVersion})
	return ev
}

func (s *stepper) templating() Event {
	u := s.st.Upgrade
	if s.templateAtTarget() {
		if !s.w.Settled() || s.w.UpdateRevision == "" {
			s.hold(upgrade.GateWorkloadSettled, ReasonTemplatePending, "", "waiting for the controller to publish the new revision of %s", s.w.Name)
			return ""
		}
		u.Rolling.Ordinal = u.Rolling.Replicas - 1
		return EventTemplateApplied
	}
	if !s.ondelete && s.w.Partition < s.w.Replicas {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: s.w.Replicas})
		s.hold(upgrade.GateWorkloadSettled, ReasonPartitionPending, "", "locking the partition of %s at %d", s.w.Name, s.w.Replicas)
		return ""
	}
	if !s.w.Settled() {
		s.hold(upgrade.GateWorkloadSettled, ReasonNotSettled, "", "workload %s: controller has not observed generation %d", s.w.Name, s.w.Generation)
		return ""
	}
	s.act(upgrade.UpdateTemplate{Workload: s.w.Name, Image: u.TargetImage, Version: u.TargetVersion})
	s.hold(upgrade.GateWorkloadSettled, ReasonTemplatePending, "", "updating the template of %s to %s", s.w.Name, u.TargetVersion)
	return ""
}
