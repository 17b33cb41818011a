package contract

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// Hold is what holds an upgrade at its strategy's safe point: spec.paused
// and the spec's maintenance windows. Both strategies parse and apply it
// the same way; only their safe points and step budgets differ.
type Hold struct {
	// Paused is spec.paused.
	Paused bool
	// Windows are the parsed maintenance windows (none: always open).
	Windows upgrade.Windows
	// Room is one step's budget: a disruptive step starts only in a window
	// that stays open at least this long after it starts.
	Room time.Duration
}

// ParseHold validates spec.maintenanceWindows against one step's budget
// (room) and returns the hold rule. Its errors wrap both
// upgrade.ErrInvalidSpec and upgrade.ErrInvalidWindow.
func ParseHold(paused bool, ws []upgrade.MaintenanceWindow, room time.Duration) (Hold, error) {
	w, err := upgrade.ParseWindows(ws, room)
	if err != nil {
		return Hold{}, fmt.Errorf("%w: %w", upgrade.ErrInvalidSpec, err)
	}
	return Hold{Paused: paused, Windows: w, Room: room}, nil
}

// Gate returns the gate that holds a disruptive step at now (nil when it
// may start) and when to look again: the next window opening for a window
// hold, 0 (only on a spec change) for a pause. A pause wins over a window.
func (h Hold) Gate(now time.Time) (*upgrade.Gate, time.Duration) {
	if h.Paused {
		return &upgrade.Gate{Name: upgrade.GatePaused, Reason: upgrade.ReasonPausedBySpec,
			Message: "spec.paused holds the upgrade at a safe point; set paused to false to resume"}, 0
	}
	if h.Windows.Allows(now, h.Room) {
		return nil, 0
	}
	g := &upgrade.Gate{Name: upgrade.GateMaintenanceWindow, Reason: upgrade.ReasonOutsideWindow,
		Message: h.Windows.HoldMessage(now, h.Room)}
	var requeue time.Duration
	if next := h.Windows.NextOpening(now); !next.IsZero() {
		requeue = next.Sub(now)
	}
	return g, requeue
}

// IsHold reports whether g is a pause or window hold (which never counts
// against a step deadline).
func IsHold(g *upgrade.Gate) bool {
	return g != nil && (g.Name == upgrade.GatePaused || g.Name == upgrade.GateMaintenanceWindow)
}

// HoldAt records that the upgrade u holds at its safe point for g. It
// returns the event to emit when the hold starts (or changes gate), and
// false while it merely continues (the status is then unchanged, so a
// holding Step is a fixed point).
func HoldAt(u *upgrade.UpgradeStatus, g *upgrade.Gate, now time.Time) (upgrade.Event, bool) {
	if u.Held != nil && u.Held.Gate == g.Name && u.Held.Reason == g.Reason {
		return upgrade.Event{}, false
	}
	u.Held = &upgrade.Pause{Gate: g.Name, Reason: g.Reason, Since: upgrade.Time(now),
		Message: "holding at phase " + u.Phase}
	return upgrade.Event{Type: upgrade.EventNormal, Reason: string(g.Reason),
		Message: fmt.Sprintf("holding the upgrade to %s at phase %s: %s", u.TargetVersion, u.Phase, g.Message)}, true
}

// Resume ends a hold of u: the step deadline budget restarts at now (time
// spent held never counts against it) and the upgrade continues from its
// status. It returns the event to emit, and false when u was not held.
func Resume(u *upgrade.UpgradeStatus, now time.Time) (upgrade.Event, bool) {
	if u.Held == nil {
		return upgrade.Event{}, false
	}
	held := u.Held
	u.Held = nil
	u.StepStartedAt = upgrade.Time(now)
	u.Failures = 0
	return upgrade.Event{Type: upgrade.EventNormal, Reason: string(upgrade.ReasonResumed),
		Message: fmt.Sprintf("resuming the upgrade to %s from phase %s (held by %s since %s)",
			u.TargetVersion, u.Phase, held.Gate, held.Since.UTC().Format(time.RFC3339))}, true
}
