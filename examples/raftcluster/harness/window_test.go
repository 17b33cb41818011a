package harness

import (
	"slices"
	"testing"
	"time"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
)

func TestMonitorWindowLeavesWarmUpOut(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := MonitorStats{Changes: []LeaderEvent{
		{At: at(0), Leader: "raft-0", Term: 2},
		{At: at(100)}, // an election during the warm-up
		{At: at(400), Leader: "raft-1", Term: 3},
		{At: at(1000)}, // leaderless across the window's start
		{At: at(1100), Leader: "raft-1", Term: 4},
		{At: at(2000), Leader: "raft-2", Term: 5}, // a transfer
		{At: at(2900)},                            // lost at the end
	}}
	w := s.Window(at(1050), at(3000))
	if w.LeaderChanges != 1 || w.Elections != 2 || !slices.Equal(w.Leaders, []string{"raft-1", "raft-2"}) {
		t.Errorf("changes %d, elections %d, leaders %v", w.LeaderChanges, w.Elections, w.Leaders)
	}
	if w.LongestLeaderless != 100*time.Millisecond {
		t.Errorf("longest leaderless %s, want 100ms (50ms from the start, 100ms at the end)", w.LongestLeaderless)
	}
	if len(w.Changes) != 3 {
		t.Errorf("changes in the window: %v", w.Changes)
	}
}

func TestLongestGapOverlapsTheWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	acks := []raftnode.Ack{{At: at(0)}, {At: at(500)}, {At: at(600)}, {At: at(800)}, {At: at(850)}}
	// The 500ms gap ends before the window: left out; the 200ms one
	// overlaps its start.
	if gap, end := longestGap(acks, at(700), at(900)); gap != 200*time.Millisecond || !end.Equal(at(800)) {
		t.Errorf("gap %s ending %s", gap, end)
	}
	// A stall until the end counts.
	if gap, end := longestGap(acks, at(700), at(1200)); gap != 350*time.Millisecond || !end.Equal(at(1200)) {
		t.Errorf("gap %s ending %s", gap, end)
	}
	if gap, _ := longestGap(nil, at(0), at(300)); gap != 300*time.Millisecond {
		t.Errorf("no acks: gap %s", gap)
	}
}

func TestGapAroundALeaderChange(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	acks := []raftnode.Ack{{At: at(0)}, {At: at(10)}, {At: at(100)}, {At: at(105)}, {At: at(110)}, {At: at(120)}, {At: at(400)}}
	// Seen at 108: the 90ms gap ended 8ms before, within one sample.
	if g := gapAround(acks, []time.Time{at(108)}, 10*time.Millisecond, at(500)); g != 90*time.Millisecond {
		t.Errorf("gap around 108ms: %s, want 90ms", g)
	}
	// Seen at 200, during the 280ms gap.
	if g := gapAround(acks, []time.Time{at(108), at(200)}, 10*time.Millisecond, at(500)); g != 280*time.Millisecond {
		t.Errorf("gap around 200ms: %s, want 280ms", g)
	}
	// Seen after the last write: the stall until stop.
	if g := gapAround(acks, []time.Time{at(450)}, 10*time.Millisecond, at(500)); g != 100*time.Millisecond {
		t.Errorf("gap around 450ms: %s, want 100ms", g)
	}
}
