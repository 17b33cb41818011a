package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Strategy names how a scenario upgrades the cluster.
type Strategy string

// Strategies.
const (
	// Rolling drives rolling.Step.
	Rolling Strategy = "rolling"
	// BlueGreen drives bluegreen.Step.
	BlueGreen Strategy = "bluegreen"
	// Baseline restarts nodes in ordinal order 0..N-1 at the target
	// version, with an untargeted step-down when the node to restart leads
	// and no wait beyond "the new node runs".
	Baseline Strategy = "baseline"
)

// ParseStrategy parses a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(strings.ToLower(s)); st {
	case Rolling, BlueGreen, Baseline:
		return st, nil
	}
	return "", fmt.Errorf("harness: unknown strategy %q (want rolling, bluegreen or baseline)", s)
}

// Scenario is one upgrade of a fresh cluster under continuous writes.
type Scenario struct {
	// Strategy is how to upgrade.
	Strategy Strategy
	// Nodes is the number of voters (default 3).
	Nodes int
	// From and To are the versions (default "1.0.0" -> "1.1.0").
	From, To string
	// Dir holds the nodes' data directories (required).
	Dir string
	// Timing holds the Raft timeouts (raftnode.DefaultTiming when zero).
	Timing raftnode.Timing
	// Timeout bounds the upgrade itself (default 2 minutes).
	Timeout time.Duration
	// StepInterval is the period of the Step loop (default 100ms).
	StepInterval time.Duration
	// Warmup is how long writes run before the upgrade starts, and Tail
	// how long they go on after it ended (defaults 500ms each).
	Warmup, Tail time.Duration
	// Writer bounds the client (its Duration defaults to Timeout plus a
	// margin, so it always stops by itself).
	Writer raftnode.WriterConfig
	// BadTarget makes the target version crash on start (its pods
	// crash-loop). Rolling pauses on the crash loop and the scenario then
	// sets the spec back to From, as an operator would; blue-green aborts by
	// itself. Either way the upgrade must end back at From without losing a
	// write. Not supported by the baseline.
	BadTarget bool
	// StartDelay is how long a restarted or new pod stays Pending before
	// its node starts, emulating container start-up; the same for every
	// strategy (default 1s; negative: none).
	StartDelay time.Duration
	// NoSync skips fsync in the bolt stores.
	NoSync bool
	// Logger receives Raft's logs (silent when nil).
	Logger hclog.Logger
	// Logf, when set, receives the timeline as it happens.
	Logf func(format string, args ...any)
}

func (sc Scenario) withDefaults() (Scenario, error) {
	if sc.Dir == "" {
		return sc, errors.New("harness: Scenario.Dir is required")
	}
	if sc.Strategy == "" {
		sc.Strategy = Rolling
	}
	if _, err := ParseStrategy(string(sc.Strategy)); err != nil {
		return sc, err
	}
	if sc.BadTarget && sc.Strategy == Baseline {
		return sc, errors.New("harness: the baseline does not support BadTarget")
	}
	if sc.Nodes <= 0 {
		sc.Nodes = 3
	}
	if sc.From == "" {
		sc.From = "1.0.0"
	}
	if sc.To == "" {
		sc.To = "1.1.0"
	}
	if sc.Timeout <= 0 {
		sc.Timeout = 2 * time.Minute
	}
	if sc.StepInterval <= 0 {
		sc.StepInterval = 100 * time.Millisecond
	}
	if sc.Warmup <= 0 {
		sc.Warmup = 500 * time.Millisecond
	}
	if sc.Tail <= 0 {
		sc.Tail = 500 * time.Millisecond
	}
	switch {
	case sc.StartDelay == 0:
		sc.StartDelay = time.Second
	case sc.StartDelay < 0:
		sc.StartDelay = 0
	}
	if sc.Writer.Duration <= 0 {
		sc.Writer.Duration = sc.Timeout + sc.Warmup + sc.Tail + 30*time.Second
	}
	return sc, nil
}

// Report is what a scenario measured.
type Report struct {
	// Strategy, Nodes, From and To describe the scenario.
	Strategy Strategy `json:"strategy"`
	Nodes    int      `json:"nodes"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	// BadTarget is true when the target version crash-looped on purpose.
	BadTarget bool `json:"badTarget,omitempty"`
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
	// LongestWriteGap is the longest time between acknowledged writes.
	LongestWriteGap time.Duration `json:"longestWriteGap"`
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
	return fmt.Sprintf("%-9s nodes=%d completed=%-5v duration=%-8s leaderChanges=%d elections=%d longestWriteGap=%-8s longestLeaderless=%-8s writesAcked=%d writesLost=%d",
		r.Strategy, r.Nodes, r.Completed, r.Duration.Round(time.Millisecond), r.LeaderChanges, r.Elections,
		r.LongestWriteGap.Round(time.Millisecond), r.LongestLeaderless.Round(time.Millisecond), r.WritesAcked, r.WritesLost)
}

// CatchUp is the catch-up definition the scenarios give the strategies:
// autopilot's lag, a contact bound suited to sub-second heartbeats and a
// one-second stabilization.
func CatchUp() upgrade.CatchUp {
	return upgrade.CatchUp{MaxLag: 1000, MaxContact: 2 * time.Second, Stabilization: time.Second}
}

// RollingSpec is the rolling spec of a scenario.
func RollingSpec(to, workload string) rolling.Spec {
	return rolling.Spec{Version: to, Image: Image(to), Workload: workload, CatchUp: CatchUp(),
		RetryInterval: 3 * time.Second, StepTimeout: 2 * time.Minute, PollInterval: 100 * time.Millisecond}
}

// BlueGreenSpec is the blue-green spec of a scenario.
func BlueGreenSpec(to, workload, service string) bluegreen.Spec {
	return bluegreen.Spec{Version: to, Image: Image(to), Workload: workload, Service: service, AutoPromote: true,
		CatchUp: CatchUp(), MinSyncDuration: time.Second, StabilizationWindow: time.Second,
		RetryAfter: 2 * time.Second, RequeueAfter: 100 * time.Millisecond,
		Timeouts: bluegreen.Timeouts{Step: 2 * time.Minute, Rollback: 2 * time.Minute}}
}

// stepFunc is a strategy's Step with its spec bound.
type stepFunc func(obs upgrade.Observation, status upgrade.Status) (upgrade.Decision, error)

// Run starts a fresh cluster at From, writes continuously, upgrades it to To
// with the scenario's strategy, then verifies every acknowledged write
// against the final leader's FSM. The error reports a scenario that could
// not run or an upgrade that did not complete; lost writes are reported in
// the Report (WritesLost) for the caller to judge.
func Run(ctx context.Context, sc Scenario) (Report, error) {
	sc, err := sc.withDefaults()
	if err != nil {
		return Report{}, err
	}
	rep := Report{Strategy: sc.Strategy, Nodes: sc.Nodes, From: sc.From, To: sc.To, BadTarget: sc.BadTarget}
	var bad []string
	if sc.BadTarget {
		bad = []string{sc.To}
	}
	const workload, service = "raft", "raft"
	a, err := New(ctx, Options{Nodes: sc.Nodes, Version: sc.From, Workload: workload, Service: service, Dir: sc.Dir,
		Timing: sc.Timing, Logger: sc.Logger, NoSync: sc.NoSync, StartDelay: sc.StartDelay, BadVersions: bad})
	if err != nil {
		return rep, err
	}
	defer a.Close()

	mctx, stopMonitor := context.WithCancel(ctx)
	mon := NewMonitor(a, 10*time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); mon.Run(mctx) }()
	defer func() { stopMonitor(); wg.Wait() }()

	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	wr := raftnode.NewWriter(a.Leader, sc.Writer)
	wdone := make(chan struct{})
	go func() { defer close(wdone); _ = wr.Run(wctx) }()

	// Warm up: some writes acknowledged before the upgrade starts.
	warm := time.Now().Add(sc.Warmup)
	for time.Now().Before(warm) || wr.Acked() == 0 {
		if time.Since(warm) > 20*time.Second {
			stopWriter()
			<-wdone
			return rep, errors.New("harness: no write acknowledged during warm-up")
		}
		time.Sleep(10 * time.Millisecond)
	}

	tl := &timeline{start: time.Now(), logf: sc.Logf}
	// The version the cluster must run when the upgrade ends, and the
	// outcomes that count as a correct end.
	want, outcomes := sc.To, []upgrade.Outcome{upgrade.OutcomeSucceeded}
	if sc.BadTarget {
		want, outcomes = sc.From, []upgrade.Outcome{upgrade.OutcomeRolledBack, upgrade.OutcomeAborted}
	}
	var upErr error
	switch sc.Strategy {
	case Rolling:
		spec := RollingSpec(sc.To, workload)
		react := func(st upgrade.Status) {
			// The operator's answer to a crash-looping target: set the spec
			// back to the running version (the pause message says so).
			if u := st.Upgrade; u != nil && u.Paused != nil && u.Paused.Gate == upgrade.GateCrashLoop && spec.Version != sc.From {
				spec = RollingSpec(sc.From, workload)
				tl.add("operator: %s crash-loops; spec set back to %s", u.Paused.Member, sc.From)
			}
		}
		upErr = drive(ctx, a, sc, &rep, tl, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(spec, o, s)
		}, upgrade.Status{CurrentVersion: sc.From, CurrentImage: Image(sc.From)}, want, outcomes, react)
	case BlueGreen:
		spec := BlueGreenSpec(sc.To, workload, service)
		upErr = drive(ctx, a, sc, &rep, tl, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) {
			return bluegreen.Step(spec, o, s)
		}, upgrade.Status{}, want, outcomes, nil)
	case Baseline:
		upErr = baseline(ctx, a, sc, &rep, tl, workload)
	}
	rep.Duration = time.Since(tl.start)

	// Tail: writes go on for a while after the upgrade.
	sleepCtx(ctx, sc.Tail)
	stopWriter()
	<-wdone
	stopMonitor()
	wg.Wait()

	ws := wr.Stats()
	acks := wr.Acks()
	rep.WritesAcked, rep.WriteAttempts, rep.WriteFailures = ws.Acked, ws.Attempts, ws.Failed+ws.NoLeader
	rep.WriteErrors = ws.Errors
	if ws.NoLeader > 0 {
		rep.WriteErrors["no leader known"] = ws.NoLeader
	}
	rep.LongestWriteGap = ws.LongestGap
	if !ws.LongestGapEnd.IsZero() {
		tl.lines = append(tl.lines, fmt.Sprintf("%7s (longest write gap, %s, ends)",
			ws.LongestGapEnd.Sub(tl.start).Round(time.Millisecond), ws.LongestGap.Round(time.Millisecond)))
	}
	ms := mon.Stats()
	rep.LeaderChanges, rep.Elections, rep.LongestLeaderless, rep.Leaders = ms.LeaderChanges, ms.Elections, ms.LongestLeaderless, ms.Leaders
	for _, c := range ms.Changes {
		if c.At.Before(tl.start) && c.Leader != "" {
			continue
		}
		who := "none"
		if c.Leader != "" {
			who = fmt.Sprintf("%s (term %d)", c.Leader, c.Term)
		}
		tl.lines = append(tl.lines, fmt.Sprintf("%7s (monitor: leader %s)", c.At.Sub(tl.start).Round(time.Millisecond), who))
	}
	sort.SliceStable(tl.lines, func(i, j int) bool { return lineTime(tl.lines[i]) < lineTime(tl.lines[j]) })

	verr := verify(ctx, a, acks, &rep)
	rep.Timeline = append(tl.lines, rep.Timeline...)
	obs := a.Observe(time.Now())
	for _, m := range obs.Members {
		s := string(m.Raft.Suffrage)
		if !m.Raft.Present {
			s = "absent"
		}
		rep.FinalMembers = append(rep.FinalMembers, fmt.Sprintf("%s %s %s", m.Name, m.Version, s))
	}
	return rep, errors.Join(upErr, verr)
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
		deadline := time.Now().Add(10 * time.Second)
		for n.Raft.AppliedIndex() < target && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if lost := raftnode.Verify(n.FSM, acks); len(lost) > 0 {
			rep.ReplicasConsistent = false
			rep.Timeline = append(rep.Timeline, fmt.Sprintf("member %s misses %d acknowledged writes", name, len(lost)))
		}
	}
	return nil
}

type timeline struct {
	start time.Time
	logf  func(format string, args ...any)
	lines []string
	last  string
}

func (t *timeline) add(format string, args ...any) {
	line := fmt.Sprintf("%7s ", time.Since(t.start).Round(time.Millisecond)) + fmt.Sprintf(format, args...)
	t.lines = append(t.lines, line)
	if t.logf != nil {
		t.logf("%s", line)
	}
}

// drive calls step every StepInterval with a fresh observation, persists
// the status through JSON (as a CRD status would be) and executes the
// actions, until the status is idle at version want with a last result,
// which must be one of outcomes. react, when set, sees every new status.
func drive(ctx context.Context, a *Adapter, sc Scenario, rep *Report, tl *timeline, step stepFunc, status upgrade.Status,
	want string, outcomes []upgrade.Outcome, react func(upgrade.Status)) error {
	deadline := time.Now().Add(sc.Timeout)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s upgrade did not end within %s", sc.Strategy, sc.Timeout)
		}
		obs := a.Observe(time.Now())
		d, err := step(obs, *status.DeepCopy())
		rep.Steps++
		if err != nil {
			return fmt.Errorf("harness: step %d: %w", rep.Steps, err)
		}
		if status, err = roundTrip(d.Status); err != nil {
			return err
		}
		key := ""
		if u := status.Upgrade; u != nil {
			key = u.Phase
		}
		if d.Gate != nil {
			key += fmt.Sprintf(" gate=%s/%s %s", d.Gate.Name, d.Gate.Reason, d.Gate.Member)
		}
		leader, _ := obs.Leader()
		key += " leader=" + leader.Name
		if key != tl.last {
			tl.last = key
			tl.add("%s", key)
		}
		n, err := a.Execute(ctx, d.Actions)
		for _, act := range d.Actions[:n] {
			if _, ok := act.(upgrade.RecordEvent); !ok {
				rep.Actions++
				tl.add("  %s", act)
			}
		}
		if err != nil {
			rep.ActionErrors++
			tl.add("  FAILED %v", err)
		}
		if react != nil {
			react(status)
		}
		if status.Upgrade == nil && status.LastResult != nil {
			rep.Outcome = string(status.LastResult.Outcome)
			if !slices.Contains(outcomes, status.LastResult.Outcome) {
				return fmt.Errorf("harness: upgrade ended %s (%s), want %v", status.LastResult.Outcome, status.LastResult.Message, outcomes)
			}
			if status.CurrentVersion == want && len(d.Actions) == 0 {
				rep.Completed = true
				return nil
			}
		}
		sleepCtx(ctx, sc.StepInterval)
	}
}

// lineTime parses the offset a timeline line starts with.
func lineTime(line string) time.Duration {
	f := strings.Fields(line)
	if len(f) == 0 {
		return 0
	}
	d, _ := time.ParseDuration(f[0])
	return d
}

func roundTrip(s upgrade.Status) (upgrade.Status, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return s, fmt.Errorf("harness: persist status: %w", err)
	}
	var out upgrade.Status
	if err := json.Unmarshal(raw, &out); err != nil {
		return s, fmt.Errorf("harness: load status: %w", err)
	}
	return out, nil
}

// baseline restarts every node in ordinal order at the target version: an
// untargeted step-down first when the node leads, no catch-up wait.
func baseline(ctx context.Context, a *Adapter, sc Scenario, rep *Report, tl *timeline, workload string) error {
	// Keep the emulated controller out of the way: the baseline restarts
	// the pods itself.
	lockPartition := []upgrade.Action{upgrade.SetPartition{Workload: workload, Partition: int32(sc.Nodes)}}
	if _, err := a.Execute(ctx, lockPartition); err != nil {
		return err
	}
	for i := range sc.Nodes {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		name := fmt.Sprintf("%s-%d", workload, i)
		if l := a.Leader(); l != nil && string(l.ID()) == name {
			err := l.Raft.LeadershipTransfer().Error()
			rep.Actions++
			tl.add("  step down %s (untargeted): %v", name, err)
		}
		if err := a.RestartNow(name, sc.To); err != nil {
			return err
		}
		rep.Actions++
		tl.add("  restarted %s at %s", name, sc.To)
	}
	if _, err := a.Execute(ctx, []upgrade.Action{upgrade.SetPartition{Workload: workload, Partition: 0}}); err != nil {
		return err
	}
	rep.Completed = true
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// FormatTable renders reports as an aligned table, one row per report.
func FormatTable(reports []Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %5s %9s %10s %9s %9s %12s %11s %10s %9s\n",
		"strategy", "nodes", "completed", "duration", "leaderChg", "elections", "longest gap", "leaderless", "acked", "lost")
	for _, r := range reports {
		fmt.Fprintf(&b, "%-10s %5d %9v %10s %9d %9d %12s %11s %10d %9d\n",
			r.Strategy, r.Nodes, r.Completed, r.Duration.Round(time.Millisecond), r.LeaderChanges, r.Elections,
			r.LongestWriteGap.Round(time.Millisecond), r.LongestLeaderless.Round(time.Millisecond), r.WritesAcked, r.WritesLost)
	}
	return b.String()
}
