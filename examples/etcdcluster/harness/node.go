package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// NodeConfig configures one in-process etcd member.
type NodeConfig struct {
	// Name is the member name (the pod name).
	Name string
	// Dir is the member's data directory; a restart reuses it.
	Dir string
	// PeerURL and ClientURL are the member's URLs on 127.0.0.1; a restart
	// reuses them, as a pod keeps its DNS name.
	PeerURL, ClientURL string
	// InitialCluster is "name=peerURL,..." for a member without data.
	InitialCluster string
	// Existing joins an existing cluster (a learner added by
	// MemberAddAsLearner) instead of bootstrapping a new one.
	Existing bool
	// Token is the initial cluster token.
	Token string
	// MaxLearners is etcd's --max-learners (etcd's default is 1).
	MaxLearners int
	// TickMs and ElectionMs are the heartbeat interval and election timeout.
	TickMs, ElectionMs uint
	// NoFsync sets etcd's --unsafe-no-fsync. Data still survives every
	// restart of this process's members (the page cache is shared), which
	// is all the scenarios need.
	NoFsync bool
	// Logger receives etcd's logs (silent when nil).
	Logger *zap.Logger
}

// Node is one running embedded etcd member.
type Node struct {
	cfg NodeConfig
	e   *embed.Etcd
}

// Ports handed out by FreeURL: below the kernel's ephemeral range, so the
// local port of an outgoing connection never takes the port of a member
// that is down and restarts later on it.
var ports struct {
	sync.Mutex
	used map[int]bool
	next int
}

// FreeURL returns an http URL on 127.0.0.1 with a port that was free, not
// handed out before by this process, and below the ephemeral port range.
func FreeURL() (string, error) {
	ports.Lock()
	defer ports.Unlock()
	const first = 20000
	last := ephemeralLow() - 1
	if ports.used == nil {
		ports.used = map[int]bool{}
		// Another process (a test binary next to this one) picks its own
		// starting point.
		ports.next = first + rand.IntN(max(1, last-first))
	}
	for range last - first {
		p := ports.next
		if ports.next++; ports.next > last {
			ports.next = first
		}
		if ports.used[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports.used[p] = true
		return fmt.Sprintf("http://127.0.0.1:%d", p), nil
	}
	return "", fmt.Errorf("harness: no free port between %d and %d", first, last)
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 21000 {
				return n
			}
		}
	}
	return 32768
}

func mustURLs(s string) ([]url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	return []url.URL{*u}, nil
}

// StartNode starts an etcd member and returns once it listens; Ready
// tells when it serves. StrictReconfigCheck stays on (etcd's default).
func StartNode(cfg NodeConfig) (*Node, error) {
	ec := embed.NewConfig()
	ec.Name, ec.Dir = cfg.Name, cfg.Dir
	peer, err := mustURLs(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("harness: %s peer url: %w", cfg.Name, err)
	}
	client, err := mustURLs(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("harness: %s client url: %w", cfg.Name, err)
	}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = peer, peer
	ec.ListenClientUrls, ec.AdvertiseClientUrls = client, client
	ec.InitialCluster = cfg.InitialCluster
	ec.InitialClusterToken = cfg.Token
	ec.ClusterState = embed.ClusterStateFlagNew
	if cfg.Existing {
		ec.ClusterState = embed.ClusterStateFlagExisting
	}
	ec.StrictReconfigCheck = true
	if cfg.MaxLearners > 0 {
		ec.MaxLearners = cfg.MaxLearners
	}
	if cfg.TickMs > 0 {
		ec.TickMs = cfg.TickMs
	}
	if cfg.ElectionMs > 0 {
		ec.ElectionMs = cfg.ElectionMs
	}
	ec.UnsafeNoFsync = cfg.NoFsync
	lg := cfg.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("harness: start %s: %w", cfg.Name, err)
	}
	return &Node{cfg: cfg, e: e}, nil
}

// WaitReady waits until the member serves (it has joined Raft and
// published itself), it fails, or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.e.Server.ReadyNotify():
		return nil
	case err := <-n.e.Err():
		return fmt.Errorf("harness: %s failed: %w", n.cfg.Name, err)
	case <-n.e.Server.StopNotify():
		return fmt.Errorf("harness: %s stopped before it was ready", n.cfg.Name)
	case <-ctx.Done():
		return fmt.Errorf("harness: %s not ready: %w", n.cfg.Name, ctx.Err())
	}
}

// Stopped is closed once the member's server stopped (closed, killed, or
// removed from the cluster).
func (n *Node) Stopped() <-chan struct{} { return n.e.Server.StopNotify() }

// Close stops the member gracefully, as etcd does on SIGTERM: a leading
// member first hands leadership to the longest-connected voter.
func (n *Node) Close() { n.e.Close() }

// Kill stops the member's Raft node at once, without handing leadership
// over (a crash), then releases its listeners.
func (n *Node) Kill() {
	n.e.Server.HardStop()
	n.e.Close()
}

// ID returns the member's ID.
func (n *Node) ID() uint64 { return uint64(n.e.Server.MemberID()) }

// Leads reports whether the member leads, with its term.
func (n *Node) Leads() (bool, uint64) {
	s := n.e.Server
	select {
	case <-s.StopNotify():
		return false, 0
	default:
	}
	return s.Lead() == uint64(s.MemberID()), s.Term()
}
