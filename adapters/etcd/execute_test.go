package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

func id(m etcd.Member) string { return etcd.FormatID(m.ID) }

// writes returns the calls that change the cluster.
func writes(f *fake) []string {
	var out []string
	for _, c := range f.Calls() {
		if !strings.HasPrefix(c, "MemberList") && !strings.HasPrefix(c, "Status") {
			out = append(out, c)
		}
	}
	return out
}

// TestTransferLeadership: MoveLeader goes to the leader's own endpoint;
// a From that does not lead, or a learner target, sends nothing; a
// leader already at To is a success (a retry after a lost reply).
func TestTransferLeadership(t *testing.T) {
	f := recorded(t)
	ad := f.adapter()
	l, to := f.byName("etcd-0"), f.byName("etcd-2")
	act := upgrade.TransferLeadership{From: "etcd-0", To: "etcd-2", FromID: id(l), ToID: id(to)}
	f.lose["MoveLeader"] = 1
	err := ad.Execute(context.Background(), nil, act)
	oneLine(t, err, "etcd-0: transfer leadership to etcd-2 (Maintenance.MoveLeader at "+l.ClientURLs[0]+")")
	if want := []string{fmt.Sprintf("MoveLeader %x at %s", to.ID, l.ClientURLs[0])}; !slices.Equal(writes(f), want) {
		t.Fatalf("writes %v, want %v", writes(f), want)
	}
	if err := ad.Execute(context.Background(), nil, act); err != nil {
		t.Fatalf("retry after the lost reply: %v", err)
	}
	if len(writes(f)) != 1 {
		t.Errorf("the retry moved leadership again: %v", writes(f))
	}
	// etcd-2 leads now: a transfer from etcd-0 is refused.
	err = ad.Execute(context.Background(), nil, upgrade.TransferLeadership{From: "etcd-0", To: "etcd-1"})
	if !errors.Is(err, etcd.ErrNotLeader) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "etcd-0: transfer leadership to etcd-1 (Maintenance.Status at", "leader is "+id(to))
	if len(writes(f)) != 1 {
		t.Errorf("a transfer from a follower was sent: %v", writes(f))
	}
}

func TestTransferLeadershipRefusals(t *testing.T) {
	f := recorded(t)
	f.members = append(f.members, etcd.Member{ID: 77, Name: "etcd-3", PeerURLs: []string{"http://127.0.0.1:1"}, IsLearner: true})
	ad := f.adapter()
	for _, tc := range []struct {
		act  upgrade.TransferLeadership
		want error
	}{
		{upgrade.TransferLeadership{From: "etcd-0", To: "etcd-3"}, etcd.ErrNotVoter},
		{upgrade.TransferLeadership{From: "etcd-0", To: "etcd-9"}, etcd.ErrNotInCluster},
		{upgrade.TransferLeadership{From: "etcd-9", To: "etcd-1"}, etcd.ErrNotInCluster},
	} {
		err := ad.Execute(context.Background(), nil, tc.act)
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: err = %v, want %v", tc.act, err, tc.want)
			continue
		}
		oneLine(t, err, tc.act.From+": transfer leadership to "+tc.act.To)
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes %v", w)
	}
	noDial := &etcd.Adapter{Client: f}
	if err := noDial.Execute(context.Background(), nil, upgrade.TransferLeadership{From: "etcd-0", To: "etcd-1"}); !errors.Is(err, etcd.ErrConfig) {
		t.Errorf("without Dial: %v", err)
	}
	f.moveLeaderErr = rpctypes.ErrBadLeaderTransferee
	if err := ad.Execute(context.Background(), nil, upgrade.TransferLeadership{From: "etcd-0", To: "etcd-1"}); !errors.Is(err, etcd.ErrNotVoter) ||
		!errors.Is(err, rpctypes.ErrBadLeaderTransferee) {
		t.Errorf("bad transferee: %v", err)
	}
}

// TestStepDown moves leadership to the most caught-up voter that follows
// the leader.
func TestStepDown(t *testing.T) {
	f := recorded(t)
	e1, e2 := f.byName("etcd-1"), f.byName("etcd-2")
	s := f.status[e2.ClientURLs[0]]
	s.RaftAppliedIndex += 5
	f.status[e2.ClientURLs[0]] = s
	ad := f.adapter()
	if err := ad.Execute(context.Background(), nil, upgrade.StepDown{Member: "etcd-0"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("MoveLeader %x at %s", e2.ID, f.byName("etcd-0").ClientURLs[0])}; !slices.Equal(writes(f), want) {
		t.Errorf("writes %v, want %v", writes(f), want)
	}
	// etcd-2 leads; etcd-1 is down: no voter can take over from etcd-2
	// but etcd-0.
	f.down("etcd-1")
	if err := ad.Execute(context.Background(), nil, upgrade.StepDown{Member: "etcd-2", ID: id(e2)}); err != nil {
		t.Fatal(err)
	}
	if w := writes(f); w[len(w)-1] != fmt.Sprintf("MoveLeader %x at %s", f.byName("etcd-0").ID, e2.ClientURLs[0]) {
		t.Errorf("writes %v", w)
	}
	f.down("etcd-2")
	err := ad.Execute(context.Background(), nil, upgrade.StepDown{Member: "etcd-0"})
	if !errors.Is(err, etcd.ErrNoTransferee) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "etcd-0: step down")
	if err := ad.Execute(context.Background(), nil, upgrade.StepDown{Member: "etcd-1", ID: id(e1)}); !errors.Is(err, etcd.ErrNotLeader) {
		t.Errorf("step down of an unreachable follower: %v", err)
	}
}

// TestJoinLostReply: the add reached etcd but its reply was lost. The
// member list read after the failure shows the learner: success. When the
// list cannot be read either, the error is returned and the host's retry
// finds the learner it added and adds nothing.
func TestJoinLostReply(t *testing.T) {
	for _, blackout := range []bool{false, true} {
		f := recorded(t)
		f.blackout = blackout
		ad := f.adapter()
		ad.PeerURL = func(m upgrade.Member) string { return "http://etcd-3.etcd:2380" }
		act := upgrade.JoinNonvoter{Member: "etcd-3", ID: "etcd-3", Address: "etcd-3.etcd:8201"}
		f.lose["MemberAddAsLearner"] = 1
		err := ad.Execute(context.Background(), nil, act)
		if blackout {
			oneLine(t, err, "etcd-3: join as learner at http://etcd-3.etcd:2380 (Cluster.MemberAddAsLearner via cluster client)")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v", err)
			}
			f.listErr = nil
		} else if err != nil {
			t.Fatalf("lost reply not recovered: %v", err)
		}
		for range 2 {
			if err := ad.Execute(context.Background(), nil, act); err != nil {
				t.Fatalf("retry: %v", err)
			}
		}
		if w := writes(f); !slices.Equal(w, []string{"MemberAddAsLearner http://etcd-3.etcd:2380"}) {
			t.Errorf("writes %v", w)
		}
		obs := observe(t, f, ad, pods(4))
		if m := member(t, obs, "etcd-3"); !m.IsNonvoter() || !m.Raft.Unknown {
			t.Errorf("etcd-3 %+v", m.Raft)
		}
	}
}

func TestJoinRefusals(t *testing.T) {
	f := recorded(t)
	ad := f.adapter()
	// No peer URL known: the strategy's address is not a URL.
	err := ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "etcd-3", Address: "etcd-3.etcd:8201"})
	if !errors.Is(err, etcd.ErrConfig) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "etcd-3: join as learner")
	// The address is used when it is a URL.
	if err := ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "etcd-3", Address: "https://etcd-3.etcd:2380"}); err != nil {
		t.Fatal(err)
	}
	// A voter's peer URL.
	err = ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "etcd-9", Address: f.byName("etcd-1").PeerURLs[0]})
	if !errors.Is(err, etcd.ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "etcd-9: join as learner (Cluster.MemberList via cluster client)", "belongs to voter etcd-1")
	// Added concurrently between the list and the add: etcd answers that
	// the peer URL exists; a learner is a success.
	f.listErr = nil
	ad.Client = addRace{f}
	if err := ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "etcd-4", Address: "https://etcd-4.etcd:2380"}); err != nil {
		t.Fatalf("race: %v", err)
	}
}

// addRace adds the learner itself right before the adapter's add.
type addRace struct{ *fake }

func (r addRace) MemberAddAsLearner(ctx context.Context, peers []string) (*clientv3.MemberAddResponse, error) {
	if _, err := r.fake.MemberAddAsLearner(ctx, peers); err != nil {
		return nil, err
	}
	return r.fake.MemberAddAsLearner(ctx, peers)
}

// TestPromote retries while etcd says the learner is not in sync, and
// stops after PromoteAttempts or with the context.
func TestPromote(t *testing.T) {
	f := recorded(t)
	f.members = append(f.members, etcd.Member{ID: 77, Name: "etcd-3", PeerURLs: []string{"http://127.0.0.1:1"}, IsLearner: true})
	ad := f.adapter()
	f.notReady = 3
	if err := ad.Execute(context.Background(), nil, upgrade.Promote{Member: "etcd-3", ID: "4d"}); err != nil {
		t.Fatal(err)
	}
	if n := len(writes(f)); n != 4 {
		t.Errorf("%d promote calls, want 4: %v", n, writes(f))
	}
	// Promoted already: nothing sent.
	if err := ad.Execute(context.Background(), nil, upgrade.Promote{Member: "etcd-3"}); err != nil {
		t.Fatal(err)
	}
	if n := len(writes(f)); n != 4 {
		t.Errorf("promote of a voter sent %v", writes(f))
	}

	f.members = append(f.members, etcd.Member{ID: 78, Name: "etcd-4", PeerURLs: []string{"http://127.0.0.1:2"}, IsLearner: true})
	f.notReady = 100
	ad.PromoteAttempts = 3
	err := ad.Execute(context.Background(), nil, upgrade.Promote{Member: "etcd-4"})
	if !errors.Is(err, etcd.ErrLearnerNotReady) || !errors.Is(err, rpctypes.ErrMemberLearnerNotReady) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "etcd-4: promote (Cluster.MemberPromote via cluster client): learner not in sync with the leader after 3 attempts")

	ctx, cancel := context.WithCancel(context.Background())
	ad.PromoteAttempts, ad.PromoteInterval = 1000, time.Hour
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	start := time.Now()
	if err := ad.Execute(ctx, nil, upgrade.Promote{Member: "etcd-4"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled promote: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("promote did not stop with its context")
	}
	if err := ad.Execute(context.Background(), nil, upgrade.Promote{Member: "etcd-9"}); !errors.Is(err, etcd.ErrNotInCluster) {
		t.Errorf("promote of a stranger: %v", err)
	}
}

// TestLostReplies: promote and remove were applied, their replies lost;
// the list read after the failure (or, when it cannot be read, the host's
// retry) sees the effect, and nothing is sent twice.
func TestLostReplies(t *testing.T) {
	for _, call := range []string{"MemberPromote", "MemberRemove"} {
		for _, blackout := range []bool{false, true} {
			f := recorded(t)
			f.members = append(f.members, etcd.Member{ID: 77, Name: "etcd-3", PeerURLs: []string{"http://127.0.0.1:1"}, IsLearner: true})
			f.lose[call], f.blackout = 1, blackout
			var act upgrade.Action = upgrade.Promote{Member: "etcd-3"}
			if call == "MemberRemove" {
				act = upgrade.RemovePeer{Member: "etcd-3", ID: "4d"}
			}
			ad := f.adapter()
			err := ad.Execute(context.Background(), nil, act)
			if blackout {
				oneLine(t, err, "etcd-3: ", "(Cluster."+call+" via cluster client): context deadline exceeded")
				f.listErr = nil
				err = ad.Execute(context.Background(), nil, act)
			}
			if err != nil {
				t.Fatalf("%s (blackout %v): %v", call, blackout, err)
			}
			if n := len(writes(f)); n != 1 {
				t.Errorf("%s (blackout %v): writes %v", call, blackout, writes(f))
			}
		}
	}
}

// TestRemovePeer: a member already gone is a success, whether the list
// or etcd's answer says so.
func TestRemovePeer(t *testing.T) {
	f := recorded(t)
	ad := f.adapter()
	e2 := f.byName("etcd-2")
	for range 2 {
		if err := ad.Execute(context.Background(), nil, upgrade.RemovePeer{Member: "etcd-2", ID: id(e2)}); err != nil {
			t.Fatal(err)
		}
	}
	if w := writes(f); len(w) != 1 {
		t.Errorf("writes %v", w)
	}
	f.members = append(f.members, etcd.Member{ID: 77, Name: "etcd-3", PeerURLs: []string{"http://127.0.0.1:1"}})
	f.removeErr = rpctypes.ErrMemberNotFound
	if err := ad.Execute(context.Background(), nil, upgrade.RemovePeer{Member: "etcd-3"}); err != nil {
		t.Errorf("member not found: %v", err)
	}
	f.removeErr = rpctypes.ErrUnhealthy
	err := ad.Execute(context.Background(), nil, upgrade.RemovePeer{Member: "etcd-3"})
	oneLine(t, err, "etcd-3: remove member 4d (Cluster.MemberRemove via cluster client): etcdserver: unhealthy cluster")
	if !errors.Is(err, rpctypes.ErrUnhealthy) {
		t.Errorf("etcd's error not reachable: %v", err)
	}
}

// TestDemoteUnsupported: no call; the error says what to do instead.
func TestDemoteUnsupported(t *testing.T) {
	f := recorded(t)
	err := f.adapter().Execute(context.Background(), nil, upgrade.Demote{Member: "etcd-1", ID: id(f.byName("etcd-1"))})
	if !errors.Is(err, etcd.ErrDemoteUnsupported) || !errors.Is(err, etcd.ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "etcd-1: demote", "cannot demote a voter to a learner", "DemoteAsRemove")
	if len(f.Calls()) != 0 {
		t.Errorf("calls %v", f.Calls())
	}
	if r := etcd.DemoteAsRemove(upgrade.Demote{Member: "etcd-1", ID: "a"}); r != (upgrade.RemovePeer{Member: "etcd-1", ID: "a"}) {
		t.Errorf("DemoteAsRemove = %+v", r)
	}
	if !etcd.Handles(upgrade.KindDemote) || etcd.Handles(upgrade.KindDeletePod) {
		t.Error("Handles")
	}
}

// TestActionsNeedTheMemberList: without a linearizable list no action is
// taken.
func TestActionsNeedTheMemberList(t *testing.T) {
	f := recorded(t)
	f.listErr = errors.New("etcdserver: no leader")
	ad := f.adapter()
	ad.PeerURL = func(upgrade.Member) string { return "http://etcd-3:2380" }
	for _, act := range []upgrade.Action{
		upgrade.TransferLeadership{From: "etcd-0", To: "etcd-1"}, upgrade.StepDown{Member: "etcd-0"},
		upgrade.JoinNonvoter{Member: "etcd-3"}, upgrade.Promote{Member: "etcd-1"}, upgrade.RemovePeer{Member: "etcd-2"},
	} {
		err := ad.Execute(context.Background(), nil, act)
		if !errors.Is(err, etcd.ErrViewUnknown) {
			t.Errorf("%s: err = %v", act, err)
			continue
		}
		oneLine(t, err, "(Cluster.MemberList via cluster client)", "etcdserver: no leader")
	}
	if w := writes(f); len(w) != 0 {
		t.Errorf("writes %v", w)
	}
}

func TestSnapshot(t *testing.T) {
	f := recorded(t)
	f.snapshot = "bbolt bytes"
	var got sink
	ad := f.adapter()
	ad.Snapshots = func(ctx context.Context, a upgrade.TakeSnapshot) (io.WriteCloser, error) { return &got, nil }
	if err := ad.Execute(context.Background(), nil, upgrade.TakeSnapshot{Name: "pre-upgrade"}); err != nil {
		t.Fatal(err)
	}
	if got.String() != "bbolt bytes" || !got.closed {
		t.Errorf("sink %q closed=%v", got.String(), got.closed)
	}
	ad.Snapshots = nil
	err := ad.Execute(context.Background(), nil, upgrade.TakeSnapshot{Name: "x"})
	if !errors.Is(err, etcd.ErrConfig) {
		t.Fatalf("err = %v", err)
	}
	oneLine(t, err, "snapshot x (Maintenance.Snapshot via cluster client)")
}

func TestNotRaftActions(t *testing.T) {
	ad := recorded(t).adapter()
	for _, act := range []upgrade.Action{upgrade.SetPartition{Workload: "etcd"}, upgrade.DeletePod{Member: "etcd-0"}, nil} {
		if err := ad.Execute(context.Background(), nil, act); !errors.Is(err, etcd.ErrNotRaftAction) {
			t.Errorf("%v: %v", act, err)
		}
	}
	if err := (*etcd.Adapter)(nil).Execute(context.Background(), nil, upgrade.Promote{}); !errors.Is(err, etcd.ErrConfig) {
		t.Errorf("nil adapter: %v", err)
	}
}

// TestErrorsAreOneLine: whatever etcd or the transport answers, the
// message is one line.
func TestErrorsAreOneLine(t *testing.T) {
	f := recorded(t)
	f.removeErr = errors.New("rpc error:\n\tcode = Unavailable\n  desc = " + strings.Repeat("x", 1000))
	err := f.adapter().Execute(context.Background(), nil, upgrade.RemovePeer{Member: "etcd-1"})
	oneLine(t, err, "etcd-1: remove member", "rpc error: code = Unavailable desc = xxx", "...")
	if len(err.Error()) > 500 {
		t.Errorf("message of %d bytes", len(err.Error()))
	}
}
