package harness

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestLongestGap(t *testing.T) {
	acks := []Ack{{Seq: 1, At: at(100)}, {Seq: 2, At: at(150)}, {Seq: 3, At: at(500)}, {Seq: 4, At: at(520)}}
	for _, tc := range []struct {
		from, to int
		want     time.Duration
	}{
		{0, 600, 350 * time.Millisecond},
		{200, 600, 300 * time.Millisecond}, // from the window's start to the first ack
		{0, 1000, 480 * time.Millisecond},  // from the last ack to the window's end
		{510, 515, 5 * time.Millisecond},
	} {
		if got, _ := longestGap(acks, at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("[%d, %d]: %s, want %s", tc.from, tc.to, got, tc.want)
		}
	}
	if got, end := longestGap(acks, at(0), at(600)); got != 350*time.Millisecond || !end.Equal(at(500)) {
		t.Errorf("gap %s ending %s", got, end)
	}
	if got, _ := longestGap(nil, at(0), at(300)); got != 300*time.Millisecond {
		t.Errorf("no acks: %s", got)
	}
}

func TestMonitorWindow(t *testing.T) {
	m := &Monitor{changes: []LeaderEvent{
		{At: at(0), Leader: "etcd-0", Term: 2},
		{At: at(100), Leader: "etcd-1", Term: 2}, // before the window
		{At: at(300), Leader: "", Term: 0},
		{At: at(450), Leader: "etcd-2", Term: 3},
		{At: at(600), Leader: "etcd-2", Term: 4},
		{At: at(700), Leader: "etcd-0", Term: 4},
		{At: at(900), Leader: "", Term: 0},
	}}
	s := m.Window(at(200), at(1000))
	if s.LeaderChanges != 2 || s.Elections != 2 || s.LongestLeaderless != 150*time.Millisecond ||
		strings.Join(s.Leaders, ",") != "etcd-1,etcd-2,etcd-0" {
		t.Errorf("window %+v", s)
	}
	s = m.Window(at(350), at(500))
	if s.LeaderChanges != 1 || s.Elections != 1 || s.LongestLeaderless != 100*time.Millisecond || strings.Join(s.Leaders, ",") != "etcd-1,etcd-2" {
		t.Errorf("window from a leaderless start %+v", s)
	}
	if s := m.Window(at(950), at(1200)); s.LongestLeaderless != 250*time.Millisecond {
		t.Errorf("leaderless to the end %+v", s)
	}
}

// TestCheckRead: the reader's judge rejects what linearizability forbids
// and accepts the rest, failed writes that took effect included.
func TestCheckRead(t *testing.T) {
	acked := Ack{Seq: 10, Rev: 110}
	for _, tc := range []struct {
		name      string
		sent      int64
		last, got Ack
		bad       string
	}{
		{"the latest write", 10, Ack{Seq: 9, Rev: 109}, Ack{Seq: 10, Rev: 110}, ""},
		{"a write not acknowledged yet", 11, Ack{Seq: 9, Rev: 109}, Ack{Seq: 11, Rev: 111}, ""},
		{"an older value", 10, Ack{Seq: 9, Rev: 109}, Ack{Seq: 9, Rev: 109}, "stale read"},
		{"an older revision", 10, Ack{}, Ack{Seq: 10, Rev: 105}, "stale read"},
		{"a value never sent", 10, Ack{}, Ack{Seq: 12, Rev: 112}, "before it was written"},
		{"back in time", 14, Ack{Seq: 13, Rev: 113}, Ack{Seq: 12, Rev: 112}, "went back"},
	} {
		v := CheckRead(acked, tc.sent, tc.last, tc.got)
		if (tc.bad == "") != (v == "") || !strings.Contains(v, tc.bad) {
			t.Errorf("%s: %q, want %q", tc.name, v, tc.bad)
		}
	}
}
