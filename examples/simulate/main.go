package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

type options struct {
	replicas    int
	from, to    string
	strategy    string
	seed        uint64
	targeted    bool
	faults      string
	maxTicks    int
	autoPromote bool
	verbose     bool
	compare     bool
	svg         string
	openbao     bool
	join        string
	ordering    string
	handoff     bool
	// window and windowDuration are one maintenance window (a UTC cron
	// expression and how long it stays open); empty window: none.
	window         string
	windowDuration time.Duration
}

// windows returns the spec's maintenance windows for the -window flags.
func (o options) windows() []upgrade.MaintenanceWindow {
	if o.window == "" {
		return nil
	}
	return []upgrade.MaintenanceWindow{{Schedule: o.window, Duration: metav1.Duration{Duration: o.windowDuration}}}
}

func main() {
	var o options
	flag.IntVar(&o.replicas, "replicas", 3, "number of members")
	flag.StringVar(&o.from, "from", "2.3.0", "version the cluster runs")
	flag.StringVar(&o.to, "to", "2.4.0", "target version")
	flag.StringVar(&o.strategy, "strategy", "rolling", "rolling, bluegreen or none (steady state only)")
	flag.Uint64Var(&o.seed, "seed", 1, "simulation seed")
	flag.BoolVar(&o.targeted, "targeted", true, "the cluster supports targeted leadership transfer (false: step-down only, like OpenBao)")
	flag.StringVar(&o.faults, "faults", "", "comma-separated faults: kill-leader@T, move-fails@T, kill-pod=NAME@T, isolate=NAME@T, heal=NAME@T, slow=NAME@T, stale=N@T, bad-version=V@T")
	flag.IntVar(&o.maxTicks, "ticks", 1800, "tick budget (one tick is one simulated second)")
	flag.BoolVar(&o.autoPromote, "auto-promote", true, "blue-green: promote green without a manual request")
	flag.BoolVar(&o.verbose, "v", false, "print every cluster tick, not only ticks where something happened")
	flag.BoolVar(&o.compare, "compare", false, "run the same seed with targeted transfer and with naive step-down and compare")
	flag.StringVar(&o.svg, "svg", "", "also write the timeline as an SVG picture to this file")
	flag.BoolVar(&o.openbao, "openbao", false, "simulate OpenBao as it behaves: readiness needs raft membership, autopilot's stable_since quirks, promote/demote applied at autopilot's next 10 s reconcile")
	flag.StringVar(&o.ordering, "ordering", "partition", "rolling: partition (the StatefulSet controller restarts pods the partition admits) or ondelete (the strategy deletes one pod at a time, leader last)")
	flag.BoolVar(&o.handoff, "handoff", false, "the workload hands leadership over on graceful shutdown (OpenBao does; implied by -openbao)")
	flag.StringVar(&o.window, "window", "", `a maintenance window as a five-field UTC cron expression, e.g. "0 2 * * *" (the simulation starts at 2026-01-01T00:00:00Z); disruptive steps start only inside it and the host sleeps until it opens`)
	flag.DurationVar(&o.windowDuration, "window-duration", 2*time.Hour, "how long the -window stays open after each opening")
	flag.StringVar(&o.join, "join", "self", "with -openbao: how green joins: self (retry_join_as_non_voter, stays a non-voter) or api (sys/storage/raft/join; autopilot promotes it on its own)")
	flag.Parse()
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

// fault is one scheduled fault injection.
type fault struct {
	kind, arg string
	at        int
}

func parseFaults(s string) ([]fault, error) {
	var out []fault
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		spec, at, ok := strings.Cut(item, "@")
		if !ok {
			return nil, fmt.Errorf("fault %q: missing @tick", item)
		}
		t, err := strconv.Atoi(at)
		if err != nil || t < 0 {
			return nil, fmt.Errorf("fault %q: bad tick %q", item, at)
		}
		kind, arg, _ := strings.Cut(spec, "=")
		switch kind {
		case "kill-leader", "move-fails":
		case "kill-pod", "isolate", "heal", "slow", "stale", "bad-version":
			if arg == "" {
				return nil, fmt.Errorf("fault %q: %s needs =ARG", item, kind)
			}
		default:
			return nil, fmt.Errorf("fault %q: unknown kind %q", item, kind)
		}
		out = append(out, fault{kind: kind, arg: arg, at: t})
	}
	return out, nil
}

func inject(c *fake.Cluster, f fault) error {
	switch f.kind {
	case "kill-leader":
		return c.KillLeader()
	case "move-fails":
		c.FailNextLeaderMove()
	case "kill-pod":
		return c.KillPod(f.arg)
	case "isolate":
		return c.Isolate(f.arg)
	case "heal":
		return c.Heal(f.arg)
	case "slow":
		return c.SlowCatchUp(f.arg, 1)
	case "stale":
		n, err := strconv.Atoi(f.arg)
		if err != nil {
			return fmt.Errorf("stale=%s: %w", f.arg, err)
		}
		c.StaleNext(n)
	case "bad-version":
		c.SetBadVersion(f.arg, true)
	}
	return nil
}

// result is the outcome of one simulated run.
type result struct {
	ticks   int
	metrics fake.Metrics
	status  upgrade.Status
	host    *host.Host
	err     error
	// slept is the simulated time the host slept waiting for windows.
	slept time.Duration
}

func simulate(o options, targeted bool, faults []fault) result {
	cfg := fake.Config{Seed: o.seed, Replicas: o.replicas, Version: o.from, TargetedTransfer: targeted}
	cfg.HandoffOnShutdown = o.handoff || o.openbao
	if o.ordering == "ondelete" {
		cfg.UpdateStrategy = upgrade.UpdateOnDelete
	}
	if o.openbao {
		cfg.Readiness, cfg.AutopilotQuirks, cfg.MembershipDelayTicks = fake.ReadyWhenMember, true, 10
		if o.join == "api" {
			cfg.AutoPromoteTicks = 12
		}
	}
	c := fake.New(cfg)
	image := "openbao/openbao:" + o.to
	status := upgrade.Status{CurrentVersion: o.from, CurrentImage: "openbao/openbao:" + o.from}
	var step host.StepFunc
	switch o.strategy {
	case "rolling":
		spec := rolling.Spec{Version: o.to, Image: image, AllowDowntime: o.replicas < 3, MaintenanceWindows: o.windows()}
		step = func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(spec, obs, st)
		}
	case "bluegreen":
		spec := bluegreen.Spec{Version: o.to, Image: image, AutoPromote: o.autoPromote, MaintenanceWindows: o.windows()}
		step = func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return bluegreen.Step(spec, obs, st)
		}
	case "none":
		step = func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return upgrade.Decision{Status: st}, nil
		}
	default:
		return result{err: fmt.Errorf("unknown strategy %q (rolling, bluegreen, none)", o.strategy)}
	}
	h := host.New(c, step, status)
	h.RoundTrip = true
	r := result{host: h}
	for r.ticks = 0; r.ticks < o.maxTicks; r.ticks++ {
		for _, f := range faults {
			if f.at == c.TickCount() {
				if err := inject(c, f); err != nil {
					return result{err: fmt.Errorf("inject %s at %d: %w", f.kind, f.at, err)}
				}
			}
		}
		e := h.Reconcile()
		if e.StepErr != nil {
			r.err = e.StepErr
			break
		}
		if h.Status.Upgrade == nil && len(e.Actions) == 0 && (o.strategy == "none" || r.ticks > 0) && lastFault(faults) < c.TickCount() {
			if o.strategy != "none" || r.ticks >= 30 {
				break
			}
		}
		if tick := c.Config().Tick; e.Gate != nil && e.Gate.Name == upgrade.GateMaintenanceWindow && len(e.Actions) == 0 && e.RequeueAfter > tick {
			// Held until a window opens: the host sleeps until then (the
			// tick below ends exactly at the opening).
			c.Sleep(e.RequeueAfter - tick)
			r.slept += e.RequeueAfter - tick
		}
		c.Tick()
	}
	if r.ticks >= o.maxTicks {
		r.err = fmt.Errorf("%w within %d ticks", host.ErrNotIdle, o.maxTicks)
	}
	r.metrics = fake.Summarize(c.History())
	r.status = h.Status
	return r
}

func lastFault(fs []fault) int {
	last := -1
	for _, f := range fs {
		last = max(last, f.at)
	}
	return last
}

func run(w io.Writer, o options) error {
	faults, err := parseFaults(o.faults)
	if err != nil {
		return err
	}
	if o.replicas < 1 || o.replicas > 101 {
		return errors.New("replicas must be between 1 and 101")
	}
	if o.join == "" {
		o.join = "self"
	}
	if o.ordering == "" {
		o.ordering = "partition"
	}
	if o.ordering != "partition" && o.ordering != "ondelete" {
		return fmt.Errorf("ordering must be partition or ondelete, not %q", o.ordering)
	}
	if o.join != "self" && o.join != "api" {
		return fmt.Errorf("join must be self or api, not %q", o.join)
	}
	if o.compare {
		return compare(w, o, faults)
	}
	r := simulate(o, o.targeted, faults)
	if r.host == nil {
		return r.err
	}
	fmt.Fprintf(w, "raftshift simulation: %d members, %s -> %s, strategy %s, seed %d, targeted transfer %v\n\n",
		o.replicas, o.from, o.to, o.strategy, o.seed, o.targeted)
	if o.window != "" {
		fmt.Fprintf(w, "maintenance window: %q for %s (UTC); simulated clock starts at %s\n\n", o.window, o.windowDuration,
			r.host.Cluster.Config().Start.Format(time.RFC3339))
	}
	printTimeline(w, r.host, o.verbose, o.window != "")
	printSummary(w, r)
	if o.svg != "" {
		if err := writeSVG(o.svg, r.host); err != nil {
			return err
		}
		fmt.Fprintf(w, "timeline picture written to %s\n", o.svg)
	}
	return r.err
}

func printTimeline(w io.Writer, h *host.Host, verbose, clock bool) {
	hist := h.Cluster.History()
	byTick := map[int]host.Entry{}
	for _, e := range h.Entries {
		byTick[e.Tick] = e
	}
	lastKey := ""
	for tick := 0; tick <= len(hist); tick++ {
		e, ok := byTick[tick]
		var rec fake.Record
		if tick > 0 {
			rec = hist[tick-1]
		}
		key := ""
		if ok {
			key = e.Phase + "|" + gateString(e.Gate)
		}
		sleeps := ok && e.Gate != nil && e.Gate.Name == upgrade.GateMaintenanceWindow && len(e.Actions) == 0 && e.RequeueAfter > time.Second
		interesting := verbose || sleeps || (ok && (len(e.Actions) > 0 || len(e.Events) > 0 || e.StepErr != nil || e.ApplyErr != nil || key != lastKey)) ||
			len(rec.Faults) > 0 || len(clusterEvents(rec)) > 0
		lastKey = key
		if !interesting {
			continue
		}
		leader, term := rec.Leader, rec.Term
		if tick == 0 && ok {
			leader, term = e.Leader, e.Observation.Raft.Term
		}
		fmt.Fprintf(w, "t=%-4d term=%-3d leader=%-10s", tick, term, orDash(leader))
		if clock && ok {
			fmt.Fprintf(w, " %s", e.Time.UTC().Format("15:04:05"))
		}
		if ok {
			fmt.Fprintf(w, " phase=%-22s", orDash(e.Phase))
			if e.Gate != nil {
				fmt.Fprintf(w, " waiting on %s (%s)", e.Gate.Name, e.Gate.Reason)
			}
		}
		fmt.Fprintln(w)
		for _, f := range rec.Faults {
			fmt.Fprintf(w, "         ! fault: %s\n", f)
		}
		for _, ev := range clusterEvents(rec) {
			fmt.Fprintf(w, "         . %s\n", ev)
		}
		if ok {
			for i, a := range e.Actions {
				mark := ">"
				if e.ApplyErr != nil && i >= e.Applied {
					mark = "x"
				}
				fmt.Fprintf(w, "         %s %s\n", mark, a)
			}
			for _, ev := range e.Events {
				fmt.Fprintf(w, "         > %s\n", ev)
			}
			if e.ApplyErr != nil {
				fmt.Fprintf(w, "         x apply error: %v\n", e.ApplyErr)
			}
			if e.StepErr != nil {
				fmt.Fprintf(w, "         x step error: %v\n", e.StepErr)
			}
			if sleeps {
				fmt.Fprintf(w, "         z %s\n", e.Gate.Message)
				fmt.Fprintf(w, "         z host sleeps %s (RequeueAfter) until %s\n", e.RequeueAfter, e.Time.Add(e.RequeueAfter).UTC().Format(time.RFC3339))
			}
		}
	}
}

// clusterEvents returns what the cluster did in a tick, without the echoes
// of the decision's events (printed with the actions already).
func clusterEvents(rec fake.Record) []string {
	var out []string
	for _, ev := range rec.Events {
		if strings.HasPrefix(ev, string(upgrade.EventNormal)+" ") || strings.HasPrefix(ev, string(upgrade.EventWarning)+" ") {
			continue
		}
		out = append(out, ev)
	}
	return out
}

func printSummary(w io.Writer, r result) {
	m := r.metrics
	fmt.Fprintln(w)
	fmt.Fprintf(w, "duration:            %d s\n", r.ticks)
	if r.slept > 0 {
		fmt.Fprintf(w, "held for windows:    %s asleep (simulated clock %s -> %s)\n", r.slept,
			r.host.Cluster.Config().Start.Format(time.RFC3339), r.host.Cluster.Now().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "leader changes:      %d\n", m.LeaderChanges)
	fmt.Fprintf(w, "seconds w/o leader:  %d (longest %d)\n", m.TicksWithoutLeader, m.LongestLeaderless)
	fmt.Fprintf(w, "seconds not writable: %d\n", m.TicksNotWritable)
	fmt.Fprintf(w, "current version:     %s\n", orDash(r.status.CurrentVersion))
	if lr := r.status.LastResult; lr != nil {
		fmt.Fprintf(w, "last result:         %s %s -> %s %s\n", lr.Outcome, lr.FromVersion, lr.TargetVersion, lr.Reason)
	}
	if r.status.Upgrade != nil {
		fmt.Fprintf(w, "upgrade in progress: phase %s\n", r.status.Upgrade.Phase)
	}
	if err := fake.CheckHistory(r.host.Cluster.History()); err != nil {
		fmt.Fprintf(w, "RAFT MODEL INVARIANT BROKEN: %v\n", err)
	}
}

func compare(w io.Writer, o options, faults []fault) error {
	fmt.Fprintf(w, "raftshift comparison: %d members, %s -> %s, strategy %s, seed %d\n\n", o.replicas, o.from, o.to, o.strategy, o.seed)
	fmt.Fprintf(w, "%-34s %8s %14s %12s %14s\n", "leadership move", "seconds", "leader changes", "leaderless s", "not writable s")
	for _, targeted := range []bool{true, false} {
		r := simulate(o, targeted, faults)
		if r.err != nil {
			return r.err
		}
		name := "targeted transfer (raftshift)"
		if !targeted {
			name = "step-down only (naive baseline)"
		}
		fmt.Fprintf(w, "%-34s %8d %14d %12d %14d\n", name, r.ticks, r.metrics.LeaderChanges, r.metrics.TicksWithoutLeader, r.metrics.TicksNotWritable)
	}
	return nil
}

func gateString(g *upgrade.Gate) string {
	if g == nil {
		return ""
	}
	return string(g.Name) + "/" + string(g.Reason)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
