package harness

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys of the workload: every write puts its own key w/<seq> and raises
// the register to <seq> (a conditional put keeps it monotonic).
const (
	keyPrefix = "w/"
	register  = "reg"
)

func seqValue(seq int64) string { return fmt.Sprintf("%020d", seq) }

// Ack is one acknowledged write.
type Ack struct {
	// Seq is the write's sequence number, Rev the revision etcd answered.
	Seq, Rev int64
	// At is when the acknowledgement arrived.
	At time.Time
}

// Load is a client that writes continuously and a reader that checks
// linearizable reads against the acknowledged writes.
type Load struct {
	w, r *clientv3.Client
	// Interval is the pause after each write and each read.
	Interval time.Duration
	// Timeout bounds each request.
	Timeout time.Duration

	mu         sync.Mutex
	acks       []Ack
	attempts   int
	failed     int
	errs       map[string]int
	maxAck     Ack // the highest acknowledged write
	reads      int
	readFailed int
	violations []string
	last       Ack // the last read (sequence number and revision)

	invoked atomic.Int64 // highest sequence number sent
}

// NewLoad returns a load over two clients (writes and reads).
func NewLoad(w, r *clientv3.Client) *Load {
	return &Load{w: w, r: r, Interval: 5 * time.Millisecond, Timeout: time.Second, errs: map[string]int{}}
}

// Init writes the register's initial value.
func (l *Load) Init(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := l.w.Put(ctx, register, seqValue(0))
	return err
}

// Write writes until ctx ends.
func (l *Load) Write(ctx context.Context) {
	for seq := int64(1); ctx.Err() == nil; seq++ {
		l.invoked.Store(seq)
		rctx, cancel := context.WithTimeout(ctx, l.Timeout)
		v := seqValue(seq)
		put := clientv3.OpPut(keyPrefix+v, "x")
		resp, err := l.w.Txn(rctx).If(clientv3.Compare(clientv3.Value(register), "<", v)).
			Then(put, clientv3.OpPut(register, v)).Else(put).Commit()
		cancel()
		now := time.Now()
		l.mu.Lock()
		l.attempts++
		if err != nil {
			if ctx.Err() == nil {
				l.failed++
				l.errs[errClass(err)]++
			}
		} else {
			a := Ack{Seq: seq, Rev: resp.Header.Revision, At: now}
			l.acks = append(l.acks, a)
			l.maxAck = a
		}
		l.mu.Unlock()
		sleepCtx(ctx, l.Interval)
	}
}

// Read reads the register linearizably until ctx ends. A read must see
// every write acknowledged before it started (value and revision at
// least theirs), nothing not yet sent, and nothing older than the
// previous read; anything else is a linearizability violation.
func (l *Load) Read(ctx context.Context) {
	for ctx.Err() == nil {
		l.mu.Lock()
		before := l.maxAck
		l.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, l.Timeout)
		resp, err := l.r.Get(rctx, register)
		cancel()
		sent := l.invoked.Load()
		l.mu.Lock()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				l.readFailed++
			}
		case len(resp.Kvs) != 1:
			l.violations = append(l.violations, "register missing")
		default:
			l.reads++
			seq, perr := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
			if perr != nil {
				l.violations = append(l.violations, fmt.Sprintf("register holds %q", resp.Kvs[0].Value))
				break
			}
			got := Ack{Seq: seq, Rev: resp.Header.Revision}
			if v := CheckRead(before, sent, l.last, got); v != "" {
				l.violations = append(l.violations, v)
			} else {
				l.last = got
			}
		}
		l.mu.Unlock()
		sleepCtx(ctx, l.Interval*2)
	}
}

// CheckRead judges one linearizable read of the register that returned
// got (its value and revision): before is the highest write acknowledged
// when the read was sent, sent the highest sequence number sent when it
// returned, last the previous read. It returns "" for a read consistent
// with linearizability, else what is wrong: a stale read (older than an
// acknowledged write), a value never sent, or a read going back in time.
func CheckRead(before Ack, sent int64, last, got Ack) string {
	switch {
	case got.Seq < before.Seq || got.Rev < before.Rev:
		return fmt.Sprintf("stale read: %d at revision %d after write %d was acknowledged at revision %d", got.Seq, got.Rev, before.Seq, before.Rev)
	case got.Seq > sent:
		return fmt.Sprintf("read %d before it was written (highest sent %d)", got.Seq, sent)
	case got.Seq < last.Seq || got.Rev < last.Rev:
		return fmt.Sprintf("read went back from %d (revision %d) to %d (revision %d)", last.Seq, last.Rev, got.Seq, got.Rev)
	}
	return ""
}

// LoadStats is what the load measured.
type LoadStats struct {
	// Acks are the acknowledged writes, in order.
	Acks []Ack
	// Attempts counts writes sent, Failed those that failed (an error or
	// the request timeout: their effect is unknown).
	Attempts, Failed int
	// Errors classes the failed writes.
	Errors map[string]int
	// Reads counts successful reads, ReadFailed failed ones.
	Reads, ReadFailed int
	// Violations lists the reads CheckRead rejected.
	Violations []string
	// HighestAcked and HighestRev are the highest acknowledged write and
	// its revision.
	HighestAcked, HighestRev int64
}

// Stats returns a copy of the measurements.
func (l *Load) Stats() LoadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := map[string]int{}
	for k, v := range l.errs {
		errs[k] = v
	}
	return LoadStats{Acks: append([]Ack(nil), l.acks...), Attempts: l.attempts, Failed: l.failed, Errors: errs,
		Reads: l.reads, ReadFailed: l.readFailed, Violations: append([]string(nil), l.violations...),
		HighestAcked: l.maxAck.Seq, HighestRev: l.maxAck.Rev}
}

// Lost reads every key back (linearizably) and returns the acknowledged
// writes missing from the cluster.
func (l *Load) Lost(ctx context.Context) ([]int64, error) {
	st := l.Stats()
	present := map[int64]bool{}
	var resp *clientv3.GetResponse
	var err error
	for range 50 { // the cluster may still be electing after the last restart
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err = l.r.Get(rctx, keyPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		cancel()
		if err == nil {
			break
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("harness: read back: %w", err)
	}
	for _, kv := range resp.Kvs {
		if seq, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), keyPrefix), 10, 64); err == nil {
			present[seq] = true
		}
	}
	var lost []int64
	for _, a := range st.Acks {
		if !present[a.Seq] {
			lost = append(lost, a.Seq)
		}
	}
	return lost, nil
}

// errClass is a short, one-line class of a client error.
func errClass(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if i := strings.Index(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
