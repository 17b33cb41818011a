package fake

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// Sentinel errors wrapped by Apply and the fault injectors; test with
// errors.Is.
var (
	// ErrPrecondition means an action's precondition does not hold (the member
	// is not the leader, a pod's UID changed, an object does not exist, ...).
	// The action had no effect.
	ErrPrecondition = errors.New("precondition failed")
	// ErrRejected means the cluster refused the action (no leader to apply a
	// membership change, operation lock held by someone else, capability
	// missing, ...). The action had no effect.
	ErrRejected = errors.New("rejected")
)

// Model constants.
const (
	// InitialIndex is the last log index of every member of a new cluster.
	InitialIndex = 2000
	// StaleDepth is how many past snapshots StaleNext can reach back.
	StaleDepth = 63
	// healthyContact and healthyLag mirror autopilot's defaults.
	healthyContact = 10 * time.Second
	healthyLag     = 1000
	// crashBackoffTicks is how often a crash-looping container restarts.
	crashBackoffTicks = 3
	// snapshotTicks is how long TakeSnapshot runs.
	snapshotTicks = 2
	// raftPort is the Raft port in member addresses.
	raftPort = 8201
	// selectorKey is the service selector label naming a workload.
	selectorKey = "app.kubernetes.io/instance"
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

// podPhase is the lifecycle state of a pod incarnation.
type podPhase int

const (
	podAbsent   podPhase = iota // no pod object
	podStarting                 // created or restarting, not yet Ready
	podRunning                  // Running and Ready: the Raft process is up
	podCrashing                 // CrashLoopBackOff
)

// member is one pod slot and the Raft server living in it.
type member struct {
	name     string
	workload string
	ordinal  int

	// pod
	exists     bool
	uid        string
	revision   string
	version    string
	image      string
	phase      podPhase
	since      int // tick the current phase began
	recreateAt int // tick its controller recreates the absent pod, -1 for never
	startedAt  time.Time
	readySince time.Time
	restarts   int32

	// raft
	id          string
	address     string
	present     bool
	voter       bool
	log         raftLog
	reached     int // tick the leader last reached the member
	isolated    bool
	rate        uint64
	rateSet     bool
	healthy     bool
	stableSince time.Time // as reported (autopilot's stable_since)
	healthyAt   time.Time // when it truly last turned healthy
	// pending is a requested suffrage change not applied yet
	// (MembershipDelayTicks): toVoter, applied at tick due.
	autoPromote    bool // joined through JoinNonvoter: autopilot may promote it (AutoPromoteTicks)
	pending        bool
	pendingToVoter bool
	pendingDue     int
}

// up reports whether the member's Raft process runs.
func (m *member) up() bool { return m.exists && m.phase == podRunning }

// reachable reports whether the member takes part in Raft: its process runs,
// it is not partitioned away and it is in the configuration.
func (m *member) reachable() bool { return m.up() && !m.isolated && m.present }

type template struct{ image, version string }

// workload is a StatefulSet.
type workload struct {
	name       string
	replicas   int
	partition  int
	current    string
	update     string
	revisions  map[string]template
	generation int64
	observed   int64
	onDelete   bool
}

type hookRun struct {
	status upgrade.HookStatus
	due    int
}

// Cluster is a deterministic simulated Raft cluster run by StatefulSet-like
// controllers. It is not safe for concurrent use.
type Cluster struct {
	cfg      Config
	bad      map[string]bool
	hookFail map[string]bool
	rng      *rand.Rand

	tick   int
	inTick bool
	uidSeq int

	workloads []*workload // sorted by name
	members   []*member   // sorted by workload, then ordinal
	byName    map[string]*member

	serviceWorkload string
	selector        map[string]string // replaced, never mutated

	term        uint64
	leader      *member
	lastLeader  string
	commit      uint64
	committed   raftLog // the committed prefix of the log
	electionDue int
	lease       int // consecutive ticks the leader could not reach a quorum
	transfer    *member
	transferDue int

	backup  upgrade.BackupView
	snapDue int
	lock    upgrade.LockView
	hooks   []hookRun

	history []Record
	pending Record // what happened since the last tick

	failHandoff bool

	ring      [StaleDepth + 1]upgrade.Observation
	stale     int
	obsFaults []ObservationFault
	scratch   []uint64
}

// revisionName is the controller revision name of a template.
func revisionName(workload, image, version string) string {
	h := fnv.New32a()
	h.Write([]byte(image + "|" + version))
	return fmt.Sprintf("%s-%08x", workload, h.Sum32())
}

// New returns a healthy cluster: one workload of cfg.Replicas ready pods, all
// of them caught-up voters, ordinal 0 leading term 1, everything stable
// since an hour before cfg.Start so stabilization windows are satisfied. It
// panics when cfg.Tick is not a positive whole number of milliseconds.
func New(cfg Config) *Cluster {
	cfg = cfg.withDefaults()
	if cfg.Tick <= 0 || cfg.Tick%time.Millisecond != 0 {
		panic(fmt.Sprintf("fake: Config.Tick %s is not a positive whole number of milliseconds", cfg.Tick))
	}
	c := &Cluster{
		cfg:       cfg,
		bad:       map[string]bool{},
		hookFail:  map[string]bool{},
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x72616674_73686966)),
		byName:    map[string]*member{},
		term:      1,
		commit:    InitialIndex,
		committed: raftLog{{term: 1, last: InitialIndex}},
		backup:    cfg.Backup,
	}
	for _, v := range cfg.BadVersions {
		c.bad[v] = true
	}
	for _, h := range slices.Sorted(maps.Keys(cfg.HookFailures)) {
		c.hookFail[h] = cfg.HookFailures[h]
	}
	if cfg.LockHolder != "" {
		c.lock = upgrade.LockView{Holder: cfg.LockHolder, Since: cfg.Start}
	}
	stable := cfg.Start.Add(-time.Hour)
	w := c.newWorkload(cfg.Workload, cfg.Image, cfg.Version, cfg.Replicas)
	w.onDelete = cfg.UpdateStrategy == upgrade.UpdateOnDelete
	for i := range cfg.Replicas {
		m := c.newMember(w, i)
		c.createPod(m, w)
		m.phase = podRunning
		m.startedAt, m.readySince = stable, stable
		m.present, m.voter = true, true
		m.log = raftLog{{term: 1, last: InitialIndex}}
		m.healthy = true
		m.stableSince, m.healthyAt = stable, stable
	}
	c.leader = c.members[0]
	c.lastLeader = c.leader.name
	c.setService(cfg.Workload)
	c.refresh()
	c.fill(&c.ring[0])
	return c
}

func (c *Cluster) newWorkload(name, image, version string, replicas int) *workload {
	rev := revisionName(name, image, version)
	w := &workload{
		name: name, replicas: replicas, current: rev, update: rev,
		revisions:  map[string]template{rev: {image: image, version: version}},
		generation: 1, observed: 1,
	}
	i, _ := slices.BinarySearchFunc(c.workloads, name, func(w *workload, n string) int { return strings.Compare(w.name, n) })
	c.workloads = slices.Insert(c.workloads, i, w)
	return w
}

func (c *Cluster) findWorkload(name string) *workload {
	i, ok := slices.BinarySearchFunc(c.workloads, name, func(w *workload, n string) int { return strings.Compare(w.name, n) })
	if !ok {
		return nil
	}
	return c.workloads[i]
}

func compareMember(a *member, workload string, ordinal int) int {
	if a.workload != workload {
		return strings.Compare(a.workload, workload)
	}
	return a.ordinal - ordinal
}

// newMember returns the member slot for ordinal i of w, creating it when
// absent (a slot survives its workload while its server is in the Raft
// configuration).
func (c *Cluster) newMember(w *workload, i int) *member {
	name := fmt.Sprintf("%s-%d", w.name, i)
	if m := c.byName[name]; m != nil {
		return m
	}
	m := &member{
		name: name, workload: w.name, ordinal: i, recreateAt: -1,
		id: name, address: fmt.Sprintf("%s.%s:%d", name, w.name, raftPort),
	}
	k, _ := slices.BinarySearchFunc(c.members, m, func(a, b *member) int { return compareMember(a, b.workload, b.ordinal) })
	c.members = slices.Insert(c.members, k, m)
	c.byName[name] = m
	return m
}

// dropMember forgets a member slot that no workload owns once its server
// left the configuration.
func (c *Cluster) dropMember(m *member) {
	if w := c.findWorkload(m.workload); m.present || (w != nil && m.ordinal < w.replicas) {
		return
	}
	c.members = slices.DeleteFunc(c.members, func(x *member) bool { return x == m })
	delete(c.byName, m.name)
}

// createPod creates a new pod incarnation for m from w's revisions.
func (c *Cluster) createPod(m *member, w *workload) {
	rev := w.current
	if m.ordinal >= w.partition || w.onDelete {
		rev = w.update
	}
	t := w.revisions[rev]
	c.uidSeq++
	m.exists = true
	m.uid = fmt.Sprintf("uid-%d", c.uidSeq)
	m.revision, m.image, m.version = rev, t.image, t.version
	m.phase = podStarting
	m.since = c.tick
	m.recreateAt = -1
	m.startedAt = c.Now()
	m.readySince = time.Time{}
	m.restarts = 0
}

// deletePod removes m's pod; its controller recreates it unless recreate is
// false.
//
// A pod deleted gracefully (not killed) whose member leads hands
// leadership over first with HandoffOnShutdown.
func (c *Cluster) deletePod(m *member, why string, recreate bool) {
	if why != "killed" && c.cfg.HandoffOnShutdown && c.leader == m {
		c.handoff(m)
	}
	m.exists = false
	m.phase = podAbsent
	m.uid = ""
	m.restarts = 0
	m.recreateAt = -1
	if recreate {
		// Absent in exactly one tick's Record, recreated in the next.
		m.recreateAt = c.tick + 2
		if c.inTick {
			m.recreateAt = c.tick + 1
		}
	}
	c.event("pod %s %s", m.name, why)
	c.processDown(m)
}

// processDown reacts to m's Raft process stopping.
func (c *Cluster) processDown(m *member) {
	if c.leader == m {
		c.loseLeader(fmt.Sprintf("leader %s went down", m.name))
	}
}

func (c *Cluster) setService(workload string) {
	c.serviceWorkload = workload
	c.selector = map[string]string{selectorKey: workload}
}

// serviceTarget is the existing workload the service selects, or "".
func (c *Cluster) serviceTarget() string {
	if c.findWorkload(c.serviceWorkload) == nil {
		return ""
	}
	return c.serviceWorkload
}

// Emit records the events of a decision in the cluster's history, as a
// host that emits them after executing the actions would.
func (c *Cluster) Emit(events []upgrade.Event) {
	for _, ev := range events {
		c.event("%s %s: %s", ev.Type, ev.Reason, ev.Message)
	}
}

func (c *Cluster) event(format string, args ...any) {
	c.pending.Events = append(c.pending.Events, fmt.Sprintf(format, args...))
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

// Now returns the simulated time: Config.Start plus TickCount ticks.
func (c *Cluster) Now() time.Time {
	return c.cfg.Start.Add(time.Duration(c.tick) * c.cfg.Tick)
}

// TickCount returns how many ticks have run.
func (c *Cluster) TickCount() int { return c.tick }

// History returns one Record per tick run so far (a copy).
func (c *Cluster) History() []Record {
	out := make([]Record, len(c.history))
	for i, r := range c.history {
		out[i] = r.clone()
	}
	return out
}

// Run advances the cluster by ticks ticks.
func (c *Cluster) Run(ticks int) {
	for range ticks {
		c.Tick()
	}
}

// Tick advances simulated time by one tick: controllers observe their
// generation and StatefulSet rolling updates progress (judging readiness as
// of the previous tick), pods start, crash or are recreated, hooks and
// snapshots finish, then Raft runs (leader lease, client writes,
// replication, leadership transfer, elections and commit). The tick ends
// with a Record in the history.
func (c *Cluster) Tick() {
	c.tick++
	c.inTick = true
	defer func() { c.inTick = false }()
	for _, w := range c.workloads {
		w.observed = w.generation
	}
	c.stepControllers()
	c.stepPods()
	c.stepJobs()
	c.stepRaft()
	c.stepMembership()
	c.refresh()
	c.record()
	c.fill(&c.ring[c.tick%len(c.ring)])
}

func (c *Cluster) stepPods() {
	for _, m := range c.members {
		if !m.exists {
			w := c.findWorkload(m.workload)
			if m.recreateAt >= 0 && w != nil && m.ordinal < w.replicas && c.tick >= m.recreateAt {
				c.createPod(m, w)
				c.event("pod %s created (%s, %s, %s)", m.name, m.uid, m.revision, m.version)
			}
			continue
		}
		bad := c.bad[m.version]
		switch m.phase {
		case podStarting:
			if bad && c.tick >= m.since+1 {
				m.phase, m.since = podCrashing, c.tick
				m.restarts++
				c.event("pod %s is crash-looping (version %s)", m.name, m.version)
			} else if !bad && c.tick >= m.since+c.cfg.PodStartTicks {
				m.phase, m.since = podRunning, c.tick
				m.readySince = c.Now()
				c.event("pod %s ready", m.name)
			}
		case podRunning:
			if bad {
				m.phase, m.since = podCrashing, c.tick
				m.restarts++
				c.event("pod %s crashed (version %s)", m.name, m.version)
				c.processDown(m)
			}
		case podCrashing:
			if !bad {
				m.phase, m.since = podStarting, c.tick
				m.restarts++
				c.event("pod %s restarting", m.name)
			} else if (c.tick-m.since)%crashBackoffTicks == 0 {
				m.restarts++
			}
		}
	}
}

// stepControllers runs every StatefulSet's OrderedReady rolling update.
func (c *Cluster) stepControllers() {
	for _, w := range c.workloads {
		ready, updated := 0, 0
		var victim *member
		for _, m := range c.members {
			if m.workload != w.name || m.ordinal >= w.replicas || !m.exists {
				continue
			}
			if c.ready(m) {
				ready++
			}
			if m.revision == w.update {
				updated++
			} else if m.ordinal >= w.partition {
				victim = m // members are sorted by ordinal: the highest wins
			}
		}
		if ready == w.replicas && victim != nil && !w.onDelete {
			c.deletePod(victim, fmt.Sprintf("deleted by controller %s for update to %s", w.name, w.update), true)
		}
		if updated == w.replicas && w.current != w.update {
			w.current = w.update
			c.event("workload %s: current revision is now %s", w.name, w.update)
		}
	}
}

// stepJobs finishes hooks and snapshots that are due.
func (c *Cluster) stepJobs() {
	for i := range c.hooks {
		h := &c.hooks[i]
		if h.status.Done || c.tick < h.due {
			continue
		}
		h.status.Done = true
		h.status.Succeeded = !c.hookFail[h.status.Hook]
		verdict := "succeeded"
		if !h.status.Succeeded {
			verdict = "failed"
		}
		h.status.Message = fmt.Sprintf("hook %s %s", h.status.Hook, verdict)
		c.event("hook %s for phase %s (attempt %d) %s", h.status.Hook, h.status.Phase, h.status.Attempt, verdict)
	}
	if c.backup.InProgress && c.tick >= c.snapDue {
		c.backup.InProgress = false
		c.backup.LastSuccess = c.Now()
		c.event("snapshot completed")
	}
}
