package harness

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
	"github.com/raftshift/raftshift/upgrade"
)

// Sentinel errors wrapped by Adapter.Execute; test with errors.Is.
var (
	// ErrPrecondition means an action's precondition does not hold (the
	// member is not the leader, a pod's UID changed, an object does not
	// exist, ...). The action had no effect.
	ErrPrecondition = errors.New("precondition failed")
	// ErrRejected means the cluster refused the action (no leader, a
	// transfer to a non-voter, a lock held by another holder, ...).
	ErrRejected = errors.New("rejected")
)

// SelectorKey is the service selector label naming the selected workload.
const SelectorKey = "app.kubernetes.io/instance"

// Image returns the container image label of a version.
func Image(version string) string { return "example/raftnode:" + version }

// Options configures an Adapter and the cluster it starts.
type Options struct {
	// Nodes is the number of initial voters (default 3).
	Nodes int
	// Version is the initial version (default "1.0.0").
	Version string
	// Workload names the initial workload (default "raft"); its pods are
	// "<workload>-<ordinal>" and their Raft IDs are the pod names.
	Workload string
	// Service names the client-facing service (default "raft").
	Service string
	// Dir is the parent of every node's data directory (required).
	Dir string
	// Timing holds the Raft timeouts (raftnode.DefaultTiming when zero).
	Timing raftnode.Timing
	// Logger receives Raft's logs (silent when nil).
	Logger hclog.Logger
	// HealthyContact is the longest time since a follower last heard from
	// the leader for it to count as healthy (default 2s).
	HealthyContact time.Duration
	// MaxLag is how many entries a healthy follower may trail the leader
	// (default 1000, autopilot's default).
	MaxLag uint64
	// ControllerInterval is the period of the emulated StatefulSet
	// controller (default 20ms).
	ControllerInterval time.Duration
	// StartDelay is how long a (re)created pod stays Pending before its
	// Raft node starts, emulating container start-up (default 0). It applies
	// to every restart, the baseline's included.
	StartDelay time.Duration
	// NoSync skips fsync in the bolt stores (faster on slow disks; data
	// still survives a node restart).
	NoSync bool
	// BadVersions are versions whose nodes fail to start, like a container
	// that crashes on start: their pods stay Pending and report
	// CrashLooping after three failed starts (each after StartDelay).
	BadVersions []string
	// UpdateStrategy is the update strategy of every workload's emulated
	// controller: RollingUpdate (the default) restarts the outdated pods
	// at or above the partition by itself, highest ordinal first, one at a
	// time; OnDelete never restarts a pod by itself and recreates a deleted
	// pod at the template's (update) revision.
	UpdateStrategy upgrade.UpdateStrategy
	// HandoffOnShutdown makes a node shut down gracefully (its pod deleted,
	// by DeletePod, the controller or RestartNow) hand leadership over
	// first when it leads, as OpenBao does on SIGTERM: an untargeted
	// LeadershipTransfer, then Shutdown. Observations then report
	// Capabilities.HandoffOnShutdown. Crashes and Close never hand over.
	HandoffOnShutdown bool
	// NoTargetedTransfer emulates a workload without targeted leadership
	// transfer (OpenBao): observations report TargetedTransfer false and
	// Execute refuses TransferLeadership; StepDown still works.
	NoTargetedTransfer bool
	// Leader, when set, names the member that must lead once the cluster
	// has started: New moves leadership to it (a targeted transfer, before
	// any client write) and waits until it leads.
	Leader string
	// Logf, when set, receives one line per adapter event.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("harness: Options.Dir is required")
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	if o.Workload == "" {
		o.Workload = "raft"
	}
	if o.Service == "" {
		o.Service = "raft"
	}
	if o.Timing == (raftnode.Timing{}) {
		o.Timing = raftnode.DefaultTiming()
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.HealthyContact <= 0 {
		o.HealthyContact = 2 * time.Second
	}
	if o.MaxLag == 0 {
		o.MaxLag = 1000
	}
	if o.ControllerInterval <= 0 {
		o.ControllerInterval = 20 * time.Millisecond
	}
	switch o.UpdateStrategy {
	case "":
		o.UpdateStrategy = upgrade.UpdateRollingUpdate
	case upgrade.UpdateRollingUpdate, upgrade.UpdateOnDelete:
	default:
		return o, fmt.Errorf("harness: update strategy %q is neither %s nor %s", o.UpdateStrategy, upgrade.UpdateRollingUpdate, upgrade.UpdateOnDelete)
	}
	return o, nil
}

type podState int

const (
	podAbsent      podState = iota // no pod object
	podStarting                    // created, Raft starting
	podRunning                     // Ready: the Raft server runs
	podTerminating                 // being deleted: Raft shutting down
	podStopped                     // process exited (removed from Raft); the pod object remains
)

type template struct{ image, version string }

// workload is a StatefulSet-like controller.
type workload struct {
	name       string
	strategy   upgrade.UpdateStrategy
	replicas   int32
	partition  int32
	current    string
	update     string
	revisions  map[string]template
	generation int64
	observed   int64
}

// pod is one pod slot and the Raft node living in it.
type pod struct {
	name     string
	workload string
	ordinal  int32
	id       raft.ServerID
	dir      string
	bind     string // last bound address, reused on restart

	state     podState
	recreate  bool // deleted; the controller recreates it
	uid       string
	revision  string
	version   string
	image     string
	node      *raftnode.Node
	startedAt time.Time
	downSince time.Time
	failures  int32
	inflight  bool // the controller is starting its node

	healthy     bool
	stableSince time.Time
}

// Adapter runs a real hashicorp/raft cluster in this process, one node per
// emulated pod, and maps it to the raftshift vocabulary: Observe builds an
// upgrade.Observation, Execute carries out upgrade.Actions, and a small
// StatefulSet controller loop (partitioned rolling updates under
// RollingUpdate, recreation of deleted pods under either update strategy)
// runs in the background. It is safe for concurrent use.
type Adapter struct {
	opts Options
	book *raftnode.AddressBook

	mu        sync.Mutex
	workloads []*workload // sorted by name
	pods      []*pod      // sorted by workload, then ordinal
	service   string
	lock      upgrade.LockView
	backup    upgrade.BackupView
	hooks     []upgrade.HookStatus
	term      uint64
	uidSeq    int
	events    []string

	cancel  context.CancelFunc
	done    chan struct{}
	closed  bool
	starts  sync.WaitGroup // nodes being started by the controller
	stopped chan struct{}  // closed by Close: pending starts give up
}

// New starts opts.Nodes nodes at opts.Version, bootstraps them as voters of
// one cluster, waits for a leader and starts the controller loop. Close it
// when done.
func New(ctx context.Context, opts Options) (*Adapter, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Adapter{opts: opts, book: raftnode.NewAddressBook(), service: opts.Workload, stopped: make(chan struct{})}
	a.backup = upgrade.BackupView{Configured: true}
	w := a.newWorkload(opts.Workload, Image(opts.Version), opts.Version, int32(opts.Nodes))
	var servers []raft.Server
	for i := range w.replicas {
		p := a.newPod(w, i)
		cfg := a.incarnate(p, w)
		n, err := raftnode.Start(cfg)
		if err != nil {
			a.shutdownAll()
			return nil, fmt.Errorf("harness: start %s: %w", p.name, err)
		}
		a.running(p, n)
		servers = append(servers, n.Server())
	}
	if err := a.pods[0].node.Bootstrap(servers); err != nil {
		a.shutdownAll()
		return nil, fmt.Errorf("harness: %w", err)
	}
	if _, err := a.WaitLeader(ctx, 20*time.Second); err != nil {
		a.shutdownAll()
		return nil, err
	}
	if opts.Leader != "" {
		if err := a.pinLeader(ctx, opts.Leader, 20*time.Second); err != nil {
			a.shutdownAll()
			return nil, err
		}
	}
	cctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go a.controller(cctx)
	return a, nil
}

// Close stops the controller and shuts every node down.
func (a *Adapter) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	close(a.stopped)
	a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	a.starts.Wait()
	a.shutdownAll()
}

func (a *Adapter) shutdownAll() {
	a.mu.Lock()
	var nodes []*raftnode.Node
	for _, p := range a.pods {
		if p.node != nil {
			nodes = append(nodes, p.node)
			p.node, p.state, p.recreate, p.downSince = nil, podAbsent, false, time.Now()
		}
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); _ = n.Shutdown() }()
	}
	wg.Wait()
}

func (a *Adapter) event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	a.events = append(a.events, time.Now().Format("15:04:05.000")+" "+msg)
	if a.opts.Logf != nil {
		a.opts.Logf("%s", msg)
	}
}

// Events returns the adapter's event log (a copy).
func (a *Adapter) Events() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

func revisionName(workload, image, version string) string {
	h := fnv.New32a()
	h.Write([]byte(image + "|" + version))
	return fmt.Sprintf("%s-%08x", workload, h.Sum32())
}

// newWorkload adds a workload; a.mu must be held (or a not shared yet).
func (a *Adapter) newWorkload(name, image, version string, replicas int32) *workload {
	rev := revisionName(name, image, version)
	w := &workload{name: name, strategy: a.opts.UpdateStrategy, replicas: replicas, current: rev, update: rev,
		revisions: map[string]template{rev: {image: image, version: version}}, generation: 1, observed: 1}
	i, _ := slices.BinarySearchFunc(a.workloads, name, func(w *workload, n string) int { return strings.Compare(w.name, n) })
	a.workloads = slices.Insert(a.workloads, i, w)
	return w
}

func (a *Adapter) findWorkload(name string) *workload {
	i, ok := slices.BinarySearchFunc(a.workloads, name, func(w *workload, n string) int { return strings.Compare(w.name, n) })
	if !ok {
		return nil
	}
	return a.workloads[i]
}

// newPod adds the pod slot for ordinal i of w; a.mu must be held.
func (a *Adapter) newPod(w *workload, i int32) *pod {
	name := fmt.Sprintf("%s-%d", w.name, i)
	if p := a.findPod(name); p != nil {
		return p
	}
	p := &pod{name: name, workload: w.name, ordinal: i, id: raft.ServerID(name), dir: filepath.Join(a.opts.Dir, name)}
	k, _ := slices.BinarySearchFunc(a.pods, p, comparePods)
	a.pods = slices.Insert(a.pods, k, p)
	return p
}

func comparePods(x, y *pod) int {
	if c := strings.Compare(x.workload, y.workload); c != 0 {
		return c
	}
	return int(x.ordinal) - int(y.ordinal)
}

func (a *Adapter) findPod(name string) *pod {
	for _, p := range a.pods {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (a *Adapter) dropPod(p *pod) {
	a.pods = slices.DeleteFunc(a.pods, func(x *pod) bool { return x == p })
}

// incarnate creates a new pod incarnation of p from w's revisions
// (StatefulSet semantics: under RollingUpdate, ordinals >= partition get
// the update revision; under OnDelete, every new pod does) and returns the
// node configuration to start; a.mu must be held.
func (a *Adapter) incarnate(p *pod, w *workload) raftnode.Config {
	rev := w.current
	if p.ordinal >= w.partition || w.strategy == upgrade.UpdateOnDelete {
		rev = w.update
	}
	return a.incarnateAt(p, rev, w.revisions[rev])
}

func (a *Adapter) incarnateAt(p *pod, rev string, t template) raftnode.Config {
	a.uidSeq++
	p.uid = fmt.Sprintf("uid-%d", a.uidSeq)
	p.revision, p.version, p.image = rev, t.version, t.image
	p.state = podStarting
	p.recreate = false
	p.healthy = false
	p.failures = 0
	p.startedAt = time.Now()
	a.event("pod %s created (%s, %s)", p.name, p.uid, p.version)
	return raftnode.Config{ID: string(p.id), Dir: p.dir, Version: t.version, Bind: p.bind, Book: a.book,
		Timing: a.opts.Timing, Logger: a.opts.Logger, NoSync: a.opts.NoSync}
}

// running records a started node; a.mu must be held.
func (a *Adapter) running(p *pod, n *raftnode.Node) {
	p.node = n
	p.state = podRunning
	p.bind = string(n.Addr())
	p.failures = 0
	a.event("pod %s ready: %s at %s runs %s", p.name, p.id, n.Addr(), n.Version())
}
