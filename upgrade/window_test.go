package upgrade_test

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

func mw(schedule string, d time.Duration) upgrade.MaintenanceWindow {
	return upgrade.MaintenanceWindow{Schedule: schedule, Duration: metav1.Duration{Duration: d}}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowsAllows(t *testing.T) {
	ws, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{mw("0 2 * * *", 2*time.Hour)}, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	room := 30 * time.Minute
	for _, tc := range []struct {
		now  string
		want bool
	}{
		{"2026-03-01T01:59:59Z", false},
		{"2026-03-01T02:00:00Z", true}, // the opening instant
		{"2026-03-01T03:29:59Z", true},
		{"2026-03-01T03:30:00Z", true},  // exactly room left
		{"2026-03-01T03:30:01Z", false}, // open, but too little room
		{"2026-03-01T04:00:00Z", false}, // closed (end excluded)
		{"2026-03-01T12:00:00Z", false},
		{"2026-03-01T04:00:00+02:00", true}, // 02:00 UTC: the location of now is irrelevant
	} {
		if got := ws.Allows(at(tc.now), room); got != tc.want {
			t.Errorf("Allows(%s) = %v, want %v", tc.now, got, tc.want)
		}
	}
	if next := ws.NextOpening(at("2026-03-01T02:00:00Z")); !next.Equal(at("2026-03-02T02:00:00Z")) {
		t.Errorf("next opening %s", next)
	}
	if until, ok := ws.Open(at("2026-03-01T03:45:00Z")); !ok || !until.Equal(at("2026-03-01T04:00:00Z")) {
		t.Errorf("open until %s %v", until, ok)
	}
	if _, ok := ws.Open(at("2026-03-01T04:00:00Z")); ok {
		t.Error("open at the end")
	}
}

func TestWindowsSeveralAndOverlapping(t *testing.T) {
	ws, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{
		mw("0 22 * * 6", 4*time.Hour), // Saturdays 22:00 to Sunday 02:00
		mw("30 1 * * *", time.Hour),   // daily 01:30 to 02:30
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-07 is a Saturday. At Sunday 01:45 the Saturday window has
	// 15 minutes left, but the daily one opened at 01:30 has 45: neither
	// leaves an hour.
	if ws.Allows(at("2026-03-08T01:45:00Z"), time.Hour) {
		t.Error("allowed with 45 minutes left")
	}
	if !ws.Allows(at("2026-03-08T01:30:00Z"), time.Hour) {
		t.Error("not allowed at the daily opening")
	}
	if until, ok := ws.Open(at("2026-03-08T01:45:00Z")); !ok || !until.Equal(at("2026-03-08T02:30:00Z")) {
		t.Errorf("open until %s", until)
	}
	if next := ws.NextOpening(at("2026-03-07T12:00:00Z")); !next.Equal(at("2026-03-07T22:00:00Z")) {
		t.Errorf("next %s", next)
	}
	var none upgrade.Windows
	if !none.Empty() || !none.Allows(at("2026-03-07T12:00:00Z"), time.Hour) || !none.NextOpening(at("2026-03-07T12:00:00Z")).IsZero() {
		t.Error("no windows must allow every time")
	}
}

func TestParseWindowsRejects(t *testing.T) {
	for _, w := range []upgrade.MaintenanceWindow{
		mw("", time.Hour),
		mw("0 2 * *", time.Hour),
		mw("0 0 2 * * *", time.Hour), // six fields (seconds) are not accepted
		mw("61 2 * * *", time.Hour),
		mw("@every 2h", time.Hour),
		mw("@reboot", time.Hour),
		mw("TZ=Europe/Paris 0 2 * * *", time.Hour),
		mw("CRON_TZ=UTC 0 2 * * *", time.Hour),
		mw("0 0 31 2 *", time.Hour), // never matches
		mw("0 2 * * *", 0),
		mw("0 2 * * *", -time.Minute),
		mw("0 2 * * *", 29*time.Minute), // shorter than one step
	} {
		_, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{w}, 30*time.Minute)
		if !errors.Is(err, upgrade.ErrInvalidWindow) {
			t.Errorf("%+v: err %v", w, err)
		}
	}
	for _, ok := range []string{"@daily", "@weekly", "@monthly", "@yearly", "@hourly", "0 0 29 2 *", "*/15 1-3 * * 1-5", " 0 2 * * * "} {
		if _, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{mw(ok, time.Hour)}, 30*time.Minute); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestWindowsDenseSchedule(t *testing.T) {
	ws, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{mw("* * * * *", 24*time.Hour)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := at("2026-03-01T12:00:30Z")
	if !ws.Allows(now, time.Hour) {
		t.Error("a window opens every minute")
	}
	if until, ok := ws.Open(now); !ok || until.Before(now.Add(time.Hour)) {
		t.Errorf("open until %s", until)
	}
}

// FuzzParseWindows checks that ParseWindows never panics, that its errors
// are ErrInvalidWindow, and that parsed windows are consistent: a step is
// allowed only while a window is open, the next opening is after now and
// allows a step (every window is at least one step long).
func FuzzParseWindows(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "*/15 1-3 * * 1-5", "@daily", "@every 1h", "0 0 31 2 *", "61 * * * *", "TZ=UTC 0 2 * * *", "", "0 0 29 2 *"} {
		f.Add(s, int64(2*time.Hour), int64(30*time.Minute), int64(1767225600))
	}
	f.Fuzz(func(t *testing.T, schedule string, dur, room, nowUnix int64) {
		if room < 0 || nowUnix < 0 || nowUnix > 1<<34 {
			return
		}
		ws, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{{Schedule: schedule, Duration: metav1.Duration{Duration: time.Duration(dur)}}}, time.Duration(room))
		if err != nil {
			if !errors.Is(err, upgrade.ErrInvalidWindow) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		now := time.Unix(nowUnix, 0).UTC()
		if ws.Allows(now, time.Duration(room)) {
			if _, open := ws.Open(now); !open {
				t.Fatalf("allowed at %s outside every window", now)
			}
		}
		if next := ws.NextOpening(now); !next.IsZero() {
			if !next.After(now) {
				t.Fatalf("next opening %s not after %s", next, now)
			}
			if !ws.Allows(next, time.Duration(room)) {
				t.Fatalf("no step allowed at the opening %s", next)
			}
		}
	})
}
