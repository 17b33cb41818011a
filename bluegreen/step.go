package bluegreen

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// Gate reasons specific to the blue-green strategy.
const (
	ReasonTooFewVoters         upgrade.Reason = "TooFewVoters"
	ReasonNoBlueWorkload       upgrade.Reason = "NoBlueWorkload"
	ReasonGreenNameConflict    upgrade.Reason = "GreenNameConflict"
	ReasonGreenMismatch        upgrade.Reason = "GreenWorkloadMismatch"
	ReasonGreenNotReady        upgrade.Reason = "GreenNotReady"
	ReasonGreenCrashLooping    upgrade.Reason = "GreenCrashLooping"
	ReasonActionPending        upgrade.Reason = "ActionPending"
	ReasonMinSyncDuration      upgrade.Reason = "MinSyncDuration"
	ReasonHookRunning          upgrade.Reason = "HookRunning"
	ReasonHookFailed           upgrade.Reason = "HookFailed"
	ReasonHookTimeout          upgrade.Reason = "HookTimeout"
	ReasonAwaitingPromotion    upgrade.Reason = "AwaitingManualPromotion"
	ReasonElection             upgrade.Reason = "ElectionInProgress"
	ReasonLeaderMoveInFlight   upgrade.Reason = "LeaderMoveInFlight"
	ReasonLeaderMovesExhausted upgrade.Reason = "LeaderMovesExhausted"
	ReasonStabilizationWindow  upgrade.Reason = "StabilizationWindow"
	ReasonGreenUnhealthy       upgrade.Reason = "GreenUnhealthy"
	ReasonRollbackRequested    upgrade.Reason = "RollbackRequested"
	ReasonTargetReverted       upgrade.Reason = "TargetReverted"
	ReasonTargetChanged        upgrade.Reason = "TargetChanged"
	ReasonStepDeadline         upgrade.Reason = "StepDeadlineExceeded"
	ReasonPromotionDeadline    upgrade.Reason = "PromotionDeadlineExceeded"
	ReasonRollbackDeadline     upgrade.Reason = "RollbackDeadlineExceeded"
	ReasonTooManyFailures      upgrade.Reason = "TooManyFailures"
	ReasonBlueQuorumLost       upgrade.Reason = "BlueQuorumUnavailable"
	ReasonGreenVoterInAbort    upgrade.Reason = "GreenVoterDuringAbort"
	ReasonAwaitingAck          upgrade.Reason = "AwaitingAcknowledgement"
	ReasonPastPointOfNoReturn  upgrade.Reason = "PastPointOfNoReturn"
	ReasonRollbackRefused      upgrade.Reason = "RollbackRefused"
	ReasonMembershipPending    upgrade.Reason = "MembershipChangeBlocked"
	ReasonTransitionLoop       upgrade.Reason = "TransitionLoop"
	ReasonLeaderFailedBack     upgrade.Reason = "LeaderFailedBack"
)

// maxTransitionsPerStep bounds the phases one Step may pass through.
const maxTransitionsPerStep = 24

// Step decides the next actions of a blue-green upgrade. It is pure and
// deterministic: it reads only its arguments (the time is obs.Now), never
// mutates them, and returns the actions to execute in order together with
// the status to persist. See the package documentation for the phases.
//
// Bad input (a spec or status that cannot be acted on) returns an error
// wrapping upgrade.ErrInvalidSpec or upgrade.ErrInvalidStatus, the
// unchanged status and no action. Policy refusals, unmet prerequisites and
// every other reason to wait are reported as Decision.Gate and in the
// status conditions, with a nil error.
func Step(spec Spec, obs upgrade.Observation, status upgrade.Status) (upgrade.Decision, error) {
	unchanged := func(err error) (upgrade.Decision, error) {
		return upgrade.Decision{Status: *status.DeepCopy()}, err
	}
	if err := contract.Validate(spec.Version, spec.Image, &obs); err != nil {
		return unchanged(fmt.Errorf("bluegreen: %w", err))
	}
	if err := spec.validate(); err != nil {
		return unchanged(fmt.Errorf("bluegreen: %w", err))
	}
	if err := validateStatus(&status); err != nil {
		return unchanged(fmt.Errorf("bluegreen: %w", err))
	}
	spec = spec.withDefaults()
	r := &run{
		spec:   spec,
		obs:    obs,
		now:    obs.Now,
		st:     *status.DeepCopy(),
		safety: upgrade.Safety{CatchUp: spec.CatchUp},
	}
	r.up = r.st.Upgrade
	if r.up != nil {
		r.bg = r.up.BlueGreen
	}
	contract.HandleRetry(spec.RetryNonce, &r.st, obs.Now)

	// Stale observations are never acted on.
	if g := upgrade.CheckFresh(&obs, &status); g != nil {
		r.gate = g
		r.finishConditions()
		return upgrade.Decision{Status: r.st, Gate: g, RequeueAfter: spec.RequeueAfter.Duration}, nil
	}
	// The last Decision's effects must show before anything else is
	// decided (or be overdue): until then Step waits, status unchanged. A
	// membership change the workload applies asynchronously is given its
	// declared delay.
	if g, done := upgrade.CheckExpected(&obs, &status, max(spec.RetryAfter.Duration, obs.Capabilities.MembershipDelay)); g != nil {
		return upgrade.Decision{Status: *status.DeepCopy(), Gate: g, RequeueAfter: min(spec.RequeueAfter.Duration, time.Second)}, nil
	} else if done {
		r.st.Expected = nil
	}
	r.st.RecordTerm(&obs)

	startPhase := r.phase()
	for i := 0; ; i++ {
		if i == maxTransitionsPerStep {
			r.hold(upgrade.GateMembership, ReasonTransitionLoop, "too many phase changes in one step")
			break
		}
		ev, err := r.dispatch()
		if err != nil {
			return unchanged(fmt.Errorf("bluegreen: %w", err))
		}
		if ev == "" {
			break
		}
		if err := r.to(ev); err != nil {
			return unchanged(fmt.Errorf("bluegreen: %w", err))
		}
		if len(r.actions) > 0 || r.stop {
			break
		}
		r.gate = nil
	}

	// Defense in depth: the strategy's own actions must pass the safety
	// rules against the observation it decided on, and nothing disruptive
	// may leave while break-glass is engaged (S7). Check accepts an empty
	// list, and a list demoteOne already checked against this very
	// observation passes again (Check is pure), so neither is re-checked.
	if len(r.actions) > 0 && !r.alreadyChecked() {
		if err := r.safety.Check(obs, r.actions); err != nil {
			return unchanged(fmt.Errorf("bluegreen: refusing own actions in phase %s: %w", r.phase(), err))
		}
	}
	if r.st.BreakGlass != nil {
		for _, a := range r.actions {
			if upgrade.IsDisruptive(a) {
				return unchanged(fmt.Errorf("bluegreen: %w: disruptive action %s during break-glass", upgrade.ErrUnsafe, a))
			}
		}
	}
	acted := len(r.actions) > 0 || r.phase() != startPhase || r.transitions > 0
	if acted {
		r.st.RecordStep(&obs)
	}
	if len(r.actions) > 0 && r.st.Upgrade != nil {
		r.st.Expected = upgrade.ExpectationsOf(&obs, r.actions)
	}
	if r.gate == nil && r.unexpectedlyPromoted() {
		// reported, though it holds nothing by itself
		r.gate = &upgrade.Gate{Name: upgrade.GateMembership, Reason: upgrade.ReasonUnexpectedPromotion, Message: unexpectedPromotionMessage}
	}
	r.finishConditions()
	if !acted && len(r.events) == 0 {
		r.st = upgrade.Unchanged(&status, r.st)
	}
	d := upgrade.Decision{
		Actions: r.actions,
		Events:  r.events,
		Status:  r.st,
		Gate:    r.gate,
	}
	if len(d.Actions) == 0 {
		d.Actions = nil
	}
	if r.st.Upgrade != nil || r.gate != nil {
		d.RequeueAfter = spec.RequeueAfter.Duration
		if r.requeue > 0 && r.requeue < d.RequeueAfter {
			d.RequeueAfter = r.requeue
		}
	}
	return d, nil
}

// run is the working state of one Step.
type run struct {
	spec    Spec
	obs     upgrade.Observation
	now     time.Time
	st      upgrade.Status
	up      *upgrade.UpgradeStatus
	bg      *upgrade.BlueGreenProgress
	safety  upgrade.Safety
	actions []upgrade.Action
	events  []upgrade.Event
	gate    *upgrade.Gate
	requeue time.Duration
	// stop ends the step after the current transition even without actions.
	stop        bool
	transitions int
	// degraded is a forward-only problem reported past the point of no return.
	degraded *upgrade.Gate
	// ended is the result of an upgrade that ended in this Step.
	ended *upgrade.Result
	// memo caches members() per workload name (the observation never
	// changes during a Step).
	memo  [2]memberList
	nmemo int
	// checked is a Demote that passed Safety.Check on its own against
	// r.obs (see demoteOne), valid when hasChecked.
	checked    upgrade.Demote
	hasChecked bool
	// leaderM and leaderOK cache r.obs.Leader() once leaderDone.
	leaderM    upgrade.Member
	leaderOK   bool
	leaderDone bool
}

type memberList struct {
	workload string
	members  []upgrade.Member
}

// members returns r.obs.WorkloadMembers(workload): the members of a
// workload by ordinal. The result is shared and must not be modified.
func (r *run) members(workload string) []upgrade.Member {
	for i := range r.nmemo {
		if r.memo[i].workload == workload {
			return r.memo[i].members
		}
	}
	ms := workloadMembers(&r.obs, workload)
	if r.nmemo < len(r.memo) {
		r.memo[r.nmemo] = memberList{workload: workload, members: ms}
		r.nmemo++
	}
	return ms
}

// workloadMembers is obs.WorkloadMembers(name) without allocating when the
// observation lists the workload's members contiguously in strictly
// increasing ordinal order (the usual case): the sorted result is then
// that sub-slice, capped so it cannot be appended to in place.
func workloadMembers(obs *upgrade.Observation, name string) []upgrade.Member {
	start, end := -1, -1
	for i := range obs.Members {
		if obs.Members[i].Workload != name {
			continue
		}
		switch {
		case start < 0:
			start = i
		case end != i || obs.Members[i].Ordinal <= obs.Members[i-1].Ordinal:
			return obs.WorkloadMembers(name)
		}
		end = i + 1
	}
	if start < 0 {
		return nil
	}
	return obs.Members[start:end:end]
}

// alreadyChecked reports whether the actions are exactly one Demote that
// demoteOne checked against this observation.
func (r *run) alreadyChecked() bool {
	if !r.hasChecked || len(r.actions) != 1 {
		return false
	}
	d, ok := r.actions[0].(upgrade.Demote)
	return ok && d == r.checked
}

func validateStatus(s *upgrade.Status) error {
	u := s.Upgrade
	if u == nil {
		if s.BreakGlass != nil {
			return fmt.Errorf("%w: break-glass is set while no upgrade is in progress", upgrade.ErrInvalidStatus)
		}
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", upgrade.ErrInvalidStatus, fmt.Sprintf(format, args...))
	}
	switch {
	case u.Strategy != upgrade.StrategyBlueGreen:
		return bad("upgrade in progress is driven by strategy %q, not %q", u.Strategy, upgrade.StrategyBlueGreen)
	case u.BlueGreen == nil:
		return bad("blue-green progress is missing")
	case u.BlueGreen.Blue == "" || u.BlueGreen.Green == "" || u.BlueGreen.Blue == u.BlueGreen.Green:
		return bad("blue (%q) and green (%q) workloads must be distinct and non-empty", u.BlueGreen.Blue, u.BlueGreen.Green)
	case u.TargetVersion == "":
		return bad("target version is empty")
	}
	p := Phase(u.Phase)
	if p == PhaseIdle || !knownPhase(p) {
		return bad("unknown phase %q", u.Phase)
	}
	if (p == PhaseBreakGlass) != (s.BreakGlass != nil) {
		return bad("phase %q is inconsistent with break-glass being set (%t)", u.Phase, s.BreakGlass != nil)
	}
	return nil
}

// knownPhase reports whether p is a phase of Table (a scan of the table,
// without allocating).
func knownPhase(p Phase) bool {
	for _, tr := range table.Transitions {
		if tr.From == p || tr.To == p {
			return true
		}
	}
	return false
}

func (r *run) phase() Phase {
	if r.up == nil {
		return PhaseIdle
	}
	return Phase(r.up.Phase)
}

// to takes the table edge (phase, ev), failing with ErrIllegalTransition
// when the table has none.
func (r *run) to(ev Event) error {
	from := r.phase()
	next, err := table.Next(from, ev)
	if err != nil {
		return err
	}
	r.transitions++
	r.events = append(r.events, upgrade.Event{Type: eventType(ev), Reason: string(ev),
		Message: string(from) + " -> " + string(next)})
	if next == PhaseIdle {
		r.st.Upgrade = nil
		r.up, r.bg = nil, nil
		r.stop = true
		return nil
	}
	t := upgrade.Time(r.now)
	r.up.Phase = string(next)
	r.up.PhaseStartedAt = upgrade.TimeCeil(r.now) // windows measured from it never end early
	r.up.StepStartedAt = t
	r.up.Failures = 0
	r.bg.LastAction = ""
	r.bg.LastActionAt = metav1.Time{}
	r.bg.HookAttempt = 0
	r.bg.HookRequestedAt = metav1.Time{}
	r.bg.HookPassed = false
	if ev != EventLeaderLost {
		r.bg.LeaderMoves = 0
		r.bg.LeaderMoveTerm = 0
	}
	return nil
}

func eventType(ev Event) upgrade.EventType {
	switch ev {
	case EventAbort, EventRollback, EventBreakGlass, EventLeaderLost, EventResumeRollback, EventAborted, EventRolledBack:
		return upgrade.EventWarning
	}
	return upgrade.EventNormal
}

// hold records the gate holding progress.
func (r *run) hold(name upgrade.GateName, reason upgrade.Reason, format string, args ...any) {
	r.gate = &upgrade.Gate{Name: name, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func (r *run) holdGate(g *upgrade.Gate) { r.gate = g }

func (r *run) event(t upgrade.EventType, reason upgrade.Reason, format string, args ...any) {
	r.events = append(r.events, upgrade.Event{Type: t, Reason: string(reason), Message: fmt.Sprintf(format, args...)})
}

// issue emits progress actions identified by key. Issuing the same key
// again means the previous attempt had no visible effect: it is held back
// for RetryAfter and then counted in UpgradeStatus.Failures.
func (r *run) issue(key string, acts ...upgrade.Action) bool {
	if r.blind(acts...) {
		return false
	}
	if r.bg.LastAction == key {
		// A membership change the workload applies asynchronously (OpenBao's
		// autopilot at its next reconcile) is awaited for at least the
		// declared delay, and re-issuing it is not a failure: the adapters'
		// membership calls are idempotent, and the step deadline bounds a
		// change that never lands.
		async := r.asyncMembership(acts)
		retry := r.spec.RetryAfter.Duration
		if async {
			retry = max(retry, r.obs.Capabilities.MembershipDelay)
		}
		if wait := retry - r.now.Sub(r.bg.LastActionAt.Time); wait > 0 {
			r.hold(upgrade.GateMembership, ReasonActionPending, "waiting for %s to take effect", key)
			r.requeue = wait
			return false
		}
		if !async {
			r.up.Failures++
		}
	} else {
		r.up.Failures = 0
		r.up.StepStartedAt = upgrade.Time(r.now)
	}
	r.bg.LastAction = key
	r.bg.LastActionAt = upgrade.Time(r.now)
	r.actions = append(r.actions, acts...)
	return true
}

// unexpectedPromotion reports green members that vote before this strategy
// promoted any (before Promoting): the workload promoted them on its own.
// They count as voters for every safety rule (they are voters in the
// observation); failures from now on roll back instead of aborting, and the
// validation and promotion gates still hold leadership on blue.
func (r *run) unexpectedPromotion() {
	switch r.phase() {
	case PhaseDeployingGreen, PhaseJoiningMesh, PhaseSyncing, PhaseValidating, PhaseAwaitingPromotion:
	default:
		return
	}
	var voting []string
	for _, m := range r.members(r.bg.Green) {
		if m.IsVoter() {
			voting = append(voting, m.Name)
		}
	}
	if len(voting) == 0 {
		return
	}
	r.bg.PromotionStarted = true
	if !r.bg.UnexpectedPromotion {
		r.bg.UnexpectedPromotion = true
		r.event(upgrade.EventWarning, upgrade.ReasonUnexpectedPromotion, "green members %s: %s", strings.Join(voting, ", "),
			unexpectedPromotionMessage)
	}
}

// unexpectedPromotionMessage explains UnexpectedPromotion in conditions.
const unexpectedPromotionMessage = "green members vote before the strategy promoted them (the workload promotes non-voters on its own; " +
	"join them so they stay non-voters, e.g. OpenBao's retry_join_as_non_voter); they count as voters, and validation and promotion still gate leadership"

// unexpectedlyPromoted reports whether the upgrade is in a phase before
// Promoting with green members promoted behind the strategy's back.
func (r *run) unexpectedlyPromoted() bool {
	if r.bg == nil || !r.bg.UnexpectedPromotion {
		return false
	}
	switch r.phase() {
	case PhaseDeployingGreen, PhaseJoiningMesh, PhaseSyncing, PhaseValidating, PhaseAwaitingPromotion:
		return true
	}
	return false
}

// asyncMembership reports whether acts change membership and the workload
// applies membership changes asynchronously (Capabilities.MembershipDelay).
func (r *run) asyncMembership(acts []upgrade.Action) bool {
	if r.obs.Capabilities.MembershipDelay <= 0 {
		return false
	}
	for _, a := range acts {
		switch a.(type) {
		case upgrade.JoinNonvoter, upgrade.Promote, upgrade.Demote:
			return true
		}
	}
	return false
}

// blind holds with a RaftViewUnknown gate when any of acts could disrupt a
// member and the Raft view is unknown or partial (unknown is not absent: a
// member that looks like a non-voter may be a voter). Creating the green
// workload disrupts no existing member and is not held.
func (r *run) blind(acts ...upgrade.Action) bool {
	for _, a := range acts {
		if _, create := a.(upgrade.CreateRevision); create || !upgrade.IsDisruptive(a) {
			continue
		}
		if g := upgrade.CheckView(&r.obs); g != nil {
			r.holdGate(g)
			return true
		}
		return false
	}
	return false
}

// dispatch runs the current phase: failure triggers first, then the phase
// logic. It returns the event to take, or "" to end the step.
func (r *run) dispatch() (Event, error) {
	p := r.phase()
	switch p {
	case PhaseIdle:
		return r.idle()
	case PhaseBreakGlass:
		return r.breakGlass(), nil
	}
	r.unexpectedPromotion()
	if ev := r.triggers(); ev != "" {
		return ev, nil
	}
	if r.stop {
		return "", nil
	}
	switch p {
	case PhaseDeployingGreen:
		return r.deployingGreen(), nil
	case PhaseJoiningMesh:
		return r.joiningMesh(), nil
	case PhaseSyncing:
		return r.syncing(), nil
	case PhaseValidating:
		return r.validating(), nil
	case PhaseAwaitingPromotion:
		return r.awaitingPromotion(), nil
	case PhasePromoting:
		return r.promoting(), nil
	case PhaseTransferringLeadership:
		return r.transferring(), nil
	case PhaseDemotingBlue:
		return r.demotingBlue(), nil
	case PhaseStabilizing:
		return r.stabilizing(), nil
	case PhaseCleanup:
		return r.cleanup(), nil
	case PhaseRestoringBlue:
		return r.restoringBlue(), nil
	case PhaseRollbackLeadership:
		return r.rollbackLeadership(), nil
	case PhaseDemotingGreen:
		return r.demotingGreen(), nil
	case PhaseAborting, PhaseRollbackCleanup:
		return r.removeGreen(), nil
	}
	return "", fmt.Errorf("%w: unknown phase %q", upgrade.ErrInvalidStatus, p)
}

// phaseClass groups phases by how failures are handled.
type phaseClass int

const (
	classForward    phaseClass = iota // before the point of no return: abort or roll back
	classCommitted                    // past the point of no return: roll forward
	classRepair                       // abort / rollback: break-glass
	classBreakGlass                   // halted
)

func classOf(p Phase) phaseClass {
	switch p {
	case PhaseCleanup:
		return classCommitted
	case PhaseAborting, PhaseRestoringBlue, PhaseRollbackLeadership, PhaseDemotingGreen, PhaseRollbackCleanup:
		return classRepair
	case PhaseBreakGlass:
		return classBreakGlass
	}
	return classForward
}

// triggers evaluates the failure triggers of the current phase and returns
// the event they demand ("" when none fired).
func (r *run) triggers() Event {
	p := r.phase()
	class := classOf(p)
	var reason upgrade.Reason
	var msg string
	fire := func(rs upgrade.Reason, format string, args ...any) {
		if reason == "" {
			reason, msg = rs, fmt.Sprintf(format, args...)
		}
	}

	// Requests and spec changes.
	if n := r.spec.RollbackNonce; n != "" && n != r.st.Handled.Rollback {
		r.st.Handled.Rollback = n
		switch class {
		case classForward:
			fire(ReasonRollbackRequested, "rollback requested (nonce %q)", n)
		case classCommitted:
			r.event(upgrade.EventWarning, ReasonRollbackRefused,
				"rollback request %q refused: cleanup already started removing blue peers (point of no return); rolling forward", n)
			r.degraded = &upgrade.Gate{Name: upgrade.GateMembership, Reason: ReasonRollbackRefused,
				Message: "rollback refused past the point of no return; rolling forward"}
		}
	}
	if class == classForward && (!policy.SameVersion(r.spec.Version, r.up.TargetVersion) || r.spec.Image != r.up.TargetImage) {
		if _, err := policy.ParseVersion(r.spec.Version); err != nil {
			// A typo mid-upgrade is bad input: hold, never roll back on it.
			var v *policy.Violation
			if errors.As(err, &v) {
				r.holdGate(v.AsGate())
			} else {
				r.hold(upgrade.GatePolicy, policy.ReasonInvalidVersion, "%v", err)
			}
			r.stop = true
			return ""
		}
		if policy.SameVersion(r.spec.Version, r.up.FromVersion) {
			fire(ReasonTargetReverted, "spec reverted to %s", r.spec.Version)
		} else {
			fire(ReasonTargetChanged, "spec target changed from %s to %s; rolling back before starting again", r.up.TargetVersion, r.spec.Version)
		}
	}

	// Health of green.
	if class == classForward || class == classCommitted {
		green := r.members(r.bg.Green)
		for i := range green {
			if green[i].Pod.CrashLooping {
				fire(ReasonGreenCrashLooping, "green member %s is crash-looping", green[i].Name)
				break
			}
		}
	}

	// Repeated failures and deadlines.
	if r.up.Failures >= r.spec.MaxFailures {
		fire(ReasonTooManyFailures, "%s was issued %d times without effect", r.bg.LastAction, r.up.Failures+1)
	}
	since := r.now.Sub(r.up.StepStartedAt.Time)
	switch {
	case class == classRepair:
		if since > r.spec.Timeouts.Rollback.Duration {
			fire(ReasonRollbackDeadline, "no rollback progress in phase %s for %s (limit %s)", p, since.Truncate(time.Second), r.spec.Timeouts.Rollback.Duration)
		}
	case p == PhaseAwaitingPromotion:
		if r.spec.Timeouts.Promotion.Duration > 0 && since > r.spec.Timeouts.Promotion.Duration {
			fire(ReasonPromotionDeadline, "not promoted within %s", r.spec.Timeouts.Promotion.Duration)
		}
	case p == PhaseSyncing:
		if since > r.spec.Timeouts.Sync.Duration {
			fire(ReasonStepDeadline, "green not in sync after %s (limit %s)", since.Truncate(time.Second), r.spec.Timeouts.Sync.Duration)
		}
	case p == PhaseValidating || (p == PhaseStabilizing && r.bg.HookAttempt > 0 && !r.bg.HookPassed):
		// The hook timeout governs while a hook runs.
	default:
		if since > r.spec.Timeouts.Step.Duration {
			fire(ReasonStepDeadline, "no progress in phase %s for %s (limit %s)", p, since.Truncate(time.Second), r.spec.Timeouts.Step.Duration)
		}
	}
	if reason == "" {
		return ""
	}
	return r.fail(reason, msg)
}

// fail reacts to a failure according to the phase class.
func (r *run) fail(reason upgrade.Reason, msg string) Event {
	switch classOf(r.phase()) {
	case classForward:
		return r.startRollback(reason, msg)
	case classCommitted:
		r.degraded = &upgrade.Gate{Name: upgrade.GateDeadline, Reason: ReasonPastPointOfNoReturn,
			Message: fmt.Sprintf("%s (%s); past the point of no return, rolling forward", msg, reason)}
		if reason == ReasonTooManyFailures {
			// Keep trying, but restart the failure count so the cap does not
			// fire on every step.
			r.up.Failures = 0
		}
		if reason == ReasonStepDeadline {
			r.up.StepStartedAt = upgrade.Time(r.now)
		}
		return ""
	case classRepair:
		return r.enterBreakGlass(reason, msg)
	}
	return ""
}

// startRollback chooses abort (no green voter yet) or rollback.
func (r *run) startRollback(reason upgrade.Reason, msg string) Event {
	r.bg.RollingBack = true
	r.bg.RollbackReason = reason
	r.bg.RollbackMessage = msg
	// Abort (remove green, nothing else) only while no green member votes
	// or may vote; otherwise roll back, which restores blue's votes and
	// leadership before green leaves. Every phase that can fail has a
	// Rollback edge, not every one an Abort edge.
	if _, err := table.Next(r.phase(), EventAbort); err != nil || r.bg.PromotionStarted || r.greenHasVoter() {
		r.bg.PromotionStarted = true
		r.event(upgrade.EventWarning, reason, "rolling back: %s", msg)
		return EventRollback
	}
	r.event(upgrade.EventWarning, reason, "aborting: %s", msg)
	return EventAbort
}

// enterBreakGlass halts automation until the nonce is acknowledged (S7).
func (r *run) enterBreakGlass(reason upgrade.Reason, msg string) Event {
	r.actions = nil
	from := r.phase()
	r.bg.BreakGlassFrom = string(from)
	r.bg.BreakGlassCount++
	entered := upgrade.Time(r.now)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%s|%s|%d", r.up.TargetVersion, r.bg.Green, from,
		entered.UTC().Format(time.RFC3339), reason, r.bg.BreakGlassCount))
	nonce := hex.EncodeToString(sum[:8])
	r.st.BreakGlass = &upgrade.BreakGlass{
		Nonce:   nonce,
		Reason:  string(reason),
		Message: fmt.Sprintf("automated repair halted in phase %s: %s", from, msg),
		RecoverySteps: []string{
			fmt.Sprintf("inspect the raft configuration: blue workload %s and green workload %s", r.bg.Blue, r.bg.Green),
			fmt.Sprintf("restore a healthy quorum of %s members (fix crash-looping or missing pods) or take a snapshot", r.bg.Blue),
			"make sure the cluster has a leader and every remaining voter is healthy",
			fmt.Sprintf("set spec.breakGlassAck to %q to resume the rollback from its first step", nonce),
		},
		EnteredAt: entered,
	}
	r.event(upgrade.EventWarning, upgrade.Reason(upgrade.GateBreakGlass),
		"break-glass engaged (%s): %s; acknowledge with nonce %s", reason, msg, nonce)
	r.stop = true
	return EventBreakGlass
}

func (r *run) breakGlass() Event {
	bgs := r.st.BreakGlass
	if r.spec.BreakGlassAck != "" && r.spec.BreakGlassAck == bgs.Nonce {
		r.st.Handled.BreakGlassAck = bgs.Nonce
		r.st.BreakGlass = nil
		r.bg.RollingBack = true
		r.event(upgrade.EventNormal, "BreakGlassAcknowledged", "break-glass %s acknowledged; resuming the rollback", bgs.Nonce)
		return EventAcknowledged
	}
	r.hold(upgrade.GateBreakGlass, ReasonAwaitingAck, "%s; set spec.breakGlassAck to %q to resume", bgs.Message, bgs.Nonce)
	return ""
}

// greenHasVoter reports whether any green member is observed as a voter.
func (r *run) greenHasVoter() bool {
	for _, m := range r.obs.Members {
		if m.Workload == r.bg.Green && m.IsVoter() {
			return true
		}
	}
	return false
}

func (r *run) caughtUp(m upgrade.Member) *upgrade.Gate {
	return upgrade.CaughtUp(&r.obs, m, r.spec.CatchUp)
}

// obsLeader is r.obs.Leader(), looked up once per Step.
func (r *run) obsLeader() (upgrade.Member, bool) {
	if !r.leaderDone {
		r.leaderM, r.leaderOK = r.obs.Leader()
		r.leaderDone = true
	}
	return r.leaderM, r.leaderOK
}

// leader returns the leader, holding with a gate when there is none.
func (r *run) leader() (upgrade.Member, bool) {
	l, ok := r.obsLeader()
	if !ok || !r.obs.Raft.Known {
		r.hold(upgrade.GateLeader, upgrade.ReasonNoLeader, "the cluster has no leader")
		return upgrade.Member{}, false
	}
	return l, true
}

// votersHealthy holds unless every voter is serving and caught up (S2).
func (r *run) votersHealthy() bool {
	for i := range r.obs.Members {
		if m := &r.obs.Members[i]; m.IsVoter() {
			if g := r.caughtUp(*m); g != nil {
				if g.Reason == upgrade.ReasonRaftViewUnknown {
					r.holdGate(g) // unknown is not unhealthy: say so
					return false
				}
				// g is fresh (CaughtUp allocates every gate): reuse it.
				g.Name, g.Reason, g.Member = upgrade.GateQuorum, upgrade.ReasonOtherVoterDisrupted, m.Name
				g.Message = "membership changes wait until every voter is healthy and caught up: " + g.Message
				r.holdGate(g)
				return false
			}
		}
	}
	return true
}

// finishConditions sets the conditions both strategies share (package
// contract) for this Step.
func (r *run) finishConditions() {
	v := contract.View{Gate: r.gate, Ended: r.ended}
	switch {
	case r.st.Upgrade == nil:
	case r.degraded != nil:
		v.Degraded = r.degraded
	case r.unexpectedlyPromoted():
		v.Degraded = &upgrade.Gate{Name: upgrade.GateMembership, Reason: upgrade.ReasonUnexpectedPromotion, Message: unexpectedPromotionMessage}
	case r.bg.RollingBack:
		v.Degraded = &upgrade.Gate{Name: upgrade.GateMembership, Reason: r.bg.RollbackReason, Message: r.bg.RollbackMessage}
	}
	contract.SetConditions(&r.st, v, r.now, r.obs.Generation)
}
