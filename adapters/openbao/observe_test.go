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

	wantView := upgrade.RaftView{
		Known: true, LeaderID: "bao-0", Term: 7, CommitIndex: 4711,
		FailureTolerance: 1, AutopilotHealthy: true,
	}
	if obs.Raft != wantView {
		t.Errorf("Raft view = %+v, want %+v", obs.Raft, wantView)
	}
	if want := (upgrade.Capabilities{TargetedTransfer: false, NonVoters: true, Snapshots: true}); obs.Capabilities != want {
		t.Errorf("Capabilities = %+v, want %+v", obs.Capabilities, want)
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
		if m.Name != in.Members[i].Name || m.Pod != in.Members[i].Pod || m.Version != in.Members[i].Version {
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
	// overrides, active-node reads only to the active node.
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
	got := cl.node("bao-0").requests()
	var paths []string
	for _, r := range got {
		paths = append(paths, r.String())
	}
	wantPaths := []string{
		"GET /v1/sys/leader",
		"GET /v1/sys/storage/raft/configuration",
		"GET /v1/sys/storage/raft/autopilot/state",
		"GET /v1/sys/health",
	}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Errorf("active node requests = %v, want %v", paths, wantPaths)
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
	if m.Raft.Healthy || m.Raft.LastContact != 14734*time.Millisecond || m.Raft.LastTerm != 6 ||
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
			cl.node("bao-0").set("GET /v1/sys/storage/raft/autopilot/state", tc.rep)
			cl.node("bao-2").set("GET /v1/sys/health", reply{status: 503, file: "health_sealed_503.json"})

			// Without per-member clients nothing vouches for health: every
			// member is unhealthy and the failure tolerance is 0.
			bare := &openbao.Adapter{Active: cl.node("bao-0").client()}
			obs, err := bare.Observe(context.Background(), k8sObservation(4))
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if !obs.Raft.Known || obs.Raft.LeaderID != "bao-0" || obs.Raft.AutopilotHealthy ||
				obs.Raft.FailureTolerance != 0 || obs.Raft.Term != 0 {
				t.Errorf("view = %+v", obs.Raft)
			}
			for _, m := range obs.Members {
				if m.Raft.Healthy {
					t.Errorf("%s healthy without autopilot or health data", m.Name)
				}
				if !m.Raft.Present {
					t.Errorf("%s not present", m.Name)
				}
			}

			// With per-member sys/health: bao-2 is sealed, the other voters
			// serve, so 2 healthy voters of 3: tolerance 0.
			ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
			obs, err = ad.Observe(context.Background(), k8sObservation(4))
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			health := map[string]bool{}
			for _, m := range obs.Members {
				health[m.Name] = m.Raft.Healthy
			}
			if want := map[string]bool{"bao-0": true, "bao-1": true, "bao-2": false, "bao-3": true}; !reflect.DeepEqual(health, want) {
				t.Errorf("health = %v, want %v", health, want)
			}
			if obs.Raft.FailureTolerance != 0 {
				t.Errorf("failure tolerance = %d, want 0", obs.Raft.FailureTolerance)
			}
			// All three voters serving: tolerance 1.
			cl.node("bao-2").set("GET /v1/sys/health", reply{status: 429, file: "health_standby_429.json"})
			obs, err = ad.Observe(context.Background(), k8sObservation(4))
			if err != nil {
				t.Fatal(err)
			}
			if obs.Raft.FailureTolerance != 1 {
				t.Errorf("failure tolerance = %d, want 1", obs.Raft.FailureTolerance)
			}
		})
	}
}

func TestReadHealthVariants(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		want   openbao.MemberHealth
	}{
		{"health_active_200.json", 200, openbao.MemberHealth{Reachable: true, Initialized: true, Version: "2.4.1"}},
		{"health_standby_429.json", 429, openbao.MemberHealth{Reachable: true, Initialized: true, Standby: true, Version: "2.4.1"}},
		{"health_perfstandby_473.json", 473, openbao.MemberHealth{Reachable: true, Initialized: true, Standby: true, PerformanceStandby: true, Version: "2.4.1"}},
		{"health_uninit_501.json", 501, openbao.MemberHealth{Reachable: true, Sealed: true, Standby: true, Version: "2.4.1"}},
		{"health_sealed_503.json", 503, openbao.MemberHealth{Reachable: true, Initialized: true, Sealed: true, Standby: true, Version: "2.4.1"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1")
			cl.node("bao-1").set("GET /v1/sys/health", reply{status: tc.status, file: tc.file})
			ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
			st, err := ad.Read(context.Background(), k8sMembers(2))
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Health["bao-1"]; got != tc.want {
				t.Errorf("health = %+v, want %+v", got, tc.want)
			}
			if got, want := st.Health["bao-1"].Serving(), tc.status == 200 || tc.status == 429 || tc.status == 473; got != want {
				t.Errorf("Serving = %v, want %v", got, want)
			}
		})
	}
}

func TestReadHealthUnreachableMember(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2")
	// A proxy that ignores OpenBao's code overrides answers a raw 503.
	cl.node("bao-1").set("GET /v1/sys/health", reply{status: 502, body: []byte("<html>bad gateway</html>")})
	cl.node("bao-2").srv.Close()
	ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory(), HealthTimeout: 2 * time.Second}
	st, err := ad.Read(context.Background(), k8sMembers(3))
	if err != nil {
		t.Fatalf("Read failed because of one member: %v", err)
	}
	for _, name := range []string{"bao-1", "bao-2"} {
		h := st.Health[name]
		if h.Reachable || h.Serving() {
			t.Errorf("%s health = %+v, want unreachable", name, h)
		}
		prefix := "openbao: read health on " + name + " (GET /v1/sys/health): "
		if !strings.HasPrefix(h.Error, prefix) {
			t.Errorf("%s error = %q, want prefix %q", name, h.Error, prefix)
		}
	}
	if !st.Health["bao-0"].Serving() {
		t.Errorf("bao-0 health = %+v", st.Health["bao-0"])
	}
}

func TestObserveErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		route     string
		rep       reply
		call      string
		malformed bool
		status    int
	}{
		{"configuration truncated JSON", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, file: "raft_configuration_malformed.json"},
			"openbao: read raft configuration on active node (GET /v1/sys/storage/raft/configuration): ", true, 0},
		{"configuration without config", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, body: []byte(`{"data":{"servers":[]}}`)},
			"openbao: read raft configuration on active node (GET /v1/sys/storage/raft/configuration): ", true, 0},
		{"configuration wrong types", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, body: []byte(`{"data":{"config":{"servers":[{"node_id":7}]}}}`)},
			"openbao: read raft configuration on active node (GET /v1/sys/storage/raft/configuration): ", true, 0},
		{"configuration duplicate node", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, body: []byte(`{"data":{"config":{"servers":[{"node_id":"a","voter":true},{"node_id":"a"}]}}}`)},
			"openbao: read raft configuration on active node (GET /v1/sys/storage/raft/configuration): ", true, 0},
		{"configuration empty 200", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200},
			"openbao: read raft configuration on active node (GET /v1/sys/storage/raft/configuration): ", true, 0},
		{"configuration permission denied", "GET /v1/sys/storage/raft/configuration",
			reply{status: 403, file: "permission_denied_403.json"},
			"openbao: read raft configuration on active node (GET /v1/sys/storage/raft/configuration): ", false, 403},
		{"autopilot bad last_contact", "GET /v1/sys/storage/raft/autopilot/state",
			reply{status: 200, file: "autopilot_badtypes.json"},
			"openbao: read autopilot state on active node (GET /v1/sys/storage/raft/autopilot/state): ", true, 0},
		{"autopilot truncated JSON", "GET /v1/sys/storage/raft/autopilot/state",
			reply{status: 200, body: []byte(`{"data":{"healthy":tru`)},
			"openbao: read autopilot state on active node (GET /v1/sys/storage/raft/autopilot/state): ", true, 0},
		{"autopilot server error", "GET /v1/sys/storage/raft/autopilot/state",
			reply{status: 500, file: "no_active_500.json"},
			"openbao: read autopilot state on active node (GET /v1/sys/storage/raft/autopilot/state): ", false, 500},
		{"leader not JSON", "GET /v1/sys/leader",
			reply{status: 200, body: []byte("<html>oops</html>")},
			"openbao: read leader on active node (GET /v1/sys/leader): ", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0")
			cl.node("bao-0").set(tc.route, tc.rep)
			ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
			in := k8sObservation(3)
			obs, err := ad.Observe(context.Background(), in)
			if err == nil {
				t.Fatal("Observe succeeded on a bad response")
			}
			if !strings.HasPrefix(err.Error(), tc.call) {
				t.Errorf("error %q\nwant prefix %q", err, tc.call)
			}
			if got := errors.Is(err, openbao.ErrMalformedResponse); got != tc.malformed {
				t.Errorf("errors.Is(ErrMalformedResponse) = %v, want %v (%v)", got, tc.malformed, err)
			}
			var ce *openbao.CallError
			if !errors.As(err, &ce) || ce.StatusCode != tc.status {
				t.Errorf("CallError = %+v, want status %d", ce, tc.status)
			}
			if obs.Raft.Known {
				t.Error("Raft view known after a failed read")
			}
			if len(obs.Members) != 3 || obs.Members[0].Pod != in.Members[0].Pod {
				t.Error("workload part lost on error")
			}
			for _, m := range obs.Members {
				if m.Raft.Present || m.Raft.Healthy || m.Up() {
					t.Errorf("%s raft state survived a failed read: %+v", m.Name, m.Raft)
				}
			}
		})
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
