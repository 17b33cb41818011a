package rolling

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// Reasons used by the rolling strategy in gates and conditions, besides the
// reasons of package upgrade and package policy.
const (
	ReasonUpToDate             upgrade.Reason = "UpToDate"
	ReasonAdopted              upgrade.Reason = "AdoptedRunningVersion"
	ReasonCannotAdopt          upgrade.Reason = "CannotAdoptRunningVersion"
	ReasonIdle                 upgrade.Reason = "Idle"
	ReasonAsExpected           upgrade.Reason = "AsExpected"
	ReasonUpgrading            upgrade.Reason = "Upgrading"
	ReasonSucceeded            upgrade.Reason = "UpgradeSucceeded"
	ReasonRolledBack           upgrade.Reason = "UpgradeRolledBack"
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
	ReasonObservationTooOld    upgrade.Reason = upgrade.ReasonObservationNotNewer
	ReasonTermRegressed        upgrade.Reason = upgrade.ReasonTermRegressed
	ReasonTargetChanged        upgrade.Reason = "TargetChanged"
	ReasonRetryRequested       upgrade.Reason = "RetryRequested"
	ReasonUpgradeStarted       upgrade.Reason = "UpgradeStarted"
	ReasonRestartingPod        upgrade.Reason = "RestartingPod"
	ReasonMovingLeadership     upgrade.Reason = "MovingLeadership"
	ReasonUpgradePaused        upgrade.Reason = "UpgradePaused"
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
	if err := s.run(); err != nil {
		return upgrade.Decision{Status: *status.DeepCopy()}, err
	}
	if len(s.actions) > 0 {
		if err := s.safety.Check(obs, s.actions); err != nil {
			return upgrade.Decision{Status: *status.DeepCopy()}, fmt.Errorf("rolling: refusing own decision: %w", err)
		}
		s.st.RecordStep(&obs)
	}
	return upgrade.Decision{Actions: s.actions, Status: s.st, RequeueAfter: s.requeue, Gate: s.gate}, nil
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
	gate    *upgrade.Gate
	requeue time.Duration
	// outcome is set when this Step finalized the upgrade.
	outcome *upgrade.Result
	// condNow is the time stamped on conditions.
	condNow time.Time
}

func newStepper(spec Spec, obs *upgrade.Observation, status *upgrade.Status) (*stepper, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("rolling: %w", err)
	}
	if obs.Now.IsZero() {
		return nil, fmt.Errorf("rolling: %w: observation has no time", upgrade.ErrInvalidObservation)
	}
	s := &stepper{spec: spec, obs: obs, st: *status.DeepCopy(), condNow: obs.Now}
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
	s.members = workloadMembers(obs, name)
	for i := range obs.Members {
		if isVoter(&obs.Members[i]) {
			s.voters++
		}
	}
	s.safety = upgrade.Safety{CatchUp: spec.CatchUp, AllowDowntime: spec.AllowDowntime && s.voters <= 2}
	if err := s.validateStatus(); err != nil {
		return nil, err
	}
	return s, nil
}

// workloadMembers returns the members of a workload by ordinal, without
// allocating when the observation is already ordered (the contract).
func workloadMembers(obs *upgrade.Observation, name string) []upgrade.Member {
	start, end := -1, -1
	sorted := true
	for i := range obs.Members {
		if obs.Members[i].Workload != name {
			continue
		}
		switch {
		case start < 0:
			start = i
		case end != i:
			sorted = false
		case obs.Members[i].Ordinal <= obs.Members[i-1].Ordinal:
			sorted = false
		}
		end = i + 1
	}
	if start < 0 {
		return nil
	}
	if sorted {
		return obs.Members[start:end:end]
	}
	return obs.WorkloadMembers(name)
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
	s.setConditions()
	switch {
	case len(s.actions) > 0:
		s.requeue = ActionRequeue
	case s.outcome != nil:
	case s.st.Upgrade != nil && s.st.Upgrade.Paused == nil:
		s.requeue = s.spec.PollInterval
	case s.st.Upgrade == nil && s.gate != nil && s.gate.Name != upgrade.GatePolicy:
		s.requeue = s.spec.PollInterval
	}
	return nil
}

func (s *stepper) hold(name upgrade.GateName, r upgrade.Reason, member, format string, args ...any) {
	s.gate = &upgrade.Gate{Name: name, Reason: r, Member: member, Message: fmt.Sprintf(format, args...)}
}

func (s *stepper) act(a ...upgrade.Action) { s.actions = append(s.actions, a...) }

func (s *stepper) event(t upgrade.EventType, r upgrade.Reason, format string, args ...any) {
	s.act(upgrade.RecordEvent{Type: t, Reason: string(r), Message: fmt.Sprintf(format, args...)})
}

// stale reports (and gates) an observation that must not be acted on
// (upgrade.CheckFresh: not newer than the last acting Step, or from a lower
// Raft term).
func (s *stepper) stale() bool {
	if g := upgrade.CheckFresh(s.obs, &s.st); g != nil {
		s.hold(g.Name, g.Reason, "", "%s", g.Message)
		return true
	}
	return false
}

// handleRetry records a new retry request and, during an upgrade, clears
// its pause and resets the step deadline budget.
func (s *stepper) handleRetry() {
	n := s.spec.RetryNonce
	if n == "" || n == s.st.Handled.Retry {
		return
	}
	s.st.Handled.Retry = n
	if u := s.st.Upgrade; u != nil {
		u.Paused = nil
		u.Failures = 0
		u.StepStartedAt = upgrade.Time(s.obs.Now)
		if u.Rolling != nil {
			u.Rolling.Snapshot = "" // a pending snapshot is requested again
			u.Rolling.DeletedUID = ""
		}
	}
}

// ---------------------------------------------------------------- idle

func (s *stepper) idle() error {
	if s.st.CurrentVersion == "" {
		return s.adopt()
	}
	upToDate := policy.SameVersion(s.spec.Version, s.st.CurrentVersion) && s.spec.Image == s.st.CurrentImage
	leftover := s.obs.Lock.Holder == s.spec.LockHolder
	if upToDate && !leftover {
		return nil
	}
	if s.stale() {
		return nil
	}
	if leftover {
		// Our lock is held although no upgrade is in flight: a Decision
		// was executed but its status never persisted. A workload
		// converged on the current version only needs the lock released;
		// otherwise an upgrade to the spec starts (even to the current
		// version), which converges it safely: partition locked, template
		// checked, pods walked, partition restored to 0.
		if s.converged(s.st.CurrentVersion, s.st.CurrentImage) {
			s.act(upgrade.ReleaseLock{Holder: s.spec.LockHolder})
			return nil
		}
	}
	if err := policy.Evaluate(policy.Input{From: s.st.CurrentVersion, To: s.spec.Version, Image: s.spec.Image}, s.spec.Rules); err != nil {
		return s.refuse(err)
	}
	pre := s.spec.Prerequisites
	pre.LockHolder = s.spec.LockHolder
	if len(pre.Workloads) == 0 {
		pre.Workloads = []string{s.w.Name}
	}
	if err := policy.CheckPrerequisites(s.obs, pre); err != nil {
		return s.refuse(err)
	}
	if s.voters <= 2 && !s.spec.AllowDowntime {
		s.hold(upgrade.GateDowntime, ReasonDowntimeNotAllowed, "",
			"restarting a member of a %d-voter cluster loses quorum; set allowDowntime to accept the downtime", s.voters)
		return nil
	}
	if s.spec.Snapshot && !s.obs.Capabilities.Snapshots {
		s.hold(upgrade.GateSnapshot, ReasonSnapshotsUnsupported, "", "a pre-upgrade snapshot is required but the host cannot take snapshots")
		return nil
	}
	if !s.w.Settled() {
		s.hold(upgrade.GateWorkloadSettled, ReasonNotSettled, "", "workload %s: controller has not observed generation %d", s.w.Name, s.w.Generation)
		return nil
	}
	now := upgrade.Time(s.obs.Now)
	s.st.Upgrade = &upgrade.UpgradeStatus{
		Strategy:       upgrade.StrategyRolling,
		Phase:          string(PhaseIdle),
		FromVersion:    s.st.CurrentVersion,
		FromImage:      s.st.CurrentImage,
		TargetVersion:  s.spec.Version,
		TargetImage:    s.spec.Image,
		LockHolder:     s.spec.LockHolder,
		StartedAt:      now,
		PhaseStartedAt: now,
		StepStartedAt:  now,
		Rolling: &upgrade.RollingProgress{
			Workload: s.w.Name,
			Replicas: s.w.Replicas,
			Ordinal:  s.w.Replicas - 1,
		},
	}
	if err := s.transition(EventStart, true); err != nil {
		return err
	}
	if s.obs.Lock.Holder != s.spec.LockHolder {
		s.act(upgrade.AcquireLock{Holder: s.spec.LockHolder})
	}
	if s.w.Partition < s.w.Replicas {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: s.w.Replicas})
	}
	if policy.SameVersion(s.spec.Version, s.st.CurrentVersion) && s.spec.Image == s.st.CurrentImage {
		s.event(upgrade.EventNormal, ReasonUpgradeStarted, "converging %s on %s after an interrupted decision",
			s.w.Name, s.spec.Version)
	} else {
		s.event(upgrade.EventNormal, ReasonUpgradeStarted, "rolling upgrade of %s from %s to %s started",
			s.w.Name, s.st.CurrentVersion, s.spec.Version)
	}
	return nil
}

// converged reports whether the workload runs version and image everywhere
// with the partition at 0.
func (s *stepper) converged(version, image string) bool {
	w := s.w
	if w.Partition != 0 || w.Image != image || (w.Version != "" && !policy.SameVersion(w.Version, version)) ||
		int32(len(s.members)) != w.Replicas {
		return false
	}
	for i := range s.members {
		if !s.updated(&s.members[i]) {
			return false
		}
	}
	return true
}

// refuse turns a policy violation into a gate (no action).
func (s *stepper) refuse(err error) error {
	var v *policy.Violation
	if errors.As(err, &v) {
		s.gate = v.AsGate()
		return nil
	}
	return fmt.Errorf("rolling: %w", err)
}

// adopt records the running version of a settled, healthy, uniform
// workload as the current version, without acting.
func (s *stepper) adopt() error {
	w := s.w
	fail := func(format string, args ...any) error {
		s.hold(upgrade.GateWorkloadSettled, ReasonCannotAdopt, "", format, args...)
		return nil
	}
	if !w.Settled() {
		return fail("workload %s is not settled", w.Name)
	}
	if w.Image == "" || w.Version == "" {
		return fail("workload %s declares no version or image", w.Name)
	}
	if int32(len(s.members)) != w.Replicas {
		return fail("workload %s has %d of %d members", w.Name, len(s.members), w.Replicas)
	}
	for i := range s.members {
		m := &s.members[i]
		switch {
		case !m.Up():
			return fail("member %s is not ready and healthy", m.Name)
		case m.Version != "" && !policy.SameVersion(m.Version, w.Version):
			return fail("member %s runs %s, the template declares %s", m.Name, m.Version, w.Version)
		case m.Revision != w.UpdateRevision:
			return fail("member %s is not at the template's revision", m.Name)
		}
	}
	if _, err := policy.ParseVersion(w.Version); err != nil {
		return fail("workload %s declares version %q that is not a strict semantic version", w.Name, w.Version)
	}
	s.st.CurrentVersion, s.st.CurrentImage = policy.Canonical(w.Version), w.Image
	s.requeue = ActionRequeue
	return nil
}

// ---------------------------------------------------------------- active

func (s *stepper) phase() Phase { return Phase(s.st.Upgrade.Phase) }

// transition moves the upgrade along the table. progress resets the step
// deadline.
func (s *stepper) transition(ev Event, progress bool) error {
	u := s.st.Upgrade
	next, err := Table.Next(Phase(u.Phase), ev)
	if err != nil {
		return fmt.Errorf("rolling: %w", err)
	}
	now := upgrade.Time(s.obs.Now)
	u.Phase = string(next)
	u.PhaseStartedAt = now
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
		if s.st.Upgrade == nil || ev == "" || len(s.actions) > 0 {
			break
		}
	}
	if s.gate != nil && len(s.actions) == 0 {
		return s.deadline()
	}
	return nil
}

// deadline pauses the upgrade when the current step has waited longer than
// the step timeout. The Degraded condition carries the holding gate's
// reason; nothing disruptive happens until a retry request or a new target.
func (s *stepper) deadline() error {
	u := s.st.Upgrade
	if u == nil || s.gate == nil || s.spec.StepTimeout <= 0 {
		return nil
	}
	waited := s.obs.Now.Sub(u.StepStartedAt.Time)
	if waited <= s.spec.StepTimeout {
		return nil
	}
	g := s.gate
	u.Paused = &upgrade.Pause{
		Gate:   upgrade.GateDeadline,
		Reason: g.Reason,
		Member: g.Member,
		Message: fmt.Sprintf("step exceeded its %s deadline waiting on gate %s: %s; fix the cause and set retryNonce to retry",
			s.spec.StepTimeout, g.Name, g.Message),
		Since: upgrade.Time(s.obs.Now),
	}
	s.gate = &upgrade.Gate{Name: upgrade.GateDeadline, Reason: g.Reason, Member: g.Member, Message: u.Paused.Message}
	s.event(upgrade.EventWarning, ReasonUpgradePaused, "%s", u.Paused.Message)
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
	r.HealthySince = metav1.Time{}
	r.Updated = nil
	if err := s.transition(EventTargetChanged, true); err != nil {
		return err
	}
	if s.obs.Lock.Holder == "" {
		s.act(upgrade.AcquireLock{Holder: u.LockHolder})
	}
	if s.w.Partition < s.w.Replicas {
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
			s.actions = s.actions[:0:0]
			s.event(upgrade.EventWarning, ReasonUpgradePaused, "%s", msg)
			return true
		}
	}
	return false
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
	if s.w.Partition < s.w.Replicas {
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
		if s.obs.Now.Sub(u.PhaseStartedAt.Time) < s.spec.RetryInterval {
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
	if s.w.Partition < s.w.Replicas {
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

// memberAt returns the member with ordinal ord (nil if none). The pointer
// is into the observation, which Step must not modify.
func (s *stepper) memberAt(ord int32) *upgrade.Member {
	for i := range s.members {
		if s.members[i].Ordinal == ord {
			return &s.members[i]
		}
	}
	return nil
}

// isVoter reports whether m is a voter (upgrade.Member.IsVoter without
// copying the member).
func isVoter(m *upgrade.Member) bool { return m.Raft.Present && m.Raft.Suffrage == upgrade.Voter }

// updated reports whether m's pod is at the update revision.
func (s *stepper) updated(m *upgrade.Member) bool {
	return m.Pod.Exists && !m.Pod.Terminating && m.Revision == s.w.UpdateRevision
}

func (s *stepper) rolling() (Event, error) {
	u := s.st.Upgrade
	r := u.Rolling
	// The next ordinal is the highest one not at the update revision. It is
	// recomputed rather than only counted down: a pod killed while the
	// partition was above it comes back at the old revision and must be
	// upgraded again.
	r.Ordinal = -1
	for o := r.Replicas - 1; o >= 0; o-- {
		if m := s.memberAt(o); m == nil || !s.updated(m) {
			r.Ordinal = o
			break
		}
	}
	if r.Ordinal < 0 {
		return s.finalize()
	}
	m := s.memberAt(r.Ordinal)
	if m == nil {
		s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "no member with ordinal %d is observed", r.Ordinal)
		return "", nil
	}
	if s.w.Partition <= r.Ordinal {
		// The partition already admits this ordinal (a Step whose status
		// was not persisted): follow the controller. A partition below
		// the ordinal would admit more than one pod; raise it to the
		// ordinal (raising never restarts a pod).
		if s.w.Partition < r.Ordinal {
			s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal})
		}
		r.RestartedUID, r.HealthySince = "", metav1.Time{}
		if m.Pod.Exists && !m.Pod.Terminating {
			r.RestartedUID = m.Pod.UID
		}
		return EventPodSelected, nil
	}
	if s.obs.IsLeader(m.Name) && s.voters > 1 {
		return s.moveLeader(m), nil
	}
	if !s.canDisrupt(m) {
		return "", nil
	}
	r.RestartedUID = m.Pod.UID
	r.DeletedUID = ""
	r.HealthySince = metav1.Time{}
	s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal})
	s.event(upgrade.EventNormal, ReasonRestartingPod, "restarting %s on %s", m.Name, u.TargetVersion)
	return EventPodSelected, nil
}

// canDisrupt gates a restart of m: every other voter healthy and caught
// up, failure tolerance to spare, m not the leader. One- and two-voter
// clusters need AllowDowntime.
func (s *stepper) canDisrupt(m *upgrade.Member) bool {
	if s.blind() {
		return false
	}
	if isVoter(m) {
		if s.voters <= 2 && !s.spec.AllowDowntime {
			s.hold(upgrade.GateDowntime, ReasonDowntimeNotAllowed, m.Name,
				"restarting %s loses quorum of a %d-voter cluster; set allowDowntime to accept it", m.Name, s.voters)
			return false
		}
		// With the downtime opt-in of a one- or two-voter cluster, a member
		// that is already down (a crash-looping pod that cost the quorum)
		// may be restarted whatever the others' state: it is the way out.
		if !(s.safety.AllowDowntime && !m.Up()) && !s.othersCaughtUp(m) {
			return false
		}
	}
	if g := s.safety.CanDisrupt(s.obs, m.Name); g != nil {
		if s.voters <= 2 && !s.spec.AllowDowntime {
			s.gate = &upgrade.Gate{Name: upgrade.GateDowntime, Reason: ReasonDowntimeNotAllowed, Member: m.Name, Message: g.Message}
			return false
		}
		s.gate = g
		return false
	}
	return true
}

// blind holds with a RaftViewUnknown gate when the Raft view is unknown or
// partial: unknown is not absent, so nothing disruptive may happen (a
// member that looks like a non-voter may be a voter, the leader even).
func (s *stepper) blind() bool {
	if g := upgrade.CheckView(s.obs); g != nil {
		s.gate = g
		return true
	}
	return false
}

func (s *stepper) othersCaughtUp(m *upgrade.Member) bool {
	for i := range s.obs.Members {
		o := &s.obs.Members[i]
		if o.Name == m.Name || !isVoter(o) {
			continue
		}
		if g := upgrade.CaughtUp(s.obs, *o, s.spec.CatchUp); g != nil {
			s.gate = g
			return false
		}
	}
	return true
}

// moveLeader asks leadership to leave m, the next pod to restart.
func (s *stepper) moveLeader(m *upgrade.Member) Event {
	if !s.leaderMovable(m) {
		return ""
	}
	u := s.st.Upgrade
	r := u.Rolling
	if s.obs.Capabilities.TargetedTransfer {
		t, ok := s.safety.BestTransferTarget(s.obs, u.TargetVersion, nil)
		if !ok {
			s.hold(upgrade.GateLeaderTransfer, upgrade.ReasonNoTransferTarget, m.Name, "no healthy caught-up voter can take over from %s", m.Name)
			return ""
		}
		r.TransferTarget = t.Name
		s.act(upgrade.TransferLeadership{From: m.Name, FromID: m.Raft.ID, To: t.Name, ToID: t.Raft.ID})
		s.event(upgrade.EventNormal, ReasonMovingLeadership, "moving leadership from %s to %s before restarting it", m.Name, t.Name)
	} else {
		r.TransferTarget = ""
		s.act(upgrade.StepDown{Member: m.Name, ID: m.Raft.ID})
		s.event(upgrade.EventNormal, ReasonMovingLeadership, "asking leader %s to step down before restarting it", m.Name)
	}
	r.LeaderMoves++
	if s.phase() == PhaseMovingLeader {
		u.Failures++
		return EventRetryTransfer
	}
	return EventLeaderSelected
}

// leaderMovable gates a leadership move away from m: it only happens when
// m could be restarted right after (others caught up, tolerance to spare).
func (s *stepper) leaderMovable(m *upgrade.Member) bool {
	if s.blind() {
		return false
	}
	if s.voters == 2 && !s.spec.AllowDowntime {
		s.hold(upgrade.GateDowntime, ReasonDowntimeNotAllowed, m.Name,
			"restarting %s loses quorum of a %d-voter cluster; set allowDowntime to accept it", m.Name, s.voters)
		return false
	}
	if !s.othersCaughtUp(m) {
		return false
	}
	others := 0
	for i := range s.obs.Members {
		if o := &s.obs.Members[i]; o.Name != m.Name && isVoter(o) {
			others++
		}
	}
	if others == 0 {
		s.hold(upgrade.GateLeaderTransfer, upgrade.ReasonNoTransferTarget, m.Name, "no other voter can take over from %s", m.Name)
		return false
	}
	if s.voters >= 3 {
		healthy := 0
		for i := range s.obs.Members {
			if o := &s.obs.Members[i]; isVoter(o) && upgrade.CaughtUp(s.obs, *o, s.spec.CatchUp) == nil {
				healthy++
			}
		}
		if ft := upgrade.FailureTolerance(s.voters, healthy); ft < 1 {
			s.hold(upgrade.GateQuorum, upgrade.ReasonNoFailureTolerance, m.Name,
				"failure tolerance is %d with %d/%d healthy voters", ft, healthy, s.voters)
			return false
		}
	}
	return true
}

func (s *stepper) movingLeader() Event {
	u := s.st.Upgrade
	m := s.memberAt(u.Rolling.Ordinal)
	leader, hasLeader := s.obs.Leader()
	switch {
	case !hasLeader:
		s.hold(upgrade.GateLeader, upgrade.ReasonNoLeader, "", "waiting for a new leader to be elected")
		return ""
	case m == nil || leader.Name != m.Name || s.voters <= 1:
		return EventLeaderMoved
	case s.obs.Now.Sub(u.PhaseStartedAt.Time) >= s.spec.RetryInterval:
		return s.moveLeader(m)
	}
	s.hold(upgrade.GateLeaderTransfer, ReasonLeadershipMoving, m.Name, "waiting for leadership to leave %s", m.Name)
	return ""
}

func (s *stepper) restarting() Event {
	u := s.st.Upgrade
	r := u.Rolling
	m := s.memberAt(r.Ordinal)
	if m != nil && s.updated(m) {
		return EventPodRestarted
	}
	if m == nil || !m.Pod.Exists || m.Pod.Terminating {
		name := fmt.Sprintf("%s-%d", s.w.Name, r.Ordinal)
		if m != nil {
			name = m.Name
		}
		s.hold(upgrade.GatePodReady, ReasonPodRestarting, name, "waiting for the controller to recreate %s", name)
		return ""
	}
	// m is an old incarnation.
	if s.obs.IsLeader(m.Name) && s.voters > 1 {
		// It became the leader before the controller replaced it: lock
		// the partition above it again and move leadership first.
		if s.w.Partition <= r.Ordinal {
			s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal + 1})
		}
		return EventLeaderChanged
	}
	if s.w.Partition > r.Ordinal {
		// The partition change was lost (the host did not execute it, or
		// someone raised the partition): select the ordinal again.
		return EventReselect
	}
	if s.w.Partition < r.Ordinal {
		// Someone lowered the partition further: admit only this ordinal.
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: r.Ordinal})
	}
	if (!m.Pod.Ready || m.Pod.CrashLooping) &&
		(r.DeletedUID != m.Pod.UID || s.obs.Now.Sub(u.PhaseStartedAt.Time) >= s.spec.RetryInterval) {
		// An OrderedReady controller does not replace a pod that is not
		// ready: delete it explicitly, once per incarnation (again after
		// the retry interval if the delete was lost).
		if !s.canDisrupt(m) {
			return ""
		}
		r.DeletedUID = m.Pod.UID
		s.act(upgrade.DeletePod{Member: m.Name, UID: m.Pod.UID})
		return EventForceRestart
	}
	s.hold(upgrade.GatePodReady, ReasonAwaitingController, m.Name, "waiting for the controller to restart %s", m.Name)
	return ""
}

func (s *stepper) verifying() Event {
	u := s.st.Upgrade
	r := u.Rolling
	m := s.memberAt(r.Ordinal)
	switch {
	case m == nil || !m.Pod.Exists || m.Pod.Terminating:
		s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "waiting for the controller to recreate ordinal %d", r.Ordinal)
		return ""
	case m.Revision != s.w.UpdateRevision:
		// The new pod was lost and came back at the old revision (killed
		// while the partition was above it): select the ordinal again.
		return EventReselect
	case m.Version != "" && !policy.SameVersion(m.Version, u.TargetVersion):
		s.hold(upgrade.GatePodReady, ReasonVersionMismatch, m.Name, "%s reports version %s, want %s", m.Name, m.Version, u.TargetVersion)
		return ""
	}
	// The stabilization window counts from the member's own restart: the
	// latest of its pod's start and readiness, this strategy's first
	// observation of it caught up (recorded in the status) and autopilot's
	// stable_since, which alone can predate a short restart.
	noWindow := s.spec.CatchUp
	noWindow.Stabilization = -1
	if g := upgrade.CaughtUp(s.obs, *m, noWindow); g != nil {
		r.HealthySince = metav1.Time{}
		s.gate = g
		return ""
	}
	if r.HealthySince.IsZero() {
		r.HealthySince = upgrade.TimeCeil(s.obs.Now)
	}
	if g := upgrade.CaughtUpAfterRestart(s.obs, *m, s.spec.CatchUp, r.HealthySince.Time); g != nil {
		s.gate = g
		return ""
	}
	r.Updated = append(r.Updated, m.Name)
	r.Ordinal--
	r.RestartedUID, r.DeletedUID, r.TransferTarget = "", "", ""
	r.HealthySince = metav1.Time{}
	return EventPodVerified
}

// finalize completes the upgrade atomically once every member runs the
// target and is caught up: status.Upgrade is cleared and the current
// version set in the same status (S5), the partition restored to 0 and the
// lock released in the same Decision.
func (s *stepper) finalize() (Event, error) {
	u := s.st.Upgrade
	if int32(len(s.members)) != s.w.Replicas {
		s.hold(upgrade.GatePodReady, upgrade.ReasonPodMissing, "", "%d of %d members observed", len(s.members), s.w.Replicas)
		return "", nil
	}
	for i := range s.members {
		m := &s.members[i]
		if !s.updated(m) {
			s.hold(upgrade.GatePodReady, ReasonPodRestarting, m.Name, "%s is not at the update revision", m.Name)
			return "", nil
		}
		if m.Version != "" && !policy.SameVersion(m.Version, u.TargetVersion) {
			s.hold(upgrade.GatePodReady, ReasonVersionMismatch, m.Name, "%s reports version %s, want %s", m.Name, m.Version, u.TargetVersion)
			return "", nil
		}
	}
	if g := upgrade.CompletionGate(s.obs, s.w.Name, int(s.w.Replicas), s.spec.CatchUp); g != nil {
		s.gate = g
		return "", nil
	}
	if _, err := Table.Next(PhaseRolling, EventCompleted); err != nil {
		return "", fmt.Errorf("rolling: %w", err)
	}
	if s.w.Partition != 0 {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: 0})
	}
	if s.obs.Lock.Holder == u.LockHolder {
		s.act(upgrade.ReleaseLock{Holder: u.LockHolder})
	}
	outcome, reason := upgrade.OutcomeSucceeded, ReasonSucceeded
	if policy.SameVersion(u.TargetVersion, u.FromVersion) && u.TargetImage == u.FromImage {
		outcome, reason = upgrade.OutcomeRolledBack, ReasonRolledBack
	}
	msg := fmt.Sprintf("%s upgraded from %s to %s (%d leadership moves requested)", s.w.Name, u.FromVersion, u.TargetVersion, u.Rolling.LeaderMoves)
	if outcome == upgrade.OutcomeRolledBack {
		msg = fmt.Sprintf("%s rolled back to %s", s.w.Name, u.TargetVersion)
	}
	s.event(upgrade.EventNormal, reason, "%s", msg)
	s.outcome = &upgrade.Result{
		Outcome: outcome, FromVersion: u.FromVersion, TargetVersion: u.TargetVersion,
		Reason: string(reason), Message: msg, StartedAt: u.StartedAt, FinishedAt: upgrade.Time(s.obs.Now),
	}
	s.st.LastResult = s.outcome
	s.st.CurrentVersion, s.st.CurrentImage = u.TargetVersion, u.TargetImage
	s.st.Upgrade = nil
	return "", nil
}

// ---------------------------------------------------------------- conditions

func (s *stepper) setConditions() {
	c := &s.st.Conditions
	now := s.condNow
	set := func(typ string, st metav1.ConditionStatus, r upgrade.Reason, msg string) {
		upgrade.SetCondition(c, typ, st, r, msg, now)
	}
	g := s.gate
	switch u := s.st.Upgrade; {
	case s.outcome != nil:
		r := upgrade.Reason(s.outcome.Reason)
		set(upgrade.ConditionReady, metav1.ConditionTrue, r, s.outcome.Message)
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, r, s.outcome.Message)
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	case u == nil && g == nil:
		msg := "running " + s.st.CurrentVersion
		r := ReasonUpToDate
		if !policy.SameVersion(s.spec.Version, s.st.CurrentVersion) || s.spec.Image != s.st.CurrentImage {
			r, msg = ReasonAdopted, "adopted running version "+s.st.CurrentVersion
		}
		set(upgrade.ConditionReady, metav1.ConditionTrue, r, msg)
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, ReasonIdle, "")
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	case u == nil:
		set(upgrade.ConditionReady, metav1.ConditionFalse, g.Reason, g.Message)
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, g.Reason, g.Message)
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	case u.Paused != nil:
		p := u.Paused
		set(upgrade.ConditionReady, metav1.ConditionFalse, ReasonUpgrading, "upgrade to "+u.TargetVersion+" is paused")
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, p.Reason, p.Message)
		set(upgrade.ConditionDegraded, metav1.ConditionTrue, p.Reason, p.Message)
	default:
		set(upgrade.ConditionReady, metav1.ConditionFalse, ReasonUpgrading, "upgrading to "+u.TargetVersion)
		if g != nil {
			set(upgrade.ConditionProgressing, metav1.ConditionTrue, g.Reason, g.Message)
		} else {
			set(upgrade.ConditionProgressing, metav1.ConditionTrue, upgrade.Reason(u.Phase), "")
		}
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	}
}
