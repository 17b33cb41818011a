package harness

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strconv"
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
// StatefulSet controller loop (partitioned rolling updates, recreation of
// deleted pods) runs in the background. It is safe for concurrent use.
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
	w := &workload{name: name, replicas: replicas, current: rev, update: rev,
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
// (StatefulSet semantics: ordinals >= partition get the update revision)
// and returns the node configuration to start; a.mu must be held.
func (a *Adapter) incarnate(p *pod, w *workload) raftnode.Config {
	rev := w.current
	if p.ordinal >= w.partition {
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

// ---------------------------------------------------------------- controller

func (a *Adapter) controller(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(a.opts.ControllerInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.reconcile()
		}
	}
}

// reconcile is one pass of the emulated StatefulSet controllers: pods being
// deleted are stopped, deleted pods are recreated (from the revision their
// ordinal gets under the partition), and a partitioned rolling update
// deletes the highest outdated ordinal at or above the partition once every
// pod is ready — one pod at a time.
func (a *Adapter) reconcile() {
	a.mu.Lock()
	for _, w := range a.workloads {
		w.observed = w.generation
	}
	var stop []*pod
	type start struct {
		p   *pod
		uid string
		cfg raftnode.Config
	}
	var starts []start
	for _, p := range slices.Clone(a.pods) {
		w := a.findWorkload(p.workload)
		switch {
		case p.state == podTerminating && p.recreate:
			stop = append(stop, p)
		case p.state == podAbsent && p.recreate:
			if w == nil || p.ordinal >= w.replicas {
				continue
			}
			cfg := a.incarnate(p, w)
			p.inflight = true
			starts = append(starts, start{p: p, uid: p.uid, cfg: cfg})
		case p.state == podStarting && p.node == nil && p.failures > 0 && !p.inflight && w != nil:
			// Retry a failed start with the same incarnation.
			p.inflight = true
			starts = append(starts, start{p: p, uid: p.uid, cfg: raftnode.Config{ID: string(p.id), Dir: p.dir,
				Version: p.version, Bind: p.bind, Book: a.book, Timing: a.opts.Timing, Logger: a.opts.Logger, NoSync: a.opts.NoSync}})
		}
	}
	for _, w := range a.workloads {
		if v := a.victim(w); v != nil {
			v.state, v.recreate = podTerminating, true
			a.event("controller %s deletes %s (%s) for update to %s", w.name, v.name, v.version, w.revisions[w.update].version)
			stop = append(stop, v)
		}
		updated := int32(0)
		for _, p := range a.pods {
			if p.workload == w.name && p.state != podAbsent && p.revision == w.update && p.ordinal < w.replicas {
				updated++
			}
		}
		if updated == w.replicas && w.current != w.update {
			w.current = w.update
			a.event("workload %s: current revision is now %s", w.name, w.update)
		}
	}
	a.mu.Unlock()

	for _, p := range stop {
		a.stopPod(p, podAbsent)
	}
	for _, s := range starts {
		// Pods start in parallel, like a StatefulSet with the Parallel
		// pod management policy; the rolling update still restarts one
		// pod at a time because it waits for every pod to be ready.
		a.starts.Add(1)
		go func() {
			defer a.starts.Done()
			a.startPod(s.p, s.uid, s.cfg)
		}()
	}
}

// startPod starts the node of incarnation uid of p after the start delay.
func (a *Adapter) startPod(p *pod, uid string, cfg raftnode.Config) {
	if !a.delay() {
		a.mu.Lock()
		if p.uid == uid {
			p.inflight = false
		}
		a.mu.Unlock()
		return
	}
	n, err := a.startNode(cfg)
	a.mu.Lock()
	if p.uid == uid {
		p.inflight = false
	}
	switch {
	case a.closed || a.findPod(p.name) != p || p.uid != uid || p.state != podStarting:
		// Deleted while starting.
		a.mu.Unlock()
		if n != nil {
			_ = n.Shutdown()
		}
		return
	case err != nil:
		p.failures++
		a.event("pod %s failed to start: %v", p.name, err)
	default:
		a.running(p, n)
	}
	a.mu.Unlock()
}

// startNode starts a node, or fails like a crashing container when its
// version is one of Options.BadVersions.
func (a *Adapter) startNode(cfg raftnode.Config) (*raftnode.Node, error) {
	if slices.Contains(a.opts.BadVersions, cfg.Version) {
		return nil, fmt.Errorf("version %s crashes on start", cfg.Version)
	}
	return raftnode.Start(cfg)
}

// delay waits StartDelay; false when the adapter closed meanwhile.
func (a *Adapter) delay() bool {
	if a.opts.StartDelay <= 0 {
		return true
	}
	t := time.NewTimer(a.opts.StartDelay)
	defer t.Stop()
	select {
	case <-a.stopped:
		return false
	case <-t.C:
		return true
	}
}

// victim returns the pod a rolling update of w deletes now; a.mu must be
// held.
func (a *Adapter) victim(w *workload) *pod {
	var v *pod
	ready := int32(0)
	for _, p := range a.pods {
		if p.workload != w.name || p.ordinal >= w.replicas {
			continue
		}
		if p.state == podRunning {
			ready++
		}
		if p.state != podAbsent && p.revision != w.update && p.ordinal >= w.partition && p.state == podRunning {
			v = p // sorted by ordinal: the highest wins
		}
	}
	if ready < w.replicas {
		return nil
	}
	return v
}

// stopPod shuts p's node down and leaves p in state to.
func (a *Adapter) stopPod(p *pod, to podState) {
	a.mu.Lock()
	n := p.node
	a.mu.Unlock()
	if n != nil {
		if err := n.Shutdown(); err != nil {
			a.mu.Lock()
			a.event("pod %s: %v", p.name, err)
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.node == n {
		p.node = nil
	}
	p.state = to
	p.downSince = time.Now()
	p.healthy = false // StableSince restarts when it is seen healthy again
	if to == podAbsent {
		p.uid = ""
	}
	a.event("pod %s stopped", p.name)
}

// RestartNow restarts the named member synchronously at version (which
// becomes the workload's update revision when it differs from the
// template), bypassing the controller, and returns once the new node runs.
// It is the naive baseline's restart: no leadership or catch-up checks.
func (a *Adapter) RestartNow(name, version string) error {
	a.mu.Lock()
	p := a.findPod(name)
	if p == nil || p.state == podAbsent {
		a.mu.Unlock()
		return fmt.Errorf("harness: restart %s: %w: no such pod", name, ErrPrecondition)
	}
	w := a.findWorkload(p.workload)
	if w == nil {
		a.mu.Unlock()
		return fmt.Errorf("harness: restart %s: %w: its workload is gone", name, ErrPrecondition)
	}
	p.state, p.recreate = podTerminating, false
	a.mu.Unlock()
	a.stopPod(p, podAbsent)

	a.mu.Lock()
	rev := revisionName(w.name, Image(version), version)
	if _, ok := w.revisions[rev]; !ok {
		w.revisions[rev] = template{image: Image(version), version: version}
		w.update = rev
		w.generation++
	}
	cfg := a.incarnateAt(p, rev, w.revisions[rev])
	a.mu.Unlock()
	if !a.delay() {
		return fmt.Errorf("harness: restart %s: %w: adapter closed", name, ErrRejected)
	}
	n, err := a.startNode(cfg)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		p.failures++
		return fmt.Errorf("harness: restart %s: %w", name, err)
	}
	a.running(p, n)
	return nil
}

// ---------------------------------------------------------------- leader

// Leader returns the node currently leading (the highest term wins when
// two claim it), or nil.
func (a *Adapter) Leader() *raftnode.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.leaderPod()
	if p == nil {
		return nil
	}
	return p.node
}

// LeaderInfo returns the leading member's name and its term.
func (a *Adapter) LeaderInfo() (name string, term uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.leaderPod()
	if p == nil {
		return "", 0, false
	}
	return p.name, p.node.Raft.CurrentTerm(), true
}

func (a *Adapter) leaderPod() *pod {
	var best *pod
	var bestTerm uint64
	for _, p := range a.pods {
		if p.node == nil || p.state != podRunning || p.node.Raft.State() != raft.Leader {
			continue
		}
		if t := p.node.Raft.CurrentTerm(); best == nil || t > bestTerm {
			best, bestTerm = p, t
		}
	}
	return best
}

// WaitLeader waits up to timeout for a leader.
func (a *Adapter) WaitLeader(ctx context.Context, timeout time.Duration) (*raftnode.Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		if n := a.Leader(); n != nil {
			return n, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("harness: no leader after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("harness: waiting for a leader: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Nodes returns the running nodes by member name.
func (a *Adapter) Nodes() map[string]*raftnode.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]*raftnode.Node{}
	for _, p := range a.pods {
		if p.node != nil && p.state == podRunning {
			out[p.name] = p.node
		}
	}
	return out
}

// ---------------------------------------------------------------- observe

type raftView struct {
	running   bool
	state     raft.RaftState
	term      uint64
	lastIndex uint64
	lastTerm  uint64
	commit    uint64
	contact   time.Duration
	cfgIndex  uint64
	cfg       raft.Configuration
}

func parseUint(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

func parseContact(s string) time.Duration {
	switch s {
	case "0":
		return 0
	case "never", "":
		return time.Hour
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Hour
	}
	return d
}

// Observe builds the observation of the cluster at now (the host's clock).
// Pod state comes from the node processes, Raft state from each node's
// Stats, LastIndex and configuration; Healthy is running, in the leader's
// configuration, recently contacted and at most MaxLag entries behind;
// StableSince is when a member last became healthy, tracked here.
func (a *Adapter) Observe(now time.Time) upgrade.Observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	views := make([]raftView, len(a.pods))
	leader := -1
	for i, p := range a.pods {
		if p.node == nil || p.state != podRunning {
			continue
		}
		r := p.node.Raft
		st := r.Stats()
		v := raftView{running: true, state: r.State(), term: parseUint(st["term"]), lastIndex: r.LastIndex(),
			lastTerm: parseUint(st["last_log_term"]), commit: parseUint(st["commit_index"]), contact: parseContact(st["last_contact"])}
		cf := r.GetConfiguration()
		if cf.Error() == nil {
			v.cfg, v.cfgIndex = cf.Configuration(), cf.Index()
		}
		if v.state == raft.Leader {
			v.contact = 0
			if leader < 0 || v.term > views[leader].term {
				leader = i
			}
		}
		views[i] = v
	}
	// The configuration: the leader's, else the newest one a node knows.
	var conf raft.Configuration
	if leader >= 0 {
		conf = views[leader].cfg
	} else {
		var best uint64
		for _, v := range views {
			if v.running && v.cfgIndex >= best && len(v.cfg.Servers) > 0 {
				conf, best = v.cfg, v.cfgIndex
			}
		}
	}
	inConf := map[raft.ServerID]raft.Server{}
	for _, s := range conf.Servers {
		inConf[s.ID] = s
	}

	obs := upgrade.Observation{Now: now}
	for _, w := range a.workloads {
		t := w.revisions[w.update]
		ow := upgrade.Workload{Name: w.name, Replicas: w.replicas, Partition: w.partition, CurrentRevision: w.current,
			UpdateRevision: w.update, Generation: w.generation, ObservedGeneration: w.observed, Image: t.image, Version: t.version}
		for _, p := range a.pods {
			if p.workload != w.name || p.state == podAbsent || p.ordinal >= w.replicas {
				continue
			}
			if p.state == podRunning {
				ow.ReadyReplicas++
			}
			if p.revision == w.update {
				ow.UpdatedReplicas++
			}
		}
		obs.Workloads = append(obs.Workloads, ow)
	}
	obs.Service = upgrade.Service{Name: a.opts.Service, Selector: map[string]string{SelectorKey: a.service}}
	if a.findWorkload(a.service) != nil {
		obs.Service.Workload = a.service
	}

	voters, healthyVoters := 0, 0
	var leaderLast uint64
	if leader >= 0 {
		leaderLast = views[leader].lastIndex
	}
	for i, p := range a.pods {
		v := views[i]
		srv, present := inConf[p.id]
		m := upgrade.Member{Name: p.name, Workload: p.workload, Ordinal: p.ordinal}
		m.Raft = upgrade.MemberRaft{ID: string(p.id), Address: p.bind, Present: present, Leader: i == leader,
			LastIndex: v.lastIndex, LastTerm: v.lastTerm, LastContact: v.contact}
		if present {
			m.Raft.Address = string(srv.Address)
			m.Raft.Suffrage = upgrade.Nonvoter
			if srv.Suffrage == raft.Voter {
				m.Raft.Suffrage = upgrade.Voter
			}
		}
		if !v.running {
			m.Raft.LastContact = time.Hour
			if !p.downSince.IsZero() {
				m.Raft.LastContact = now.Sub(p.downSince)
			}
		}
		healthy := v.running && present && v.contact <= a.opts.HealthyContact
		if healthy && leader >= 0 && i != leader && leaderLast > v.lastIndex && leaderLast-v.lastIndex > a.opts.MaxLag {
			healthy = false
		}
		if healthy && !p.healthy {
			p.stableSince = now
		}
		p.healthy = healthy
		m.Raft.Healthy = healthy
		m.Raft.StableSince = p.stableSince
		if p.state != podAbsent {
			m.Revision, m.Version, m.Image = p.revision, p.version, p.image
			m.Pod = upgrade.PodStatus{Exists: true, UID: p.uid, StartedAt: p.startedAt}
			switch p.state {
			case podStarting:
				m.Pod.Phase = upgrade.PodPending
				m.Pod.CrashLooping = p.failures >= 3
				m.Pod.Restarts = p.failures
			case podRunning:
				m.Pod.Phase, m.Pod.Ready = upgrade.PodRunning, true
			case podTerminating:
				m.Pod.Phase, m.Pod.Terminating = upgrade.PodRunning, true
			case podStopped:
				m.Pod.Phase = upgrade.PodSucceeded
			}
		}
		if m.IsVoter() {
			voters++
			if healthy {
				healthyVoters++
			}
		}
		obs.Members = append(obs.Members, m)
	}
	if leader >= 0 {
		l := views[leader]
		a.term = max(a.term, l.term)
		obs.Raft = upgrade.RaftView{Known: true, LeaderID: string(a.pods[leader].id), Term: a.term, CommitIndex: l.commit,
			FailureTolerance: int32(max(0, healthyVoters-upgrade.Quorum(voters))), AutopilotHealthy: voters > 0 && healthyVoters == voters}
	}
	obs.Backup = a.backup
	obs.Lock = a.lock
	obs.Capabilities = upgrade.Capabilities{TargetedTransfer: true, NonVoters: true, Snapshots: true}
	obs.Hooks = slices.Clone(a.hooks)
	return obs
}

// timeNow is the adapter's clock (the host may read the clock; the core
// never does).
func timeNow() time.Time { return time.Now() }
