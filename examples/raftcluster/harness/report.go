package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
)

// Report is what a scenario measured.
type Report struct {
	// Strategy, Nodes, From and To describe the scenario.
	Strategy Strategy `json:"strategy"`
	Nodes    int      `json:"nodes"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	// BadTarget is true when the target version crash-looped on purpose.
	BadTarget bool `json:"badTarget,omitempty"`
	// Ordering, HandoffOnShutdown and TargetedTransfer describe the
	// workload (see Scenario); StartLeader led when the writes started,
	// LeaderChosen is true when the scenario chose it (Scenario.Leader).
	Ordering          string `json:"ordering"`
	HandoffOnShutdown bool   `json:"handoffOnShutdown,omitempty"`
	TargetedTransfer  bool   `json:"targetedTransfer"`
	StartLeader       string `json:"startLeader,omitempty"`
	LeaderChosen      bool   `json:"leaderChosen,omitempty"`
	// Completed is true when the upgrade reached the target (a strategy's
	// status idle at To with a succeeded result; the baseline's last node
	// running).
	Completed bool `json:"completed"`
	// Outcome is the strategy's last result ("" for the baseline).
	Outcome string `json:"outcome,omitempty"`
	// Duration is how long the upgrade took.
	Duration time.Duration `json:"duration"`
	// Steps counts Step calls, Actions executed actions (events excluded)
	// and ActionErrors actions the cluster refused.
	Steps        int `json:"steps"`
	Actions      int `json:"actions"`
	ActionErrors int `json:"actionErrors"`
	// WritesAcked counts acknowledged writes, WritesLost those missing from
	// the final leader's FSM afterwards (must be 0).
	WritesAcked int `json:"writesAcked"`
	WritesLost  int `json:"writesLost"`
	// WriteAttempts and WriteFailures count the client's Apply calls.
	WriteAttempts int `json:"writeAttempts"`
	WriteFailures int `json:"writeFailures"`
	// WriteErrors counts failed attempts by error.
	WriteErrors map[string]int `json:"writeErrors,omitempty"`
	// LongestWriteGap is the longest time without an acknowledged write
	// during the upgrade and its tail (the warm-up left out).
	LongestWriteGap time.Duration `json:"longestWriteGap"`
	// LeaderChangeWriteGap is the longest of the write gaps under way when
	// the monitor saw the leader change or go (within one sample before):
	// what moving leadership itself cost the client.
	LeaderChangeWriteGap time.Duration `json:"leaderChangeWriteGap"`
	// LeaderChanges counts changes of the leading member, Elections new
	// terms with a leader, LongestLeaderless the longest time without one.
	LeaderChanges     int           `json:"leaderChanges"`
	Elections         int           `json:"elections"`
	LongestLeaderless time.Duration `json:"longestLeaderless"`
	// Leaders lists the successive leaders.
	Leaders []string `json:"leaders,omitempty"`
	// FinalLeader is the leader the writes were verified against.
	FinalLeader string `json:"finalLeader"`
	// FinalMembers lists "name version suffrage" of the final members.
	FinalMembers []string `json:"finalMembers,omitempty"`
	// ReplicasConsistent is true when every running member's FSM holds
	// every acknowledged write too.
	ReplicasConsistent bool `json:"replicasConsistent"`
	// Timeline lists the executed actions and phase/gate changes.
	Timeline []string `json:"timeline,omitempty"`
}

// Summary renders the headline figures on one line.
func (r Report) Summary() string {
	return fmt.Sprintf("%-9s %-22s nodes=%d completed=%-5v duration=%-8s leaderChanges=%d elections=%d longestWriteGap=%-8s longestLeaderless=%-8s writesAcked=%d writesLost=%d",
		r.Strategy, r.Variant(), r.Nodes, r.Completed, r.Duration.Round(time.Millisecond), r.LeaderChanges, r.Elections,
		r.LongestWriteGap.Round(time.Millisecond), r.LongestLeaderless.Round(time.Millisecond), r.WritesAcked, r.WritesLost)
}

// Variant names the workload's behaviour as the strategy sees it: the
// ordering (for rolling), "handoff" with HandoffOnShutdown and "stepdown"
// without targeted transfer ("ondelete+handoff+stepdown"); "-" for the
// baseline, which behaves the same whatever the workload declares.
func (r Report) Variant() string {
	if r.Strategy == Baseline {
		return "-" // restarts the pods itself, transfers leadership itself
	}
	var parts []string
	if r.Strategy == Rolling {
		parts = append(parts, strings.ToLower(r.Ordering))
	}
	if r.HandoffOnShutdown {
		parts = append(parts, "handoff")
	}
	if !r.TargetedTransfer {
		parts = append(parts, "stepdown")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "+")
}

// longestGap returns the longest time without an acknowledged write that
// overlaps [from, to], and when it ended: between two consecutive
// acknowledgements the later of which comes after from, or from the last
// one to to.
func longestGap(acks []raftnode.Ack, from, to time.Time) (time.Duration, time.Time) {
	var gap time.Duration
	var end, prev time.Time
	for _, a := range acks {
		if !prev.IsZero() && a.At.After(from) && a.At.Sub(prev) > gap {
			gap, end = a.At.Sub(prev), a.At
		}
		prev = a.At
	}
	if prev.IsZero() {
		prev = from
	}
	if to.Sub(prev) > gap {
		gap, end = to.Sub(prev), to
	}
	return gap, end
}

// gapAround returns the longest write gap overlapping [t-before, t] for
// any of times ts: the gap under way when a sampler that looks every
// `before` saw something at t.
func gapAround(acks []raftnode.Ack, ts []time.Time, before time.Duration, stop time.Time) time.Duration {
	var longest time.Duration
	for _, t := range ts {
		from := t.Add(-before)
		prev := time.Time{}
		for i := 0; i <= len(acks); i++ {
			next := stop
			if i < len(acks) {
				next = acks[i].At
			}
			if !prev.IsZero() && next.After(from) && !prev.After(t) {
				longest = max(longest, next.Sub(prev))
			}
			if i < len(acks) && acks[i].At.After(t) {
				break
			}
			prev = next
		}
	}
	return longest
}

// verify checks every acknowledged write against the final leader's FSM
// after a barrier, then against every other running member.
func verify(ctx context.Context, a *Adapter, acks []raftnode.Ack, rep *Report) error {
	// A barrier makes the leader apply everything committed before it
	// answers reads. An election during verification (a loaded machine)
	// fails the barrier: find the new leader and try again.
	var leader *raftnode.Node
	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := a.WaitLeader(ctx, time.Until(deadline))
		if err != nil {
			rep.WritesLost = len(acks)
			return fmt.Errorf("harness: verify: %w", err)
		}
		err = l.Raft.Barrier(5 * time.Second).Error()
		if err == nil {
			leader = l
			break
		}
		if time.Now().After(deadline) {
			rep.WritesLost = len(acks)
			return fmt.Errorf("harness: verify: barrier on %s: %w", l.ID(), err)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	rep.FinalLeader = string(leader.ID())
	rep.WritesLost = len(raftnode.Verify(leader.FSM, acks))
	target := leader.Raft.AppliedIndex()
	rep.ReplicasConsistent = true
	for name, n := range a.Nodes() {
		// AppliedIndex counts entries handed to the FSM goroutine, not
		// entries it has applied: read the FSM until it holds every write
		// or the deadline passes.
		deadline := time.Now().Add(10 * time.Second)
		for (n.Raft.AppliedIndex() < target || len(raftnode.Verify(n.FSM, acks)) > 0) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if lost := raftnode.Verify(n.FSM, acks); len(lost) > 0 {
			rep.ReplicasConsistent = false
			rep.Timeline = append(rep.Timeline, fmt.Sprintf("member %s misses %d acknowledged writes", name, len(lost)))
		}
	}
	return nil
}

// timeline collects the lines of a run's timeline, offsets from its start.
// The Step loop adds to it; so does the adapter's controller (its events
// between begin and end), hence the lock.
type timeline struct {
	logf func(format string, args ...any)

	mu    sync.Mutex
	start time.Time
	ended bool
	lines []string
	last  string
}

// begin starts the clock of the timeline.
func (t *timeline) begin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start = time.Now()
}

// end stops recording the adapter's events.
func (t *timeline) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
}

func (t *timeline) add(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addLocked(fmt.Sprintf(format, args...))
}

func (t *timeline) addLocked(msg string) {
	line := fmt.Sprintf("%7s ", time.Since(t.start).Round(time.Millisecond)) + msg
	t.lines = append(t.lines, line)
	if t.logf != nil {
		t.logf("%s", line)
	}
}

// adapterEvent records the adapter events that show what the emulated
// pods did (deleted, stopped, created, ready, leadership handed over)
// while the upgrade runs; it is the adapter's Options.Logf.
func (t *timeline) adapterEvent(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "executed ") || strings.HasPrefix(msg, "event ") || strings.HasPrefix(msg, "action refused") {
		return // the Step loop records those itself
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() || t.ended {
		return
	}
	t.addLocked("    [pods] " + msg)
}

// drive calls step every StepInterval with a fresh observation, persists
// the status through JSON (as a CRD status would be) and executes the

// lineTime parses the offset a timeline line starts with.
func lineTime(line string) time.Duration {
	f := strings.Fields(line)
	if len(f) == 0 {
		return 0
	}
	d, _ := time.ParseDuration(f[0])
	return d
}

// FormatTable renders reports as an aligned table, one row per report.
func FormatTable(reports []Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %-24s %5s %7s %9s %10s %9s %9s %12s %11s %11s %10s %9s\n",
		"strategy", "variant", "nodes", "leader0", "completed", "duration", "leaderChg", "elections", "longest gap", "gap@change", "leaderless", "acked", "lost")
	for _, r := range reports {
		start := r.StartLeader
		if start == "" {
			start = "-"
		}
		fmt.Fprintf(&b, "%-10s %-24s %5d %7s %9v %10s %9d %9d %12s %11s %11s %10d %9d\n",
			r.Strategy, r.Variant(), r.Nodes, start, r.Completed, r.Duration.Round(time.Millisecond), r.LeaderChanges, r.Elections,
			r.LongestWriteGap.Round(time.Millisecond), r.LeaderChangeWriteGap.Round(time.Millisecond), r.LongestLeaderless.Round(time.Millisecond),
			r.WritesAcked, r.WritesLost)
	}
	return b.String()
}

// FormatSummary groups reports by strategy, variant, nodes and chosen
// starting leader and renders, per group, the number of runs and the
// median and range ([min, max]) of the duration, leader changes, longest
// write gap, longest write gap at a leader change and longest leaderless
// period, and the total of lost writes.
func FormatSummary(reports []Report) string {
	type key struct {
		st      Strategy
		variant string
		nodes   int
		leader  string
	}
	var order []key
	groups := map[key][]Report{}
	for _, r := range reports {
		k := key{r.Strategy, r.Variant(), r.Nodes, ""}
		if r.LeaderChosen {
			k.leader = r.StartLeader
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %-24s %5s %7s %4s %-24s %-12s %-22s %-22s %-22s %5s\n",
		"strategy", "variant", "nodes", "leader0", "runs", "duration", "leaderChg", "longest gap", "gap@change", "leaderless", "lost")
	for _, k := range order {
		rs := groups[k]
		var dur, gap, mgap, ll []time.Duration
		var chg []int
		lost := 0
		for _, r := range rs {
			dur = append(dur, r.Duration)
			gap = append(gap, r.LongestWriteGap)
			mgap = append(mgap, r.LeaderChangeWriteGap)
			ll = append(ll, r.LongestLeaderless)
			chg = append(chg, r.LeaderChanges)
			lost += r.WritesLost
		}
		leader := k.leader
		if leader == "" {
			leader = "any"
		}
		fmt.Fprintf(&b, "%-10s %-24s %5d %7s %4d %-24s %-12s %-22s %-22s %-22s %5d\n",
			k.st, k.variant, k.nodes, leader, len(rs), spreadDur(dur), spreadInt(chg), spreadDur(gap), spreadDur(mgap), spreadDur(ll), lost)
	}
	return b.String()
}

// spreadDur renders the median and range of ds: "5.2s [4.9s, 6.1s]".
func spreadDur(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return "-"
	}
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	r := func(d time.Duration) time.Duration {
		if d >= time.Second {
			return d.Round(10 * time.Millisecond)
		}
		return d.Round(time.Millisecond)
	}
	return fmt.Sprintf("%s [%s, %s]", r(med), r(s[0]), r(s[n-1]))
}

// spreadInt renders the median and range of xs: "1 [1, 2]".
func spreadInt(xs []int) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return "-"
	}
	med := fmt.Sprint(s[n/2])
	if n%2 == 0 && s[n/2-1] != s[n/2] {
		med = fmt.Sprintf("%.1f", float64(s[n/2-1]+s[n/2])/2)
	}
	return fmt.Sprintf("%s [%d, %d]", med, s[0], s[n-1])
}
