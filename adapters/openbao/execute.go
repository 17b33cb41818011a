package openbao

import (
	"context"
	"fmt"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/upgrade"
)

// Handles reports whether Execute carries out actions of this kind (the
// Raft actions). TransferLeadership is handled only to return
// ErrUnsupported, so it counts as handled: routing it to another adapter
// would not make it possible.
func Handles(kind upgrade.ActionKind) bool {
	switch kind {
	case upgrade.KindStepDown, upgrade.KindTransferLeadership, upgrade.KindJoinNonvoter,
		upgrade.KindPromote, upgrade.KindDemote, upgrade.KindRemovePeer, upgrade.KindTakeSnapshot:
		return true
	}
	return false
}

// Execute carries out one Raft action. Membership actions are idempotent:
// a server already in the requested state is a success, so a retry after a
// lost reply does not fail.
//
//   - StepDown: GET sys/leader on the member's own client (it must answer
//     is_self, else ErrNotLeader and nothing is done), then PUT sys/step-down
//     on it. OpenBao then transfers leadership to its most up-to-date
//     follower; the cluster is without a leader for about 0.3 s.
//   - TransferLeadership: ErrUnsupported (OpenBao has no targeted transfer).
//   - JoinNonvoter: reads the Raft configuration first. A member already
//     in it as a non-voter is done. With JoinSelf nothing is ever sent: a
//     member not in it yet fails with ErrNotJoined, a voter fails (it did
//     not join as a permanent non-voter). With JoinAPI a voter is done too
//     (autopilot promoted it), and a member not in it is joined: POST
//     sys/storage/raft/join with non_voter=true on its own client,
//     leader_api_addr from LeaderAPIAddr or sys/leader. The action's
//     Address is not sent: OpenBao takes the joining server's Raft address
//     from its own cluster_addr.
//   - Promote, Demote: read the configuration (a server not in it fails
//     with ErrNotInConfiguration, nothing sent), then PUT
//     sys/storage/raft/promote or /demote with server_id on the active-node
//     client. These only mark the server: autopilot applies the change at
//     its next reconcile (Capabilities.MembershipDelay). OpenBao answers a
//     re-issued request with HTTP 500 "server is not a non-voter"
//     (promote) or "server is already a non-voter" (demote); both are
//     success. Servers that do not know the path (404/405) yield
//     ErrUnsupported.
//   - RemovePeer: read the configuration; a server not in it is done.
//     Otherwise PUT sys/storage/raft/remove-peer on the active-node client.
//   - TakeSnapshot: GET sys/storage/raft/snapshot on the active-node client
//     into the sink from Snapshots.
//
// The configuration is read as Read does, from Active first, then through
// the clients of obs's members whose pods exist and run, in member order.
// Any other action returns an error wrapping ErrNotRaftAction. obs resolves
// member names to upgrade.Member for ClientFactory and NodeID; it may be nil
// (members are then built from the action's fields). Call failures are
// one-line *CallError values naming the member, the endpoint and the HTTP
// status.
func (a *Adapter) Execute(ctx context.Context, obs *upgrade.Observation, act upgrade.Action) error {
	if a == nil {
		return fmt.Errorf("openbao: %w: nil adapter", ErrConfig)
	}
	switch x := act.(type) {
	case upgrade.StepDown:
		return a.stepDown(ctx, a.member(obs, x.Member, x.ID, ""))
	case upgrade.TransferLeadership:
		return fmt.Errorf("openbao: transfer leadership from %s to %s: %w (use StepDown)", x.From, x.To, ErrUnsupported)
	case upgrade.JoinNonvoter:
		return a.joinNonvoter(ctx, obs, a.member(obs, x.Member, x.ID, x.Address))
	case upgrade.Promote:
		return a.membership(ctx, obs, promote, a.member(obs, x.Member, x.ID, ""))
	case upgrade.Demote:
		return a.membership(ctx, obs, demote, a.member(obs, x.Member, x.ID, ""))
	case upgrade.RemovePeer:
		return a.membership(ctx, obs, removePeer, a.member(obs, x.Member, x.ID, ""))
	case upgrade.TakeSnapshot:
		return a.snapshot(ctx, x)
	case nil:
		return fmt.Errorf("openbao: nil action: %w", ErrNotRaftAction)
	default:
		return fmt.Errorf("openbao: %s: %w", act.Kind(), ErrNotRaftAction)
	}
}

// target is the member an action concerns, with its Raft node ID.
type target struct {
	member upgrade.Member
	id     string
}

// member resolves an action's member: from obs when present, else built
// from the action's fields. The node ID is the action's when set, else
// NodeID of the member.
func (a *Adapter) member(obs *upgrade.Observation, name, id, address string) target {
	var m upgrade.Member
	found := false
	if obs != nil {
		m, found = obs.Member(name)
	}
	if !found {
		m = upgrade.Member{Name: name, Raft: upgrade.MemberRaft{ID: id, Address: address}}
	}
	if id == "" {
		id = m.Raft.ID
	}
	if id == "" {
		id = a.NodeID.id(m)
	}
	return target{member: m, id: id}
}

func (a *Adapter) client(op, call string, t target) (*api.Client, error) {
	if a.Clients == nil {
		return nil, &CallError{Op: op, Member: t.member.Name, Call: call,
			Err: fmt.Errorf("%w: no ClientFactory for per-member calls", ErrConfig)}
	}
	c, err := a.Clients(t.member)
	if err != nil {
		return nil, &CallError{Op: op, Member: t.member.Name, Call: call, Err: fmt.Errorf("client: %w", err)}
	}
	if c == nil {
		return nil, &CallError{Op: op, Member: t.member.Name, Call: call, Err: fmt.Errorf("%w: ClientFactory returned nil", ErrConfig)}
	}
	return c, nil
}

func (a *Adapter) stepDown(ctx context.Context, t target) error {
	const op = "step-down"
	const call = "PUT /v1/" + PathStepDown
	c, err := a.client(op, call, t)
	if err != nil {
		return err
	}
	ldr, err := c.Sys().LeaderWithContext(ctx)
	if err != nil {
		return callErr(op, t.member.Name, "", callLeader, c, err, false)
	}
	if !ldr.IsSelf {
		return &CallError{Op: op, Member: t.member.Name, Call: callLeader, Address: c.Address(),
			Err: fmt.Errorf("%w (active node is %q)", ErrNotLeader, ldr.LeaderAddress)}
	}
	if err := c.Sys().StepDownWithContext(ctx); err != nil {
		return callErr(op, t.member.Name, "", call, c, err, false)
	}
	return nil
}

// lookup reads the Raft configuration for an action on t (see Execute) and
// returns t's server (nil when not in it), the source that answered and the
// reader (for further reads through the same sources).
func (a *Adapter) lookup(ctx context.Context, obs *upgrade.Observation, op string, t target) (*Server, *source, *reader, error) {
	var members []upgrade.Member
	if obs != nil {
		members = obs.Members
	}
	r := &reader{a: a, srcs: a.sources(members, func(m upgrade.Member) bool {
		return m.Pod.Exists && !m.Pod.Terminating && (m.Pod.Ready || m.Pod.Running)
	})}
	if len(r.srcs) == 0 {
		return nil, nil, r, &CallError{Op: op, Member: t.member.Name, Call: callConfiguration,
			Err: fmt.Errorf("%w: no client to read the raft configuration", ErrConfig)}
	}
	cfg, at, first, _ := r.configuration(ctx)
	if cfg == nil {
		if first == nil {
			return nil, nil, r, &CallError{Op: op, Member: t.member.Name, Call: callConfiguration,
				Err: fmt.Errorf("%w: no node left to ask for the raft configuration", ErrViewUnknown)}
		}
		ce := *first
		ce.Op, ce.Member = op, t.member.Name
		ce.Err = fmt.Errorf("%w: %w", ErrViewUnknown, first.Err)
		return nil, nil, r, &ce
	}
	src := r.srcs[at]
	for i := range cfg.Servers {
		if cfg.Servers[i].NodeID == t.id {
			return &cfg.Servers[i], src, r, nil
		}
	}
	return nil, src, r, nil
}

func (a *Adapter) joinNonvoter(ctx context.Context, obs *upgrade.Observation, t target) error {
	const op = "join as non-voter"
	const call = "POST /v1/" + PathJoin
	mode := a.mode()
	if mode != JoinSelf && mode != JoinAPI {
		return &CallError{Op: op, Member: t.member.Name, Call: call, Err: fmt.Errorf("%w: unknown join mode %q", ErrConfig, mode)}
	}
	if t.id == "" {
		return &CallError{Op: op, Member: t.member.Name, Call: callConfiguration, Err: fmt.Errorf("%w: no raft node id", ErrConfig)}
	}
	srv, src, r, err := a.lookup(ctx, obs, op, t)
	if err != nil {
		return err
	}
	found := func(e error) error {
		return &CallError{Op: op, Member: t.member.Name, Via: src.name, Call: callConfiguration, Address: src.c.Address(), Err: e}
	}
	switch {
	case srv != nil && !srv.Voter:
		return nil // already joined as a non-voter
	case srv != nil && mode == JoinAPI:
		return nil // joined and promoted by autopilot (AutoPromotion)
	case srv != nil:
		return found(fmt.Errorf("server %s is a voter, not a non-voter: it did not join as a permanent non-voter (set retry_join_as_non_voter = true on it)", t.id))
	case mode == JoinSelf:
		return found(fmt.Errorf("%w: server %s is not in the raft configuration; it joins by itself through retry_join", ErrNotJoined, t.id))
	}

	c, err := a.client(op, call, t)
	if err != nil {
		return err
	}
	leaderAddr := a.LeaderAPIAddr
	if leaderAddr == "" {
		li := r.leader(ctx)
		if li == nil || li.LeaderAddress == "" {
			via := ActiveNode
			if li != nil {
				via = li.From
			}
			return &CallError{Op: op, Member: t.member.Name, Via: via, Call: callLeader,
				Err: fmt.Errorf("%w: no node reports a leader_address", ErrViewUnknown)}
		}
		leaderAddr = li.LeaderAddress
	}
	req := a.Join
	req.LeaderAPIAddr = leaderAddr
	req.NonVoter = true
	req.Retry = false
	resp, err := c.Sys().RaftJoinWithContext(ctx, &req)
	if err != nil {
		return callErr(op, t.member.Name, "", call, c, err, false)
	}
	if resp == nil || !resp.Joined {
		return &CallError{Op: op, Member: t.member.Name, Call: call, Address: c.Address(),
			Err: fmt.Errorf("server answered joined=false (leader_api_addr %s)", leaderAddr)}
	}
	return nil
}

// change is a membership request on the active node.
type change struct {
	op, path string
	// optional: 404/405 mean the server does not know the path.
	optional bool
	// done is the server's answer to a request already applied ("" none).
	done string
	// absentDone: a server not in the configuration is in the requested
	// state.
	absentDone bool
}

var (
	promote    = change{op: "promote", path: PathPromote, optional: true, done: "server is not a non-voter"}
	demote     = change{op: "demote", path: PathDemote, optional: true, done: "server is already a non-voter"}
	removePeer = change{op: "remove-peer", path: PathRemovePeer, absentDone: true}
)

func (a *Adapter) membership(ctx context.Context, obs *upgrade.Observation, ch change, t target) error {
	call := "PUT /v1/" + ch.path
	if t.id == "" {
		return &CallError{Op: ch.op, Member: t.member.Name, Via: ActiveNode, Call: call,
			Err: fmt.Errorf("%w: no raft node id", ErrConfig)}
	}
	c, err := a.active()
	if err != nil {
		return &CallError{Op: ch.op, Member: t.member.Name, Via: ActiveNode, Call: call, Err: err}
	}
	srv, src, _, err := a.lookup(ctx, obs, ch.op, t)
	if err != nil {
		return err
	}
	if srv == nil {
		if ch.absentDone {
			return nil
		}
		return &CallError{Op: ch.op, Member: t.member.Name, Via: src.name, Call: callConfiguration, Address: src.c.Address(),
			Err: fmt.Errorf("%w (server_id %s)", ErrNotInConfiguration, t.id)}
	}
	if _, err := c.Logical().WriteWithContext(ctx, ch.path, map[string]any{"server_id": t.id}); err != nil {
		ce := callErr(ch.op, t.member.Name, ActiveNode, call, c, err, ch.optional)
		if ch.done != "" && serverSays(ce.Err, ch.done) {
			return nil // already marked: a re-issue after a lost reply
		}
		return ce
	}
	return nil
}

func (a *Adapter) snapshot(ctx context.Context, x upgrade.TakeSnapshot) (err error) {
	const op = "snapshot"
	const call = "GET /v1/" + PathSnapshot
	c, err := a.active()
	fail := func(e error) error {
		ce := &CallError{Op: op + " " + x.Name, Via: ActiveNode, Call: call, Err: e}
		if c != nil {
			ce.Address = c.Address()
		}
		return ce
	}
	if err != nil {
		return fail(err)
	}
	if a.Snapshots == nil {
		return fail(fmt.Errorf("%w: no snapshot sink", ErrConfig))
	}
	w, err := a.Snapshots(ctx, x)
	if err != nil {
		return fail(fmt.Errorf("open sink: %w", err))
	}
	if w == nil {
		return fail(fmt.Errorf("%w: snapshot sink returned nil", ErrConfig))
	}
	err = c.Sys().RaftSnapshotWithContext(ctx, w)
	cerr := w.Close()
	if err != nil {
		return callErr(op+" "+x.Name, "", ActiveNode, call, c, err, false)
	}
	if cerr != nil {
		return fail(fmt.Errorf("close sink: %w", cerr))
	}
	return nil
}
