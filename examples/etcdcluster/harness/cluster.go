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

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/raftshift/raftshift/upgrade"
)

// Sentinel errors of the cluster's own (non-Raft) actions.
var (
	// ErrPrecondition means an action's precondition does not hold (a pod's
	// UID changed, an object does not exist); the action had no effect.
	ErrPrecondition = errors.New("precondition failed")
	// ErrRejected means the cluster refused the action.
	ErrRejected = errors.New("rejected")
)

// SelectorKey is the service selector label naming the selected workload.
const SelectorKey = "app.kubernetes.io/instance"

// Image returns the container image label of a version. Every member runs
// the same etcd binary: the version is a label the strategies upgrade.
func Image(version string) string { return "example/etcd:" + version }

// Options configures a Cluster.
type Options struct {
	// Members is the number of initial voters (default 3).
	Members int
	// Version is the initial version label (default "3.7.0").
	Version string
	// Workload names the initial workload and the service (default
	// "etcd"); pods are "<workload>-<ordinal>", and so are member names.
	Workload string
	// Dir is the parent of every member's data directory (required).
	Dir string
	// UpdateStrategy is the update strategy of every workload's emulated
	// StatefulSet controller (default RollingUpdate).
	UpdateStrategy upgrade.UpdateStrategy
	// StartDelay is how long a (re)created pod, or a container restarted
	// after a crash, stays Pending before etcd starts (default 0).
	StartDelay time.Duration
	// DrainDelay is how long a deleted pod keeps serving after it left the
	// clients' endpoints, like a Kubernetes endpoint removal before
	// SIGTERM (default 100ms).
	DrainDelay time.Duration
	// MaxLearners is etcd's --max-learners (default 5, the largest green
	// size of the scenarios).
	MaxLearners int
	// TickMs and ElectionMs are etcd's heartbeat and election timeouts
	// (default 100 and 1000, etcd's defaults).
	TickMs, ElectionMs uint
	// NoFsync sets --unsafe-no-fsync on every member.
	NoFsync bool
	// Logger receives etcd's logs (silent when nil).
	Logger *zap.Logger
	// Logf, when set, receives one line per cluster event.
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("harness: Options.Dir is required")
	}
	if o.Members <= 0 {
		o.Members = 3
	}
	if o.Version == "" {
		o.Version = "3.7.0"
	}
	if o.Workload == "" {
		o.Workload = "etcd"
	}
	switch o.UpdateStrategy {
	case "":
		o.UpdateStrategy = upgrade.UpdateRollingUpdate
	case upgrade.UpdateRollingUpdate, upgrade.UpdateOnDelete:
	default:
		return o, fmt.Errorf("harness: update strategy %q is neither %s nor %s", o.UpdateStrategy, upgrade.UpdateRollingUpdate, upgrade.UpdateOnDelete)
	}
	if o.DrainDelay <= 0 {
		o.DrainDelay = 100 * time.Millisecond
	}
	if o.MaxLearners <= 0 {
		o.MaxLearners = 5
	}
	if o.TickMs == 0 {
		o.TickMs = 100
	}
	if o.ElectionMs == 0 {
		o.ElectionMs = 1000
	}
	return o, nil
}

type podState int

const (
	podAbsent      podState = iota // no pod object
	podPending                     // created; the container is starting
	podWaiting                     // running, waiting to be added to the cluster (a new member)
	podStarting                    // etcd started, not serving yet
	podReady                       // etcd serves
	podTerminating                 // deleted: leaving the endpoints, then etcd stops
	podStopped                     // etcd exited (removed from the cluster); the pod object remains
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
}

// pod is one pod slot and the etcd member living in it. Its URLs and data
// directory outlive incarnations, as a StatefulSet pod keeps its DNS name
// and volume.
type pod struct {
	name      string
	workload  string
	ordinal   int32
	peerURL   string
	clientURL string
	dir       string
	founder   bool   // bootstraps the cluster (else it joins as a learner)
	initial   string // the initial cluster it first started with

	state      podState
	recreate   bool // deleted: the controller recreates it
	gen        int  // incarnation of the pod's life cycle; a stale goroutine gives up
	uid        string
	revision   string
	version    string
	image      string
	node       *Node
	startedAt  time.Time
	readySince time.Time
	restarts   int32
}

// Cluster runs an etcd cluster in this process, one embedded member per
// emulated pod, with StatefulSet-like workloads, and keeps two clients
// current: Admin (every pod's endpoint: the adapter and joining members
// use it) and the load clients (ready pods only, like a Service over every
// member pod). It is safe for concurrent use.
type Cluster struct {
	opts Options
	// Admin reaches every existing pod; the etcd adapter reads and writes
	// through it.
	Admin *clientv3.Client

	mu        sync.Mutex
	workloads []*workload
	pods      []*pod
	service   string
	lock      upgrade.LockView
	backup    upgrade.BackupView
	hooks     []upgrade.HookStatus
	uidSeq    int
	events    []string
	clients   []*clientv3.Client // load clients: ready endpoints
	lastEPs   [2]string
	restarted []string // pods deleted and recreated, in order
	// leaderDeletes lists the pods deleted while they led.
	leaderDeletes []string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// NewCluster starts opts.Members members at opts.Version as one cluster,
// waits until every member serves and starts the controller loop. Close it
// when done.
func NewCluster(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, service: opts.Workload, backup: upgrade.BackupView{Configured: true}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.Admin, err = clientv3.New(clientv3.Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("harness: admin client: %w", err)
	}
	c.mu.Lock()
	w := c.newWorkload(opts.Workload, Image(opts.Version), opts.Version, int32(opts.Members))
	var founders []string
	for i := range w.replicas {
		p, err := c.newPod(w, i)
		if err != nil {
			c.mu.Unlock()
			c.Close()
			return nil, err
		}
		founders = append(founders, p.name+"="+p.peerURL)
	}
	for _, p := range c.pods {
		p.founder, p.initial = true, strings.Join(founders, ",")
		c.incarnate(p, w)
	}
	c.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for !c.allReady(opts.Workload) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			ev := c.Events()
			c.Close()
			return nil, fmt.Errorf("harness: the cluster did not start within 30s: %s", strings.Join(ev, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.wg.Go(c.controller)
	return c, nil
}

// Close stops the controller and every member (at once, like a crash:
// the data is not needed afterwards).
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cancel()
	var nodes []*Node
	for _, p := range c.pods {
		p.gen++
		if p.node != nil {
			nodes = append(nodes, p.node)
			p.node = nil
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
	// Tear down without hand-overs: a leader closed gracefully while its
	// peers close too would wait its request timeout for a transferee.
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(n.Kill)
	}
	wg.Wait()
	_ = c.Admin.Close()
}

func (c *Cluster) event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.events = append(c.events, time.Now().Format("15:04:05.000")+" "+msg)
	if c.opts.Logf != nil {
		c.opts.Logf("%s", msg)
	}
}

// Events returns the cluster's event log.
func (c *Cluster) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

func revisionName(workload, image, version string) string {
	h := fnv.New32a()
	h.Write([]byte(image + "|" + version))
	return fmt.Sprintf("%s-%08x", workload, h.Sum32())
}

// newWorkload adds a workload; c.mu must be held.
func (c *Cluster) newWorkload(name, image, version string, replicas int32) *workload {
	rev := revisionName(name, image, version)
	w := &workload{name: name, strategy: c.opts.UpdateStrategy, replicas: replicas, current: rev, update: rev,
		revisions: map[string]template{rev: {image: image, version: version}}, generation: 1}
	c.workloads = append(c.workloads, w)
	slices.SortFunc(c.workloads, func(a, b *workload) int { return strings.Compare(a.name, b.name) })
	return w
}

func (c *Cluster) findWorkload(name string) *workload {
	for _, w := range c.workloads {
		if w.name == name {
			return w
		}
	}
	return nil
}

// newPod adds the pod slot for ordinal i of w with fresh URLs; c.mu must
// be held.
func (c *Cluster) newPod(w *workload, i int32) (*pod, error) {
	name := fmt.Sprintf("%s-%d", w.name, i)
	if p := c.findPod(name); p != nil {
		return p, nil
	}
	peer, err := FreeURL()
	if err != nil {
		return nil, err
	}
	client, err := FreeURL()
	if err != nil {
		return nil, err
	}
	p := &pod{name: name, workload: w.name, ordinal: i, peerURL: peer, clientURL: client, dir: filepath.Join(c.opts.Dir, name)}
	c.pods = append(c.pods, p)
	slices.SortFunc(c.pods, func(a, b *pod) int {
		if x := strings.Compare(a.workload, b.workload); x != 0 {
			return x
		}
		return int(a.ordinal) - int(b.ordinal)
	})
	return p, nil
}

func (c *Cluster) findPod(name string) *pod {
	for _, p := range c.pods {
		if p.name == name {
			return p
		}
	}
	return nil
}

// PeerURL returns the peer URL of the named pod ("" when there is none):
// the adapter pairs etcd members with pods by it.
func (c *Cluster) PeerURL(m upgrade.Member) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.findPod(m.Name); p != nil {
		return p.peerURL
	}
	return ""
}

// allReady reports whether every pod of a workload serves.
func (c *Cluster) allReady(workload string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.pods {
		if p.workload == workload {
			if p.state != podReady {
				return false
			}
			n++
		}
	}
	return n > 0
}

// NewLoadClient returns a client over the ready pods, kept current as pods
// come and go (a Service over every member pod). Close it when done.
func (c *Cluster) NewLoadClient() (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(true), DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("harness: load client: %w", err)
	}
	c.mu.Lock()
	c.clients = append(c.clients, cli)
	c.mu.Unlock()
	return cli, nil
}

// endpoints returns the client URLs of the ready pods (ready) or of every
// pod whose etcd may answer.
func (c *Cluster) endpoints(ready bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.pods {
		switch {
		case p.state == podReady:
		case !ready && (p.state == podStarting || p.state == podWaiting || p.state == podPending):
		default:
			continue
		}
		out = append(out, p.clientURL)
	}
	return out
}

// syncEndpoints updates the clients' endpoints after pods changed.
func (c *Cluster) syncEndpoints() {
	ready, all := c.endpoints(true), c.endpoints(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if k := strings.Join(all, ","); k != c.lastEPs[0] && len(all) > 0 {
		c.lastEPs[0] = k
		c.Admin.SetEndpoints(all...)
	}
	if k := strings.Join(ready, ","); k != c.lastEPs[1] && len(ready) > 0 {
		c.lastEPs[1] = k
		for _, cli := range c.clients {
			cli.SetEndpoints(ready...)
		}
	}
}
