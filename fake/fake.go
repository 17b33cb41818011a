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
	// (MembershipDelayTicks, or waiting for the last change of the voter
	// set to commit): toVoter, applied at tick due at the earliest;
	// pendingRemove a requested removal of a voter waiting for the same.
	autoPromote    bool // joined through JoinNonvoter: autopilot may promote it (AutoPromoteTicks)
	pending        bool
	pendingToVoter bool
	pendingRemove  bool
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
	uid        string
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
	slept  time.Duration // simulated time passed without ticks (Sleep)
	inTick bool
	uidSeq int
	// workloadSeq numbers workload incarnations (their UIDs).
	workloadSeq int

	workloads []*workload // sorted by name
	members   []*member   // sorted by workload, then ordinal
	byName    map[string]*member

	serviceWorkload string
	selector        map[string]string // replaced, never mutated

	term       uint64
	leader     *member
	lastLeader string
	commit     uint64
	committed  raftLog // the committed prefix of the log
	// configIndex is the log index of the last change of the voter set;
	// the next waits until it is committed (configStable).
	configIndex uint64
	electionDue int
	lease       int // consecutive ticks the leader could not reach a quorum
	transfer    *member
	transferDue int
	// stepDown is the voter a StepDown handed leadership to: it wins the
	// next election when it can (stepDownTarget).
	stepDown *member

	backup  upgrade.BackupView
	snapDue int
	lock    upgrade.LockView
	hooks   []hookRun

	history []Record
	pending Record // what happened since the last tick

	failHandoff bool
	// failMove makes the next StepDown or TransferLeadership fail
	// (FailNextLeaderMove); transferFails marks the transfer in progress
	// as one that times out.
	failMove, transferFails bool

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
	c.workloadSeq++
	w := &workload{
		name: name, uid: fmt.Sprintf("%s-%d", name, c.workloadSeq), replicas: replicas, current: rev, update: rev,
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
