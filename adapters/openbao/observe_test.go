package openbao_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// paths renders a node's requests as "METHOD /path".
func paths(n *fakeNode) []string {
	var out []string
	for _, r := range n.requests() {
		out = append(out, r.String())
	}
	return out
}

func TestObserveHealthyCluster(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3")
	ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
	in := k8sObservation(4)
	before := in.DeepCopy()

	obs, err := ad.Observe(context.Background(), in)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if !reflect.DeepEqual(&in, before) {
		t.Fatal("Observe modified its input observation")
	}
	if g := upgrade.CheckView(&obs); g != nil {
		t.Fatalf("CheckView = %+v, want a complete view", g)
	}

	wantView := upgrade.RaftView{
		Known: true, LeaderID: "bao-0", Term: 7, CommitIndex: 4711,
		FailureTolerance: 1, AutopilotHealthy: true,
	}
	if obs.Raft != wantView {
		t.Errorf("Raft view = %+v, want %+v", obs.Raft, wantView)
	}
	wantCaps := upgrade.Capabilities{TargetedTransfer: false, NonVoters: true, Snapshots: true, HandoffOnShutdown: true,
		AutoPromotion: false, MembershipDelay: 10 * time.Second}
	if obs.Capabilities != wantCaps {
		t.Errorf("Capabilities = %+v, want %+v", obs.Capabilities, wantCaps)
	}
	if len(obs.Members) != 4 {
		t.Fatalf("members = %d, want 4", len(obs.Members))
	}
	want := map[string]upgrade.MemberRaft{
		"bao-0": {ID: "bao-0", Address: "bao-0.bao-internal:8201", Present: true, Suffrage: upgrade.Voter, Leader: true,
			Healthy: true, LastIndex: 4711, LastTerm: 7, LastContact: 0,
			StableSince: mustTime(t, "2026-11-25T07:40:12.123456789Z")},
		"bao-1": {ID: "bao-1", Address: "bao-1.bao-internal:8201", Present: true, Suffrage: upgrade.Voter,
			Healthy: true, LastIndex: 4711, LastTerm: 7, LastContact: 1500 * time.Millisecond,
			StableSince: mustTime(t, "2026-11-25T07:41:03Z")},
		"bao-2": {ID: "bao-2", Address: "bao-2.bao-internal:8201", Present: true, Suffrage: upgrade.Voter,
			Healthy: true, LastIndex: 4709, LastTerm: 7, LastContact: 312451 * time.Microsecond,
			StableSince: mustTime(t, "2026-11-25T07:41:05.5Z")},
		"bao-3": {ID: "bao-3", Address: "bao-3.bao-internal:8201", Present: true, Suffrage: upgrade.Nonvoter,
			Healthy: true, LastIndex: 4702, LastTerm: 7, LastContact: 850 * time.Millisecond,
			StableSince: mustTime(t, "2026-11-25T07:55:41Z")},
	}
	for i, m := range obs.Members {
		wantPod := in.Members[i].Pod
		wantPod.Running = true // its own sys/health answered
		if m.Name != in.Members[i].Name || m.Pod != wantPod || m.Version != in.Members[i].Version {
			t.Errorf("member %d: workload part changed: %+v", i, m)
		}
		w := want[m.Name]
		if !m.Raft.StableSince.Equal(w.StableSince) {
			t.Errorf("%s StableSince = %v, want %v", m.Name, m.Raft.StableSince, w.StableSince)
		}
		m.Raft.StableSince, w.StableSince = time.Time{}, time.Time{}
		if m.Raft != w {
			t.Errorf("%s Raft = %+v\nwant %+v", m.Name, m.Raft, w)
		}
	}
	if v := obs.Voters(); len(v) != 3 {
		t.Errorf("voters = %d, want 3", len(v))
	}
	if l, ok := obs.Leader(); !ok || l.Name != "bao-0" {
		t.Errorf("Leader() = %v %v", l.Name, ok)
	}
	// The whole view passes the core's catch-up rule for every member.
	for _, m := range obs.Members {
		if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g != nil {
			t.Errorf("CaughtUp(%s) = %+v", m.Name, g)
		}
	}
	// Per-member health calls went to each member with OpenBao's code
	// overrides; cluster reads only to the active node, which answered.
	for _, name := range []string{"bao-1", "bao-2", "bao-3"} {
		reqs := cl.node(name).requests()
		if len(reqs) != 1 || reqs[0].String() != "GET /v1/sys/health" {
			t.Errorf("%s requests = %v, want only GET /v1/sys/health", name, reqs)
		}
		if q := reqs[0].Query; !strings.Contains(q, "standbycode=299") || !strings.Contains(q, "sealedcode=299") {
			t.Errorf("%s health query %q lacks code overrides", name, q)
		}
		if reqs[0].Token != "s.raftshift-test" {
			t.Errorf("%s token = %q", name, reqs[0].Token)
		}
	}
	wantPaths := []string{
		"GET /v1/sys/health",
		"GET /v1/sys/leader",
		"GET /v1/sys/storage/raft/configuration",
		"GET /v1/sys/storage/raft/autopilot/state",
	}
	if got := paths(cl.node("bao-0")); !reflect.DeepEqual(got, wantPaths) {
		t.Errorf("active node requests = %v, want %v", got, wantPaths)
	}
}

// TestObserveActiveKilledReadsThroughStandbys replays a real rolling
// upgrade: the active node bao-0 was killed, the active service has no
// endpoint, bao-1 won the election. Read finds the leader through the
// members and reads the view from it.
func TestObserveActiveKilledReadsThroughStandbys(t *testing.T) {
	cl := newCluster(t, "bao-1", "bao-0", "bao-1", "bao-2")
	svc := newFakeNode(t, "bao-active", true)
	svc.down()
	cl.node("bao-0").down()
	for _, n := range []string{"bao-1", "bao-2"} {
		cl.node(n).set("GET /v1/sys/storage/raft/configuration", reply{status: 200, file: "raft_configuration_failover.json"})
		cl.node(n).set("GET /v1/sys/storage/raft/autopilot/state", reply{status: 200, file: "autopilot_failover.json"})
	}
	cl.node("bao-1").set("GET /v1/sys/leader", reply{status: 200, file: "leader_active_bao1.json"})
	cl.node("bao-2").set("GET /v1/sys/leader", reply{status: 200, file: "leader_standby_bao1.json"})
	ad := &openbao.Adapter{Active: svc.client(), Clients: cl.factory(), ReadTimeout: 2 * time.Second}

	st, err := ad.Read(context.Background(), k8sMembers(3))
	if err != nil {
		t.Fatalf("Read with a reachable leader: %v", err)
	}
	if st.ConfigurationFrom != "bao-1" || st.Leader == nil || st.Leader.From != "bao-1" || !st.Leader.IsSelf {
		t.Errorf("sources: configuration from %q, leader %+v", st.ConfigurationFrom, st.Leader)
	}
	if len(st.Errors) != 2 {
		t.Errorf("recorded errors = %q, want bao-0's health and the active node's sys/leader", st.Errors)
	}
	for _, e := range st.Errors {
		oneLine(t, "State.Errors entry", e)
	}
	// Bounded and deterministic: the dead service is asked once, bao-1
	// answers everything, bao-2 only its health.
	if got, want := paths(cl.node("bao-1")), []string{"GET /v1/sys/health", "GET /v1/sys/leader",
		"GET /v1/sys/storage/raft/configuration", "GET /v1/sys/storage/raft/autopilot/state"}; !reflect.DeepEqual(got, want) {
		t.Errorf("bao-1 requests = %v, want %v", got, want)
	}
	if got := paths(cl.node("bao-2")); !reflect.DeepEqual(got, []string{"GET /v1/sys/health"}) {
		t.Errorf("bao-2 requests = %v", got)
	}

	obs := ad.Merge(k8sObservation(3), st)
	if g := upgrade.CheckView(&obs); g != nil {
		t.Fatalf("CheckView = %+v", g)
	}
	if obs.Raft.LeaderID != "bao-1" || obs.Raft.Term != 8 || obs.Raft.CommitIndex != 4716 || obs.Raft.FailureTolerance != 0 {
		t.Errorf("view = %+v", obs.Raft)
	}
	dead, _ := obs.Member("bao-0")
	if !dead.IsVoter() || dead.Raft.Healthy || dead.Raft.Unknown || dead.Pod.Running {
		t.Errorf("killed bao-0 = %+v / %+v, want a known unhealthy voter whose pod does not answer", dead.Raft, dead.Pod)
	}
	if g := (upgrade.Safety{}).CanDisrupt(&obs, "bao-2"); g == nil {
		t.Error("CanDisrupt(bao-2) allowed with bao-0 down")
	}
}

// TestObserveNoLeaderAnywhere: the leader is gone and no election finished.
// Every standby still answers sys/health (200 with standbyok, as readiness
// probes ask) and sys/leader (no leader), and forwards nothing. The view is
// unknown, not empty.
func TestObserveNoLeaderAnywhere(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2")
	svc := newFakeNode(t, "bao-active", true)
	svc.down()
	cl.node("bao-0").down()
	for _, n := range []string{"bao-1", "bao-2"} {
		node := cl.node(n)
		node.set("GET /v1/sys/health", reply{status: 200, file: "health_standby_429.json"}) // standbyok=true
		node.set("GET /v1/sys/leader", reply{status: 200, file: "leader_none.json"})
		node.set("GET /v1/sys/storage/raft/configuration", reply{status: 500, file: "no_active_500.json"})
		node.set("GET /v1/sys/storage/raft/autopilot/state", reply{status: 500, file: "no_active_500.json"})
	}
	ad := &openbao.Adapter{Active: svc.client(), Clients: cl.factory(), ReadTimeout: 2 * time.Second}
	in := k8sObservation(3)
	in.Members[1].Raft = upgrade.MemberRaft{ID: "bao-1", Address: "bao-1.bao-internal:8201", Present: true, Suffrage: upgrade.Voter, Healthy: true}

	obs, err := ad.Observe(context.Background(), in)
	if !errors.Is(err, openbao.ErrViewUnknown) {
		t.Fatalf("err = %v, want ErrViewUnknown", err)
	}
	oneLine(t, "Observe error", err.Error())
	var ce *openbao.CallError
	if !errors.As(err, &ce) || ce.StatusCode != 500 || ce.Via != "bao-1" {
		t.Errorf("first failure = %+v, want bao-1's HTTP 500", ce)
	}
	for _, part := range []string{"read raft configuration on bao-1 (GET " + cl.node("bao-1").srv.URL + "/v1/sys/storage/raft/configuration)",
		"HTTP 500: local node not active but active cluster node not found", "(2 asked)"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
	if obs.Raft != (upgrade.RaftView{}) {
		t.Errorf("view = %+v, want unknown", obs.Raft)
	}
	if g := upgrade.CheckView(&obs); g == nil || g.Reason != upgrade.ReasonRaftViewUnknown {
		t.Errorf("CheckView = %+v, want RaftViewUnknown", g)
	}
	if _, ok := obs.Leader(); ok {
		t.Error("a leader is known: 200 standbys were read as a leader")
	}
	for _, m := range obs.Members {
		want := upgrade.MemberRaft{Unknown: true, ID: m.Name}
		if m.Name == "bao-1" {
			want.Address = "bao-1.bao-internal:8201"
		}
		if m.Raft != want {
			t.Errorf("%s Raft = %+v, want %+v", m.Name, m.Raft, want)
		}
		if running := m.Name != "bao-0"; m.Pod.Running != running {
			t.Errorf("%s Pod.Running = %v, want %v", m.Name, m.Pod.Running, running)
		}
	}
	// Bounded: each live standby answered health, leader and configuration
	// once; autopilot was not asked without a configuration.
	for _, n := range []string{"bao-1", "bao-2"} {
		want := []string{"GET /v1/sys/health", "GET /v1/sys/leader", "GET /v1/sys/storage/raft/configuration"}
		if got := paths(cl.node(n)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s requests = %v, want %v", n, got, want)
		}
	}
}

func TestObserveDegradedAutopilot(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	cl.node("bao-0").set("GET /v1/sys/storage/raft/autopilot/state", reply{status: 200, file: "autopilot_degraded.json"})
	ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
	obs, err := ad.Observe(context.Background(), k8sObservation(4))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Raft.FailureTolerance != 0 || obs.Raft.AutopilotHealthy {
		t.Errorf("view = %+v, want failure tolerance 0, autopilot unhealthy", obs.Raft)
	}
	m, _ := obs.Member("bao-2")
	if m.Raft.Healthy || m.Raft.Unknown || m.Raft.LastContact != 14734*time.Millisecond || m.Raft.LastTerm != 6 ||
		m.Raft.LastIndex != 4102 || !m.Raft.StableSince.IsZero() {
		t.Errorf("bao-2 Raft = %+v", m.Raft)
	}
	if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g == nil || g.Reason != upgrade.ReasonRaftUnhealthy {
		t.Errorf("CaughtUp(bao-2) = %+v, want RaftUnhealthy", g)
	}
	if g := (upgrade.Safety{}).CanDisrupt(&obs, "bao-1"); g == nil {
		t.Error("CanDisrupt(bao-1) allowed with failure tolerance 0")
	}
}

// TestObserveAutopilotUnavailable: without autopilot nothing tells health,
// lag or contact. sys/health does not stand in for it (last index 0 on
// leader and follower alike would look caught up): every member in the
// configuration is Unknown and the view is partial.
func TestObserveAutopilotUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  reply
	}{
		{"404", reply{status: 404, file: "autopilot_404.json"}},
		{"404 empty body", reply{status: 404}},
		{"204 no state yet", reply{status: 204}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3")
			for _, n := range cl.nodes {
				n.set("GET /v1/sys/storage/raft/autopilot/state", tc.rep)
			}
			ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
			obs, err := ad.Observe(context.Background(), k8sObservation(5))
			if err != nil {
				t.Fatalf("Observe: %v (autopilot unavailable is not a failure)", err)
			}
			if !obs.Raft.Known || obs.Raft.LeaderID != "bao-0" || obs.Raft.AutopilotHealthy ||
				obs.Raft.FailureTolerance != 0 || obs.Raft.Term != 0 {
				t.Errorf("view = %+v", obs.Raft)
			}
			g := upgrade.CheckView(&obs)
			if g == nil || g.Reason != upgrade.ReasonRaftViewUnknown || g.Member != "bao-0" {
				t.Errorf("CheckView = %+v, want partial view at bao-0", g)
			}
			for _, m := range obs.Members {
				present := m.Name != "bao-4" // pending pod, not in the configuration
				if m.Raft.Present != present || m.Raft.Unknown != present || m.Raft.Healthy || m.Up() {
					t.Errorf("%s Raft = %+v, want present=%v unknown=%v and not healthy", m.Name, m.Raft, present, present)
				}
			}
			if l, _ := obs.Leader(); l.Name != "bao-0" || !l.IsVoter() {
				t.Errorf("leader %+v, want bao-0 from the configuration", l.Raft)
			}
			// Only the active node was asked: its "no autopilot" is an answer.
			if got := len(cl.node("bao-1").requests()); got != 1 {
				t.Errorf("bao-1 got %d requests, want its health only", got)
			}
		})
	}
}

// TestObservePartialAutopilot: a server in the configuration autopilot does
// not track yet, and a follower without last_contact, are Unknown.
func TestObservePartialAutopilot(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	cl.node("bao-0").set("GET /v1/sys/storage/raft/autopilot/state", reply{status: 200, file: "autopilot_partial.json"})
	ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
	obs, err := ad.Observe(context.Background(), k8sObservation(4))
	if err != nil {
		t.Fatal(err)
	}
	unknown := map[string]bool{}
	for _, m := range obs.Members {
		unknown[m.Name] = m.Raft.Unknown
		if m.Raft.Unknown && m.Raft.Healthy {
			t.Errorf("%s unknown but healthy", m.Name)
		}
	}
	if want := map[string]bool{"bao-0": false, "bao-1": false, "bao-2": true, "bao-3": true}; !reflect.DeepEqual(unknown, want) {
		t.Errorf("unknown = %v, want %v", unknown, want)
	}
	if g := upgrade.CheckView(&obs); g == nil || g.Member != "bao-2" {
		t.Errorf("CheckView = %+v, want partial at bao-2", g)
	}
	if err := (upgrade.Safety{}).Check(obs, []upgrade.Action{upgrade.DeletePod{Member: "bao-1", UID: "uid-1"}}); err == nil {
		t.Error("Safety allowed a restart on a partial view")
	}
}

// TestObserveAutopilotThroughAnotherNode: a failing autopilot read on the
// node that answered the configuration is asked of the next node; when
// nobody answers, the view is partial and Read says why.
func TestObserveAutopilotThroughAnotherNode(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2")
	cl.node("bao-0").set("GET /v1/sys/storage/raft/autopilot/state", reply{status: 500, file: "no_active_500.json"})
	ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
	obs, err := ad.Observe(context.Background(), k8sObservation(3))
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if g := upgrade.CheckView(&obs); g != nil || obs.Raft.FailureTolerance != 1 {
		t.Errorf("CheckView = %+v, view %+v", g, obs.Raft)
	}
	if got := paths(cl.node("bao-0")); !reflect.DeepEqual(got, []string{"GET /v1/sys/health", "GET /v1/sys/leader",
		"GET /v1/sys/storage/raft/configuration", "GET /v1/sys/storage/raft/autopilot/state", "GET /v1/sys/storage/raft/autopilot/state"}) {
		t.Errorf("bao-0 requests = %v (active client, then bao-0's own client)", got)
	}
	if got := paths(cl.node("bao-1")); !reflect.DeepEqual(got, []string{"GET /v1/sys/health", "GET /v1/sys/storage/raft/autopilot/state"}) {
		t.Errorf("bao-1 requests = %v", got)
	}

	for _, n := range cl.nodes {
		n.set("GET /v1/sys/storage/raft/autopilot/state", reply{status: 500, file: "no_active_500.json"})
	}
	obs, err = ad.Observe(context.Background(), k8sObservation(3))
	if err == nil || errors.Is(err, openbao.ErrViewUnknown) || !strings.Contains(err.Error(), "no node answered the autopilot state") {
		t.Fatalf("err = %v, want a partial-view error", err)
	}
	oneLine(t, "error", err.Error())
	if !obs.Raft.Known || upgrade.CheckView(&obs) == nil {
		t.Errorf("view = %+v, want known but partial", obs.Raft)
	}
}

func TestObserveUnmatchedServerAndNodeIDMapping(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	// Pods are named vault-N; the Raft node IDs are bao-N. Only three pods
	// exist: the fourth server (a non-voter) has no pod.
	in := k8sObservation(3)
	for i := range in.Members {
		in.Members[i].Name = strings.Replace(in.Members[i].Name, "bao-", "vault-", 1)
	}
	ad := &openbao.Adapter{
		Active: cl.node("bao-0").client(),
		NodeID: func(m upgrade.Member) string { return strings.Replace(m.Name, "vault-", "bao-", 1) },
	}
	obs, err := ad.Observe(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Members) != 4 {
		t.Fatalf("members = %d, want 4 (3 pods + 1 orphan server)", len(obs.Members))
	}
	for i, name := range []string{"vault-0", "vault-1", "vault-2"} {
		m := obs.Members[i]
		if m.Name != name || m.Raft.ID != strings.Replace(name, "vault-", "bao-", 1) || !m.Raft.Present || !m.IsVoter() {
			t.Errorf("member %d = %s %+v", i, m.Name, m.Raft)
		}
	}
	orphan := obs.Members[3]
	if orphan.Name != "bao-3" || orphan.Pod.Exists || !orphan.IsNonvoter() || orphan.Up() {
		t.Errorf("orphan = %+v", orphan)
	}
	if !obs.IsLeader("vault-0") {
		t.Error("vault-0 is not the leader")
	}
}
