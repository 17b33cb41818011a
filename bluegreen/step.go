package bluegreen

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/internal/contract"
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
	hold, err := contract.ParseHold(spec.Paused, spec.MaintenanceWindows, spec.stepRoom())
	if err != nil {
		return unchanged(fmt.Errorf("bluegreen: %w", err))
	}
	r := &run{
		holdRule: hold,
		spec:     spec,
		obs:      obs,
		now:      obs.Now,
		st:       *status.DeepCopy(),
		safety:   contract.FailbackSafety(upgrade.Safety{CatchUp: spec.CatchUp}, status.Upgrade),
	}
	r.up = r.st.Upgrade
	if r.up != nil {
		r.bg = r.up.BlueGreen
	}
	contract.HandleRetry(spec.RetryNonce, &r.st, obs.Now)

	// Stale observations are never acted on.
	if g := contract.CheckFresh(&obs, &status); g != nil {
		r.gate = g
		r.finishConditions() // may raise LeaderVersionRegressed over g
		return upgrade.Decision{Status: r.st, Gate: r.gate, RequeueAfter: spec.RequeueAfter.Duration}, nil
	}
	// The last Decision's effects must show before anything else is
	// decided (or be overdue): until then Step waits, status unchanged. A
	// membership change the workload applies asynchronously is given its
	// declared delay.
	if g, done := contract.CheckExpected(&obs, &status, max(spec.RetryAfter.Duration, obs.Capabilities.MembershipDelay)); g != nil {
		st := *status.DeepCopy()
		if rg := contract.Failback(&st, &obs, false, obs.Now, obs.Generation); rg != nil {
			rg.Message += "; " + g.Message
			g = rg
		}
		return upgrade.Decision{Status: st, Gate: g, RequeueAfter: min(spec.RequeueAfter.Duration, time.Second)}, nil
	} else if done {
		r.st.Expected = nil
	}
	contract.RecordTerm(&r.st, &obs)

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
		contract.RecordStep(&r.st, &obs)
	}
	if len(r.actions) > 0 && r.st.Upgrade != nil {
		r.st.Expected = contract.ExpectationsOf(&obs, r.actions)
	}
	if r.gate == nil && r.unexpectedlyPromoted() {
		// reported, though it holds nothing by itself
		r.gate = &upgrade.Gate{Name: upgrade.GateMembership, Reason: upgrade.ReasonUnexpectedPromotion, Message: unexpectedPromotionMessage}
	}
	r.finishConditions()
	if !acted && len(r.events) == 0 {
		r.st = contract.Unchanged(&status, r.st)
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
	if contract.IsHold(r.gate) && len(d.Actions) == 0 {
		// Held at the safe point: look again when the next window
		// opens (a pause waits for a spec change).
		d.RequeueAfter = r.holdRequeue
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
	// checked is a Demote that passed Safety.Check on its own against
	// r.obs (see demoteOne), valid when hasChecked.
	checked    upgrade.Demote
	hasChecked bool
	// leaderM and leaderOK cache r.obs.Leader() once leaderDone.
	leaderM    upgrade.Member
	leaderOK   bool
	leaderDone bool
	// holdRule is spec.paused and the spec's maintenance windows;
	// holdRequeue is when to look again while it holds.
	holdRule    contract.Hold
	holdRequeue time.Duration
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
	r.up.PhaseStartedAt = contract.TimeCeil(r.now) // windows measured from it never end early
	r.up.StepStartedAt = t
	r.up.Failures = 0
	r.up.Held = nil // a hold ends with any phase change
	r.bg.LastAction = ""
	r.bg.LastActionAt = metav1.Time{}
	r.bg.HookAttempt = 0
	r.bg.HookRequestedAt = metav1.Time{}
	r.bg.HookPassed = false
	r.bg.WindowSince = metav1.MicroTime{}
	if next == PhaseStabilizing {
		r.bg.WindowSince = contract.MicroCeil(r.now)
	}
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

// finishConditions sets the conditions both strategies share (package
// contract) for this Step.
func (r *run) finishConditions() {
	// S8: record who led, and never be silent about a regressed leader (a
	// hold keeps its gate, which says when the upgrade goes on, and so does
	// LeaderMoveWouldFailBack, which asks a human; the LeaderVersion
	// condition reports the regression meanwhile).
	if g := contract.Failback(&r.st, &r.obs, len(r.actions) > 0, r.now, r.obs.Generation); g != nil && !contract.IsHold(r.gate) && (r.gate == nil || (r.gate.Reason != upgrade.ReasonLeaderVersionRegressed && r.gate.Reason != upgrade.ReasonMoveFailsBack)) {
		if r.gate != nil {
			g.Message += "; " + r.gate.Message
		}
		r.gate = g
	}
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
