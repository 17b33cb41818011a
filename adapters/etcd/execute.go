package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/raftshift/raftshift/upgrade"
)

// Handles reports whether Execute carries out actions of this kind (the
// Raft actions). Demote is handled only to return ErrDemoteUnsupported, so
// it counts as handled: routing it elsewhere would not make it possible.
func Handles(kind upgrade.ActionKind) bool {
	switch kind {
	case upgrade.KindTransferLeadership, upgrade.KindStepDown, upgrade.KindJoinNonvoter, upgrade.KindPromote,
		upgrade.KindDemote, upgrade.KindRemovePeer, upgrade.KindTakeSnapshot:
		return true
	}
	return false
}

// DemoteAsRemove is the RemovePeer an etcd host executes in place of a
// Demote (see the package documentation): the member leaves the voter
// set, as a demotion would make it, and the cluster.
func DemoteAsRemove(d upgrade.Demote) upgrade.RemovePeer {
	return upgrade.RemovePeer(d)
}

// Execute carries out one Raft action. Every action first reads the member
// list linearizably (through the leader): an action is only taken on the
// cluster's current membership, and a failed read wraps ErrViewUnknown.
// Members are found by the action's ID (the hex member ID Merge reports),
// else by pairing obs's member of that name (MatchBy). Actions are
// idempotent: one already in effect is a success, so a retry after a lost
// reply neither fails nor acts twice. A membership call that fails is
// never re-sent blindly: the member list is read again, and a change it
// shows applied (the reply was lost, or a member removing itself stopped
// before answering "etcdserver: server stopped") is a success.
//
//   - TransferLeadership: Status on From's endpoint must name From as
//     leader (else ErrNotLeader, nothing sent; a leader already at To is a
//     success), To must be a voter (else ErrNotVoter); then MoveLeader to
//     To through a client of From's endpoint alone (Dial), since only the
//     leader accepts it.
//   - StepDown: a transfer to the most caught-up voter: of the voters that
//     answer Status without error, name the leader at its term, the highest
//     applied index (ties: the lowest name). None: ErrNoTransferee.
//   - JoinNonvoter: MemberAddAsLearner with the member's peer URL
//     (Adapter.PeerURL, else the action's Address when it is a URL). A
//     learner with that peer URL already listed is the member added by an
//     earlier attempt whose reply was lost: success, nothing sent; a voter
//     with it fails with ErrConflict. etcd's "Peer URLs already exists"
//     answer (a concurrent add) is checked the same way.
//   - Promote: MemberPromote; a voter already is a success, a member not
//     listed fails with ErrNotInCluster. While etcd answers that the
//     learner is not in sync with the leader, the call is repeated up to
//     PromoteAttempts times, PromoteInterval apart, stopping with ctx; then
//     the error wraps ErrLearnerNotReady.
//   - Demote: ErrDemoteUnsupported, no call (see DemoteAsRemove).
//   - RemovePeer: MemberRemove; a member not listed (already removed) is a
//     success, and so is etcd's "member not found".
//   - TakeSnapshot: Maintenance.Snapshot through Client into the sink from
//     Snapshots.
//
// Any other action returns an error wrapping ErrNotRaftAction. obs may be
// nil (members are then found by ID or etcd name only). Failures are
// one-line *CallError values naming the member, the operation, the call
// and the endpoint.
func (a *Adapter) Execute(ctx context.Context, obs *upgrade.Observation, act upgrade.Action) error {
	if err := a.validate(); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	switch x := act.(type) {
	case upgrade.TransferLeadership:
		return a.transferLeadership(ctx, obs, x)
	case upgrade.StepDown:
		return a.stepDown(ctx, obs, x)
	case upgrade.JoinNonvoter:
		return a.join(ctx, obs, x)
	case upgrade.Promote:
		return a.promote(ctx, obs, x)
	case upgrade.Demote:
		return &CallError{Member: x.Member, Op: "demote", Err: fmt.Errorf("%w; remove the member instead (DemoteAsRemove)", ErrDemoteUnsupported)}
	case upgrade.RemovePeer:
		return a.remove(ctx, obs, x)
	case upgrade.TakeSnapshot:
		return a.snapshot(ctx, x)
	case nil:
		return fmt.Errorf("etcd: nil action: %w", ErrNotRaftAction)
	default:
		return fmt.Errorf("etcd: %s: %w", act.Kind(), ErrNotRaftAction)
	}
}

// list reads the member list linearizably for an action on member.
func (a *Adapter) list(ctx context.Context, member, op string) (MemberList, error) {
	l, err := a.memberList(ctx, true)
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) {
			c := *ce
			c.Member, c.Op, c.Err = member, op, fmt.Errorf("%w: %w", ErrViewUnknown, ce.Err)
			return l, &c
		}
		return l, err
	}
	return l, nil
}

// find returns the listed member an action on (name, id) concerns: by ID
// when id is a listed member ID, else the member paired with obs's member
// name (an etcd member of that name when obs has none). nil: not listed.
func (a *Adapter) find(l MemberList, obs *upgrade.Observation, name, id string) *Member {
	if n, ok := ParseID(id); ok {
		for i := range l.Members {
			if l.Members[i].ID == n {
				return &l.Members[i]
			}
		}
	}
	p := upgrade.Member{Name: name}
	if obs != nil {
		if m, ok := obs.Member(name); ok {
			p = m
		}
	}
	for i := range l.Members {
		if a.matches(l.Members[i], p) {
			return &l.Members[i]
		}
	}
	return nil
}

func (a *Adapter) transferLeadership(ctx context.Context, obs *upgrade.Observation, x upgrade.TransferLeadership) error {
	op := "transfer leadership to " + x.To
	l, err := a.list(ctx, x.From, op)
	if err != nil {
		return err
	}
	from := a.find(l, obs, x.From, x.FromID)
	to := a.find(l, obs, x.To, x.ToID)
	switch {
	case from == nil:
		return &CallError{Member: x.From, Op: op, Call: callMemberList, Endpoint: ClusterClient, Err: ErrNotInCluster}
	case to == nil:
		return &CallError{Member: x.From, Op: op, Call: callMemberList, Endpoint: ClusterClient, Err: fmt.Errorf("%w (%s)", ErrNotInCluster, x.To)}
	}
	return a.moveLeader(ctx, x.From, op, *from, *to)
}

// moveLeader checks that from leads and sends MoveLeader to its endpoint.
func (a *Adapter) moveLeader(ctx context.Context, member, op string, from, to Member) error {
	ep := a.endpoint(from)
	if ep == "" {
		return &CallError{Member: member, Op: op, Call: callStatus, Err: fmt.Errorf("%w: no client URL", ErrConfig)}
	}
	fail := func(call string, err error) error {
		return &CallError{Member: member, Op: op, Call: call, Endpoint: ep, Err: err}
	}
	s, err := a.status(ctx, ep)
	switch {
	case err != nil:
		return fail(callStatus, err)
	case s.MemberID != from.ID:
		return fail(callStatus, fmt.Errorf("%w: endpoint answers for member %s, not %s", ErrConflict, FormatID(s.MemberID), FormatID(from.ID)))
	case s.Leader == to.ID:
		return nil // already moved: a retry after a lost reply
	case s.Leader != from.ID:
		return fail(callStatus, fmt.Errorf("%w (leader is %s)", ErrNotLeader, leaderText(s.Leader)))
	case to.IsLearner:
		return fail(callStatus, fmt.Errorf("%w: %s is a learner", ErrNotVoter, memberName(to)))
	case to.ID == from.ID:
		return nil
	}
	if a.Dial == nil {
		return fail(callMoveLeader, fmt.Errorf("%w: no Dial for leader-only calls", ErrConfig))
	}
	c, release, err := a.Dial(ctx, ep)
	if err != nil {
		return fail(callMoveLeader, fmt.Errorf("dial: %w", err))
	}
	mctx, cancel := context.WithTimeout(ctx, a.transferTimeout())
	_, err = c.MoveLeader(mctx, to.ID)
	cancel()
	release()
	if err == nil {
		return nil
	}
	if etcdSays(err, rpctypes.ErrNotLeader) {
		// Leadership moved meanwhile: done if it went to To.
		if s, serr := a.status(ctx, ep); serr == nil && s.Leader == to.ID {
			return nil
		}
		return fail(callMoveLeader, fmt.Errorf("%w: %w", ErrNotLeader, err))
	}
	if etcdSays(err, rpctypes.ErrBadLeaderTransferee) {
		return fail(callMoveLeader, fmt.Errorf("%w: %w", ErrNotVoter, err))
	}
	return fail(callMoveLeader, err)
}

func leaderText(id uint64) string {
	if id == 0 {
		return "unknown"
	}
	return FormatID(id)
}

func (a *Adapter) stepDown(ctx context.Context, obs *upgrade.Observation, x upgrade.StepDown) error {
	op := "step down"
	l, err := a.list(ctx, x.Member, op)
	if err != nil {
		return err
	}
	st := &State{List: &l, Linearizable: true, Endpoints: a.endpoints(ctx, l)}
	from := a.find(*st.List, obs, x.Member, x.ID)
	if from == nil {
		return &CallError{Member: x.Member, Op: op, Call: callMemberList, Endpoint: ClusterClient, Err: ErrNotInCluster}
	}
	ls := st.status(from.ID)
	if ls == nil || ls.Leader != from.ID {
		var who uint64
		if ls != nil {
			who = ls.Leader
		}
		return &CallError{Member: x.Member, Op: op, Call: callStatus, Endpoint: a.endpoint(*from),
			Err: fmt.Errorf("%w (leader is %s)", ErrNotLeader, leaderText(who))}
	}
	var best *Member
	var bestIndex uint64
	for i := range st.List.Members {
		m := &st.List.Members[i]
		s := st.status(m.ID)
		if m.IsLearner || m.ID == from.ID || s == nil || len(s.Errors) > 0 || s.Leader != from.ID || s.RaftTerm != ls.RaftTerm {
			continue
		}
		if best == nil || s.RaftAppliedIndex > bestIndex ||
			(s.RaftAppliedIndex == bestIndex && memberName(*m) < memberName(*best)) {
			best, bestIndex = m, s.RaftAppliedIndex
		}
	}
	if best == nil {
		return &CallError{Member: x.Member, Op: op, Call: callStatus, Err: ErrNoTransferee}
	}
	return a.moveLeader(ctx, x.Member, op+" to "+memberName(*best), *from, *best)
}

func (a *Adapter) join(ctx context.Context, obs *upgrade.Observation, x upgrade.JoinNonvoter) error {
	const op = "join as learner"
	p := upgrade.Member{Name: x.Member}
	if obs != nil {
		if m, ok := obs.Member(x.Member); ok {
			p = m
		}
	}
	peer := a.peerURL(p)
	if peer == "" {
		if u, err := url.Parse(x.Address); err == nil && u.Scheme != "" && u.Host != "" {
			peer = normURL(x.Address)
		}
	}
	if peer == "" {
		return &CallError{Member: x.Member, Op: op, Err: fmt.Errorf("%w: no peer URL (set Adapter.PeerURL; the action's address %q is not a URL)", ErrConfig, x.Address)}
	}
	added := func(l MemberList) (bool, error) {
		for _, m := range l.Members {
			if !hasPeerURL(m, peer) {
				continue
			}
			if !m.IsLearner {
				return true, &CallError{Member: x.Member, Op: op, Call: callMemberList, Endpoint: ClusterClient,
					Err: fmt.Errorf("%w: peer URL %s belongs to voter %s", ErrConflict, peer, memberName(m))}
			}
			return true, nil
		}
		return false, nil
	}
	l, err := a.list(ctx, x.Member, op)
	if err != nil {
		return err
	}
	if done, err := added(l); done {
		return err // added by an earlier attempt (a lost reply), or a conflict
	}
	_, err = a.Client.MemberAddAsLearner(ctx, []string{peer})
	if err == nil {
		return nil
	}
	// The add may have been applied although its reply was lost (or a
	// concurrent add won: "Peer URLs already exists"): the list tells.
	if l, lerr := a.list(ctx, x.Member, op); lerr == nil {
		if done, derr := added(l); done {
			return derr
		}
	}
	return &CallError{Member: x.Member, Op: op + " at " + peer, Call: callMemberAdd, Endpoint: ClusterClient, Err: err}
}

func (a *Adapter) promote(ctx context.Context, obs *upgrade.Observation, x upgrade.Promote) error {
	const op = "promote"
	l, err := a.list(ctx, x.Member, op)
	if err != nil {
		return err
	}
	m := a.find(l, obs, x.Member, x.ID)
	switch {
	case m == nil:
		return &CallError{Member: x.Member, Op: op, Call: callMemberList, Endpoint: ClusterClient, Err: ErrNotInCluster}
	case !m.IsLearner:
		return nil // promoted already (a retry after a lost reply)
	}
	attempts, interval := a.PromoteAttempts, a.PromoteInterval
	if attempts <= 0 {
		attempts = DefaultPromoteAttempts
	}
	if interval <= 0 {
		interval = DefaultPromoteInterval
	}
	fail := func(err error) error {
		return &CallError{Member: x.Member, Op: op, Call: callMemberPromote, Endpoint: ClusterClient, Err: err}
	}
	for n := 1; ; n++ {
		_, err := a.Client.MemberPromote(ctx, m.ID)
		switch {
		case err == nil, etcdSays(err, rpctypes.ErrMemberNotLearner):
			return nil
		case etcdSays(err, rpctypes.ErrMemberNotFound):
			return fail(fmt.Errorf("%w: %w", ErrNotInCluster, err))
		case !etcdSays(err, rpctypes.ErrMemberLearnerNotReady):
			if a.promoted(ctx, obs, x) {
				return nil // applied, the reply lost
			}
			return fail(err)
		case n >= attempts:
			return fail(fmt.Errorf("%w after %d attempts: %w", ErrLearnerNotReady, n, err))
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(fmt.Errorf("%w after %d attempts: %w", ErrLearnerNotReady, n, ctx.Err()))
		case <-t.C:
		}
	}
}

func (a *Adapter) remove(ctx context.Context, obs *upgrade.Observation, x upgrade.RemovePeer) error {
	const op = "remove"
	l, err := a.list(ctx, x.Member, op)
	if err != nil {
		return err
	}
	m := a.find(l, obs, x.Member, x.ID)
	if m == nil {
		return nil // removed already
	}
	_, err = a.Client.MemberRemove(ctx, m.ID)
	if err == nil || etcdSays(err, rpctypes.ErrMemberNotFound) {
		return nil
	}
	// Applied although the reply was lost? A member removing itself stops
	// before it answers ("etcdserver: server stopped").
	if l, lerr := a.list(ctx, x.Member, op); lerr == nil && a.find(l, obs, x.Member, FormatID(m.ID)) == nil {
		return nil
	}
	return &CallError{Member: x.Member, Op: op + " member " + FormatID(m.ID), Call: callMemberRemove, Endpoint: ClusterClient, Err: err}
}

// promoted reports whether a fresh list shows x's member as a voter.
func (a *Adapter) promoted(ctx context.Context, obs *upgrade.Observation, x upgrade.Promote) bool {
	l, err := a.list(ctx, x.Member, "promote")
	if err != nil {
		return false
	}
	m := a.find(l, obs, x.Member, x.ID)
	return m != nil && !m.IsLearner
}

func (a *Adapter) snapshot(ctx context.Context, x upgrade.TakeSnapshot) error {
	op := "snapshot " + x.Name
	fail := func(err error) error {
		return &CallError{Op: op, Call: callSnapshot, Endpoint: ClusterClient, Err: err}
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
	rc, err := a.Client.Snapshot(ctx)
	if err != nil {
		_ = w.Close()
		return fail(err)
	}
	_, err = io.Copy(w, rc)
	_ = rc.Close()
	cerr := w.Close()
	if err != nil {
		return fail(err)
	}
	if cerr != nil {
		return fail(fmt.Errorf("close sink: %w", cerr))
	}
	return nil
}
