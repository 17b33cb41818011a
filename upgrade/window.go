package upgrade

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrInvalidWindow means a maintenance window cannot be used: a malformed
// or unsupported schedule, a schedule that never opens, or a duration that
// is empty or too short for one step. Strategies wrap it together with
// ErrInvalidSpec, so errors.Is holds for both.
var ErrInvalidWindow = errors.New("invalid maintenance window")

// Gate names and reasons of the holds both strategies share.
const (
	// GateMaintenanceWindow holds a disruptive step outside every
	// maintenance window (or too close to a window's end).
	GateMaintenanceWindow GateName = "MaintenanceWindow"
	// GatePaused holds an upgrade the spec pauses.
	GatePaused GateName = "Paused"

	// ReasonOutsideWindow: no maintenance window is open with room for
	// one step; the message says when the next one opens.
	ReasonOutsideWindow Reason = "OutsideMaintenanceWindow"
	// ReasonPausedBySpec: spec.paused holds the upgrade.
	ReasonPausedBySpec Reason = "PausedBySpec"
	// ReasonResumed: a held upgrade continues from its status (the event
	// of the Step that resumed it).
	ReasonResumed Reason = "UpgradeResumed"
)

// MaintenanceWindow is a recurring period in which disruptive upgrade steps
// may start: it opens at every time Schedule matches and stays open for
// Duration.
//
// Schedule is a standard five-field cron expression (minute, hour, day of
// month, month, day of week) always read in UTC, for example "0 2 * * *"
// (every day at 02:00 UTC) or "0 22 * * 6" (Saturdays at 22:00 UTC). The
// descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight and
// @hourly are accepted as their five-field equivalents. Not accepted: @every
// (it is not anchored to the calendar), TZ= or CRON_TZ= prefixes (windows
// are UTC), seconds fields and schedules that never match.
//
// +kubebuilder:object:generate=true
type MaintenanceWindow struct {
	// Schedule is when the window opens: a five-field UTC cron expression.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Schedule string `json:"schedule"`
	// Duration is how long the window stays open after each opening. It
	// must be at least one step's budget (the step deadline plus the
	// stabilization window of the strategy), or no step could ever start.
	Duration metav1.Duration `json:"duration"`
}

// Windows is a parsed list of maintenance windows. Its zero value has no
// windows: a step may start at any time.
//
// +kubebuilder:object:generate=false
type Windows struct {
	items []window
}

type window struct {
	sched cron.Schedule
	dur   time.Duration
}

// windowParser reads five-field cron expressions; descriptors are mapped
// by ParseWindows before parsing.
var windowParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// descriptors are the accepted @-schedules and their five-field forms.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// windowProbe is the fixed instant from which a schedule must match within
// the five years the cron library searches (no clock is read).
var windowProbe = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseWindows parses ws. minDuration is the shortest acceptable window:
// one step's budget (a strategy passes its step deadline plus its
// stabilization window). Errors wrap ErrInvalidWindow and name the window.
func ParseWindows(ws []MaintenanceWindow, minDuration time.Duration) (Windows, error) {
	if len(ws) == 0 {
		return Windows{}, nil
	}
	out := Windows{items: make([]window, 0, len(ws))}
	for i, w := range ws {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: maintenanceWindows[%d] (%q): "+format, append([]any{ErrInvalidWindow, i, w.Schedule}, args...)...)
		}
		expr := strings.TrimSpace(w.Schedule)
		switch {
		case expr == "":
			return Windows{}, bad("schedule is empty")
		case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
			return Windows{}, bad("time zones are not supported: schedules are UTC")
		case strings.HasPrefix(expr, "@"):
			five, ok := descriptors[expr]
			if !ok {
				return Windows{}, bad("descriptor is not supported (use a five-field expression or @yearly, @monthly, @weekly, @daily, @hourly)")
			}
			expr = five
		}
		sched, err := windowParser.Parse(expr)
		if err != nil {
			return Windows{}, bad("%v", err)
		}
		spec, ok := sched.(*cron.SpecSchedule)
		if !ok {
			return Windows{}, bad("not a calendar schedule")
		}
		spec.Location = time.UTC
		if spec.Next(windowProbe).IsZero() {
			return Windows{}, bad("schedule never matches")
		}
		switch d := w.Duration.Duration; {
		case d <= 0:
			return Windows{}, bad("duration must be positive, got %s", d)
		case d < minDuration:
			return Windows{}, bad("duration %s is shorter than one step (%s: the step deadline plus the stabilization window)", d, minDuration)
		}
		out.items = append(out.items, window{sched: spec, dur: w.Duration.Duration})
	}
	return out, nil
}

// Empty reports whether there are no windows (steps may start any time).
func (w Windows) Empty() bool { return len(w.items) == 0 }

// Allows reports whether a step that needs room may start at now: some
// window opened at or before now and stays open for at least room more.
// Without windows every time is allowed.
func (w Windows) Allows(now time.Time, room time.Duration) bool {
	if len(w.items) == 0 {
		return true
	}
	now = now.UTC()
	for _, it := range w.items {
		// An opening t admits the step when now-dur+room <= t <= now.
		from := now.Add(room - it.dur)
		if t := it.sched.Next(from.Add(-time.Nanosecond)); !t.IsZero() && !t.After(now) {
			return true
		}
	}
	return false
}

// Open reports whether some window is open at now (whatever room is left),
// and until when the latest-closing of them stays open.
func (w Windows) Open(now time.Time) (until time.Time, ok bool) {
	now = now.UTC()
	for _, it := range w.items {
		// Every opening in (now-dur, now] is open at now; the latest
		// closes last. Openings are at least a minute apart, so the walk
		// is bounded; it stops early for very dense schedules (the
		// message then names an earlier, still correct, closing time).
		n := 0
		for t := it.sched.Next(now.Add(-it.dur)); !t.IsZero() && !t.After(now) && n < maxOpeningsWalked; t = it.sched.Next(t) {
			if end := t.Add(it.dur); end.After(until) {
				until, ok = end, true
			}
			n++
		}
	}
	return until, ok
}

// maxOpeningsWalked bounds the openings Open walks per window.
const maxOpeningsWalked = 64

// NextOpening is the earliest window opening strictly after now (zero
// without windows). At that instant a step may start: every window is at
// least one step long.
func (w Windows) NextOpening(now time.Time) time.Time {
	var next time.Time
	now = now.UTC()
	for _, it := range w.items {
		if t := it.sched.Next(now); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// HoldMessage explains why a step cannot start at now and when the next
// window opens (RFC 3339, UTC).
func (w Windows) HoldMessage(now time.Time, room time.Duration) string {
	next := w.NextOpening(now)
	nextText := "no window opens within five years"
	if !next.IsZero() {
		nextText = "next window opens at " + next.Format(time.RFC3339)
	}
	if until, ok := w.Open(now); ok {
		return fmt.Sprintf("the maintenance window closes at %s, too soon for a step that needs %s; %s",
			until.Format(time.RFC3339), room, nextText)
	}
	return "outside maintenance windows; " + nextText
}
