package etcd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

func observe(t *testing.T, f *fake, ad *etcd.Adapter, obs upgrade.Observation) upgrade.Observation {
	t.Helper()
	out, err := ad.Observe(context.Background(), obs)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	return out
}

func member(t *testing.T, obs upgrade.Observation, name string) upgrade.Member {
	t.Helper()
	m, ok := obs.Member(name)
	if !ok {
		t.Fatalf("no member %s in %+v", name, obs.Members)
	}
	return m
}

// TestObserveRecorded reads the recorded healthy cluster: etcd-0 leads,
// every member is a healthy voter, the view is complete.
func TestObserveRecorded(t *testing.T) {
	f := recorded(t)
	obs := observe(t, f, f.adapter(), pods(3))
	if err := upgrade.CheckView(&obs); err != nil {
		t.Fatalf("view: %v", err)
	}
	l, ok := obs.Leader()
	if !ok || l.Name != "etcd-0" || obs.Raft.LeaderID != etcd.FormatID(f.byName("etcd-0").ID) {
		t.Fatalf("leader %+v %q", l, obs.Raft.LeaderID)
	}
	if obs.Raft.Term != 2 || obs.Raft.CommitIndex != 28 || obs.Raft.FailureTolerance != 1 || !obs.Raft.AutopilotHealthy {
		t.Errorf("raft view %+v", obs.Raft)
	}
	for _, m := range obs.Members {
		if !m.IsVoter() || !m.Raft.Healthy || m.Raft.Unknown || m.Raft.LastIndex != 28 || m.Raft.LastTerm != 2 || !m.Pod.Running {
			t.Errorf("%s: %+v", m.Name, m.Raft)
		}
		if m.Raft.Address != f.byName(m.Name).PeerURLs[0] {
			t.Errorf("%s address %q", m.Name, m.Raft.Address)
		}
	}
	caps := obs.Capabilities
	if !caps.TargetedTransfer || !caps.NonVoters || !caps.Snapshots || caps.AutoPromotion || caps.MembershipDelay != 0 || caps.HandoffOnShutdown {
		t.Errorf("capabilities %+v", caps)
	}
	if len(obs.Members) != 3 {
		t.Errorf("members %+v", obs.Members)
	}
}

// TestObserveUnreachableMemberIsUnknown: a member whose endpoint does not
// answer stays in the view as a present voter whose state is unknown, and
// the view is partial.
func TestObserveUnreachableMemberIsUnknown(t *testing.T) {
	f := recorded(t)
	f.down("etcd-2")
	st, err := f.adapter().Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "etcd-2: read status (Maintenance.Status at http://") {
		t.Errorf("errors %q", st.Errors)
	}
	obs := f.adapter().Merge(pods(3), st)
	m := member(t, obs, "etcd-2")
	if !m.Raft.Unknown || !m.Raft.Present || !m.IsVoter() || m.Raft.Healthy || m.Pod.Running {
		t.Errorf("etcd-2 %+v", m.Raft)
	}
	if err := upgrade.CheckView(&obs); err == nil {
		t.Error("a view with an unknown member is complete")
	}
	if obs.Raft.FailureTolerance != 0 || obs.Raft.AutopilotHealthy {
		t.Errorf("raft view %+v", obs.Raft)
	}
	if l, ok := obs.Leader(); !ok || l.Name != "etcd-0" {
		t.Errorf("leader %v", l.Name)
	}
}

// TestObserveLeaderUnreachable: followers name a leader that does not
// answer itself: the leader is unknown, not etcd-0 and not absent.
func TestObserveLeaderUnreachable(t *testing.T) {
	f := recorded(t)
	f.down("etcd-0")
	obs := observe(t, f, f.adapter(), pods(3))
	if !obs.Raft.Known || !obs.Raft.LeaderUnknown || obs.Raft.LeaderID != "" {
		t.Fatalf("raft view %+v", obs.Raft)
	}
	if m := member(t, obs, "etcd-0"); !m.Raft.Unknown || m.Raft.Leader {
		t.Errorf("etcd-0 %+v", m.Raft)
	}
	if err := upgrade.CheckView(&obs); err == nil {
		t.Error("view with an unknown leader is complete")
	}
}

// TestObserveNoList: no member answers the member list: the view is
// unknown, every member is unknown, and the error says so.
func TestObserveNoList(t *testing.T) {
	f := recorded(t)
	f.listErr, f.serialErr = errUnreachable, errUnreachable
	in := pods(3)
	in.Members[1].Raft = upgrade.MemberRaft{ID: "abc", Address: "http://x:2380", Present: true, Healthy: true, Suffrage: upgrade.Voter}
	obs, err := f.adapter().Observe(context.Background(), in)
	if !errors.Is(err, etcd.ErrViewUnknown) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("multi-line error %q", err)
	}
	if obs.Raft.Known {
		t.Errorf("raft view %+v", obs.Raft)
	}
	for _, m := range obs.Members {
		if !m.Raft.Unknown || m.Raft.Present || m.Raft.Healthy {
			t.Errorf("%s %+v", m.Name, m.Raft)
		}
	}
	if r := obs.Members[1].Raft; r.ID != "abc" || r.Address != "http://x:2380" {
		t.Errorf("identity lost: %+v", r)
	}
	if in.Members[1].Raft.Unknown {
		t.Error("input mutated")
	}
}

// TestObserveSerializableList: without a leader only a serializable list
// answers; the membership is used, the leader is unknown.
func TestObserveSerializableList(t *testing.T) {
	f := recorded(t)
	f.listErr = errors.New("etcdserver: no leader")
	obs := observe(t, f, f.adapter(), pods(3))
	if !obs.Raft.Known || !obs.Raft.LeaderUnknown || obs.Raft.LeaderID != "" {
		t.Fatalf("raft view %+v", obs.Raft)
	}
	if got := f.Calls()[:2]; got[0] != "MemberList" || got[1] != "MemberList(serializable)" {
		t.Errorf("calls %v", got)
	}
}

// TestObserveNoLeader: the recorded answer of a member that lost its
// quorum ("etcdserver: no leader"): unhealthy; with every voter answering
// so, a known election.
func TestObserveNoLeader(t *testing.T) {
	f := recorded(t)
	nl := mustStatus(t, "status_no_leader.json")
	for ep, s := range f.status {
		nl.MemberID = s.MemberID
		f.status[ep] = nl
	}
	obs := observe(t, f, f.adapter(), pods(3))
	if !obs.Raft.Known || obs.Raft.LeaderUnknown || obs.Raft.LeaderID != "" {
		t.Fatalf("raft view %+v", obs.Raft)
	}
	for _, m := range obs.Members {
		if m.Raft.Healthy || m.Raft.Unknown {
			t.Errorf("%s %+v", m.Name, m.Raft)
		}
	}
	// One voter silent: the leader may be there.
	f.down("etcd-1")
	obs = observe(t, f, f.adapter(), pods(3))
	if !obs.Raft.LeaderUnknown {
		t.Errorf("raft view %+v", obs.Raft)
	}
}

// TestObserveLearners: an added learner that has not started has no name
// and no client URL; it is paired by peer URL when the adapter knows the
// pods' peer URLs, else it shows as a pod-less member. Once started it is
// a healthy non-voter.
func TestObserveLearners(t *testing.T) {
	l := mustList(t, "member_list_unstarted_learner.json")
	f := recorded(t)
	f.members = l.Members
	var learner etcd.Member
	for _, m := range l.Members {
		if m.IsLearner {
			learner = m
		}
	}
	in := pods(4)
	peer := func(m upgrade.Member) string {
		if m.Name == "etcd-3" {
			return learner.PeerURLs[0] + "/"
		}
		for _, e := range l.Members {
			if e.Name == m.Name {
				return e.PeerURLs[0]
			}
		}
		return ""
	}

	obs := observe(t, f, f.adapter(), in)
	if m := member(t, obs, "etcd-3"); m.Raft.Present {
		t.Errorf("unpaired etcd-3 %+v", m.Raft)
	}
	extra := member(t, obs, "etcd member "+etcd.FormatID(learner.ID))
	if !extra.Raft.Unknown || !extra.IsNonvoter() || extra.Pod.Exists {
		t.Errorf("pod-less learner %+v", extra)
	}

	for _, match := range []etcd.MatchBy{etcd.MatchName, etcd.MatchPeerURL} {
		ad := f.adapter()
		ad.Match, ad.PeerURL = match, peer
		obs = observe(t, f, ad, in)
		m := member(t, obs, "etcd-3")
		if !m.Raft.Unknown || !m.IsNonvoter() || m.Raft.ID != etcd.FormatID(learner.ID) || len(obs.Members) != 4 {
			t.Errorf("%s: etcd-3 %+v (%d members)", match, m.Raft, len(obs.Members))
		}
	}

	started := mustList(t, "member_list_learner.json")
	f.members = started.Members
	ls := mustStatus(t, "status_learner.json")
	for _, m := range started.Members {
		if m.ID == ls.MemberID {
			f.status[m.ClientURLs[0]] = ls
		}
	}
	obs = observe(t, f, f.adapter(), in)
	m := member(t, obs, "etcd-3")
	if m.Raft.Unknown || !m.IsNonvoter() || !m.Raft.Healthy || m.Raft.LastIndex != 30 {
		t.Errorf("started learner %+v", m.Raft)
	}
	if err := upgrade.CheckView(&obs); err != nil {
		t.Errorf("view: %v", err)
	}
	if obs.Raft.FailureTolerance != 1 {
		t.Errorf("learners count as voters: %+v", obs.Raft)
	}
}

// TestObserveEndpointAnswersForAnotherMember: an endpoint answering with
// another member ID (a reused address) is not that member's state.
func TestObserveEndpointAnswersForAnotherMember(t *testing.T) {
	f := recorded(t)
	ep := f.byName("etcd-2").ClientURLs[0]
	s := f.status[ep]
	s.MemberID = 42
	f.status[ep] = s
	st, err := f.adapter().Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	obs := f.adapter().Merge(pods(3), st)
	if m := member(t, obs, "etcd-2"); !m.Raft.Unknown {
		t.Errorf("etcd-2 %+v", m.Raft)
	}
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "conflicting cluster state: endpoint answers for member 2a") {
		t.Errorf("errors %q", st.Errors)
	}
}

// TestObserveContradictoryLeaders: two members claim leadership at one
// term: nobody is trusted.
func TestObserveContradictoryLeaders(t *testing.T) {
	f := recorded(t)
	ep := f.byName("etcd-1").ClientURLs[0]
	s := f.status[ep]
	s.Leader = s.MemberID
	f.status[ep] = s
	obs := observe(t, f, f.adapter(), pods(3))
	if obs.Raft.LeaderID != "" || !obs.Raft.LeaderUnknown {
		t.Errorf("raft view %+v", obs.Raft)
	}
	// A stale claim at a lower term does not count.
	s.RaftTerm = 1
	f.status[ep] = s
	obs = observe(t, f, f.adapter(), pods(3))
	if l, ok := obs.Leader(); !ok || l.Name != "etcd-0" {
		t.Errorf("leader %+v", obs.Raft)
	}
	if m := member(t, obs, "etcd-1"); m.Raft.Healthy {
		t.Errorf("member behind the leader's term healthy: %+v", m.Raft)
	}
}

// TestObservePodsWithoutMembers: a pod no etcd member matches is known
// absent; an alarm makes a member unhealthy.
func TestObservePodsWithoutMembers(t *testing.T) {
	f := recorded(t)
	ep := f.byName("etcd-1").ClientURLs[0]
	s := f.status[ep]
	s.Errors = []string{"NOSPACE"}
	f.status[ep] = s
	obs := observe(t, f, f.adapter(), pods(4))
	if m := member(t, obs, "etcd-3"); m.Raft.Present || m.Raft.Unknown {
		t.Errorf("etcd-3 %+v", m.Raft)
	}
	if m := member(t, obs, "etcd-1"); m.Raft.Healthy || m.Raft.Unknown {
		t.Errorf("etcd-1 %+v", m.Raft)
	}
	if obs.Raft.FailureTolerance != 0 {
		t.Errorf("raft view %+v", obs.Raft)
	}
}

func TestReadConfig(t *testing.T) {
	for _, ad := range []*etcd.Adapter{nil, {}, {Client: recorded(t), Match: "IP"}, {Client: recorded(t), Match: etcd.MatchPeerURL}} {
		if _, err := ad.Read(context.Background()); !errors.Is(err, etcd.ErrConfig) {
			t.Errorf("%+v: err = %v", ad, err)
		}
	}
}
