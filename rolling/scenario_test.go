package rolling

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// scenario drives Step against a fake cluster through host.Host (status
// persisted through JSON after every Step) with a script of faults and spec
// changes, and checks the safety of every decision on the way.
type scenario struct {
	name   string
	cfg    fake.Config
	spec   Spec
	status upgrade.Status
	// before runs once before the first reconcile.
	before func(c *fake.Cluster)
	// script runs before the reconcile of each tick.
	script func(tick int, c *fake.Cluster, spec *Spec)
	// ticks bounds the run; the run also stops once idle after the script's
	// last tick (until).
	ticks, until int
	check        func(t *testing.T, h *host.Host, m fake.Metrics)
	// inMemory keeps the status in memory instead of persisting it through
	// JSON after every Step.
	inMemory bool
}

type scenarioRun struct {
	h       *host.Host
	metrics fake.Metrics
	ticks   int
}

func runScenario(t testing.TB, sc scenario) scenarioRun {
	cfg := sc.cfg
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	c := fake.New(cfg)
	if sc.before != nil {
		sc.before(c)
	}
	spec := sc.spec
	status := sc.status
	if status.CurrentVersion == "" && status.Upgrade == nil {
		status = upgrade.Status{CurrentVersion: c.Config().Version, CurrentImage: c.Config().Image}
	}
	h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) }, status)
	h.RoundTrip = !sc.inMemory
	ticks := sc.ticks
	if ticks == 0 {
		ticks = 3000
	}
	i := 0
	for ; i < ticks; i++ {
		if sc.script != nil {
			sc.script(i, c, &spec)
		}
		e := h.Reconcile()
		if e.StepErr != nil {
			t.Fatalf("tick %d: step error: %v", e.Tick, e.StepErr)
		}
		safe := upgrade.Safety{CatchUp: spec.CatchUp, AllowDowntime: spec.AllowDowntime && len(e.Observation.Voters()) <= 2}
		if err := safe.Check(e.Observation, e.Actions); err != nil {
			t.Fatalf("tick %d: unsafe decision: %v", e.Tick, err)
		}
		if h.Status.Upgrade == nil && len(e.Actions) == 0 && i >= sc.until && h.Status.CurrentVersion == spec.Version {
			break
		}
		c.Tick()
	}
	if err := fake.CheckHistory(c.History()); err != nil {
		t.Fatalf("history: %v", err)
	}
	return scenarioRun{h: h, metrics: fake.Summarize(c.History()), ticks: i}
}

func (r scenarioRun) timeline() string {
	var b strings.Builder
	b.WriteString(r.h.Timeline())
	s := r.h.Status
	fmt.Fprintf(&b, "end: ticks=%d current=%s upgrade=%v", r.ticks, s.CurrentVersion, s.Upgrade != nil)
	if s.Upgrade != nil {
		fmt.Fprintf(&b, " phase=%s", s.Upgrade.Phase)
		if p := s.Upgrade.Paused; p != nil {
			fmt.Fprintf(&b, " paused=%s/%s", p.Gate, p.Reason)
		}
	}
	if s.LastResult != nil {
		fmt.Fprintf(&b, " result=%s", s.LastResult.Outcome)
	}
	m := r.metrics
	fmt.Fprintf(&b, "\nmetrics: leaderChanges=%d elections=%d ticksWithoutLeader=%d longestLeaderless=%d ticksNotWritable=%d\n",
		m.LeaderChanges, m.Elections, m.TicksWithoutLeader, m.LongestLeaderless, m.TicksNotWritable)
	return b.String()
}

const (
	v240 = "2.4.0"
	i240 = "openbao/openbao:2.4.0"
)

func scenarios() []scenario {
	spec := Spec{Version: v240, Image: i240}
	return []scenario{
		{
			name: "leader_at_0", cfg: fake.Config{Replicas: 5, TargetedTransfer: true}, spec: spec,
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, v240)
				if m.LeaderChanges != 1 || m.TicksNotWritable != 0 {
					t.Errorf("metrics %+v, want exactly one leader change and no unwritable tick", m)
				}
			},
		},
		{
			name: "leader_at_highest", cfg: fake.Config{Replicas: 5, TargetedTransfer: true}, spec: spec,
			before: func(c *fake.Cluster) {
				if _, err := c.Apply([]upgrade.Action{upgrade.TransferLeadership{From: "bao-0", To: "bao-4"}}); err != nil {
					panic(err)
				}
				c.Run(30)
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, v240)
				// one setup transfer + two moves: the first leader restarts
				// first, so its successor is upgraded later too.
				if m.LeaderChanges != 3 || m.TicksNotWritable != 0 {
					t.Errorf("metrics %+v", m)
				}
			},
		},
		{
			name: "leader_at_middle", cfg: fake.Config{Replicas: 5, TargetedTransfer: true}, spec: spec,
			before: func(c *fake.Cluster) {
				if _, err := c.Apply([]upgrade.Action{upgrade.TransferLeadership{From: "bao-0", To: "bao-2"}}); err != nil {
					panic(err)
				}
				c.Run(30)
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, v240)
				if m.LeaderChanges != 2 || m.TicksNotWritable != 0 { // setup transfer + exactly one move
					t.Errorf("metrics %+v", m)
				}
			},
		},
		{
			name: "step_down_without_targeted_transfer", cfg: fake.Config{Replicas: 5}, spec: spec,
			check: func(t *testing.T, h *host.Host, m fake.Metrics) { done(t, h, v240) },
		},
		{
			name: "leader_killed_mid_upgrade", cfg: fake.Config{Replicas: 5, TargetedTransfer: true}, spec: spec,
			script: func(tick int, c *fake.Cluster, _ *Spec) {
				if tick == 30 {
					_ = c.KillLeader()
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) { done(t, h, v240) },
		},
		{
			name: "pod_never_ready", cfg: fake.Config{Replicas: 3, TargetedTransfer: true, PodStartTicks: 1 << 30},
			spec: Spec{Version: v240, Image: i240, StepTimeout: metav1.Duration{Duration: 2 * time.Minute}}, ticks: 450,
			script: func(tick int, c *fake.Cluster, s *Spec) {
				if tick == 300 {
					s.RetryNonce = "retry-1" // the budget resets, the pod still never becomes ready
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				u := h.Status.Upgrade
				if u == nil || u.Paused == nil || u.Paused.Gate != upgrade.GateDeadline || h.Status.Handled.Retry != "retry-1" {
					t.Fatalf("want a paused (deadline) upgrade with the retry handled, got %+v", h.Status)
				}
				noDisruptionWhilePaused(t, h)
			},
		},
		{
			name: "crash_looping_version", cfg: fake.Config{Replicas: 3, TargetedTransfer: true, BadVersions: []string{v240}},
			spec: spec, until: 200,
			script: func(tick int, c *fake.Cluster, s *Spec) {
				if tick == 120 { // the operator fixes the spec
					s.Version, s.Image = "2.4.1", "openbao/openbao:2.4.1"
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, "2.4.1")
				paused := false
				for _, e := range h.Entries {
					if e.Gate != nil && e.Gate.Name == upgrade.GateCrashLoop {
						paused = true
					}
				}
				if !paused {
					t.Error("never paused on the crash loop")
				}
				noDisruptionWhilePaused(t, h)
				if m.TicksNotWritable != 0 {
					t.Errorf("metrics %+v", m)
				}
			},
		},
		{
			name: "crash_looping_version_rolled_back", cfg: fake.Config{Replicas: 3, TargetedTransfer: true, BadVersions: []string{v240}},
			spec: spec, until: 200,
			script: func(tick int, c *fake.Cluster, s *Spec) {
				if tick == 120 {
					s.Version, s.Image = "2.3.0", "openbao/openbao:2.3.0"
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, "2.3.0")
				if r := h.Status.LastResult; r == nil || r.Outcome != upgrade.OutcomeRolledBack {
					t.Errorf("result %+v", r)
				}
			},
		},
		{
			name: "quorum_degraded_before_start", cfg: fake.Config{Replicas: 3, TargetedTransfer: true}, spec: spec, until: 60,
			before: func(c *fake.Cluster) { _ = c.Isolate("bao-2"); c.Run(15) },
			script: func(tick int, c *fake.Cluster, _ *Spec) {
				if tick == 60 {
					_ = c.Heal("bao-2")
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, v240)
				for _, e := range h.Entries {
					if e.Tick < 75 && len(e.Actions) > 0 {
						t.Fatalf("acted while quorum was degraded: %v", e)
					}
				}
			},
		},
		{
			name: "backup_missing", cfg: fake.Config{Replicas: 3, TargetedTransfer: true}, ticks: 30,
			spec: Spec{Version: v240, Image: i240, Prerequisites: policy.Prerequisites{RequireBackup: true}},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				for _, e := range h.Entries {
					if len(e.Actions) > 0 || e.Gate == nil || e.Gate.Reason != policy.ReasonBackupNotConfigured {
						t.Fatalf("want a held upgrade: %v", e)
					}
				}
			},
		},
		{
			name: "pre_upgrade_snapshot",
			cfg: fake.Config{Replicas: 3, TargetedTransfer: true,
				Backup: upgrade.BackupView{Configured: true, LastSuccess: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)}},
			spec:  Spec{Version: v240, Image: i240, Snapshot: true, Prerequisites: policy.Prerequisites{RequireBackup: true}},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) { done(t, h, v240) },
		},
		{
			name: "lock_held_by_backup", cfg: fake.Config{Replicas: 3, TargetedTransfer: true, LockHolder: "backup"}, spec: spec, until: 40,
			script: func(tick int, c *fake.Cluster, _ *Spec) {
				if tick == 40 {
					if _, err := c.Apply([]upgrade.Action{upgrade.ReleaseLock{Holder: "backup"}}); err != nil {
						panic(err)
					}
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, v240)
				for _, e := range h.Entries[:40] {
					if len(e.Actions) > 0 || e.Gate == nil || e.Gate.Name != upgrade.GateLock {
						t.Fatalf("acted while the lock was held: %v", e)
					}
				}
			},
		},
		{
			name: "one_replica", cfg: fake.Config{Replicas: 1}, spec: Spec{Version: v240, Image: i240, AllowDowntime: true},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) { done(t, h, v240) },
		},
		{
			name: "two_replicas", cfg: fake.Config{Replicas: 2, TargetedTransfer: true}, spec: Spec{Version: v240, Image: i240, AllowDowntime: true},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) { done(t, h, v240) },
		},
		{
			name: "target_changed_mid_upgrade", cfg: fake.Config{Replicas: 5, TargetedTransfer: true}, spec: spec, until: 40,
			script: func(tick int, c *fake.Cluster, s *Spec) {
				if tick == 40 {
					s.Version, s.Image = "2.4.1", "openbao/openbao:2.4.1"
				}
			},
			check: func(t *testing.T, h *host.Host, m fake.Metrics) {
				done(t, h, "2.4.1")
				if m.TicksNotWritable != 0 {
					t.Errorf("metrics %+v", m)
				}
			},
		},
	}
}

func done(t *testing.T, h *host.Host, version string) {
	t.Helper()
	s := h.Status
	if s.Upgrade != nil || s.CurrentVersion != version {
		t.Fatalf("upgrade not finished at %s: current %s, upgrade %+v", version, s.CurrentVersion, s.Upgrade)
	}
	obs := h.Cluster.Truth()
	for _, m := range obs.Members {
		if m.Version != version || !m.Up() {
			t.Errorf("member %s runs %s (up %v)", m.Name, m.Version, m.Up())
		}
	}
	if obs.Lock.Holder != "" || obs.Workloads[0].Partition != 0 {
		t.Errorf("lock %q partition %d after the upgrade", obs.Lock.Holder, obs.Workloads[0].Partition)
	}
}

// noDisruptionWhilePaused checks that a paused upgrade issues nothing
// disruptive until the spec changes.
func noDisruptionWhilePaused(t *testing.T, h *host.Host) {
	t.Helper()
	paused := false
	for _, e := range h.Entries {
		if paused && e.Phase != "" && e.Gate != nil && (e.Gate.Name == upgrade.GateCrashLoop || e.Gate.Name == upgrade.GateDeadline) {
			if d := disruptive(e.Actions); len(d) > 0 {
				t.Fatalf("disruptive action while paused: %v", e)
			}
		}
		if e.Gate != nil && (e.Gate.Name == upgrade.GateCrashLoop || e.Gate.Name == upgrade.GateDeadline) {
			paused = true
		}
	}
}

func TestScenarios(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			r := runScenario(t, sc)
			golden(t, sc.name+".golden", r.timeline())
			if sc.check != nil {
				sc.check(t, r.h, r.metrics)
			}
		})
	}
}

// TestRestartsAreTransparent runs every scenario twice, with the status kept
// in memory and with a host restart (JSON round trip of the status) after
// every Step: the timelines must be identical.
func TestRestartsAreTransparent(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			persisted := runScenario(t, sc).timeline()
			sc.inMemory = true
			if mem := runScenario(t, sc).timeline(); mem != persisted {
				t.Errorf("timelines differ:\n--- in memory\n%s\n--- restarted every step\n%s", mem, persisted)
			}
		})
	}
}
