package harness

import (
	"context"
	"sync"
	"time"
)

// LeaderEvent is one change of the sampled leader.
type LeaderEvent struct {
	// At is when the change was sampled.
	At time.Time
	// Leader is the new leader ("" when none) and Term its term.
	Leader string
	Term   uint64
}

// Monitor samples the cluster's leader every interval (each member's own
// view, in process: the member that leads at the highest term).
type Monitor struct {
	c        *Cluster
	interval time.Duration

	mu      sync.Mutex
	changes []LeaderEvent
}

// NewMonitor returns a monitor of c sampling every interval.
func NewMonitor(c *Cluster, interval time.Duration) *Monitor {
	return &Monitor{c: c, interval: interval}
}

// Run samples until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	var last LeaderEvent
	first := true
	for {
		name, term, _ := m.c.Leader()
		if first || name != last.Leader || term != last.Term {
			last = LeaderEvent{At: time.Now(), Leader: name, Term: term}
			first = false
			m.mu.Lock()
			m.changes = append(m.changes, last)
			m.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// LeaderStats is what a Monitor saw in a window.
type LeaderStats struct {
	// LeaderChanges counts changes of the leading member (one leader
	// replaced by another, with or without a leaderless gap between).
	LeaderChanges int
	// Elections counts new terms in which a leader was seen.
	Elections int
	// LongestLeaderless is the longest time no leader was seen.
	LongestLeaderless time.Duration
	// Leaders lists the successive leaders.
	Leaders []string
}

// Window returns the statistics of [from, to]: the leader seen last
// before from is the first of Leaders.
func (m *Monitor) Window(from, to time.Time) LeaderStats {
	m.mu.Lock()
	changes := append([]LeaderEvent(nil), m.changes...)
	m.mu.Unlock()
	var out LeaderStats
	var leader string
	var term uint64
	var none time.Time
	apply := func(c LeaderEvent, at time.Time) {
		if c.Leader == "" {
			if none.IsZero() {
				none = at
			}
			return
		}
		if !none.IsZero() {
			out.LongestLeaderless = max(out.LongestLeaderless, at.Sub(none))
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
	i := 0
	for ; i < len(changes) && changes[i].At.Before(from); i++ {
		c := changes[i]
		if c.Leader == "" {
			none = from
			continue
		}
		none, leader, term = time.Time{}, c.Leader, max(term, c.Term)
	}
	if leader != "" {
		out.Leaders = append(out.Leaders, leader)
	}
	for _, c := range changes[i:] {
		if c.At.After(to) {
			break
		}
		apply(c, c.At)
	}
	if !none.IsZero() {
		out.LongestLeaderless = max(out.LongestLeaderless, to.Sub(none))
	}
	return out
}
