package openbaotest

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// DefaultSelfJoinDelay is how many ticks after its process starts a member
// joins by itself when Options.SelfJoinDelay is 0.
const DefaultSelfJoinDelay = 2

// ActiveNode names the active endpoint in Requests.
const ActiveNode = "active"

// Options configure an Emulator.
type Options struct {
	// SelfJoin emulates retry_join with retry_join_as_non_voter = true on
	// every server that was never in the Raft configuration (a new, green
	// server whose storage is not initialized): SelfJoinDelay ticks after
	// its process starts, and once a leader exists, Tick joins it to the
	// cluster as a permanent non-voter (fake.Cluster.SelfJoin; autopilot
	// node type "non-voter"), which the cluster's autopilot never promotes.
	// Servers that were in the configuration once never join again by
	// themselves.
	SelfJoin bool
	// SelfJoinDelay is the self-join delay in ticks (0:
	// DefaultSelfJoinDelay).
	SelfJoinDelay int
}

// Emulator serves the OpenBao 2.6 HTTP API of a fake.Cluster: one
// httptest.Server per member, created on first use, and one for the active
// node, which answers as whichever member leads. Every answer is computed
// from the cluster's state at the time of the request; writes become
// fake.Cluster.Apply calls.
//
// The Emulator owns the cluster: once it is created, use the cluster only
// through the Emulator's methods (Tick, Apply, Observe, Do, ...), which
// hold the lock its HTTP handlers take. All methods are safe for
// concurrent use.
type Emulator struct {
	mu      sync.Mutex
	c       *fake.Cluster
	opts    Options
	closed  bool
	active  *httptest.Server
	servers map[string]*httptest.Server // by member name
	byURL   map[string]string           // server URL -> member name, ActiveNode for the active one

	initialized map[string]bool   // members that were in the configuration once
	permanent   map[string]bool   // node IDs marked permanent non-voters
	running     map[string]runAt  // members whose process runs, since when
	sealed      map[string]bool   // members sealed by Seal
	lastLeader  string            // the last leader seen ("" before any)
	activeSince time.Time         // when lastLeader became leader
	selfJoined  []string          // members that joined by themselves, in order
	requests    map[string]int    // "member METHOD path" -> count
	versions    map[string]string // last version seen per member
	seq         int               // request IDs
}

// runAt records when a pod incarnation's process was first seen running.
type runAt struct {
	uid  string
	tick int
}

// New returns an Emulator serving c's API. The active endpoint starts at
// once; member servers start on first use (Client, URL, or an address in
// an answer). Close stops them all.
func New(c *fake.Cluster, opts Options) *Emulator {
	e := &Emulator{
		c: c, opts: opts,
		servers:     map[string]*httptest.Server{},
		byURL:       map[string]string{},
		initialized: map[string]bool{},
		permanent:   map[string]bool{},
		running:     map[string]runAt{},
		sealed:      map[string]bool{},
		requests:    map[string]int{},
		versions:    map[string]string{},
	}
	if e.opts.SelfJoinDelay <= 0 {
		e.opts.SelfJoinDelay = DefaultSelfJoinDelay
	}
	e.active = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, ActiveNode)
	}))
	e.mu.Lock()
	e.byURL[e.active.URL] = ActiveNode
	e.track(c.Truth())
	e.mu.Unlock()
	return e
}

// Close stops every server. Calls in flight finish first; later calls are
// refused.
func (e *Emulator) Close() {
	e.mu.Lock()
	e.closed = true
	srvs := []*httptest.Server{e.active}
	for _, name := range slices.Sorted(maps.Keys(e.servers)) {
		srvs = append(srvs, e.servers[name])
	}
	e.mu.Unlock()
	for _, s := range srvs {
		s.Close()
	}
}

// Tick advances the cluster by one tick (fake.Cluster.Tick), then lets
// servers that are due join by themselves (Options.SelfJoin).
func (e *Emulator) Tick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.c.Tick()
	truth := e.c.Truth()
	e.track(truth)
	if e.opts.SelfJoin && e.selfJoin(truth) {
		e.track(e.c.Truth())
	}
}

// Run calls Tick ticks times.
func (e *Emulator) Run(ticks int) {
	for range ticks {
		e.Tick()
	}
}

// track records what the API remembers between calls: the last leader,
// which servers were ever initialized, when each process started and the
// last version each member ran.
func (e *Emulator) track(truth upgrade.Observation) {
	leader, _ := truth.Leader()
	if leader.Name != "" && leader.Name != e.lastLeader {
		e.lastLeader, e.activeSince = leader.Name, truth.Now
	}
	tick := e.c.TickCount()
	for _, m := range truth.Members {
		if m.Raft.Present {
			e.initialized[m.Name] = true
		} else {
			delete(e.permanent, m.Raft.ID)
		}
		if m.Version != "" {
			e.versions[m.Name] = m.Version
		}
		switch r, ok := e.running[m.Name]; {
		case !m.Pod.Exists || !m.Pod.Running:
			delete(e.running, m.Name)
		case !ok || r.uid != m.Pod.UID:
			e.running[m.Name] = runAt{uid: m.Pod.UID, tick: tick}
		}
	}
}

// selfJoin joins every due server (see Options.SelfJoin), in member order.
// It reports whether any joined.
func (e *Emulator) selfJoin(truth upgrade.Observation) bool {
	if _, ok := truth.Leader(); !ok {
		return false // retry_join needs an active node to answer the challenge
	}
	tick, joined := e.c.TickCount(), false
	for _, m := range truth.Members {
		r, ok := e.running[m.Name]
		if !ok || e.initialized[m.Name] || e.sealed[m.Name] || tick-r.tick < e.opts.SelfJoinDelay {
			continue
		}
		if err := e.c.SelfJoin(m.Name); err != nil {
			continue // retried at the next tick, as retry_join does
		}
		e.initialized[m.Name] = true
		e.permanent[m.Raft.ID] = true
		e.selfJoined = append(e.selfJoined, m.Name)
		joined = true
	}
	return joined
}

// SelfJoined returns the members that joined by themselves, in join order.
func (e *Emulator) SelfJoined() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.selfJoined)
}

// Apply applies actions to the cluster (fake.Cluster.Apply) under the
// emulator's lock: the host's Kubernetes actions.
func (e *Emulator) Apply(actions []upgrade.Action) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, err := e.c.Apply(actions)
	e.track(e.c.Truth())
	return n, err
}

// Do runs f with the cluster under the emulator's lock, for fault injection
// and inspection. f must not call the emulator's API or methods.
func (e *Emulator) Do(f func(c *fake.Cluster)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(e.c)
	e.track(e.c.Truth())
}

// Observe returns fake.Cluster.Observe, the whole simulated observation.
func (e *Emulator) Observe() upgrade.Observation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.c.Observe()
}

// Truth returns fake.Cluster.Truth.
func (e *Emulator) Truth() upgrade.Observation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.c.Truth()
}

// History returns fake.Cluster.History.
func (e *Emulator) History() []fake.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.c.History()
}

// TickCount returns fake.Cluster.TickCount.
func (e *Emulator) TickCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.c.TickCount()
}

// KubernetesObservation returns what the Kubernetes adapter and the host
// would observe, without anything learnt from Raft: fake.Cluster.Observe
// with the Raft view, every member's Raft state and the capabilities
// zeroed, and without members whose workload no longer exists (the
// Kubernetes adapter lists pods of existing StatefulSets only). Lock, hooks
// and backup stay: the host reports them. The OpenBao adapter's Observe or
// Merge fills in the rest.
func (e *Emulator) KubernetesObservation() upgrade.Observation {
	e.mu.Lock()
	obs := e.c.Observe()
	e.mu.Unlock()
	obs.Raft = upgrade.RaftView{}
	obs.Capabilities = upgrade.Capabilities{}
	members := obs.Members[:0]
	for _, m := range obs.Members {
		if _, ok := obs.Workload(m.Workload); !ok {
			continue
		}
		m.Raft = upgrade.MemberRaft{}
		members = append(members, m)
	}
	obs.Members = members
	if len(obs.Members) == 0 {
		obs.Members = nil
	}
	return obs
}

// Seal seals (or unseals) a member, as a restart with a Shamir seal would:
// its API answers as sealed (sys/health 503, other calls "Vault is
// sealed") and, since a sealed OpenBao runs no Raft, it is isolated from
// the cluster (fake.Cluster.Isolate; Heal when unsealed), which the
// history records as a fault.
func (e *Emulator) Seal(member string, sealed bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	if sealed {
		err = e.c.Isolate(member)
	} else {
		err = e.c.Heal(member)
	}
	if err != nil {
		return fmt.Errorf("openbaotest: seal %s: %w", member, err)
	}
	if sealed {
		e.sealed[member] = true
	} else {
		delete(e.sealed, member)
	}
	return nil
}

// Permanent reports whether the server with this node ID is marked a
// permanent non-voter (joined by itself, or demoted): OpenBao's autopilot
// never promotes it on its own, and promote clears the mark.
func (e *Emulator) Permanent(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.permanent[id]
}

// Requests returns how many calls each endpoint received, keyed
// "<member or active> <METHOD> <path>".
func (e *Emulator) Requests() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.requests)
}

// ActiveURL returns the address of the active endpoint (the cluster's
// active service).
func (e *Emulator) ActiveURL() string { return e.active.URL }

// URL returns the address of a member's own API, starting its server on
// first use. After Close it returns an address that refuses every call.
func (e *Emulator) URL(member string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.urlLocked(member)
}

func (e *Emulator) urlLocked(member string) string {
	if s, ok := e.servers[member]; ok {
		return s.URL
	}
	if e.closed {
		return "http://127.0.0.1:0" // refused
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, member)
	}))
	e.servers[member] = s
	e.byURL[s.URL] = member
	return s.URL
}

// ActiveClient returns a new client for the active endpoint (see
// NewClient).
func (e *Emulator) ActiveClient() (*api.Client, error) { return NewClient(e.ActiveURL()) }

// Client returns a new client for m's own API (see NewClient). Its
// signature is that of openbao.ClientFactory, so e.Client can be an
// adapter's Clients.
func (e *Emulator) Client(m upgrade.Member) (*api.Client, error) { return NewClient(e.URL(m.Name)) }

// NewClient returns an OpenBao client for addr that ignores the
// environment and never retries, so a refused call fails at once.
func NewClient(addr string) (*api.Client, error) {
	cfg := api.NewConfig()
	cfg.DisableEnvironment = true
	cfg.Address = addr
	cfg.MaxRetries = 0
	cfg.Timeout = 10 * time.Second
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("openbaotest: client for %s: %w", addr, err)
	}
	c.SetToken("s.openbaotest")
	return c, nil
}
