package openbao

import (
	"context"
	"errors"
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

// Execute carries out one Raft action:
//
//   - StepDown: GET sys/leader on the member's own client (it must answer
//     is_self, else ErrNotLeader and nothing is done), then PUT sys/step-down
//     on it.
//   - TransferLeadership: ErrUnsupported (OpenBao has no targeted transfer).
//   - JoinNonvoter: POST sys/storage/raft/join with non_voter=true on the
//     joining member's client, leader_api_addr from LeaderAPIAddr or the
//     active node's sys/leader. The action's Address is not sent: OpenBao
//     takes the joining server's Raft address from its own cluster_addr.
//     With a Shamir seal the joined server still has to be unsealed.
//   - Promote, Demote, RemovePeer: PUT sys/storage/raft/promote, /demote,
//     /remove-peer with server_id on the active-node client. Promote and
//     Demote wrap ErrUnsupported when the server does not know the path.
//   - TakeSnapshot: GET sys/storage/raft/snapshot on the active-node client
//     into the sink from Snapshots.
//
// Any other action returns an error wrapping ErrNotRaftAction. obs resolves
// member names to upgrade.Member for ClientFactory and NodeID; it may be nil
// (members are then built from the action's fields). Call failures are
// *CallError values naming the member and the HTTP call.
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
		return a.joinNonvoter(ctx, a.member(obs, x.Member, x.ID, x.Address))
	case upgrade.Promote:
		return a.membership(ctx, "promote", PathPromote, a.member(obs, x.Member, x.ID, ""), true)
	case upgrade.Demote:
		return a.membership(ctx, "demote", PathDemote, a.member(obs, x.Member, x.ID, ""), true)
	case upgrade.RemovePeer:
		return a.membership(ctx, "remove-peer", PathRemovePeer, a.member(obs, x.Member, x.ID, ""), false)
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
	const leaderCall = "GET /v1/" + PathLeader
	const call = "PUT /v1/" + PathStepDown
	c, err := a.client(op, call, t)
	if err != nil {
		return err
	}
	ldr, err := c.Sys().LeaderWithContext(ctx)
	if err != nil {
		return callErr(op, t.member.Name, "", leaderCall, err, false)
	}
	if !ldr.IsSelf {
		return &CallError{Op: op, Member: t.member.Name, Call: leaderCall,
			Err: fmt.Errorf("%w (active node is %q)", ErrNotLeader, ldr.LeaderAddress)}
	}
	if err := c.Sys().StepDownWithContext(ctx); err != nil {
		return callErr(op, t.member.Name, "", call, err, false)
	}
	return nil
}

func (a *Adapter) joinNonvoter(ctx context.Context, t target) error {
	const op = "join as non-voter"
	const call = "POST /v1/" + PathJoin
	c, err := a.client(op, call, t)
	if err != nil {
		return err
	}
	leaderAddr := a.LeaderAPIAddr
	if leaderAddr == "" {
		ac, err := a.active()
		if err != nil {
			return &CallError{Op: op, Member: t.member.Name, Call: call, Err: err}
		}
		ldr, err := ac.Sys().LeaderWithContext(ctx)
		if err != nil {
			return callErr(op, t.member.Name, ActiveNode, "GET /v1/"+PathLeader, err, false)
		}
		leaderAddr = ldr.LeaderAddress
		if leaderAddr == "" {
			return &CallError{Op: op, Member: t.member.Name, Via: ActiveNode, Call: "GET /v1/" + PathLeader,
				Err: errors.New("active node reports no leader_address")}
		}
	}
	req := a.Join
	req.LeaderAPIAddr = leaderAddr
	req.NonVoter = true
	req.Retry = false
	resp, err := c.Sys().RaftJoinWithContext(ctx, &req)
	if err != nil {
		return callErr(op, t.member.Name, "", call, err, false)
	}
	if resp == nil || !resp.Joined {
		return &CallError{Op: op, Member: t.member.Name, Call: call,
			Err: fmt.Errorf("server answered joined=false (leader_api_addr %s)", leaderAddr)}
	}
	return nil
}

func (a *Adapter) membership(ctx context.Context, op, path string, t target, optional bool) error {
	call := "PUT /v1/" + path
	if t.id == "" {
		return &CallError{Op: op, Member: t.member.Name, Via: ActiveNode, Call: call,
			Err: fmt.Errorf("%w: no raft node id", ErrConfig)}
	}
	c, err := a.active()
	if err != nil {
		return &CallError{Op: op, Member: t.member.Name, Via: ActiveNode, Call: call, Err: err}
	}
	if _, err := c.Logical().WriteWithContext(ctx, path, map[string]any{"server_id": t.id}); err != nil {
		return callErr(op, t.member.Name, ActiveNode, call, err, optional)
	}
	return nil
}

func (a *Adapter) snapshot(ctx context.Context, x upgrade.TakeSnapshot) (err error) {
	const op = "snapshot"
	const call = "GET /v1/" + PathSnapshot
	fail := func(e error) error {
		return &CallError{Op: op + " " + x.Name, Via: ActiveNode, Call: call, Err: e}
	}
	c, err := a.active()
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
		return callErr(op+" "+x.Name, "", ActiveNode, call, err, false)
	}
	if cerr != nil {
		return fail(fmt.Errorf("close sink: %w", cerr))
	}
	return nil
}
