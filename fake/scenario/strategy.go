package scenario

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// RequestKind is a request a human or a GitOps pipeline makes by editing
// the spec.
type RequestKind string

// Requests.
const (
	// Retarget moves the spec to another target (the strategy's next
	// version).
	Retarget RequestKind = "retarget"
	// Revert moves the spec back to the version the upgrade started from.
	Revert RequestKind = "revert"
	// Rollback requests a rollback (an abort before promotion).
	Rollback RequestKind = "rollback"
	// Promote requests a manual promotion.
	Promote RequestKind = "promote"
	// Retry requests a retry of a paused or failed upgrade.
	Retry RequestKind = "retry"
	// Ack acknowledges break-glass with its exact nonce.
	Ack RequestKind = "ack"
	// AckNearMiss acknowledges break-glass with a near miss of the nonce:
	// one character short, its first character, upper case, or padded
	// with spaces. None of them may resume.
	AckNearMiss RequestKind = "ack-near-miss"
	// Pause toggles the spec's pause.
	Pause RequestKind = "pause"
)

// Requests lists every request kind but Pause (which only specs with
// holds need), in a fixed order.
func Requests() []RequestKind {
	return []RequestKind{Retarget, Revert, Rollback, Promote, Retry, Ack, AckNearMiss}
}

// Strategy is a strategy under test together with its spec, as a host holds
// them: the Step it calls, the requests people make, and the answers an
// operator gives once faults stop.
type Strategy interface {
	// Step is the strategy's Step with the current spec.
	Step(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error)
	// Request edits the spec as the request asks, given the persisted
	// status; false when the strategy has no such request.
	Request(r RequestKind, st upgrade.Status) bool
	// Ack is the break-glass acknowledgement the spec carries.
	Ack() string
	// Options are the rules Step's decisions on obs are held to.
	Options(obs upgrade.Observation) check.Options
	// Check judges a Decision by the strategy's own rules, beyond the
	// shared ones of package check (nil when it has none).
	Check(prev upgrade.Status, d upgrade.Decision, obs upgrade.Observation) error
	// Operate answers an upgrade that waits for a human (break-glass, a
	// manual promotion, a crash-looping target, a refused target), given
	// the persisted status and the last Decision. It reports whether it
	// changed the spec. It is asked after every reconcile once faults
	// stop, the idle ones included.
	Operate(st upgrade.Status, d upgrade.Decision) bool
	// Settled judges the end state once the run reached Idle and stayed
	// idle, given the persisted status and the true cluster (nil when it
	// is the one the strategy owes its spec).
	Settled(st upgrade.Status, truth upgrade.Observation) error
}

// Versions of the scenarios: clusters start on From; targets are To and
// Next; Rescue is never made bad and is what the operator sets when a
// target crash-loops.
const (
	From   = "2.3.0"
	To     = "2.4.0"
	Next   = "2.4.1"
	Rescue = "2.4.2"
)

// Image is the image of a version.
func Image(v string) string { return "openbao/openbao:" + v }

// nearMiss returns the n-th near miss of a nonce.
func nearMiss(nonce string, n int) string {
	if nonce == "" {
		return "bogus"
	}
	switch n % 5 {
	case 0:
		return nonce[:len(nonce)-1]
	case 1:
		return nonce[:1]
	case 2:
		return strings.ToUpper(nonce)
	case 3:
		return " " + nonce
	default:
		return nonce + " "
	}
}

// versionOf is the version a Revert goes back to and the next target.
func revertTarget(st upgrade.Status) (string, string) {
	if u := st.Upgrade; u != nil && u.FromVersion != "" {
		return u.FromVersion, u.FromImage
	}
	if st.CurrentVersion != "" {
		return st.CurrentVersion, st.CurrentImage
	}
	return From, Image(From)
}

// RollingStrategy is rolling.Step with its spec.
type RollingStrategy struct {
	Spec rolling.Spec
	// PauseOnlyOnCrashLoop makes any pause but a crash-looping target's a
	// violation: for specs whose step deadline no run can reach (a step
	// timeout longer than every Sleep of the schedule together).
	PauseOnlyOnCrashLoop bool
	nonce                int
}

// Rolling returns the rolling strategy with spec.
func Rolling(spec rolling.Spec) *RollingStrategy { return &RollingStrategy{Spec: spec} }

// Step implements Strategy.
func (s *RollingStrategy) Step(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
	return rolling.Step(s.Spec, obs, st)
}

// Request implements Strategy: retarget, revert and retry.
func (s *RollingStrategy) Request(r RequestKind, st upgrade.Status) bool {
	switch r {
	case Retarget:
		v := Next
		if policy.SameVersion(s.Spec.Version, Next) {
			v = To
		}
		s.Spec.Version, s.Spec.Image = v, Image(v)
	case Revert:
		s.Spec.Version, s.Spec.Image = revertTarget(st)
	case Retry:
		s.nonce++
		s.Spec.RetryNonce = fmt.Sprintf("retry-%d", s.nonce)
	case Pause:
		s.Spec.Paused = !s.Spec.Paused
	default:
		return false
	}
	return true
}

// Check implements Strategy: S5 as rolling keeps it (check.RollingTransition)
// and the hold rule of spec.paused and the maintenance windows
// (check.RollingHold).
func (s *RollingStrategy) Check(prev upgrade.Status, d upgrade.Decision, obs upgrade.Observation) error {
	if err := check.RollingTransition(prev, d); err != nil {
		return err
	}
	if u := d.Status.Upgrade; s.PauseOnlyOnCrashLoop && u != nil && u.Paused != nil && u.Paused.Gate != upgrade.GateCrashLoop {
		return &check.Violation{Rule: "Pause", Member: u.Paused.Member,
			Message: fmt.Sprintf("paused on %s, not on a crash-looping target: %s", u.Paused.Gate, u.Paused.Message)}
	}
	room := s.Spec.StepTimeout.Duration
	if room == 0 {
		room = rolling.DefaultStepTimeout
	}
	room += max(s.Spec.CatchUp.Stabilization.Duration, 0)
	held := check.Held(s.Spec.Paused, s.Spec.MaintenanceWindows, room, obs.Now)
	_, err := check.RollingHold(held, s.Spec.Paused, obs, prev, d)
	return err
}

// Settled implements Strategy: the cluster is idle on the spec's version
// and image.
func (s *RollingStrategy) Settled(st upgrade.Status, _ upgrade.Observation) error {
	if st.CurrentVersion != s.Spec.Version || st.CurrentImage != s.Spec.Image {
		return fmt.Errorf("idle at %s (%s), the spec asks for %s (%s)", st.CurrentVersion, st.CurrentImage, s.Spec.Version, s.Spec.Image)
	}
	return nil
}

// Ack implements Strategy (rolling has no break-glass).
func (s *RollingStrategy) Ack() string { return "" }

// Options implements Strategy.
func (s *RollingStrategy) Options(obs upgrade.Observation) check.Options {
	return check.Options{CatchUp: s.Spec.CatchUp, AllowDowntime: s.Spec.AllowDowntime && len(obs.Voters()) <= 2}
}

// Operate implements Strategy: the pause is lifted, a crash-looping target
// is replaced by Rescue, a deadline pause is retried, a refused target is
// set back, and a leader S8 will not replace (LeaderMoveWouldFailBack) is
// answered by targeting the version that led.
func (s *RollingStrategy) Operate(st upgrade.Status, d upgrade.Decision) bool {
	u := st.Upgrade
	switch {
	case s.Spec.Paused:
		s.Spec.Paused = false
	case u != nil && u.Paused != nil && u.Paused.Gate == upgrade.GateCrashLoop && !policy.SameVersion(s.Spec.Version, Rescue):
		s.Spec.Version, s.Spec.Image = Rescue, Image(Rescue)
	case u != nil && u.Paused != nil:
		return s.Request(Retry, st)
	case u != nil && d.Gate != nil && d.Gate.Name == upgrade.GatePolicy:
		s.Spec.Version, s.Spec.Image = u.TargetVersion, u.TargetImage
	case u != nil && d.Gate != nil && d.Gate.Reason == upgrade.ReasonMoveFailsBack && u.LeaderHighWater != "" &&
		!policy.SameVersion(s.Spec.Version, u.LeaderHighWater):
		// S8 holds a leader that only an older voter could replace (a
		// leader on an earlier target): finish on the version that led.
		s.Spec.Version, s.Spec.Image = u.LeaderHighWater, Image(u.LeaderHighWater)
	case u == nil && d.Gate != nil && d.Gate.Name == upgrade.GatePolicy && st.CurrentVersion != "":
		s.Spec.Version, s.Spec.Image = st.CurrentVersion, st.CurrentImage
	default:
		return false
	}
	return true
}

// BlueGreenStrategy is bluegreen.Step with its spec.
type BlueGreenStrategy struct {
	Spec    bluegreen.Spec
	nonce   int
	retries int
}

// BlueGreen returns the blue-green strategy with spec.
func BlueGreen(spec bluegreen.Spec) *BlueGreenStrategy { return &BlueGreenStrategy{Spec: spec} }

// Step implements Strategy.
func (s *BlueGreenStrategy) Step(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
	return bluegreen.Step(s.Spec, obs, st)
}

func (s *BlueGreenStrategy) next(prefix string) string {
	s.nonce++
	return fmt.Sprintf("%s-%d", prefix, s.nonce)
}

// Request implements Strategy: every request kind.
func (s *BlueGreenStrategy) Request(r RequestKind, st upgrade.Status) bool {
	switch r {
	case Retarget:
		v := Next
		if policy.SameVersion(s.Spec.Version, Next) {
			v = To
		}
		s.Spec.Version, s.Spec.Image = v, Image(v)
	case Revert:
		s.Spec.Version, s.Spec.Image = revertTarget(st)
	case Rollback:
		s.Spec.RollbackNonce = s.next("rollback")
	case Promote:
		s.Spec.PromoteNonce = s.next("promote")
	case Retry:
		s.Spec.RetryNonce = s.next("retry")
	case Ack:
		if st.BreakGlass == nil {
			s.Spec.BreakGlassAck = s.next("bogus")
		} else {
			s.Spec.BreakGlassAck = st.BreakGlass.Nonce
		}
	case AckNearMiss:
		nonce := ""
		if st.BreakGlass != nil {
			nonce = st.BreakGlass.Nonce
		}
		s.nonce++
		s.Spec.BreakGlassAck = nearMiss(nonce, s.nonce)
	case Pause:
		s.Spec.Paused = !s.Spec.Paused
	default:
		return false
	}
	return true
}

// Ack implements Strategy.
func (s *BlueGreenStrategy) Ack() string { return s.Spec.BreakGlassAck }

// Check implements Strategy: the blue-green rules of S4 (check.BlueGreen),
// the strict S5 and S6 and the reporting of green voters
// (check.BlueGreenStatus), and the hold rule of spec.paused and the
// maintenance windows (check.BlueGreenHold).
func (s *BlueGreenStrategy) Check(prev upgrade.Status, d upgrade.Decision, obs upgrade.Observation) error {
	if err := check.BlueGreenStatus(prev, d, obs); err != nil {
		return err
	}
	room := s.Spec.Timeouts.Step.Duration
	if room == 0 {
		room = bluegreen.DefaultStepTimeout
	}
	room += max(s.Spec.StabilizationWindow.Duration, 0)
	held := check.Held(s.Spec.Paused, s.Spec.MaintenanceWindows, room, obs.Now)
	if _, err := check.BlueGreenHold(held, s.Spec.Paused, obs, prev, d); err != nil {
		return err
	}
	u := d.Status.Upgrade
	if u == nil || u.BlueGreen == nil {
		return nil
	}
	prevPhase := ""
	if prev.Upgrade != nil {
		prevPhase = prev.Upgrade.Phase
	}
	return check.BlueGreen(obs, d.Actions, prevPhase, u.Phase, u.BlueGreen.Blue, u.BlueGreen.Green)
}

// Options implements Strategy: blue-green never restarts a voter's pod.
func (s *BlueGreenStrategy) Options(upgrade.Observation) check.Options {
	return check.Options{CatchUp: s.Spec.CatchUp, KeepsVotersUp: true}
}

// Settled implements Strategy: a single-member cluster was never upgraded
// (blue-green needs two voters); a larger one is idle on the spec's
// version, and the BreakGlass condition, once set, is cleared.
func (s *BlueGreenStrategy) Settled(st upgrade.Status, truth upgrade.Observation) error {
	if c := meta.FindStatusCondition(st.Conditions, upgrade.ConditionBreakGlass); c != nil && c.Status != metav1.ConditionFalse {
		return fmt.Errorf("idle with the BreakGlass condition %s", c.Status)
	}
	if len(truth.Members) < 2 {
		if st.CurrentVersion != "" && st.CurrentVersion != From {
			return fmt.Errorf("a single-member cluster was upgraded to %s", st.CurrentVersion)
		}
		return nil
	}
	if st.CurrentVersion != s.Spec.Version || st.CurrentImage != s.Spec.Image {
		return fmt.Errorf("idle at %s (%s), the spec asks for %s (%s)", st.CurrentVersion, st.CurrentImage, s.Spec.Version, s.Spec.Image)
	}
	return nil
}

// Operate implements Strategy: the pause is lifted, break-glass is
// acknowledged with its nonce, a manual promotion is granted, a refused
// target is set back, and an upgrade that ended without success is retried
// (at most three times).
func (s *BlueGreenStrategy) Operate(st upgrade.Status, d upgrade.Decision) bool {
	u := st.Upgrade
	switch {
	case s.Spec.Paused:
		s.Spec.Paused = false
	case st.BreakGlass != nil && s.Spec.BreakGlassAck != st.BreakGlass.Nonce:
		s.Spec.BreakGlassAck = st.BreakGlass.Nonce
	case u != nil && bluegreen.Phase(u.Phase) == bluegreen.PhaseAwaitingPromotion && s.Spec.PromoteNonce == st.Handled.Promotion:
		s.Spec.PromoteNonce = s.next("promote")
	case u != nil && d.Gate != nil && d.Gate.Name == upgrade.GatePolicy:
		s.Spec.Version, s.Spec.Image = u.TargetVersion, u.TargetImage
	case u == nil && d.Gate != nil && d.Gate.Name == upgrade.GatePolicy && st.CurrentVersion != "":
		s.Spec.Version, s.Spec.Image = st.CurrentVersion, st.CurrentImage
	case u == nil && st.LastResult != nil && st.LastResult.Outcome != upgrade.OutcomeSucceeded &&
		st.CurrentVersion != s.Spec.Version && s.retries < 3:
		s.retries++
		s.Spec.RetryNonce = s.next("retry")
	default:
		return false
	}
	return true
}

// StepFunc is a Step-shaped function: a strategy's Step with its spec
// bound, or a host's own function around one.
type StepFunc func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error)

// Wrap returns s with its Step replaced by wrap(next), where next is s's
// own Step with the spec as it is at each call (requests edit it). It is how
// a host tests its own code around a strategy (spec defaults, observation
// filtering, decorations of the Decision) under every check of Run; the
// requests, operator answers and rules stay those of s.
func Wrap(s Strategy, wrap func(next StepFunc) StepFunc) Strategy {
	return &wrapped{Strategy: s, step: wrap(s.Step)}
}

type wrapped struct {
	Strategy
	step StepFunc
}

// Step implements Strategy.
func (w *wrapped) Step(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
	return w.step(obs, st)
}
