package fake

import (
	"maps"
	"slices"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// Config configures a simulated cluster. Zero fields take the documented
// defaults (see Cluster.Config for the filled-in values).
type Config struct {
	// Seed seeds the cluster's random number generator (election timeouts
	// and election tie breaks).
	Seed uint64
	// Replicas is the number of pods and voters of the initial workload
	// (default 3).
	Replicas int
	// Version is the initial version (default "2.3.0").
	Version string
	// Image is the initial image (default "openbao/openbao:" + Version).
	Image string
	// Workload names the initial workload (default "bao"); its pods are
	// "<workload>-<ordinal>".
	Workload string
	// Service names the client-facing service (default "bao"); it initially
	// selects Workload.
	Service string
	// TargetedTransfer is reported as Capabilities.TargetedTransfer; without
	// it TransferLeadership is rejected. NonVoters and Snapshots are always
	// available.
	TargetedTransfer bool
	// Start is the simulated time of tick 0 (default 2026-01-01T00:00:00Z).
	Start time.Time
	// Tick is the simulated duration of one tick (default 1s); it must be a
	// whole number of milliseconds (100ms models a host that observes every
	// 100 ms; the other durations are counted in ticks).
	Tick time.Duration
	// PodStartTicks is how many ticks a (re)created pod takes to become
	// Ready (default 5).
	PodStartTicks int
	// WriteRate is how many log entries clients append per tick while the
	// cluster is writable (default 10).
	WriteRate uint64
	// ReplicationRate is how many entries per tick a lagging member catches
	// up (default 200).
	ReplicationRate uint64
	// ElectionTimeout is the minimum and maximum number of ticks without a
	// leader before an election completes (default {2, 5}). An isolated
	// leader, or one that cannot reach a quorum, loses leadership after
	// ElectionTimeout[0] ticks; a leadership transfer that has not completed
	// after ElectionTimeout[1] ticks is abandoned. Values are raised to at
	// least 1 and the maximum to at least the minimum.
	ElectionTimeout [2]int
	// BadVersions are versions whose pods crash-loop (never Ready).
	BadVersions []string
	// Backup is the initial backup view.
	Backup upgrade.BackupView
	// HookFailures names hooks whose runs report failure.
	HookFailures map[string]bool
	// HookTicks is how many ticks a hook run takes (default 2).
	HookTicks int
	// LockHolder is the initial holder of the operation lock ("" when free).
	LockHolder string
	// Readiness decides when a pod reports Ready (default ReadyWhenRunning,
	// OpenBao's standbyok health check: Ready with or without a leader).
	Readiness Readiness
	// AutopilotQuirks makes StableSince behave like OpenBao autopilot's
	// stable_since: a restart does not move it (autopilot polls too slowly
	// to notice a 0.4 s restart, so it predates the restart) and every new
	// leader resets it for every server.
	AutopilotQuirks bool
	// AutoPromoteTicks, when positive, makes the cluster promote on its own
	// a non-voter that has been healthy for that many ticks, as OpenBao's
	// autopilot does for servers joined through the join API. It is
	// reported as Capabilities.AutoPromotion.
	AutoPromoteTicks int
	// UpdateStrategy is the initial workload's update strategy (default
	// RollingUpdate). An OnDelete workload never restarts a pod on its own,
	// and recreates every deleted pod at its update revision.
	UpdateStrategy upgrade.UpdateStrategy
	// HandoffOnShutdown makes a leader whose pod is deleted gracefully (by
	// DeletePod, its controller or its workload's deletion; not a kill)
	// hand leadership to its most up-to-date reachable voter first, as
	// OpenBao does on SIGTERM (no tick without a leader). It is reported as
	// Capabilities.HandoffOnShutdown; FailNextHandoff makes one handoff
	// fail, falling back to an election.
	HandoffOnShutdown bool
	// MembershipDelayTicks, when positive, delays Promote and Demote: they
	// are accepted at once and applied that many ticks later, as OpenBao's
	// autopilot applies them at its next reconcile. It is reported as
	// Capabilities.MembershipDelay.
	MembershipDelayTicks int
}

// Readiness is when a simulated pod reports Ready.
type Readiness int

const (
	// ReadyWhenRunning: Ready as soon as the pod's process runs, whether a
	// leader exists or not. This is readiness that lies, as OpenBao's
	// sys/health?standbyok=true does (200 on a standby with no leader).
	ReadyWhenRunning Readiness = iota
	// ReadyWhenMember: Ready only while the process runs and the server is in
	// the Raft configuration, as OpenBao's usual readiness (initialized and
	// unsealed), which a server that has not joined cannot pass. Pods report
	// Running before they are Ready.
	ReadyWhenMember
)

// withDefaults fills zero fields and normalises the rest.
func (cfg Config) withDefaults() Config {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.Version == "" {
		cfg.Version = "2.3.0"
	}
	if cfg.Image == "" {
		cfg.Image = "openbao/openbao:" + cfg.Version
	}
	if cfg.Workload == "" {
		cfg.Workload = "bao"
	}
	if cfg.Service == "" {
		cfg.Service = "bao"
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.PodStartTicks <= 0 {
		cfg.PodStartTicks = 5
	}
	if cfg.WriteRate == 0 {
		cfg.WriteRate = 10
	}
	if cfg.ReplicationRate == 0 {
		cfg.ReplicationRate = 200
	}
	if cfg.ElectionTimeout == [2]int{} {
		cfg.ElectionTimeout = [2]int{2, 5}
	}
	cfg.ElectionTimeout[0] = max(cfg.ElectionTimeout[0], 1)
	cfg.ElectionTimeout[1] = max(cfg.ElectionTimeout[1], cfg.ElectionTimeout[0])
	if cfg.HookTicks <= 0 {
		cfg.HookTicks = 2
	}
	cfg.BadVersions = slices.Clone(cfg.BadVersions)
	slices.Sort(cfg.BadVersions)
	cfg.BadVersions = slices.Compact(cfg.BadVersions)
	cfg.HookFailures = maps.Clone(cfg.HookFailures)
	return cfg
}

// Config returns the cluster's configuration with defaults filled in;
// BadVersions and HookFailures reflect SetBadVersion and SetHookFailure.
func (c *Cluster) Config() Config {
	cfg := c.cfg
	cfg.BadVersions = nil
	for _, v := range slices.Sorted(maps.Keys(c.bad)) {
		if c.bad[v] {
			cfg.BadVersions = append(cfg.BadVersions, v)
		}
	}
	cfg.HookFailures = maps.Clone(c.hookFail)
	return cfg
}
