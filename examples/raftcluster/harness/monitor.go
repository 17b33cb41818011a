package harness

import (
	"context"
	"sync"
	"time"
)

// MonitorStats is what a Monitor measured.
type MonitorStats struct {
	// Samples counts leader samples taken.
	Samples int
	// LeaderChanges counts changes of the leading member (one leader
	// replaced by another, with or without a leaderless gap between).
	LeaderChanges int
	// Elections counts new terms in which a leader was seen.
	Elections int
	// LongestLeaderless is the longest time no leader was seen.
	LongestLeaderless time.Duration
	// Leaders lists the leaders seen, in order, without repeats.
	Leaders []string
	// Changes lists every change of the sampled leader (Leader "" when the
	// cluster became leaderless).
	Changes []LeaderEvent
}

// LeaderEvent is one change of the sampled leader.
type LeaderEvent struct {
	// At is when the change was sampled.
	At time.Time
	// Leader is the new leader ("" when none) and Term its term.
	Leader string
	Term   uint64
}

// Monitor samples the cluster's leader periodically to count leader changes
// and measure leaderless periods (an election that does not complete within
// a short bound means quorum was lost).
type Monitor struct {
	a        *Adapter
	interval time.Duration

	mu    sync.Mutex
	stats MonitorStats
}

// NewMonitor returns a monitor sampling a every interval (default 10ms).
func NewMonitor(a *Adapter, interval time.Duration) *Monitor {
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	return &Monitor{a: a, interval: interval}
}

// Run samples until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	var lastLeader string
	var lastTerm uint64
	var since time.Time // start of the current leaderless period
	for {
		name, term, ok := m.a.LeaderInfo()
		now := time.Now()
		m.mu.Lock()
		m.stats.Samples++
		switch {
		case !ok:
			if since.IsZero() {
				since = now
				m.stats.Changes = append(m.stats.Changes, LeaderEvent{At: now})
			}
			if d := now.Sub(since); d > m.stats.LongestLeaderless {
				m.stats.LongestLeaderless = d
			}
		default:
			if !since.IsZero() || name != lastLeader || term != lastTerm {
				m.stats.Changes = append(m.stats.Changes, LeaderEvent{At: now, Leader: name, Term: term})
			}
			since = time.Time{}
			if lastLeader == "" {
				m.stats.Leaders = append(m.stats.Leaders, name)
			} else if name != lastLeader {
				m.stats.LeaderChanges++
				m.stats.Leaders = append(m.stats.Leaders, name)
			}
			if lastTerm != 0 && term > lastTerm {
				m.stats.Elections++
			}
			lastLeader = name
			lastTerm = max(lastTerm, term)
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stats returns a copy of what was measured so far.
func (m *Monitor) Stats() MonitorStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Leaders = append([]string(nil), m.stats.Leaders...)
	s.Changes = append([]LeaderEvent(nil), m.stats.Changes...)
	return s
}

// Window returns the statistics of the changes between from and to, as a
// Monitor started at from and stopped at to would have measured them: the
// leader seen last before from is the first of Leaders (a change to
// another is a leader change), a leaderless period under way at from counts
// from from, one still under way at to ends at to. Samples is not
// recomputed.
func (s MonitorStats) Window(from, to time.Time) MonitorStats {
	out := MonitorStats{Samples: s.Samples}
	var leader string
	var term uint64
	var none time.Time // start of the leaderless period under way
	i := 0
	for ; i < len(s.Changes) && s.Changes[i].At.Before(from); i++ {
		c := s.Changes[i]
		if c.Leader == "" {
			if none.IsZero() {
				none = c.At
			}
			continue
		}
		none, leader, term = time.Time{}, c.Leader, max(term, c.Term)
	}
	if !none.IsZero() {
		none = from
	}
	if leader != "" {
		out.Leaders = append(out.Leaders, leader)
	}
	for _, c := range s.Changes[i:] {
		if c.At.After(to) {
			break
		}
		out.Changes = append(out.Changes, c)
		if c.Leader == "" {
			if none.IsZero() {
				none = c.At
			}
			continue
		}
		if !none.IsZero() {
			out.LongestLeaderless = max(out.LongestLeaderless, c.At.Sub(none))
			none = time.Time{}
		}
		switch {
		case leader == "":
			out.Leaders = append(out.Leaders, c.Leader)
		case c.Leader != leader:
			out.LeaderChanges++
			out.Leaders = append(out.Leaders, c.Leader)
		}
		if term != 0 && c.Term > term {
			out.Elections++
		}
		leader, term = c.Leader, max(term, c.Term)
	}
	if !none.IsZero() {
		out.LongestLeaderless = max(out.LongestLeaderless, to.Sub(none))
	}
	return out
}
