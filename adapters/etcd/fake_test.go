package etcd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

// errUnreachable is what the fake answers for an endpoint that is down.
var errUnreachable = errors.New("rpc error: code = Unavailable desc = connection refused")

// fake is an etcd cluster as the adapter's Client sees it: a member list,
// one Status answer per endpoint, and membership calls that change the
// list. Faults: list errors, unreachable endpoints, lost replies (the call
// takes effect, then the reply is lost), promote answers "not ready".
type fake struct {
	mu        sync.Mutex
	clusterID uint64
	members   []etcd.Member
	status    map[string]etcd.Status // by endpoint; absent: unreachable
	nextID    uint64

	listErr   error // linearizable list
	serialErr error // serializable list
	lose      map[string]int
	// blackout makes every list fail once a reply was lost (the client
	// lost its connection), until the test clears listErr.
	blackout      bool
	notReady      int // promote answers "not in sync" this many times
	removeErr     error
	moveLeaderErr error
	snapshot      string

	calls []string
}

// fixture reads a recorded answer from testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustList(t testing.TB, name string) etcd.MemberList {
	t.Helper()
	l, err := etcd.DecodeMemberList(fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

func mustStatus(t testing.TB, name string) etcd.Status {
	t.Helper()
	s, err := etcd.DecodeStatus(fixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// recorded builds the fake from the recorded three-member cluster: the
// member list, the leader's and a follower's Status, and the third
// member's Status derived from the follower's (same term, leader and
// indexes).
func recorded(t testing.TB) *fake {
	t.Helper()
	l := mustList(t, "member_list.json")
	ls, fs := mustStatus(t, "status_leader.json"), mustStatus(t, "status_follower.json")
	f := &fake{clusterID: l.ClusterID, members: l.Members, status: map[string]etcd.Status{}, nextID: 0x1000, lose: map[string]int{}}
	for _, m := range l.Members {
		s := fs
		switch m.ID {
		case ls.MemberID:
			s = ls
		case fs.MemberID:
		default:
			s.MemberID = m.ID
		}
		f.status[m.ClientURLs[0]] = s
	}
	return f
}

// byName returns the listed member named name.
func (f *fake) byName(name string) etcd.Member {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		if m.Name == name {
			return m
		}
	}
	panic("no member " + name)
}

// down makes a member's endpoint unreachable.
func (f *fake) down(name string) {
	m := f.byName(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, m.ClientURLs[0])
}

func (f *fake) record(call string) {
	f.calls = append(f.calls, call)
}

// Calls returns the calls received, in order.
func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// lost reports whether the reply of this call is to be lost (once per
// count set in f.lose).
func (f *fake) lost(call string) bool {
	if f.lose[call] > 0 {
		f.lose[call]--
		if f.blackout {
			f.listErr = errUnreachable
		}
		return true
	}
	return false
}

func (f *fake) header() *pb.ResponseHeader { return &pb.ResponseHeader{ClusterId: f.clusterID} }

func (f *fake) pbMembers() []*pb.Member {
	var out []*pb.Member
	for _, m := range f.members {
		out = append(out, &pb.Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
	}
	return out
}

func (f *fake) MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	serial := clientv3.OpGet("", opts...).IsSerializable()
	if serial {
		f.record("MemberList(serializable)")
		if f.serialErr != nil {
			return nil, f.serialErr
		}
	} else {
		f.record("MemberList")
		if f.listErr != nil {
			return nil, f.listErr
		}
	}
	return &clientv3.MemberListResponse{Header: f.header(), Members: f.pbMembers()}, nil
}

func (f *fake) MemberAddAsLearner(ctx context.Context, peers []string) (*clientv3.MemberAddResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("MemberAddAsLearner " + strings.Join(peers, ","))
	for _, m := range f.members {
		if slices.Contains(m.PeerURLs, peers[0]) {
			return nil, rpctypes.ErrPeerURLExist
		}
	}
	f.nextID++
	f.members = append(f.members, etcd.Member{ID: f.nextID, PeerURLs: peers, IsLearner: true})
	if f.lost("MemberAddAsLearner") {
		return nil, context.DeadlineExceeded
	}
	return &clientv3.MemberAddResponse{Header: f.header(), Member: &pb.Member{ID: f.nextID, PeerURLs: peers, IsLearner: true}}, nil
}

func (f *fake) MemberPromote(ctx context.Context, id uint64) (*clientv3.MemberPromoteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("MemberPromote %x", id))
	for i := range f.members {
		if f.members[i].ID != id {
			continue
		}
		if !f.members[i].IsLearner {
			return nil, rpctypes.ErrMemberNotLearner
		}
		if f.notReady > 0 {
			f.notReady--
			return nil, rpctypes.ErrMemberLearnerNotReady
		}
		f.members[i].IsLearner = false
		if f.lost("MemberPromote") {
			return nil, context.DeadlineExceeded
		}
		return &clientv3.MemberPromoteResponse{Header: f.header(), Members: f.pbMembers()}, nil
	}
	return nil, rpctypes.ErrMemberNotFound
}

func (f *fake) MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("MemberRemove %x", id))
	if f.removeErr != nil {
		return nil, f.removeErr
	}
	n := len(f.members)
	f.members = slices.DeleteFunc(f.members, func(m etcd.Member) bool { return m.ID == id })
	if len(f.members) == n {
		return nil, rpctypes.ErrMemberNotFound
	}
	if f.lost("MemberRemove") {
		return nil, context.DeadlineExceeded
	}
	return &clientv3.MemberRemoveResponse{Header: f.header(), Members: f.pbMembers()}, nil
}

func (f *fake) Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Status " + endpoint)
	s, ok := f.status[endpoint]
	if !ok {
		return nil, errUnreachable
	}
	return &clientv3.StatusResponse{Header: &pb.ResponseHeader{ClusterId: f.clusterID, MemberId: s.MemberID, RaftTerm: s.RaftTerm},
		Version: s.Version, DbSize: s.DBSize, Leader: s.Leader, RaftIndex: s.RaftIndex, RaftTerm: s.RaftTerm,
		RaftAppliedIndex: s.RaftAppliedIndex, Errors: s.Errors, IsLearner: s.IsLearner}, nil
}

func (f *fake) MoveLeader(ctx context.Context, id uint64) (*clientv3.MoveLeaderResponse, error) {
	return nil, errors.New("the fake only accepts MoveLeader through Dial")
}

// moveLeader is MoveLeader received on one endpoint: only the leader's
// accepts it; it makes id the leader of every member's status.
func (f *fake) moveLeader(endpoint string, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("MoveLeader %x at %s", id, endpoint))
	if f.moveLeaderErr != nil {
		return f.moveLeaderErr
	}
	s, ok := f.status[endpoint]
	if !ok {
		return errUnreachable
	}
	if s.Leader != s.MemberID {
		return rpctypes.ErrNotLeader
	}
	for ep, st := range f.status {
		st.Leader = id
		st.RaftTerm++
		f.status[ep] = st
	}
	if f.lost("MoveLeader") {
		return context.DeadlineExceeded
	}
	return nil
}

func (f *fake) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Snapshot")
	return io.NopCloser(strings.NewReader(f.snapshot)), nil
}

// endpointClient is the fake seen through a client of one endpoint.
type endpointClient struct {
	*fake
	endpoint string
}

func (c endpointClient) MoveLeader(ctx context.Context, id uint64) (*clientv3.MoveLeaderResponse, error) {
	if err := c.moveLeader(c.endpoint, id); err != nil {
		return nil, err
	}
	return &clientv3.MoveLeaderResponse{}, nil
}

// dial is the fake's etcd.Dialer.
func (f *fake) dial(ctx context.Context, endpoint string) (etcd.Client, func(), error) {
	return endpointClient{fake: f, endpoint: endpoint}, func() {}, nil
}

// adapter returns an adapter on the fake, pairing members by name.
func (f *fake) adapter() *etcd.Adapter {
	return &etcd.Adapter{Client: f, Dial: f.dial, PromoteInterval: 1}
}

// pods returns an observation of running, ready pods named like the
// recorded members ("etcd-0".."etcd-<n-1>").
func pods(n int) upgrade.Observation {
	obs := upgrade.Observation{}
	for i := range n {
		obs.Members = append(obs.Members, upgrade.Member{Name: fmt.Sprintf("etcd-%d", i), Workload: "etcd", Ordinal: int32(i),
			Pod: upgrade.PodStatus{Exists: true, Ready: true, Phase: upgrade.PodRunning}})
	}
	return obs
}

// oneLine fails the test when an error message spans lines or lacks the
// wanted parts.
func oneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error spans lines: %q", msg)
	}
	if !strings.HasPrefix(msg, "etcd: ") {
		t.Errorf("error %q does not start with etcd:", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
}

// sink collects a snapshot.
type sink struct {
	bytes.Buffer
	closed bool
}

func (s *sink) Close() error { s.closed = true; return nil }
