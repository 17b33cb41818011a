package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake/plan"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Strategy names how a scenario upgrades the cluster.
type Strategy string

// Strategies.
const (
	// Rolling drives rolling.Step (Scenario.Ordering chooses Partition or
	// OnDelete).
	Rolling Strategy = "rolling"
	// BlueGreen drives bluegreen.Step: learners, promotion, MoveLeader to
	// green, blue removed.
	BlueGreen Strategy = "bluegreen"
	// Baseline restarts the members in ordinal order at the target version,
	// each as soon as the previous one's etcd runs again (it listens, as a
	// readiness probe on the client port sees it), with no leadership move
	// of its own (etcd hands leadership over when a leader stops
	// gracefully) and no catch-up wait: the raftcluster example's baseline.
	Baseline Strategy = "baseline"
)

// Scenario is one upgrade of a fresh cluster under continuous load.
type Scenario struct {
	// Strategy is how to upgrade (default Rolling).
	Strategy Strategy
	// Ordering is the rolling ordering; it also chooses the workload's
	// update strategy (OnDelete for OrderingOnDelete, else RollingUpdate).
	Ordering rolling.Ordering
	// Members is the number of voters (default 3).
	Members int
	// From and To are the version labels (default 3.7.0 -> 3.7.3).
	From, To string
	// Dir holds the members' data directories (required).
	Dir string
	// StartDelay is how long a (re)created pod stays Pending before etcd
	// starts, the same for every strategy (default 500ms; negative: none).
	StartDelay time.Duration
	// StepInterval is the period of the Step loop (default 100ms).
	StepInterval time.Duration
	// Warmup is how long the load runs before the upgrade starts, Tail
	// how long it goes on after it ended (default 1s each). A blue-green
	// upgrade starts 6s after every member served at least: with
	// StrictReconfigCheck etcd adds members only once its leader has been
	// connected to its voters for 5s.
	Warmup, Tail time.Duration
	// RequestTimeout bounds each request of the load (default 300ms): the
	// writer gives up on a write after it and sends the next. etcd never
	// answers a proposal it dropped (raft drops proposals while leadership
	// is being transferred, and a stopping member drops its own), so a
	// client waits for its own deadline: with a long one, every leadership
	// change that drops an in-flight write shows as a gap of the client's
	// timeout, not of the cluster's unavailability.
	RequestTimeout time.Duration
	// Timeout bounds the upgrade (default 3 minutes).
	Timeout time.Duration
	// Leader names the pod that leads when the upgrade starts ("": the
	// elected one): the harness moves leadership there (MoveLeader through
	// the adapter) during the warm-up.
	Leader string
	// KillLeader crashes the leader (no hand-over) once the first member at
	// the target version serves; its container restarts after StartDelay.
	KillLeader bool
	// NoFsync sets etcd's --unsafe-no-fsync.
	NoFsync bool
	// Logger receives etcd's logs (silent when nil).
	Logger *zap.Logger
	// Logf, when set, receives the timeline as it happens.
	Logf func(format string, args ...any)
}

func (sc Scenario) withDefaults() (Scenario, error) {
	if sc.Dir == "" {
		return sc, errors.New("harness: Scenario.Dir is required")
	}
	switch sc.Strategy {
	case "":
		sc.Strategy = Rolling
	case Rolling, BlueGreen, Baseline:
	default:
		return sc, fmt.Errorf("harness: unknown strategy %q", sc.Strategy)
	}
	switch sc.Ordering {
	case "":
		sc.Ordering = rolling.OrderingPartition
	case rolling.OrderingPartition, rolling.OrderingOnDelete:
	default:
		return sc, fmt.Errorf("harness: unknown ordering %q", sc.Ordering)
	}
	if sc.Members <= 0 {
		sc.Members = 3
	}
	if sc.From == "" {
		sc.From = "3.7.0"
	}
	if sc.To == "" {
		sc.To = "3.7.3"
	}
	switch {
	case sc.StartDelay == 0:
		sc.StartDelay = 500 * time.Millisecond
	case sc.StartDelay < 0:
		sc.StartDelay = 0
	}
	if sc.StepInterval <= 0 {
		sc.StepInterval = 100 * time.Millisecond
	}
	if sc.Warmup <= 0 {
		sc.Warmup = time.Second
	}
	if sc.Tail <= 0 {
		sc.Tail = time.Second
	}
	if sc.Timeout <= 0 {
		sc.Timeout = 3 * time.Minute
	}
	if sc.RequestTimeout <= 0 {
		sc.RequestTimeout = 300 * time.Millisecond
	}
	return sc, nil
}

// CatchUp is the catch-up definition the scenarios give the strategies.
func CatchUp() upgrade.CatchUp {
	return upgrade.CatchUp{MaxLag: 1000, MaxContact: metav1.Duration{Duration: 2 * time.Second}, Stabilization: metav1.Duration{Duration: time.Second}}
}

// RollingSpec is the rolling spec of a scenario: a pre-upgrade snapshot
// (Maintenance.Snapshot through the adapter), one-second stabilization.
func RollingSpec(to, workload string, ordering rolling.Ordering) rolling.Spec {
	return rolling.Spec{Version: to, Image: Image(to), Workload: workload, CatchUp: CatchUp(), Snapshot: true, Ordering: ordering,
		RetryInterval: metav1.Duration{Duration: 3 * time.Second}, StepTimeout: metav1.Duration{Duration: 2 * time.Minute},
		PollInterval: metav1.Duration{Duration: 100 * time.Millisecond}}
}

// BlueGreenSpec is the blue-green spec of a scenario: automatic promotion,
// one-second sync and stabilization windows, and a one-second RetryAfter
// (etcd applies membership changes at once; a Demote executed as a
// removal is never observed as a non-voter, see package etcd).
func BlueGreenSpec(to, workload string) bluegreen.Spec {
	return bluegreen.Spec{Version: to, Image: Image(to), Workload: workload, Service: workload, AutoPromote: true,
		CatchUp: CatchUp(), MinSyncDuration: metav1.Duration{Duration: time.Second}, StabilizationWindow: metav1.Duration{Duration: time.Second},
		RetryAfter: metav1.Duration{Duration: time.Second}, RequeueAfter: metav1.Duration{Duration: 100 * time.Millisecond},
		Timeouts: bluegreen.Timeouts{Step: metav1.Duration{Duration: 2 * time.Minute}, Rollback: metav1.Duration{Duration: 2 * time.Minute}}}
}

// timeline collects lines stamped with the time since the upgrade began.
type timeline struct {
	mu    sync.Mutex
	start time.Time
	lines []string
	logf  func(format string, args ...any)
}

func (t *timeline) add(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var at time.Duration
	if !t.start.IsZero() {
		at = time.Since(t.start)
	}
	line := fmt.Sprintf("%7s %s", at.Round(time.Millisecond), fmt.Sprintf(format, args...))
	t.lines = append(t.lines, line)
	if t.logf != nil {
		t.logf("%s", line)
	}
}

// Run starts a fresh cluster at From, runs the load, upgrades the cluster
// to To with the scenario's strategy, then reads every acknowledged write
// back. The error reports a scenario that could not run or an upgrade that
// did not complete; lost writes and linearizability violations are in the
// Report for the caller to judge.
func Run(ctx context.Context, sc Scenario) (Report, error) {
	sc, err := sc.withDefaults()
	if err != nil {
		return Report{}, err
	}
	rep := Report{Strategy: sc.Strategy, Members: sc.Members, KillLeader: sc.KillLeader}
	if sc.Strategy == Rolling {
		rep.Ordering = sc.Ordering
	}
	us := upgrade.UpdateRollingUpdate
	if (sc.Strategy == Rolling && sc.Ordering == rolling.OrderingOnDelete) || sc.Strategy == Baseline {
		us = upgrade.UpdateOnDelete // the baseline restarts pods itself
	}
	tl := &timeline{logf: sc.Logf}
	const workload = "etcd"
	c, err := NewCluster(ctx, Options{Members: sc.Members, Version: sc.From, Workload: workload, Dir: sc.Dir,
		UpdateStrategy: us, StartDelay: sc.StartDelay, NoFsync: sc.NoFsync, Logger: sc.Logger, Logf: func(f string, a ...any) { tl.add(f, a...) }})
	if err != nil {
		return rep, err
	}
	defer c.Close()
	born := time.Now() // every member serves
	host := NewHost(c)
	host.Logf = tl.add

	wcli, err := c.NewLoadClient()
	if err != nil {
		return rep, err
	}
	defer wcli.Close()
	rcli, err := c.NewLoadClient()
	if err != nil {
		return rep, err
	}
	defer rcli.Close()
	load := NewLoad(wcli, rcli)
	load.Timeout = sc.RequestTimeout
	if err := load.Init(ctx); err != nil {
		return rep, fmt.Errorf("harness: init: %w", err)
	}
	mon := NewMonitor(c, 10*time.Millisecond)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Go(func() { mon.Run(lctx) })
	wg.Go(func() { load.Write(lctx) })
	wg.Go(func() { load.Read(lctx) })
	defer wg.Wait()

	warm := sc.Warmup
	if sc.Strategy == BlueGreen {
		warm = max(warm, 6*time.Second-time.Since(born))
	}
	sleepCtx(ctx, warm)
	if sc.Leader != "" {
		if err := placeLeader(ctx, host, sc.Leader); err != nil {
			return rep, err
		}
		sleepCtx(ctx, sc.Warmup)
	}
	if name, _, ok := c.Leader(); ok {
		rep.StartLeader = name
	}
	from := upgrade.Status{CurrentVersion: sc.From, CurrentImage: Image(sc.From)}
	if sc.Strategy == Rolling {
		predict(ctx, host, RollingSpec(sc.To, workload, sc.Ordering), from, &rep)
	}
	tl.mu.Lock()
	tl.start = time.Now()
	tl.mu.Unlock()
	start := tl.start

	kctx, stopKill := context.WithCancel(ctx)
	if sc.KillLeader {
		wg.Go(func() { killWhenUpgraded(kctx, c, sc.To, tl, &rep) })
	}
	var upErr error
	switch sc.Strategy {
	case Rolling:
		spec := RollingSpec(sc.To, workload, sc.Ordering)
		upErr = drive(ctx, host, sc, &rep, tl, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(spec, o, s)
		}, from)
	case BlueGreen:
		spec := BlueGreenSpec(sc.To, workload)
		upErr = drive(ctx, host, sc, &rep, tl, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) {
			return bluegreen.Step(spec, o, s)
		}, from)
	case Baseline:
		upErr = baseline(ctx, c, sc, &rep, tl)
	}
	stopKill()
	rep.Duration = time.Since(start)
	tl.add("upgrade ended")

	sleepCtx(ctx, sc.Tail)
	stop := time.Now()
	stopLoad()
	wg.Wait()

	ls := load.Stats()
	rep.WritesAcked, rep.WriteAttempts, rep.WriteFailures, rep.WriteErrors = len(ls.Acks), ls.Attempts, ls.Failed, ls.Errors
	rep.Reads, rep.ReadFailures, rep.Violations = ls.Reads, ls.ReadFailed, ls.Violations
	var gapEnd time.Time
	rep.LongestWriteGap, gapEnd = longestGap(ls.Acks, start, stop)
	tl.lines = append(tl.lines, fmt.Sprintf("%7s (longest write gap, %s, ends)", gapEnd.Sub(start).Round(time.Millisecond), rep.LongestWriteGap.Round(time.Millisecond)))
	slices.SortStableFunc(tl.lines, func(a, b string) int { return cmpStamp(a, b) })
	ms := mon.Window(start, stop)
	rep.LeaderChanges, rep.Elections, rep.LongestLeaderless, rep.Leaders = ms.LeaderChanges, ms.Elections, ms.LongestLeaderless, ms.Leaders
	lost, verr := load.Lost(ctx)
	rep.WritesLost = len(lost)
	rep.Restarts, rep.LeaderDeletes = c.Restarts(), c.LeaderDeletes()
	for _, m := range c.Pods(time.Now()).Members {
		rep.FinalMembers = append(rep.FinalMembers, m.Name+" "+m.Version)
	}
	rep.Timeline = tl.lines
	return rep, errors.Join(upErr, verr)
}

// placeLeader moves leadership to the named member with the adapter's
// TransferLeadership (MoveLeader on the leader's endpoint) and waits until
// it leads.
func placeLeader(ctx context.Context, h *Host, name string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if l, _, ok := h.Cluster.Leader(); ok && l == name {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: could not move leadership to %s", name)
		}
		obs, err := h.Observe(ctx, time.Now())
		l, ok := obs.Leader()
		to, found := obs.Member(name)
		if !found {
			return fmt.Errorf("harness: no member %s to lead", name)
		}
		if err == nil && ok && l.Name != name {
			act := upgrade.TransferLeadership{From: l.Name, FromID: l.Raft.ID, To: name, ToID: to.Raft.ID}
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_ = h.Adapter.Execute(actx, &obs, act)
			cancel()
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// predict plans the rolling upgrade from an observation of the cluster
// just before it starts (fake.FromObservation through fake/plan) and
// records the predicted restart order and leader changes. An observation
// that cannot be planned from (a member not answering for a moment) is
// retaken, up to 20 times 50ms apart, and PlanAttempts says how many were
// needed. (Before fake.FromObservation elected the observed leader ahead of
// applying the followers' lags, a trailing ordinal 0 made it refuse
// observations taken under writes; it needed 1 attempt in the runs checked.)
func predict(ctx context.Context, h *Host, spec rolling.Spec, status upgrade.Status, rep *Report) {
	for rep.PlanAttempts = 1; ; rep.PlanAttempts++ {
		obs, err := h.Observe(ctx, time.Now())
		var p plan.Report
		if err == nil {
			p, err = plan.Run(obs, plan.Options{Strategy: upgrade.StrategyRolling, Rolling: spec, Status: &status})
		}
		if err == nil {
			rep.PredictedRestarts, rep.PredictedLeaderChanges, rep.PlanError = p.Restarts, p.Metrics.LeaderChanges, ""
			return
		}
		rep.PlanError = err.Error()
		if rep.PlanAttempts == 20 || ctx.Err() != nil {
			return
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// killWhenUpgraded kills the leader once a member at version serves.
func killWhenUpgraded(ctx context.Context, c *Cluster, version string, tl *timeline, rep *Report) {
	for ctx.Err() == nil {
		for _, m := range c.Pods(time.Now()).Members {
			if m.Version == version && m.Pod.Ready {
				name, err := c.KillLeader()
				if err != nil {
					break
				}
				tl.add("FAULT: leader %s killed (%s serves at %s)", name, m.Name, version)
				rep.Killed = name
				return
			}
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

type stepFunc func(obs upgrade.Observation, status upgrade.Status) (upgrade.Decision, error)

// drive runs the host protocol until the upgrade succeeded: observe, Step,
// persist the status (a JSON round trip), execute the actions in order,
// stopping at the first failure, emit the events.
func drive(ctx context.Context, h *Host, sc Scenario, rep *Report, tl *timeline, step stepFunc, status upgrade.Status) error {
	deadline := time.Now().Add(sc.Timeout)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: %s upgrade did not end within %s", sc.Strategy, sc.Timeout)
		}
		obs, oerr := h.Observe(ctx, time.Now())
		d, err := step(obs, status)
		rep.Steps++
		if err != nil {
			return fmt.Errorf("harness: step %d: %w", rep.Steps, err)
		}
		if status, err = roundTrip(d.Status); err != nil {
			return err
		}
		key := "idle"
		if u := status.Upgrade; u != nil {
			key = u.Phase
		}
		if d.Gate != nil {
			key += fmt.Sprintf(" gate=%s/%s %s", d.Gate.Name, d.Gate.Reason, d.Gate.Member)
		}
		if l, ok := obs.Leader(); ok {
			key += " leader=" + l.Name
		}
		if oerr != nil {
			key += " (view unknown)"
		}
		if key != last {
			last = key
			tl.add("%s", key)
		}
		n, err := h.Execute(ctx, &obs, d.Actions)
		rep.Actions += n
		for _, a := range d.Actions[:n] {
			switch a.(type) {
			case upgrade.TransferLeadership, upgrade.StepDown:
				rep.LeadershipMoves++
			}
		}
		h.Emit(d.Events)
		if err != nil {
			rep.ActionErrors++
		}
		if status.Upgrade == nil && status.LastResult != nil {
			rep.Outcome = string(status.LastResult.Outcome)
			if status.LastResult.Outcome != upgrade.OutcomeSucceeded {
				return fmt.Errorf("harness: upgrade ended %s: %s", status.LastResult.Outcome, status.LastResult.Message)
			}
			if status.CurrentVersion == sc.To && len(d.Actions) == 0 {
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

// baseline restarts every member in ordinal order at the target version.
func baseline(ctx context.Context, c *Cluster, sc Scenario, rep *Report, tl *timeline) error {
	c.mu.Lock()
	var names []string
	for _, p := range c.pods {
		names = append(names, p.name)
	}
	c.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("harness: %w", err)
		}
		tl.add("baseline restarts %s at %s", name, sc.To)
		if err := c.RestartNow(name, sc.To); err != nil {
			return err
		}
		rep.Actions++
	}
	rep.Completed, rep.Outcome = true, "-"
	return nil
}

// longestGap returns the longest time without an acknowledged write within
// [from, to], and when it ended.
func longestGap(acks []Ack, from, to time.Time) (time.Duration, time.Time) {
	var gap time.Duration
	var end time.Time
	prev := from
	for _, a := range acks {
		if a.At.Before(from) {
			continue
		}
		if a.At.After(to) {
			break
		}
		if d := a.At.Sub(prev); d > gap {
			gap, end = d, a.At
		}
		prev = a.At
	}
	if d := to.Sub(prev); d > gap {
		gap, end = d, to
	}
	return gap, end
}

// cmpStamp orders timeline lines by their leading time stamp.
func cmpStamp(a, b string) int {
	da, _ := time.ParseDuration(strings.TrimSpace(strings.Fields(a + " 0s")[0]))
	db, _ := time.ParseDuration(strings.TrimSpace(strings.Fields(b + " 0s")[0]))
	switch {
	case da < db:
		return -1
	case da > db:
		return 1
	}
	return 0
}

// describe names a scenario ("rolling/OnDelete", "bluegreen").
func (r Report) describe() string {
	s := string(r.Strategy)
	if r.Ordering != "" {
		s += "/" + strings.ToLower(string(r.Ordering))
	}
	if r.KillLeader {
		s += " +kill"
	}
	return s
}
