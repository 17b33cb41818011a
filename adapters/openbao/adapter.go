package openbao

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/upgrade"
)

// OpenBao API paths used by the adapter (without the /v1/ prefix).
const (
	PathHealth        = "sys/health"
	PathLeader        = "sys/leader"
	PathStepDown      = "sys/step-down"
	PathConfiguration = "sys/storage/raft/configuration"
	PathAutopilot     = "sys/storage/raft/autopilot/state"
	PathJoin          = "sys/storage/raft/join"
	PathPromote       = "sys/storage/raft/promote"
	PathDemote        = "sys/storage/raft/demote"
	PathRemovePeer    = "sys/storage/raft/remove-peer"
	PathSnapshot      = "sys/storage/raft/snapshot"
)

// DefaultReadTimeout bounds each call Read sends (see Adapter.ReadTimeout).
const DefaultReadTimeout = 5 * time.Second

// DefaultReconcileInterval is autopilot's default reconcile interval
// (OpenBao's autopilot_reconcile_interval): how often autopilot applies
// promotions and demotions.
const DefaultReconcileInterval = 10 * time.Second

// JoinMode is how new (green) servers enter the Raft configuration.
type JoinMode string

// Join modes.
const (
	// JoinSelf (the default and the recommended mode): the servers are
	// configured with retry_join and retry_join_as_non_voter = true and join
	// by themselves as permanent non-voters, which autopilot never promotes
	// on its own. JoinNonvoter only verifies that the member is in the
	// configuration as a non-voter (ErrNotJoined otherwise) and sends
	// nothing.
	JoinSelf JoinMode = "Self"
	// JoinAPI: JoinNonvoter posts sys/storage/raft/join with non_voter=true
	// on the joining member. With a Shamir seal the join completes at unseal
	// and OpenBao 2.6 drops the non_voter flag on that path, so autopilot
	// promotes the server once it is stable (12–14 s in practice), before
	// the strategy decides anything: Capabilities reports AutoPromotion.
	JoinAPI JoinMode = "API"
)

// ClientFactory returns a client that talks to one member directly (not
// through a load-balanced service). It is called for every call that must
// reach a specific member; hosts may cache clients inside it.
type ClientFactory func(m upgrade.Member) (*api.Client, error)

// SnapshotSink opens the destination of a TakeSnapshot. The adapter writes
// the snapshot into it and closes it; a Close error fails the action.
type SnapshotSink func(ctx context.Context, a upgrade.TakeSnapshot) (io.WriteCloser, error)

// Adapter reads the Raft state of an OpenBao cluster and executes Raft
// actions against it. The zero value is not usable: set Active or Clients.
// An Adapter holds no state between calls and is safe for concurrent use
// when its clients and funcs are.
type Adapter struct {
	// Active is a client for the active node, usually the cluster's active
	// service (OpenBao standbys forward requests to the active node). Read
	// asks it first; promote, demote, remove-peer and snapshot requests are
	// sent through it. Required for those actions.
	Active *api.Client
	// Clients returns a client for one member. Required for StepDown and
	// JoinNonvoter with JoinAPI. When set, Read asks each member for its
	// sys/health and, when Active does not answer, reads sys/leader, the
	// configuration and autopilot through the members that serve, in
	// member order.
	Clients ClientFactory
	// NodeID maps members to Raft node IDs (nil: the member name).
	NodeID NodeIDFunc
	// JoinMode is how green servers join ("": JoinSelf).
	JoinMode JoinMode
	// ReconcileInterval is the cluster's autopilot_reconcile_interval
	// (0: DefaultReconcileInterval), reported as
	// Capabilities.MembershipDelay.
	ReconcileInterval time.Duration
	// LeaderAPIAddr, when set, is the leader_api_addr sent with API joins;
	// otherwise the active node's leader_address from sys/leader is used.
	LeaderAPIAddr string
	// Join carries the TLS settings of API joins (LeaderCACert,
	// LeaderClientCert, LeaderClientKey). Its LeaderAPIAddr, NonVoter and
	// Retry fields are overwritten: joins are always non-voting and not
	// retried in the background.
	Join api.RaftJoinRequest
	// Snapshots opens snapshot destinations. Required for TakeSnapshot.
	Snapshots SnapshotSink
	// ReadTimeout bounds each call Read sends, to the active node or to a
	// member (0: DefaultReadTimeout), so a Read of n members sends at most
	// n health calls and 3(n+1) cluster reads, each bounded.
	ReadTimeout time.Duration
}

// mode returns the effective join mode.
func (a *Adapter) mode() JoinMode {
	if a == nil || a.JoinMode == "" {
		return JoinSelf
	}
	return a.JoinMode
}

// Capabilities returns what OpenBao supports under the adapter's settings:
// non-voters and snapshots, no targeted leadership transfer (sys/step-down
// only), AutoPromotion for JoinAPI (and any unknown join mode), and
// MembershipDelay equal to the autopilot reconcile interval. A nil adapter
// has the default settings.
func (a *Adapter) Capabilities() upgrade.Capabilities {
	delay := DefaultReconcileInterval
	if a != nil && a.ReconcileInterval > 0 {
		delay = a.ReconcileInterval
	}
	return upgrade.Capabilities{
		TargetedTransfer: false,
		// On SIGTERM OpenBao hands raft leadership to its most up-to-date
		// follower itself (~0.05 s without a leader, against ~0.3 s for
		// sys/step-down): deleting the leader's pod last is the transfer.
		HandoffOnShutdown: true,
		NonVoters:         true,
		Snapshots:         true,
		AutoPromotion:     a.mode() != JoinSelf,
		MembershipDelay:   delay,
	}
}

// Capabilities returns the capabilities of an adapter with default
// settings (JoinSelf, a 10 s reconcile interval): see Adapter.Capabilities.
func Capabilities() upgrade.Capabilities { return (*Adapter)(nil).Capabilities() }

// nodeID returns the adapter's NodeID (nil for a nil adapter).
func (a *Adapter) nodeID() NodeIDFunc {
	if a == nil {
		return nil
	}
	return a.NodeID
}

// Merge is the package-level Merge with the adapter's NodeID and
// Capabilities.
func (a *Adapter) Merge(obs upgrade.Observation, st *State) upgrade.Observation {
	return merge(obs, st, a.nodeID(), a.Capabilities())
}

// Observe reads the Raft state (Read, with obs.Members) and merges it into
// a copy of obs (Adapter.Merge). On error it still returns the merged copy
// of whatever could be read — the Raft view unknown when no node answered
// the configuration, members Unknown where the read was partial — together
// with the error, so a host may still call a strategy, which then refuses
// every disruptive step.
func (a *Adapter) Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	st, err := a.Read(ctx, obs.Members)
	return a.Merge(obs, st), err
}

func (a *Adapter) active() (*api.Client, error) {
	if a == nil || a.Active == nil {
		return nil, fmt.Errorf("%w: no active-node client", ErrConfig)
	}
	return a.Active, nil
}

func (a *Adapter) readTimeout() time.Duration {
	if a.ReadTimeout > 0 {
		return a.ReadTimeout
	}
	return DefaultReadTimeout
}
