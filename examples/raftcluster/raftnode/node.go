package raftnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Timing holds the Raft timeouts and snapshot settings of a node. Short
// values make an upgrade of a local cluster take seconds.
type Timing struct {
	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and
	// CommitTimeout are passed to raft.Config.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotInterval, SnapshotThreshold and TrailingLogs are passed to
	// raft.Config; small values exercise snapshot install and restore.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// ApplyTimeout bounds membership changes and applies made through Node.
	ApplyTimeout time.Duration
}

// DefaultTiming returns timeouts suited to a loaded two-core machine: fast
// enough for an upgrade to take seconds, slow enough to avoid spurious
// elections.
func DefaultTiming() Timing {
	return Timing{
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		CommitTimeout:      10 * time.Millisecond,
		SnapshotInterval:   2 * time.Second,
		SnapshotThreshold:  1024,
		TrailingLogs:       512,
		ApplyTimeout:       5 * time.Second,
	}
}

// AddressBook maps Raft server IDs to their current TCP addresses. It
// implements raft.ServerAddressProvider, so a node restarted on another port
// stays reachable even though the Raft configuration holds its old address.
// It is safe for concurrent use.
type AddressBook struct {
	mu    sync.RWMutex
	addrs map[raft.ServerID]raft.ServerAddress
}

// NewAddressBook returns an empty address book.
func NewAddressBook() *AddressBook {
	return &AddressBook{addrs: map[raft.ServerID]raft.ServerAddress{}}
}

// Set records the address of id.
func (b *AddressBook) Set(id raft.ServerID, addr raft.ServerAddress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addrs[id] = addr
}

// ServerAddr implements raft.ServerAddressProvider.
func (b *AddressBook) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a, ok := b.addrs[id]
	if !ok {
		return "", fmt.Errorf("no address for server %s", id)
	}
	return a, nil
}

// Config configures one node.
type Config struct {
	// ID is the Raft server ID.
	ID string
	// Dir is the data directory (bolt log/stable store and snapshots). A node
	// restarted on the same Dir keeps its log, term, vote and snapshots.
	Dir string
	// Version is the version label of this incarnation.
	Version string
	// Bind is the address to listen on. A previous address is retried for a
	// while, then a fresh 127.0.0.1 port is used. Empty: 127.0.0.1:0.
	Bind string
	// Book, when set, is told the node's address and resolves its peers.
	Book *AddressBook
	// Timing holds the Raft timeouts (DefaultTiming when zero).
	Timing Timing
	// Logger receives Raft's logs (silent when nil).
	Logger hclog.Logger
	// NoSync skips fsync in the bolt store (data still survives a process
	// restart, not a machine crash).
	NoSync bool
}

// Node is one running hashicorp/raft server with its key/value FSM, bolt
// stores, file snapshot store and TCP transport.
type Node struct {
	// Raft is the running server.
	Raft *raft.Raft
	// FSM is the node's state machine.
	FSM *FSM

	cfg       Config
	addr      raft.ServerAddress
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	started   time.Time

	once    sync.Once
	stopErr error
	stopped chan struct{}
}

// Start opens (or creates) the node's data directory and starts Raft. A new
// data directory holds no configuration: call Bootstrap on exactly one set of
// initial servers, or add the node to a running cluster.
func Start(cfg Config) (*Node, error) {
	if cfg.ID == "" || cfg.Dir == "" {
		return nil, errors.New("raftnode: a node needs an id and a data directory")
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = DefaultTiming()
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}
	t := cfg.Timing
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	rc.CommitTimeout = t.CommitTimeout
	rc.SnapshotInterval = t.SnapshotInterval
	rc.SnapshotThreshold = t.SnapshotThreshold
	rc.TrailingLogs = t.TrailingLogs
	rc.Logger = cfg.Logger.Named(cfg.ID)
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raftnode: %w", err)
	}

	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db"), NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("raftnode: open bolt store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, rc.Logger)
	if err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("raftnode: open snapshot store: %w", err)
	}
	trans, err := listen(cfg, rc.Logger)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	n := &Node{FSM: NewFSM(), cfg: cfg, transport: trans, store: store, stopped: make(chan struct{})}
	n.addr = trans.LocalAddr()
	if cfg.Book != nil {
		cfg.Book.Set(rc.LocalID, n.addr)
	}
	r, err := raft.NewRaft(rc, n.FSM, store, store, snaps, noPipeline{trans})
	if err != nil {
		_ = trans.Close()
		_ = store.Close()
		return nil, fmt.Errorf("raftnode: start raft: %w", err)
	}
	n.Raft = r
	n.started = time.Now()
	return n, nil
}

// noPipeline is the TCP transport without pipelined replication. With
// hashicorp/raft v1.7.3 a leader's replication goroutine can deadlock when
// a pipeline's decoder stops (pipelineDecode returns on a newer term or a
// failed append) while appends keep coming: decodeResponses blocks handing
// over a response nobody reads, the in-flight queue fills, AppendEntries
// blocks on it, and the node's Shutdown then waits for that goroutine
// forever. It hung a blue-green run under continuous writes on a loaded
// machine, when a former leader was removed and stopped. Without a
// pipeline, raft replicates with one AppendEntries at a time per follower.
type noPipeline struct{ *raft.NetworkTransport }

// AppendEntriesPipeline reports pipelining unsupported, so raft falls back
// to synchronous replication.
func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// listen binds the TCP transport, preferring cfg.Bind.
func listen(cfg Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	mk := func(bind string) (*raft.NetworkTransport, error) {
		tc := &raft.NetworkTransportConfig{MaxPool: 3, Timeout: 2 * time.Second, Logger: logger}
		if cfg.Book != nil {
			tc.ServerAddressProvider = cfg.Book
		}
		return raft.NewTCPTransportWithConfig(bind, nil, tc)
	}
	if cfg.Bind != "" && cfg.Bind != "127.0.0.1:0" {
		// The previous port is normally free again at once (the listener
		// used SO_REUSEADDR); retry briefly in case it is not.
		for i := 0; i < 10; i++ {
			if t, err := mk(cfg.Bind); err == nil {
				return t, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t, err := mk("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("raftnode: listen: %w", err)
	}
	return t, nil
}

// ID returns the node's Raft server ID.
func (n *Node) ID() raft.ServerID { return raft.ServerID(n.cfg.ID) }

// Addr returns the node's Raft address.
func (n *Node) Addr() raft.ServerAddress { return n.addr }

// Version returns the version label of this incarnation.
func (n *Node) Version() string { return n.cfg.Version }

// Dir returns the node's data directory.
func (n *Node) Dir() string { return n.cfg.Dir }

// StartedAt returns when this incarnation started.
func (n *Node) StartedAt() time.Time { return n.started }

// Server returns the node as a voter entry for a Raft configuration.
func (n *Node) Server() raft.Server {
	return raft.Server{Suffrage: raft.Voter, ID: n.ID(), Address: n.addr}
}

// Bootstrap makes servers the initial configuration. Call it on one node of
// a new cluster only.
func (n *Node) Bootstrap(servers []raft.Server) error {
	if err := n.Raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return fmt.Errorf("raftnode: bootstrap: %w", err)
	}
	return nil
}

// IsLeader reports whether the node currently leads.
func (n *Node) IsLeader() bool { return n.Raft.State() == raft.Leader }

// Running reports whether Shutdown has not been called.
func (n *Node) Running() bool {
	select {
	case <-n.stopped:
		return false
	default:
		return true
	}
}

// Shutdown stops Raft and closes the transport and the stores. It is
// idempotent and safe for concurrent use.
func (n *Node) Shutdown() error {
	n.once.Do(func() {
		close(n.stopped)
		var errs []error
		if err := n.Raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft: %w", err))
		}
		if err := n.transport.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transport: %w", err))
		}
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			n.stopErr = fmt.Errorf("raftnode: shutdown %s: %w", n.cfg.ID, err)
		}
	})
	return n.stopErr
}
