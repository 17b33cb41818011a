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

// DefaultHealthTimeout bounds each member's sys/health call in Read.
const DefaultHealthTimeout = 5 * time.Second

// ClientFactory returns a client that talks to one member directly (not
// through a load-balanced service). It is called for every call that must
// reach a specific member; hosts may cache clients inside it.
type ClientFactory func(m upgrade.Member) (*api.Client, error)

// SnapshotSink opens the destination of a TakeSnapshot. The adapter writes
// the snapshot into it and closes it; a Close error fails the action.
type SnapshotSink func(ctx context.Context, a upgrade.TakeSnapshot) (io.WriteCloser, error)

// Adapter reads the Raft state of an OpenBao cluster and executes Raft
// actions against it. The zero value is not usable: set Active. An Adapter
// holds no state between calls and is safe for concurrent use when its
// clients and funcs are.
type Adapter struct {
	// Active is a client for the active node, usually the cluster's active
	// service (OpenBao standbys forward requests to the active node). It
	// reads sys/leader, the Raft configuration and autopilot state, and
	// sends promote, demote, remove-peer and snapshot requests. Required.
	Active *api.Client
	// Clients returns a client for one member. Required for StepDown and
	// JoinNonvoter; when set, Read also asks each member for its sys/health.
	Clients ClientFactory
	// NodeID maps members to Raft node IDs (nil: the member name).
	NodeID NodeIDFunc
	// LeaderAPIAddr, when set, is the leader_api_addr sent with joins;
	// otherwise the active node's leader_address from sys/leader is used.
	LeaderAPIAddr string
	// Join carries the TLS settings of joins (LeaderCACert, LeaderClientCert,
	// LeaderClientKey). Its LeaderAPIAddr, NonVoter and Retry fields are
	// overwritten: joins are always non-voting and not retried in the
	// background.
	Join api.RaftJoinRequest
	// Snapshots opens snapshot destinations. Required for TakeSnapshot.
	Snapshots SnapshotSink
	// HealthTimeout bounds each member's sys/health call in Read
	// (0: DefaultHealthTimeout).
	HealthTimeout time.Duration
}

// Capabilities returns the capabilities of OpenBao (see the package-level
// Capabilities).
func (a *Adapter) Capabilities() upgrade.Capabilities { return Capabilities() }

func (a *Adapter) active() (*api.Client, error) {
	if a == nil || a.Active == nil {
		return nil, fmt.Errorf("%w: no active-node client", ErrConfig)
	}
	return a.Active, nil
}

// Read fetches the Raft state from OpenBao: sys/leader, the Raft
// configuration and autopilot state from the active node, and — when
// Clients is set — each member's own sys/health. A failing member health
// call is recorded in State.Health (a down pod is normal during upgrades);
// a failing active-node call fails Read with a *CallError. Autopilot
// answering 404 or nothing leaves State.Autopilot nil.
func (a *Adapter) Read(ctx context.Context, members []upgrade.Member) (*State, error) {
	c, err := a.active()
	if err != nil {
		return nil, fmt.Errorf("openbao: read: %w", err)
	}
	st := &State{}

	ldr, err := c.Sys().LeaderWithContext(ctx)
	if err != nil {
		return nil, callErr("read leader", "", ActiveNode, "GET /v1/"+PathLeader, err, false)
	}
	st.Leader = &LeaderInfo{
		HAEnabled:            ldr.HAEnabled,
		IsSelf:               ldr.IsSelf,
		LeaderAddress:        ldr.LeaderAddress,
		LeaderClusterAddress: ldr.LeaderClusterAddress,
		RaftCommittedIndex:   ldr.RaftCommittedIndex,
		RaftAppliedIndex:     ldr.RaftAppliedIndex,
	}

	const cfgCall = "GET /v1/" + PathConfiguration
	secret, err := c.Logical().ReadWithContext(ctx, PathConfiguration)
	if err != nil {
		return nil, callErr("read raft configuration", "", ActiveNode, cfgCall, err, false)
	}
	if secret == nil || secret.Data == nil {
		return nil, callErr("read raft configuration", "", ActiveNode, cfgCall,
			malformed("empty response (is raft storage in use?)"), false)
	}
	cfg, err := configurationFromData(secret.Data)
	if err != nil {
		return nil, callErr("read raft configuration", "", ActiveNode, cfgCall, err, false)
	}
	st.Configuration = &cfg

	// Logical().Read returns nil, nil on 404 and on an empty answer (OpenBao
	// answers 204 while autopilot has no state yet): autopilot unavailable.
	const apCall = "GET /v1/" + PathAutopilot
	secret, err = c.Logical().ReadWithContext(ctx, PathAutopilot)
	if err != nil {
		return nil, callErr("read autopilot state", "", ActiveNode, apCall, err, false)
	}
	if secret != nil && secret.Data != nil {
		ap, err := autopilotFromData(secret.Data)
		if err != nil {
			return nil, callErr("read autopilot state", "", ActiveNode, apCall, err, false)
		}
		st.Autopilot = &ap
	}

	if a.Clients != nil && len(members) > 0 {
		st.Health = make(map[string]MemberHealth, len(members))
		for _, m := range members {
			st.Health[m.Name] = a.memberHealth(ctx, m)
		}
	}
	return st, nil
}

func (a *Adapter) memberHealth(ctx context.Context, m upgrade.Member) MemberHealth {
	c, err := a.Clients(m)
	if err != nil {
		return MemberHealth{Error: fmt.Sprintf("openbao: client for %s: %v", m.Name, err)}
	}
	if c == nil {
		return MemberHealth{Error: fmt.Sprintf("openbao: no client for %s", m.Name)}
	}
	timeout := a.HealthTimeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := c.Sys().HealthWithContext(hctx)
	if err != nil {
		return MemberHealth{Error: callErr("read health", m.Name, "", "GET /v1/"+PathHealth, err, false).Error()}
	}
	return MemberHealth{
		Reachable:          true,
		Initialized:        h.Initialized,
		Sealed:             h.Sealed,
		Standby:            h.Standby,
		PerformanceStandby: h.PerformanceStandby,
		Version:            h.Version,
	}
}

// Observe reads the Raft state (Read, with obs.Members) and merges it into
// a copy of obs (Merge). On error it returns the copy with the Raft view
// marked unknown together with the error, so a host may still call a
// strategy, which then refuses every disruptive step.
func (a *Adapter) Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	var nodeID NodeIDFunc
	if a != nil {
		nodeID = a.NodeID
	}
	st, err := a.Read(ctx, obs.Members)
	if err != nil {
		return Merge(obs, nil, nodeID), err
	}
	return Merge(obs, st, nodeID), nil
}
