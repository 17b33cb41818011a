package harness

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	// Ordering is the rolling ordering (rolling.Spec.Ordering) and chooses
	// the workload's update strategy: OrderingOnDelete gives an OnDelete
	// workload (nothing restarts a pod but DeletePod), anything else a
	// RollingUpdate workload driven by its partition (the default,
	// OrderingPartition). Blue-green and the baseline run on either.
	Ordering rolling.Ordering
	// HandoffOnShutdown makes a leading node hand leadership over when its
	// pod is deleted, as OpenBao does on SIGTERM (Options.HandoffOnShutdown).
	HandoffOnShutdown bool
	// NoTargetedTransfer emulates OpenBao, which has no targeted leadership
	// transfer: strategies then use StepDown (Options.NoTargetedTransfer).
	NoTargetedTransfer bool
	// Leader, when set, names the member that leads when the writes and the
	// upgrade start ("raft-2"); default: whoever wins the first election.
	Leader string
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
	switch sc.Ordering {
	case "":
		sc.Ordering = rolling.OrderingPartition
	case rolling.OrderingPartition, rolling.OrderingOnDelete:
	default:
		return sc, fmt.Errorf("harness: ordering %q is neither %s nor %s", sc.Ordering, rolling.OrderingPartition, rolling.OrderingOnDelete)
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

// CatchUp is the catch-up definition the scenarios give the strategies:
// autopilot's lag, a contact bound suited to sub-second heartbeats and a
// one-second stabilization.
func CatchUp() upgrade.CatchUp {
	return upgrade.CatchUp{MaxLag: 1000, MaxContact: metav1.Duration{Duration: 2 * time.Second}, Stabilization: metav1.Duration{Duration: time.Second}}
}

// RollingSpec is the rolling spec of a scenario.
func RollingSpec(to, workload string) rolling.Spec {
	return rolling.Spec{Version: to, Image: Image(to), Workload: workload, CatchUp: CatchUp(),
		RetryInterval: metav1.Duration{Duration: 3 * time.Second}, StepTimeout: metav1.Duration{Duration: 2 * time.Minute}, PollInterval: metav1.Duration{Duration: 100 * time.Millisecond}}
}

// BlueGreenSpec is the blue-green spec of a scenario.
func BlueGreenSpec(to, workload, service string) bluegreen.Spec {
	return bluegreen.Spec{Version: to, Image: Image(to), Workload: workload, Service: service, AutoPromote: true,
		CatchUp: CatchUp(), MinSyncDuration: metav1.Duration{Duration: time.Second}, StabilizationWindow: metav1.Duration{Duration: time.Second},
		RetryAfter: metav1.Duration{Duration: 2 * time.Second}, RequeueAfter: metav1.Duration{Duration: 100 * time.Millisecond},
		Timeouts: bluegreen.Timeouts{Step: metav1.Duration{Duration: 2 * time.Minute}, Rollback: metav1.Duration{Duration: 2 * time.Minute}}}
}

// monitorInterval is how often Run samples the leader.
const monitorInterval = 10 * time.Millisecond

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
	rep := Report{Strategy: sc.Strategy, Nodes: sc.Nodes, From: sc.From, To: sc.To, BadTarget: sc.BadTarget,
		Ordering: string(sc.Ordering), HandoffOnShutdown: sc.HandoffOnShutdown, TargetedTransfer: !sc.NoTargetedTransfer,
		LeaderChosen: sc.Leader != ""}
	var bad []string
	if sc.BadTarget {
		bad = []string{sc.To}
	}
	us := upgrade.UpdateRollingUpdate
	if sc.Ordering == rolling.OrderingOnDelete {
		us = upgrade.UpdateOnDelete
	}
	tl := &timeline{logf: sc.Logf}
	const workload, service = "raft", "raft"
	a, err := New(ctx, Options{Nodes: sc.Nodes, Version: sc.From, Workload: workload, Service: service, Dir: sc.Dir,
		Timing: sc.Timing, Logger: sc.Logger, NoSync: sc.NoSync, StartDelay: sc.StartDelay, BadVersions: bad,
		UpdateStrategy: us, HandoffOnShutdown: sc.HandoffOnShutdown, NoTargetedTransfer: sc.NoTargetedTransfer,
		Leader: sc.Leader, Logf: tl.adapterEvent})
	if err != nil {
		return rep, err
	}
	defer a.Close()
	if name, _, ok := a.LeaderInfo(); ok {
		rep.StartLeader = name
	}

	mctx, stopMonitor := context.WithCancel(ctx)
	mon := NewMonitor(a, monitorInterval)
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

	tl.begin()
	// The version the cluster must run when the upgrade ends, and the
	// outcomes that count as a correct end.
	want, outcomes := sc.To, []upgrade.Outcome{upgrade.OutcomeSucceeded}
	if sc.BadTarget {
		want, outcomes = sc.From, []upgrade.Outcome{upgrade.OutcomeRolledBack, upgrade.OutcomeAborted}
	}
	var upErr error
	switch sc.Strategy {
	case Rolling:
		specFor := func(v string) rolling.Spec {
			s := RollingSpec(v, workload)
			s.Ordering = sc.Ordering
			return s
		}
		spec := specFor(sc.To)
		react := func(st upgrade.Status) {
			// The operator's answer to a crash-looping target: set the spec
			// back to the running version (the pause message says so).
			if u := st.Upgrade; u != nil && u.Paused != nil && u.Paused.Gate == upgrade.GateCrashLoop && spec.Version != sc.From {
				spec = specFor(sc.From)
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
	tl.end() // the adapter's events after the upgrade are left out

	// Tail: writes go on for a while after the upgrade.
	sleepCtx(ctx, sc.Tail)
	stop := time.Now()
	stopWriter()
	<-wdone
	stopMonitor()
	wg.Wait()

	// The figures cover the upgrade and the tail: what happened during the
	// warm-up (the first write, an election right after start-up) is not
	// the upgrade's doing.
	ws := wr.Stats()
	acks := wr.Acks()
	rep.WritesAcked, rep.WriteAttempts, rep.WriteFailures = ws.Acked, ws.Attempts, ws.Failed+ws.NoLeader
	rep.WriteErrors = ws.Errors
	if ws.NoLeader > 0 {
		rep.WriteErrors["no leader known"] = ws.NoLeader
	}
	gap, gapEnd := longestGap(acks, tl.start, stop)
	rep.LongestWriteGap = gap
	if !gapEnd.IsZero() {
		tl.lines = append(tl.lines, fmt.Sprintf("%7s (longest write gap, %s, ends)",
			gapEnd.Sub(tl.start).Round(time.Millisecond), gap.Round(time.Millisecond)))
	}
	ms := mon.Stats().Window(tl.start, stop)
	rep.LeaderChanges, rep.Elections, rep.LongestLeaderless, rep.Leaders = ms.LeaderChanges, ms.Elections, ms.LongestLeaderless, ms.Leaders
	var changed []time.Time
	for _, c := range ms.Changes {
		changed = append(changed, c.At)
	}
	rep.LeaderChangeWriteGap = gapAround(acks, changed, monitorInterval, stop)
	for _, c := range ms.Changes {
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
			rep.Actions++
			tl.add("  %s", act)
		}
		a.Emit(d.Events)
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
