package bluegreen

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// idle starts an upgrade when the spec asks for a version or image the
// cluster does not run, after policy (S6) and prerequisites pass.
func (r *run) idle() (Event, error) {
	blue := r.obs.Service.Workload
	if r.st.CurrentVersion == "" {
		// First sight of the cluster: adopt what blue runs.
		if w, ok := r.obs.Workload(blue); ok && blue != "" {
			r.st.CurrentVersion, r.st.CurrentImage = policy.Canonical(w.Version), w.Image
		}
	}
	if w, ok := r.stray(); ok {
		r.actions = append(r.actions, upgrade.DeleteRevision{Workload: w})
		r.event(upgrade.EventWarning, ReasonStrayGreen,
			"deleting workload %s: a green workload no upgrade owns, holding no raft member (its upgrade's start was never persisted)", w)
		return "", nil
	}
	if policy.SameVersion(r.spec.Version, r.st.CurrentVersion) && (r.spec.Image == "" || r.spec.Image == r.st.CurrentImage) {
		if r.obs.Lock.Holder == r.spec.LockHolder && r.st.BreakGlass == nil {
			// A host that crashed between persisting the final status and
			// executing its ReleaseLock left our lock behind: release it.
			r.actions = append(r.actions, upgrade.ReleaseLock{Holder: r.spec.LockHolder})
		}
		return "", nil
	}
	if g, err := contract.Refusal(policy.Evaluate(policy.Input{From: r.st.CurrentVersion, To: r.spec.Version, Image: r.spec.Image}, r.spec.Policy)); g != nil || err != nil {
		r.holdGate(g)
		return "", err
	}
	if g := contract.RetryRequired(&r.st, r.spec.Version); g != nil {
		r.holdGate(g)
		return "", nil
	}
	w, ok := r.obs.Workload(blue)
	if blue == "" || !ok {
		r.hold(upgrade.GatePrerequisites, ReasonNoBlueWorkload, "the service %q selects no known workload (%q)", r.obs.Service.Name, blue)
		return "", nil
	}
	blueMembers := r.members(blue)
	if len(blueMembers) < 2 || w.Replicas < 2 {
		r.hold(upgrade.GateQuorum, ReasonTooFewVoters,
			"blue-green needs at least 2 blue voters to move quorum without downtime (blue %s has %d)", blue, len(blueMembers))
		return "", nil
	}
	pre := r.spec.Prerequisites
	pre.LockHolder = r.spec.LockHolder
	pre.Workloads = []string{blue}
	if g, err := contract.Refusal(policy.CheckPrerequisites(&r.obs, pre)); g != nil || err != nil {
		r.holdGate(g)
		return "", err
	}
	for _, m := range r.obs.Members {
		if m.IsVoter() && m.Workload != blue {
			r.holdGate(&upgrade.Gate{Name: upgrade.GateMembership, Reason: upgrade.ReasonNotInConfiguration, Member: m.Name,
				Message: fmt.Sprintf("voter %s does not belong to the serving workload %s", m.Name, blue)})
			return "", nil
		}
	}
	green := GreenName(r.greenBase(blue), r.spec.Version, r.spec.Image)
	if green == blue {
		r.hold(upgrade.GatePolicy, ReasonGreenNameConflict, "green workload name %s equals the blue one", green)
		return "", nil
	}
	replicas := r.spec.Replicas
	if replicas == 0 {
		replicas = w.Replicas
	}
	if replicas < 2 {
		r.hold(upgrade.GateQuorum, ReasonTooFewVoters, "green needs at least 2 replicas")
		return "", nil
	}
	if gw, ok := r.obs.Workload(green); ok && (!policy.SameVersion(gw.Version, r.spec.Version) || gw.Image != r.spec.Image) {
		r.hold(upgrade.GatePrerequisites, ReasonGreenMismatch, "a workload %s already exists at %s (%s)", green, gw.Version, gw.Image)
		return "", nil
	}
	if len(r.members(green)) > 0 {
		if _, ok := r.obs.Workload(green); !ok {
			r.hold(upgrade.GatePrerequisites, ReasonGreenMismatch, "members of a deleted workload %s still exist", green)
			return "", nil
		}
	}

	if r.pausedIdle() {
		return "", nil
	}
	t := upgrade.Time(r.now)
	up := &upgrade.UpgradeStatus{
		Strategy:       upgrade.StrategyBlueGreen,
		Phase:          string(PhaseIdle),
		FromVersion:    r.st.CurrentVersion,
		FromImage:      r.st.CurrentImage,
		TargetVersion:  r.spec.Version,
		TargetImage:    r.spec.Image,
		LockHolder:     r.spec.LockHolder,
		StartedAt:      t,
		PhaseStartedAt: t,
		StepStartedAt:  t,
	}
	up.BlueGreen = &upgrade.BlueGreenProgress{
		Blue:          blue,
		Green:         green,
		BlueReplicas:  int32(len(blueMembers)),
		GreenReplicas: replicas,
		AutoPromote:   r.spec.AutoPromote,
	}
	r.st.Upgrade = up
	r.up, r.bg = r.st.Upgrade, r.st.Upgrade.BlueGreen
	// Requests made while idle apply to no upgrade: record them as handled.
	r.st.Handled.Rollback = r.spec.RollbackNonce
	r.st.Handled.Promotion = r.spec.PromoteNonce
	r.actions = slices.Grow(r.actions, 2) // room for the two below
	if r.obs.Lock.Holder != r.spec.LockHolder {
		r.actions = append(r.actions, upgrade.AcquireLock{Holder: r.spec.LockHolder})
	}
	if _, ok := r.obs.Workload(green); !ok {
		r.actions = append(r.actions, r.createGreen())
		r.bg.LastAction = "CreateRevision:" + green
		r.bg.LastActionAt = t
	}
	r.event(upgrade.EventNormal, upgrade.ReasonStarted, "blue-green upgrade of %s from %s to %s started (green %s)", blue, up.FromVersion, up.TargetVersion, green)
	return EventStart, nil
}

func (r *run) createGreen() upgrade.Action {
	return upgrade.CreateRevision{Workload: r.bg.Green, Image: r.up.TargetImage, Version: r.up.TargetVersion, Replicas: r.bg.GreenReplicas}
}

func (r *run) deployingGreen() Event {
	switch h := r.obs.Lock.Holder; {
	case h == "":
		r.issue("AcquireLock", upgrade.AcquireLock{Holder: r.up.LockHolder})
		return ""
	case h != r.up.LockHolder:
		r.hold(upgrade.GateLock, policy.ReasonLockHeld, "operation lock is held by %q", h)
		return ""
	}
	w, ok := r.obs.Workload(r.bg.Green)
	if !ok {
		r.issue("CreateRevision:"+r.bg.Green, r.createGreen())
		return ""
	}
	if !policy.SameVersion(w.Version, r.up.TargetVersion) || w.Image != r.up.TargetImage {
		r.hold(upgrade.GateWorkloadSettled, ReasonGreenMismatch, "green workload %s runs %s (%s), want %s (%s)",
			w.Name, w.Version, w.Image, r.up.TargetVersion, r.up.TargetImage)
		return ""
	}
	// Running and reachable is enough to join: a workload whose readiness
	// needs Raft membership (OpenBao: initialized and unsealed) cannot be
	// Ready before it joins.
	members := r.members(r.bg.Green)
	running := 0
	for _, m := range members {
		if m.Joinable() {
			running++
		}
	}
	if running < int(r.bg.GreenReplicas) {
		r.hold(upgrade.GatePodReady, ReasonGreenNotReady, "%d/%d green pods running", running, r.bg.GreenReplicas)
		return ""
	}
	return EventGreenReady
}

func (r *run) joiningMesh() Event {
	if _, ok := r.leader(); !ok {
		return ""
	}
	for _, m := range r.members(r.bg.Green) {
		if !m.Raft.Present {
			r.join(m)
			return ""
		}
	}
	return EventJoined
}

// greenSynced holds unless every green member is present, serving and
// caught up. The stabilization window is not applied here: syncing counts it
// from its own first observation of green in sync (SyncedSince).
func (r *run) greenSynced() bool {
	members := r.members(r.bg.Green)
	if len(members) < int(r.bg.GreenReplicas) {
		r.hold(upgrade.GateSync, ReasonGreenNotReady, "%d/%d green members exist", len(members), r.bg.GreenReplicas)
		return false
	}
	noWindow := r.spec.CatchUp
	noWindow.Stabilization.Duration = -1
	for i := range members {
		if g := upgrade.CaughtUp(&r.obs, members[i], noWindow); g != nil {
			// g is fresh (CaughtUp allocates every gate) and names the
			// member: reuse it.
			g.Name = upgrade.GateSync
			r.holdGate(g)
			return false
		}
	}
	return true
}

func (r *run) syncing() Event {
	if _, ok := r.leader(); !ok {
		r.bg.SyncedSince, r.bg.WindowSince = metav1.Time{}, metav1.MicroTime{}
		return ""
	}
	if !r.greenSynced() {
		r.bg.SyncedSince, r.bg.WindowSince = metav1.Time{}, metav1.MicroTime{}
		return ""
	}
	if r.bg.SyncedSince.IsZero() {
		r.bg.SyncedSince = contract.TimeCeil(r.now)
		r.bg.WindowSince = contract.MicroCeil(r.now)
	}
	// Green members just joined: their stabilization counts from this
	// strategy's own first observation of all of them caught up, never from
	// autopilot's stable_since. The sync window is the longer of the
	// minimum sync duration and the catch-up stabilization.
	window := max(r.spec.MinSyncDuration.Duration, r.spec.CatchUp.WithDefaults().Stabilization.Duration)
	if left := window - r.now.Sub(r.windowStart(r.bg.SyncedSince)); left > 0 {
		r.hold(upgrade.GateSync, ReasonMinSyncDuration, "green in sync since %s; waiting %s more",
			r.bg.SyncedSince.UTC().Format("15:04:05"), left)
		r.requeue = left
		return ""
	}
	return EventSynced
}

// hookState is the outcome of a hook run.
type hookState int

const (
	hookPending hookState = iota
	hookPassed
	hookFailed
)

// runHook drives one hook run of the current phase.
func (r *run) runHook(hook, phase string) (hookState, upgrade.Reason, string) {
	if hook == "" || r.bg.HookPassed {
		return hookPassed, "", ""
	}
	if r.bg.HookAttempt == 0 {
		// Attempt numbers continue after any run the host still reports, so
		// an old result is never mistaken for this run's.
		attempt := int32(1)
		for _, h := range r.obs.Hooks {
			if h.Hook == hook && h.Phase == phase && h.Attempt >= attempt {
				attempt = h.Attempt + 1
			}
		}
		r.bg.HookAttempt = attempt
		r.bg.HookRequestedAt = upgrade.Time(r.now)
		r.up.StepStartedAt = upgrade.Time(r.now)
		r.actions = append(r.actions, upgrade.RunHook{Hook: hook, Phase: phase, Attempt: attempt})
		r.hold(upgrade.GateHook, ReasonHookRunning, "hook %s (%s) attempt %d requested", hook, phase, attempt)
		return hookPending, "", ""
	}
	h, ok := r.obs.Hook(hook, phase, r.bg.HookAttempt)
	switch {
	case ok && h.Done && h.Succeeded:
		r.bg.HookPassed = true
		r.event(upgrade.EventNormal, "HookSucceeded", "hook %s (%s) attempt %d succeeded", hook, phase, r.bg.HookAttempt)
		return hookPassed, "", ""
	case ok && h.Done:
		return hookFailed, ReasonHookFailed, fmt.Sprintf("hook %s (%s) attempt %d failed: %s", hook, phase, r.bg.HookAttempt, h.Message)
	case r.now.Sub(r.bg.HookRequestedAt.Time) > r.spec.Timeouts.Hook.Duration:
		return hookFailed, ReasonHookTimeout, fmt.Sprintf("hook %s (%s) attempt %d did not finish within %s", hook, phase, r.bg.HookAttempt, r.spec.Timeouts.Hook.Duration)
	}
	r.hold(upgrade.GateHook, ReasonHookRunning, "waiting for hook %s (%s) attempt %d", hook, phase, r.bg.HookAttempt)
	return hookPending, "", ""
}

func (r *run) validating() Event {
	switch st, reason, msg := r.runHook(r.spec.PrePromotionHook, HookPhasePrePromotion); st {
	case hookPending:
		return ""
	case hookFailed:
		return r.startRollback(reason, msg)
	}
	return EventValidated
}

func (r *run) awaitingPromotion() Event {
	// Windows and pause hold a promotion that would start now (automatic,
	// or requested by a nonce not handled yet, which stays unhandled while
	// held); without one the gate is the wait for a human, as ever.
	if n := r.spec.PromoteNonce; r.bg.AutoPromote || (n != "" && n != r.st.Handled.Promotion) {
		if r.heldAtSafePoint() {
			return ""
		}
	} else if ev, ok := contract.Resume(r.up, r.now); ok {
		r.events = append(r.events, ev) // the request that was held was withdrawn
	}
	if r.bg.AutoPromote {
		return EventPromote
	}
	if n := r.spec.PromoteNonce; n != "" && n != r.st.Handled.Promotion {
		r.st.Handled.Promotion = n
		r.event(upgrade.EventNormal, "PromotionRequested", "manual promotion requested (nonce %q)", n)
		return EventPromote
	}
	r.hold(upgrade.GatePromotion, ReasonAwaitingPromotion, "green %s is synced and validated; set spec.promoteNonce to promote", r.bg.Green)
	return ""
}

func (r *run) promoting() Event {
	if _, ok := r.leader(); !ok {
		return ""
	}
	for _, m := range r.members(r.bg.Green) {
		if m.IsVoter() {
			continue
		}
		if !m.Raft.Present {
			r.join(m)
			return ""
		}
		if !r.votersHealthy() {
			return ""
		}
		if g := r.caughtUp(m); g != nil {
			r.holdGate(g)
			return ""
		}
		if r.issue("Promote:"+m.Name, upgrade.Promote{Member: m.Name, ID: raftID(m)}) {
			r.bg.PromotionStarted = true
		}
		return ""
	}
	if len(r.members(r.bg.Green)) < int(r.bg.GreenReplicas) {
		r.hold(upgrade.GateMembership, ReasonGreenNotReady, "green members are missing")
		return ""
	}
	return EventPromoted
}

func (r *run) transferring() Event {
	done, exhausted := r.moveLeadership(r.bg.Green, r.bg.Blue, r.up.TargetVersion)
	switch {
	case done:
		return EventLeaderOnGreen
	case exhausted:
		return r.startRollback(ReasonLeaderMovesExhausted,
			fmt.Sprintf("leadership did not reach green after %d moves", r.bg.LeaderMoves))
	}
	return ""
}

func (r *run) demotingBlue() Event {
	leader, ok := r.leader()
	if !ok {
		return ""
	}
	if leader.Workload != r.bg.Green {
		if leader.Workload == r.bg.Blue {
			// Leadership failed back from the new version to the old one
			// (an election after a green leader was lost): the newer
			// leader may have written data the old binary cannot read.
			// Report it; leadership moves to green again at once.
			r.event(upgrade.EventWarning, ReasonLeaderFailedBack,
				"leadership failed back to %s (%s) after green led; moving it to green again before demoting blue", leader.Name, leader.Version)
		}
		return EventLeaderLost
	}
	if r.demoteOne(r.bg.Blue) {
		return ""
	}
	return EventBlueDemoted
}

func (r *run) stabilizing() Event {
	leader, ok := r.leader()
	if !ok {
		return ""
	}
	if leader.Workload != r.bg.Green {
		r.hold(upgrade.GateLeader, ReasonGreenUnhealthy, "leader %s is not a green member", leader.Name)
		return ""
	}
	switch st, reason, msg := r.runHook(r.spec.PostPromotionHook, HookPhasePostPromotion); st {
	case hookPending:
		return ""
	case hookFailed:
		return r.startRollback(reason, msg)
	}
	for _, m := range r.members(r.bg.Green) {
		if g := r.caughtUp(m); g != nil {
			// g is fresh and names the member: reuse it.
			g.Name, g.Reason = upgrade.GateStabilized, ReasonGreenUnhealthy
			r.holdGate(g)
			return ""
		}
	}
	if left := r.spec.StabilizationWindow.Duration - r.now.Sub(r.windowStart(r.up.PhaseStartedAt)); left > 0 {
		r.hold(upgrade.GateStabilized, ReasonStabilizationWindow, "green serving; %s of the stabilization window left", left)
		r.requeue = left
		return ""
	}
	return EventStabilized
}

// cleanup is past the point of no return: remove blue peers, switch the
// service to green, delete blue, then complete atomically (S5).
func (r *run) cleanup() Event {
	r.bg.PointOfNoReturn = true
	for _, m := range r.members(r.bg.Blue) {
		if !m.Raft.Present {
			continue
		}
		if _, ok := r.leader(); !ok {
			return ""
		}
		if m.IsVoter() {
			r.demoteOne(r.bg.Blue)
			return ""
		}
		r.issue("RemovePeer:"+m.Name, upgrade.RemovePeer{Member: m.Name, ID: raftID(m)})
		return ""
	}
	svc := r.serviceName()
	if r.obs.Service.Workload != r.bg.Green {
		leader, ok := r.leader()
		if !ok {
			return ""
		}
		if leader.Workload != r.bg.Green {
			r.hold(upgrade.GateLeader, ReasonGreenUnhealthy, "leader %s is not green; service switch waits", leader.Name)
			return ""
		}
		r.issue("SwitchService:"+r.bg.Green, upgrade.SwitchService{Service: svc, Workload: r.bg.Green})
		return ""
	}
	if _, ok := r.obs.Workload(r.bg.Blue); ok {
		r.issue("DeleteRevision:"+r.bg.Blue, upgrade.DeleteRevision{Workload: r.bg.Blue})
		return ""
	}
	// S5: the upgrade completes only in an observation where every green
	// member runs the target and is up, healthy and caught up under a
	// green leader.
	for _, m := range r.members(r.bg.Green) {
		if m.Version != "" && !policy.SameVersion(m.Version, r.up.TargetVersion) {
			r.holdGate(&upgrade.Gate{Name: upgrade.GatePodReady, Reason: upgrade.ReasonIncomplete, Member: m.Name,
				Message: fmt.Sprintf("%s runs %s, want %s", m.Name, m.Version, r.up.TargetVersion)})
			return ""
		}
	}
	if g := upgrade.CompletionGate(&r.obs, r.bg.Green, int(r.bg.GreenReplicas), r.spec.CatchUp); g != nil {
		r.holdGate(g)
		return ""
	}
	r.actions = append(r.actions, upgrade.ReleaseLock{Holder: r.up.LockHolder})
	r.st.CurrentVersion = r.up.TargetVersion
	r.st.CurrentImage = r.up.TargetImage
	r.st.LastResult = contract.Result(r.up, upgrade.OutcomeSucceeded,
		fmt.Sprintf("%s serves %s", r.bg.Green, r.up.TargetVersion), r.now)
	r.ended = r.st.LastResult
	r.event(upgrade.EventNormal, upgrade.ReasonSucceeded, "%s upgraded from %s to %s: %s", r.bg.Blue, r.up.FromVersion, r.up.TargetVersion, r.ended.Message)
	return EventCompleted
}

func (r *run) serviceName() string {
	if r.spec.Service != "" {
		return r.spec.Service
	}
	return r.obs.Service.Name
}

// windowStart is when the current phase's window began: WindowSince, or
// fallback (second precision) for a status written before it existed.
func (r *run) windowStart(fallback metav1.Time) time.Time {
	if !r.bg.WindowSince.IsZero() {
		return r.bg.WindowSince.Time
	}
	return fallback.Time
}
