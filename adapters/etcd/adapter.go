package etcd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/raftshift/raftshift/upgrade"
)

// Client is the part of the etcd v3 client the adapter calls.
// *clientv3.Client implements it.
type Client interface {
	// MemberList lists the members (linearizable unless
	// clientv3.WithSerializable is passed).
	MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	// MemberAddAsLearner adds a learner with the given peer URLs.
	MemberAddAsLearner(ctx context.Context, peerAddrs []string) (*clientv3.MemberAddResponse, error)
	// MemberPromote promotes a learner to a voter.
	MemberPromote(ctx context.Context, id uint64) (*clientv3.MemberPromoteResponse, error)
	// MemberRemove removes a member.
	MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error)
	// Status asks the member at one endpoint for its status.
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
	// MoveLeader asks the leader to hand leadership to a voter; only the
	// leader accepts it, so the adapter sends it through a client of the
	// leader's endpoint alone (Dialer).
	MoveLeader(ctx context.Context, transfereeID uint64) (*clientv3.MoveLeaderResponse, error)
	// Snapshot streams a snapshot of the backend.
	Snapshot(ctx context.Context) (io.ReadCloser, error)
}

var _ Client = (*clientv3.Client)(nil)

// Dialer returns a client that sends every call to one endpoint, and a
// func that releases it. The adapter uses it for MoveLeader, which must
// reach the leader itself.
type Dialer func(ctx context.Context, endpoint string) (Client, func(), error)

// DialConfig returns a Dialer that builds a *clientv3.Client from cfg with
// Endpoints set to the one endpoint (TLS, credentials and timeouts come
// from cfg) and closes it on release.
func DialConfig(cfg clientv3.Config) Dialer {
	return func(ctx context.Context, endpoint string) (Client, func(), error) {
		c := cfg
		c.Endpoints = []string{endpoint}
		c.Context = ctx
		cli, err := clientv3.New(c)
		if err != nil {
			return nil, nil, err
		}
		return cli, func() { _ = cli.Close() }, nil
	}
}

// SnapshotSink opens the destination of a TakeSnapshot. The adapter writes
// the snapshot into it and closes it; a Close error fails the action.
type SnapshotSink func(ctx context.Context, a upgrade.TakeSnapshot) (io.WriteCloser, error)

// MatchBy is how the adapter pairs etcd members with the observation's
// members (pods).
type MatchBy string

// Matching modes.
const (
	// MatchName (the default) pairs an etcd member with the observation
	// member of the same name: the pod name is the etcd member name
	// (--name), as in the etcd Helm charts and operators. An added member
	// has no name until it has started; with Adapter.PeerURL set it is
	// paired by peer URL meanwhile.
	MatchName MatchBy = "Name"
	// MatchPeerURL pairs an etcd member with the observation member whose
	// Adapter.PeerURL is one of its peer URLs (required).
	MatchPeerURL MatchBy = "PeerURL"
)

// Defaults of the adapter's bounds.
const (
	// DefaultReadTimeout bounds each call Read sends.
	DefaultReadTimeout = 2 * time.Second
	// DefaultTransferTimeout bounds a MoveLeader call (etcd's leader waits
	// for the transfer to finish before it answers).
	DefaultTransferTimeout = 5 * time.Second
	// DefaultPromoteAttempts is how many times Promote asks while etcd
	// answers that the learner is not in sync yet.
	DefaultPromoteAttempts = 10
	// DefaultPromoteInterval is the pause between those attempts.
	DefaultPromoteInterval = 300 * time.Millisecond
)

// Adapter reads the Raft state of an etcd cluster and executes Raft
// actions against it. The zero value is not usable: set Client. An
// Adapter holds no state between calls and is safe for concurrent use
// when its clients and funcs are.
type Adapter struct {
	// Client reaches the cluster, usually a *clientv3.Client over the
	// members' client URLs. Read and the membership actions go through it.
	// Keep its endpoints current when members come and go (blue-green):
	// clientv3.Config.AutoSyncInterval or Client.SetEndpoints.
	Client Client
	// Dial builds a client for one endpoint (DialConfig). Required for
	// TransferLeadership and StepDown.
	Dial Dialer
	// Match is how etcd members are paired with pods ("": MatchName).
	Match MatchBy
	// PeerURL returns a pod's etcd peer URL ("http://etcd-0.etcd:2380").
	// Required for MatchPeerURL and for JoinNonvoter (unless the action's
	// Address is a URL); with MatchName it pairs members that have not
	// started yet.
	PeerURL func(m upgrade.Member) string
	// Endpoint returns the client URL to ask an etcd member's status on
	// (nil: its first advertised client URL).
	Endpoint func(m Member) string
	// Snapshots opens snapshot destinations. Required for TakeSnapshot.
	Snapshots SnapshotSink
	// ReadTimeout bounds each call Read sends (0: DefaultReadTimeout).
	ReadTimeout time.Duration
	// TransferTimeout bounds MoveLeader (0: DefaultTransferTimeout).
	TransferTimeout time.Duration
	// PromoteAttempts and PromoteInterval bound Promote's retries while
	// etcd answers that the learner is not in sync (0: the defaults).
	PromoteAttempts int
	PromoteInterval time.Duration
	// HandoffOnShutdown is reported as Capabilities.HandoffOnShutdown. etcd
	// hands leadership over on a graceful stop (SIGTERM: EtcdServer.Stop
	// moves it to the longest-connected voter before stopping), but only
	// within its request timeout and not to a chosen member; leave it false
	// to have strategies move leadership with MoveLeader first.
	HandoffOnShutdown bool
}

// Capabilities returns what etcd supports: targeted leadership transfer
// (MoveLeader), learners as non-voters, snapshots; no automatic promotion
// (etcd never promotes a learner by itself) and no membership delay
// (membership changes apply when the call returns). A nil adapter has the
// default settings.
func (a *Adapter) Capabilities() upgrade.Capabilities {
	return upgrade.Capabilities{
		TargetedTransfer:  true,
		NonVoters:         true,
		Snapshots:         true,
		HandoffOnShutdown: a != nil && a.HandoffOnShutdown,
	}
}

// Observe reads the Raft state (Read) and merges it into a copy of obs
// (Merge). On error it still returns the merged copy — every member
// Unknown and the view unknown when no member answered the list — with
// the error, so a host may still call a strategy, which then refuses every
// disruptive step.
func (a *Adapter) Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	st, err := a.Read(ctx)
	return a.Merge(obs, st), err
}

func (a *Adapter) readTimeout() time.Duration {
	if a.ReadTimeout > 0 {
		return a.ReadTimeout
	}
	return DefaultReadTimeout
}

func (a *Adapter) transferTimeout() time.Duration {
	if a.TransferTimeout > 0 {
		return a.TransferTimeout
	}
	return DefaultTransferTimeout
}

func (a *Adapter) matchBy() MatchBy {
	if a == nil || a.Match == "" {
		return MatchName
	}
	return a.Match
}

// endpoint is the client URL the adapter asks member m on.
func (a *Adapter) endpoint(m Member) string {
	if a != nil && a.Endpoint != nil {
		return a.Endpoint(m)
	}
	if len(m.ClientURLs) > 0 {
		return m.ClientURLs[0]
	}
	return ""
}

// peerURL is the peer URL of pod p ("" unknown).
func (a *Adapter) peerURL(p upgrade.Member) string {
	if a == nil || a.PeerURL == nil {
		return ""
	}
	return normURL(a.PeerURL(p))
}

func normURL(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// hasPeerURL reports whether m lists url.
func hasPeerURL(m Member, url string) bool {
	if url == "" {
		return false
	}
	for _, p := range m.PeerURLs {
		if normURL(p) == url {
			return true
		}
	}
	return false
}

// matches reports whether etcd member e is pod p under the adapter's
// matching mode.
func (a *Adapter) matches(e Member, p upgrade.Member) bool {
	if a.matchBy() == MatchPeerURL {
		return hasPeerURL(e, a.peerURL(p))
	}
	if e.Name != "" {
		return e.Name == p.Name
	}
	return hasPeerURL(e, a.peerURL(p))
}

func (a *Adapter) validate() error {
	switch {
	case a == nil || a.Client == nil:
		return fmt.Errorf("%w: no client", ErrConfig)
	case a.matchBy() != MatchName && a.matchBy() != MatchPeerURL:
		return fmt.Errorf("%w: unknown match mode %q", ErrConfig, a.Match)
	case a.matchBy() == MatchPeerURL && a.PeerURL == nil:
		return fmt.Errorf("%w: MatchPeerURL needs PeerURL", ErrConfig)
	}
	return nil
}
