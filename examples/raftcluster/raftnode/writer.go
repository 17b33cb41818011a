package raftnode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Ack is one acknowledged write: raft committed it and the leader applied it.
type Ack struct {
	// Key and Value are what was written.
	Key   string
	Value string
	// Index is the log index the write was committed at.
	Index uint64
	// At is when the write was acknowledged.
	At time.Time
}

// WriterConfig bounds a Writer. A writer stops by itself at the first of
// MaxWrites acknowledged writes, Duration elapsed, or its context ending.
type WriterConfig struct {
	// MaxWrites caps acknowledged writes (default 100000).
	MaxWrites int
	// Duration caps the run time (default 5 minutes).
	Duration time.Duration
	// Interval is the pause between acknowledged writes (default 2ms).
	Interval time.Duration
	// ApplyTimeout bounds one Apply (default 1s).
	ApplyTimeout time.Duration
	// Backoff is the pause after a failed attempt (default 10ms, doubled
	// per consecutive failure up to 8 times that).
	Backoff time.Duration
	// Prefix starts every key (default "k").
	Prefix string
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.MaxWrites <= 0 {
		c.MaxWrites = 100000
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Minute
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Millisecond
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 10 * time.Millisecond
	}
	if c.Prefix == "" {
		c.Prefix = "k"
	}
	return c
}

// WriterStats summarises a writer's run.
type WriterStats struct {
	// Acked counts acknowledged writes.
	Acked int
	// Attempts counts Apply calls (acknowledged or not).
	Attempts int
	// NoLeader counts attempts made while no leader was known.
	NoLeader int
	// Failed counts attempts that returned an error (not leader,
	// leadership lost, transfer in progress, shutdown, timeout).
	Failed int
	// LongestGap is the longest time between two acknowledged writes
	// (the first measured from the writer's start).
	LongestGap time.Duration
	// LongestGapEnd is when the longest gap ended.
	LongestGapEnd time.Time
	// Errors counts failed attempts by error text.
	Errors map[string]int
}

// Writer writes "set k<n> v<n>" continuously to the current leader,
// retrying on any error with a small backoff, and records every
// acknowledged write. A write that failed ambiguously (leadership lost after
// it was appended) is retried with the same key and value: the command is
// idempotent.
type Writer struct {
	leader func() *Node
	cfg    WriterConfig

	mu    sync.Mutex
	acks  []Ack
	stats WriterStats
}

// NewWriter returns a writer that finds the leader with leader (nil when
// none is known).
func NewWriter(leader func() *Node, cfg WriterConfig) *Writer {
	return &Writer{leader: leader, cfg: cfg.withDefaults(), stats: WriterStats{Errors: map[string]int{}}}
}

// Run writes until a bound is reached or ctx ends; it returns nil when it
// stopped by itself or through ctx.
func (w *Writer) Run(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Duration)
	defer cancel()
	last := start
	fails := 0
	defer func() {
		// A stall that lasted until the end counts as a gap too.
		now := time.Now()
		w.mu.Lock()
		if gap := now.Sub(last); gap > w.stats.LongestGap {
			w.stats.LongestGap, w.stats.LongestGapEnd = gap, now
		}
		w.mu.Unlock()
	}()
	for seq := 0; seq < w.cfg.MaxWrites; {
		if ctx.Err() != nil {
			return nil
		}
		key := fmt.Sprintf("%s%07d", w.cfg.Prefix, seq)
		val := fmt.Sprintf("v%d-%d", seq, start.UnixNano()%1e9)
		cmd, err := SetCommand(key, val)
		if err != nil {
			return err
		}
		n := w.leader()
		if n == nil {
			w.mu.Lock()
			w.stats.NoLeader++
			w.mu.Unlock()
			fails++
			sleep(ctx, backoff(w.cfg.Backoff, fails))
			continue
		}
		f := n.Raft.Apply(cmd, w.cfg.ApplyTimeout)
		err = f.Error()
		if err == nil {
			if resp, ok := f.Response().(error); ok && resp != nil {
				err = resp
			}
		}
		now := time.Now()
		w.mu.Lock()
		w.stats.Attempts++
		if err != nil {
			w.stats.Failed++
			w.stats.Errors[errKey(err)]++
			w.mu.Unlock()
			fails++
			sleep(ctx, backoff(w.cfg.Backoff, fails))
			continue
		}
		fails = 0
		w.acks = append(w.acks, Ack{Key: key, Value: val, Index: f.Index(), At: now})
		w.stats.Acked++
		if gap := now.Sub(last); gap > w.stats.LongestGap {
			w.stats.LongestGap, w.stats.LongestGapEnd = gap, now
		}
		last = now
		w.mu.Unlock()
		seq++
		sleep(ctx, w.cfg.Interval)
	}
	return nil
}

func errKey(err error) string {
	for _, e := range []error{raft.ErrNotLeader, raft.ErrLeadershipLost, raft.ErrLeadershipTransferInProgress,
		raft.ErrRaftShutdown, raft.ErrEnqueueTimeout, raft.ErrAbortedByRestore} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

func backoff(base time.Duration, fails int) time.Duration {
	d := base
	for i := 1; i < fails && i < 4; i++ {
		d *= 2
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Acks returns a copy of the acknowledged writes, in order.
func (w *Writer) Acks() []Ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Ack(nil), w.acks...)
}

// Acked returns how many writes were acknowledged so far.
func (w *Writer) Acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// Stats returns a copy of the writer's statistics.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Errors = make(map[string]int, len(w.stats.Errors))
	for k, v := range w.stats.Errors {
		s.Errors[k] = v
	}
	return s
}

// Verify reads every acknowledged write from fsm and returns the writes
// that are missing or hold another value.
func Verify(fsm *FSM, acks []Ack) (lost []Ack) {
	for _, a := range acks {
		if v, ok := fsm.Get(a.Key); !ok || v != a.Value {
			lost = append(lost, a)
		}
	}
	return lost
}
