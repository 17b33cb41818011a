package etcd

import (
	"context"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Calls the adapter sends, as CallError.Call names them.
const (
	callMemberList    = "Cluster.MemberList"
	callMemberAdd     = "Cluster.MemberAddAsLearner"
	callMemberPromote = "Cluster.MemberPromote"
	callMemberRemove  = "Cluster.MemberRemove"
	callStatus        = "Maintenance.Status"
	callMoveLeader    = "Maintenance.MoveLeader"
	callSnapshot      = "Maintenance.Snapshot"
)

// Read fetches the Raft state from etcd, through any member that answers:
//
//  1. The member list through Client, linearizable (it goes through the
//     leader, so it is the cluster's current membership). When that fails
//     (no leader, e.g. during an election), a serializable list: one
//     member's local view, which Merge does not trust for the leader.
//  2. Maintenance.Status of every listed member on its own endpoint
//     (Adapter.Endpoint, by default its first client URL), concurrently,
//     each bounded by ReadTimeout. A member that has not started has no
//     client URL and is not asked.
//
// So a Read sends at most two list calls and one status call per member,
// and lasts at most three ReadTimeouts. A member whose endpoint does not
// answer (or answers for another member ID) has no Status in the State:
// Merge marks it Unknown, never absent. When no member answered the list
// the error wraps ErrViewUnknown and State.List is nil; failures of single
// status calls are not errors (a member down is normal during an upgrade)
// but are listed in State.Errors. Except for ErrConfig, Read always
// returns a State.
func (a *Adapter) Read(ctx context.Context) (*State, error) {
	if err := a.validate(); err != nil {
		return nil, fmt.Errorf("etcd: read: %w", err)
	}
	st := &State{}
	list, err := a.memberList(ctx, true)
	if err == nil {
		st.Linearizable = true
	} else {
		st.Errors = append(st.Errors, err.Error())
		var err2 error
		list, err2 = a.memberList(ctx, false)
		if err2 != nil {
			st.Errors = append(st.Errors, err2.Error())
			return st, fmt.Errorf("etcd: read: %w: no member answered the member list, first failure: %w", ErrViewUnknown, err)
		}
	}
	st.List = &list
	st.Endpoints = a.endpoints(ctx, list)
	for _, ep := range st.Endpoints {
		if ep.Error != "" {
			st.Errors = append(st.Errors, ep.Error)
		}
	}
	return st, nil
}

// endpoints asks every listed member for its Status, concurrently, and
// returns one Endpoint per member in list order.
func (a *Adapter) endpoints(ctx context.Context, list MemberList) []Endpoint {
	eps := make([]Endpoint, len(list.Members))
	var wg sync.WaitGroup
	for i, m := range list.Members {
		eps[i] = Endpoint{MemberID: m.ID, URL: a.endpoint(m)}
		if eps[i].URL == "" {
			eps[i].Error = "no client URL: the member has not started"
			continue
		}
		wg.Go(func() {
			ep := &eps[i]
			s, err := a.status(ctx, ep.URL)
			switch {
			case err != nil:
				ep.Error = (&CallError{Member: memberName(m), Op: "read status", Call: callStatus, Endpoint: ep.URL, Err: err}).Error()
			case s.MemberID != m.ID:
				ep.Error = (&CallError{Member: memberName(m), Op: "read status", Call: callStatus, Endpoint: ep.URL,
					Err: fmt.Errorf("%w: endpoint answers for member %s, not %s", ErrConflict, FormatID(s.MemberID), FormatID(m.ID))}).Error()
			default:
				ep.Status = &s
			}
		})
	}
	wg.Wait()
	return eps
}

// memberList is one MemberList call through Client.
func (a *Adapter) memberList(ctx context.Context, linearizable bool) (MemberList, error) {
	ctx, cancel := context.WithTimeout(ctx, a.readTimeout())
	defer cancel()
	var opts []clientv3.OpOption
	op := "read member list"
	if !linearizable {
		opts = append(opts, clientv3.WithSerializable())
		op = "read member list (serializable)"
	}
	r, err := a.Client.MemberList(ctx, opts...)
	if err != nil {
		return MemberList{}, &CallError{Op: op, Call: callMemberList, Endpoint: ClusterClient, Err: err}
	}
	l := ListFromResponse(r)
	if len(l.Members) == 0 {
		return MemberList{}, &CallError{Op: op, Call: callMemberList, Endpoint: ClusterClient, Err: malformed("no members")}
	}
	return l, nil
}

// status is one Status call on an endpoint.
func (a *Adapter) status(ctx context.Context, endpoint string) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, a.readTimeout())
	defer cancel()
	r, err := a.Client.Status(ctx, endpoint)
	if err != nil {
		return Status{}, err
	}
	s := StatusFromResponse(r)
	if s.MemberID == 0 {
		return Status{}, malformed("status without a member ID")
	}
	return s, nil
}

// memberName names an etcd member in messages: its name, else its ID.
func memberName(m Member) string {
	if m.Name != "" {
		return m.Name
	}
	return "member " + FormatID(m.ID)
}
