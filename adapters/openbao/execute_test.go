package openbao_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

// observed returns the merged observation of a healthy 4-member cluster
// plus a pending pod bao-4.
func observed(t *testing.T, cl *fakeCluster, ad *openbao.Adapter) *upgrade.Observation {
	t.Helper()
	in := k8sObservation(5)
	obs, err := ad.Observe(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	cl.resetAll()
	return &obs
}

func newTestAdapter(cl *fakeCluster) *openbao.Adapter {
	return &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
}

func jsonBody(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("request body %q: %v", s, err)
	}
	return m
}

func TestExecuteStepDown(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
	ad := newTestAdapter(cl)
	obs := observed(t, cl, ad)

	if err := ad.Execute(context.Background(), obs, upgrade.StepDown{Member: "bao-0", ID: "bao-0"}); err != nil {
		t.Fatalf("StepDown: %v", err)
	}
	want := []string{"bao-0: GET /v1/sys/leader", "bao-0: PUT /v1/sys/step-down"}
	if got := cl.allRequests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests = %v, want %v", got, want)
	}
}

func TestExecuteStepDownRefusesNonLeader(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
	ad := newTestAdapter(cl)
	obs := observed(t, cl, ad)

	// Leadership moved on since the observation: bao-1 is a standby now.
	err := ad.Execute(context.Background(), obs, upgrade.StepDown{Member: "bao-1", ID: "bao-1"})
	if !errors.Is(err, openbao.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
	if want := "openbao: step-down on bao-1 (GET " + cl.node("bao-1").srv.URL + "/v1/sys/leader): "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q\nwant prefix %q", err, want)
	}
	oneLine(t, "error", err.Error())
	want := []string{"bao-1: GET /v1/sys/leader"}
	if got := cl.allRequests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests = %v, want %v (no step-down sent)", got, want)
	}
}

func TestExecuteJoinAPI(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
	ad := newTestAdapter(cl)
	ad.JoinMode = openbao.JoinAPI
	ad.Join = api.RaftJoinRequest{LeaderCACert: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", Retry: true}
	obs := observed(t, cl, ad)

	err := ad.Execute(context.Background(), obs, upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4", Address: "bao-4.bao-internal:8201"})
	if err != nil {
		t.Fatalf("JoinNonvoter: %v", err)
	}
	want := []string{"bao-0: GET /v1/sys/storage/raft/configuration", "bao-0: GET /v1/sys/leader", "bao-4: POST /v1/sys/storage/raft/join"}
	if got := cl.allRequests(); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests = %v, want %v", got, want)
	}
	body := jsonBody(t, cl.node("bao-4").requests()[0].Body)
	for k, v := range map[string]any{
		"leader_api_addr": "https://bao-0.bao-internal:8200",
		"non_voter":       true,
		"retry":           false,
		"leader_ca_cert":  ad.Join.LeaderCACert,
	} {
		if body[k] != v {
			t.Errorf("join body %s = %v, want %v", k, body[k], v)
		}
	}

	// An explicit leader address skips sys/leader.
	cl.resetAll()
	ad.LeaderAPIAddr = "https://bao-active.bao.svc:8200"
	if err := ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4"}); err != nil {
		t.Fatal(err)
	}
	if got := cl.allRequests(); !reflect.DeepEqual(got, []string{"bao-0: GET /v1/sys/storage/raft/configuration", "bao-4: POST /v1/sys/storage/raft/join"}) {
		t.Errorf("requests = %v", got)
	}
	if body := jsonBody(t, cl.node("bao-4").requests()[0].Body); body["leader_api_addr"] != ad.LeaderAPIAddr {
		t.Errorf("leader_api_addr = %v", body["leader_api_addr"])
	}

	// joined=false is a failure.
	cl.node("bao-4").set("POST /v1/sys/storage/raft/join", reply{status: 200, file: "join_false.json"})
	err = ad.Execute(context.Background(), obs, upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4"})
	if err == nil || !strings.HasPrefix(err.Error(), "openbao: join as non-voter on bao-4 (POST "+cl.node("bao-4").srv.URL+"/v1/sys/storage/raft/join): ") {
		t.Errorf("joined=false: err = %v", err)
	}

	// Already in the configuration, as a non-voter or (promoted by
	// autopilot) as a voter: done, nothing posted.
	for _, m := range []string{"bao-3", "bao-1"} {
		cl.resetAll()
		if err := ad.Execute(context.Background(), obs, upgrade.JoinNonvoter{Member: m, ID: m}); err != nil {
			t.Errorf("join %s again: %v", m, err)
		}
		if got := cl.allRequests(); !reflect.DeepEqual(got, []string{"bao-0: GET /v1/sys/storage/raft/configuration"}) {
			t.Errorf("join %s again: requests = %v", m, got)
		}
	}
}

// TestExecuteJoinSelf: green servers join by themselves
// (retry_join_as_non_voter); JoinNonvoter only verifies and never posts.
func TestExecuteJoinSelf(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
	ad := newTestAdapter(cl) // JoinMode "": JoinSelf
	obs := observed(t, cl, ad)

	if err := ad.Execute(context.Background(), obs, upgrade.JoinNonvoter{Member: "bao-3", ID: "bao-3"}); err != nil {
		t.Errorf("bao-3 (a non-voter): %v", err)
	}
	err := ad.Execute(context.Background(), obs, upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4"})
	if !errors.Is(err, openbao.ErrNotJoined) || !strings.Contains(err.Error(), "not joined yet") {
		t.Errorf("bao-4 (absent): err = %v, want ErrNotJoined", err)
	}
	want := "openbao: join as non-voter bao-4 via active node (GET " + cl.node("bao-0").srv.URL + "/v1/sys/storage/raft/configuration): not joined yet: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q\nwant prefix %q", err, want)
	}
	err = ad.Execute(context.Background(), obs, upgrade.JoinNonvoter{Member: "bao-1", ID: "bao-1"})
	if err == nil || errors.Is(err, openbao.ErrNotJoined) || !strings.Contains(err.Error(), "retry_join_as_non_voter") {
		t.Errorf("bao-1 (a voter): err = %v", err)
	}
	for _, r := range cl.allRequests() {
		if r != "bao-0: GET /v1/sys/storage/raft/configuration" {
			t.Errorf("JoinSelf sent %s", r)
		}
	}
	// Without a configuration it cannot verify: the view is unknown.
	cl.node("bao-0").set("GET /v1/sys/storage/raft/configuration", reply{status: 500, file: "no_active_500.json"})
	err = ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "bao-3", ID: "bao-3"})
	if !errors.Is(err, openbao.ErrViewUnknown) || !strings.Contains(err.Error(), "HTTP 500: local node not active") {
		t.Errorf("no configuration: err = %v", err)
	}
}

func TestCapabilitiesPerJoinMode(t *testing.T) {
	base := upgrade.Capabilities{NonVoters: true, Snapshots: true, HandoffOnShutdown: true, MembershipDelay: 10 * time.Second}
	if got := openbao.Capabilities(); got != base {
		t.Errorf("default capabilities = %+v, want %+v", got, base)
	}
	for _, tc := range []struct {
		ad   *openbao.Adapter
		auto bool
		wait time.Duration
	}{
		{nil, false, 10 * time.Second},
		{&openbao.Adapter{}, false, 10 * time.Second},
		{&openbao.Adapter{JoinMode: openbao.JoinSelf}, false, 10 * time.Second},
		{&openbao.Adapter{JoinMode: openbao.JoinAPI}, true, 10 * time.Second},
		{&openbao.Adapter{JoinMode: "bogus"}, true, 10 * time.Second},
		{&openbao.Adapter{ReconcileInterval: 3 * time.Second}, false, 3 * time.Second},
	} {
		c := tc.ad.Capabilities()
		if c.AutoPromotion != tc.auto || c.MembershipDelay != tc.wait || c.TargetedTransfer || !c.NonVoters || !c.Snapshots {
			t.Errorf("%+v: capabilities %+v", tc.ad, c)
		}
		if out := tc.ad.Merge(k8sObservation(1), nil); out.Capabilities != c {
			t.Errorf("%+v: Merge put %+v", tc.ad, out.Capabilities)
		}
	}
	// Observe fills them in, also when the read fails.
	cl := newCluster(t, "bao-0", "bao-0")
	ad := &openbao.Adapter{Active: cl.node("bao-0").client(), JoinMode: openbao.JoinAPI, ReconcileInterval: 5 * time.Second}
	obs, err := ad.Observe(context.Background(), k8sObservation(1))
	if err != nil || obs.Capabilities != ad.Capabilities() {
		t.Errorf("Observe: %v, %+v", err, obs.Capabilities)
	}
	cl.node("bao-0").down()
	if obs, _ := ad.Observe(context.Background(), k8sObservation(1)); obs.Capabilities != ad.Capabilities() {
		t.Errorf("failed Observe: %+v", obs.Capabilities)
	}
	if err := ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "x", ID: "x"}); err == nil {
		t.Error("join through a dead cluster succeeded")
	}
	bogus := &openbao.Adapter{Active: cl.node("bao-0").client(), JoinMode: "bogus"}
	if err := bogus.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "x", ID: "x"}); !errors.Is(err, openbao.ErrConfig) {
		t.Errorf("unknown join mode: err = %v", err)
	}
}

func TestExecuteMembershipChanges(t *testing.T) {
	for _, tc := range []struct {
		act  upgrade.Action
		path string
		id   string
	}{
		{upgrade.Promote{Member: "bao-3", ID: "bao-3"}, "/v1/sys/storage/raft/promote", "bao-3"},
		{upgrade.Demote{Member: "bao-2", ID: "bao-2"}, "/v1/sys/storage/raft/demote", "bao-2"},
		{upgrade.RemovePeer{Member: "bao-2", ID: "bao-2"}, "/v1/sys/storage/raft/remove-peer", "bao-2"},
		// Without an ID the observed member's Raft ID is used.
		{upgrade.Promote{Member: "bao-3"}, "/v1/sys/storage/raft/promote", "bao-3"},
	} {
		t.Run(tc.act.String(), func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
			ad := newTestAdapter(cl)
			obs := observed(t, cl, ad)
			if err := ad.Execute(context.Background(), obs, tc.act); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			want := []string{"bao-0: GET /v1/sys/storage/raft/configuration", "bao-0: PUT " + tc.path}
			if got := cl.allRequests(); !reflect.DeepEqual(got, want) {
				t.Fatalf("requests = %v, want %v", got, want)
			}
			body := jsonBody(t, cl.node("bao-0").requests()[1].Body)
			if !reflect.DeepEqual(body, map[string]any{"server_id": tc.id}) {
				t.Errorf("body = %v, want server_id %s", body, tc.id)
			}
		})
	}
}

func TestExecutePromoteDemoteUnsupported(t *testing.T) {
	for _, tc := range []struct {
		act    upgrade.Action
		member string
		route  string
		status int
		prefix string
	}{
		{upgrade.Promote{Member: "bao-3", ID: "bao-3"}, "bao-3", "PUT /v1/sys/storage/raft/promote", 404,
			"openbao: promote bao-3 via active node (PUT %s/v1/sys/storage/raft/promote): operation not supported: HTTP 404: unsupported path"},
		{upgrade.Demote{Member: "bao-2", ID: "bao-2"}, "bao-2", "PUT /v1/sys/storage/raft/demote", 405,
			"openbao: demote bao-2 via active node (PUT %s/v1/sys/storage/raft/demote): operation not supported: HTTP 405: unsupported path"},
	} {
		t.Run(tc.act.String(), func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0")
			cl.node("bao-0").set(tc.route, reply{status: tc.status, file: "unsupported_path_404.json"})
			ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
			err := ad.Execute(context.Background(), nil, tc.act)
			if !errors.Is(err, openbao.ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if want := fmt.Sprintf(tc.prefix, cl.node("bao-0").srv.URL); err.Error() != want {
				t.Errorf("message %q\nwant      %q", err, want)
			}
			var ce *openbao.CallError
			if !errors.As(err, &ce) || ce.StatusCode != tc.status || ce.Member != tc.member || ce.Via != openbao.ActiveNode {
				t.Errorf("CallError = %+v", ce)
			}
		})
	}
	// A 404 on remove-peer is a real failure, not "unsupported".
	cl := newCluster(t, "bao-0", "bao-0")
	cl.node("bao-0").set("PUT /v1/sys/storage/raft/remove-peer", reply{status: 404, file: "unsupported_path_404.json"})
	ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
	err := ad.Execute(context.Background(), nil, upgrade.RemovePeer{Member: "bao-2", ID: "bao-2"})
	if err == nil || errors.Is(err, openbao.ErrUnsupported) {
		t.Errorf("remove-peer 404: err = %v", err)
	}
}

func TestExecuteErrorsNameMemberAndCall(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
	for _, n := range cl.nodes {
		for _, route := range []string{"PUT /v1/sys/step-down", "POST /v1/sys/storage/raft/join",
			"PUT /v1/sys/storage/raft/promote", "PUT /v1/sys/storage/raft/demote",
			"PUT /v1/sys/storage/raft/remove-peer", "GET /v1/sys/storage/raft/snapshot"} {
			n.set(route, reply{status: 500, file: "no_active_500.json"})
		}
	}
	ad := newTestAdapter(cl)
	ad.Snapshots = func(context.Context, upgrade.TakeSnapshot) (io.WriteCloser, error) { return &sink{}, nil }
	ad.JoinMode = openbao.JoinAPI
	obs := observed(t, cl, ad)
	active, joiner := cl.node("bao-0").srv.URL, cl.node("bao-4").srv.URL
	for _, tc := range []struct {
		act    upgrade.Action
		prefix string
	}{
		{upgrade.StepDown{Member: "bao-0", ID: "bao-0"}, "openbao: step-down on bao-0 (PUT " + active + "/v1/sys/step-down): "},
		{upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4"}, "openbao: join as non-voter on bao-4 (POST " + joiner + "/v1/sys/storage/raft/join): "},
		{upgrade.Promote{Member: "bao-3", ID: "bao-3"}, "openbao: promote bao-3 via active node (PUT " + active + "/v1/sys/storage/raft/promote): "},
		{upgrade.Demote{Member: "bao-2", ID: "bao-2"}, "openbao: demote bao-2 via active node (PUT " + active + "/v1/sys/storage/raft/demote): "},
		{upgrade.RemovePeer{Member: "bao-1", ID: "bao-1"}, "openbao: remove-peer bao-1 via active node (PUT " + active + "/v1/sys/storage/raft/remove-peer): "},
		{upgrade.TakeSnapshot{Name: "pre-upgrade"}, "openbao: snapshot pre-upgrade on active node (GET " + active + "/v1/sys/storage/raft/snapshot): "},
	} {
		err := ad.Execute(context.Background(), obs, tc.act)
		if err == nil {
			t.Errorf("%s: no error on HTTP 500", tc.act)
			continue
		}
		if want := tc.prefix + "HTTP 500: local node not active but active cluster node not found"; err.Error() != want {
			t.Errorf("%s: message %q\nwant        %q", tc.act, err, want)
		}
		oneLine(t, tc.act.String(), err.Error())
		if !strings.Contains(err.Error(), "local node not active but active cluster node not found") {
			t.Errorf("%s: server message lost: %q", tc.act, err)
		}
		var ce *openbao.CallError
		var re *api.ResponseError
		if !errors.As(err, &ce) || ce.StatusCode != 500 || !errors.As(err, &re) {
			t.Errorf("%s: error chain lacks CallError/ResponseError: %#v", tc.act, err)
		}
		if errors.Is(err, openbao.ErrUnsupported) {
			t.Errorf("%s: 500 classified as unsupported", tc.act)
		}
	}
}

type sink struct {
	bytes.Buffer
	closed bool
}

func (s *sink) Close() error { s.closed = true; return nil }

func TestExecuteTakeSnapshot(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
	var got []upgrade.TakeSnapshot
	s := &sink{}
	ad.Snapshots = func(_ context.Context, a upgrade.TakeSnapshot) (io.WriteCloser, error) {
		got = append(got, a)
		return s, nil
	}
	act := upgrade.TakeSnapshot{Name: "pre-upgrade-2.5.0", Reason: "upgrade"}
	if err := ad.Execute(context.Background(), nil, act); err != nil {
		t.Fatalf("TakeSnapshot: %v", err)
	}
	if !reflect.DeepEqual(got, []upgrade.TakeSnapshot{act}) {
		t.Errorf("sink opened for %v", got)
	}
	if !s.closed || !bytes.Equal(s.Bytes(), snapshotArchive(t, true)) {
		t.Errorf("sink closed=%v, %d bytes; want the served archive", s.closed, s.Len())
	}
	if r := cl.allRequests(); !reflect.DeepEqual(r, []string{"bao-0: GET /v1/sys/storage/raft/snapshot"}) {
		t.Errorf("requests = %v", r)
	}

	// A snapshot missing SHA256SUMS.sealed is incomplete.
	cl.node("bao-0").set("GET /v1/sys/storage/raft/snapshot", reply{status: 200, body: snapshotArchive(t, false)})
	s2 := &sink{}
	ad.Snapshots = func(context.Context, upgrade.TakeSnapshot) (io.WriteCloser, error) { return s2, nil }
	err := ad.Execute(context.Background(), nil, act)
	if !errors.Is(err, api.ErrIncompleteSnapshot) || !s2.closed {
		t.Errorf("incomplete snapshot: err = %v, closed = %v", err, s2.closed)
	}

	// Without a sink nothing is requested.
	cl.resetAll()
	ad.Snapshots = nil
	if err := ad.Execute(context.Background(), nil, act); !errors.Is(err, openbao.ErrConfig) {
		t.Errorf("no sink: err = %v, want ErrConfig", err)
	}
	if r := cl.allRequests(); len(r) != 0 {
		t.Errorf("requests without sink: %v", r)
	}
}

func TestExecuteUnsupportedAndNonRaft(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	ad := newTestAdapter(cl)
	err := ad.Execute(context.Background(), nil, upgrade.TransferLeadership{From: "bao-0", To: "bao-1", FromID: "bao-0", ToID: "bao-1"})
	if !errors.Is(err, openbao.ErrUnsupported) {
		t.Errorf("TransferLeadership: err = %v, want ErrUnsupported", err)
	}
	nonRaft := []upgrade.Action{
		upgrade.AcquireLock{Holder: "upgrade"}, upgrade.ReleaseLock{Holder: "upgrade"},
		upgrade.SetPartition{Workload: "bao", Partition: 2}, upgrade.UpdateTemplate{Workload: "bao"},
		upgrade.DeletePod{Member: "bao-1", UID: "uid-1"}, upgrade.CreateRevision{Workload: "bao-green"},
		upgrade.DeleteRevision{Workload: "bao-blue"}, upgrade.SwitchService{Service: "bao", Workload: "bao-green"},
		upgrade.RunHook{Hook: "smoke"},
	}
	for _, a := range nonRaft {
		err := ad.Execute(context.Background(), nil, a)
		if !errors.Is(err, openbao.ErrNotRaftAction) {
			t.Errorf("%s: err = %v, want ErrNotRaftAction", a.Kind(), err)
		}
		if openbao.Handles(a.Kind()) {
			t.Errorf("Handles(%s) = true", a.Kind())
		}
	}
	if got := cl.allRequests(); len(got) != 0 {
		t.Errorf("requests for unsupported actions: %v", got)
	}
	// Every kind is either handled or routed elsewhere; the raft kinds are
	// exactly the handled ones.
	handled := 0
	for _, k := range upgrade.AllKinds() {
		if openbao.Handles(k) {
			handled++
		}
	}
	if handled != 7 || handled+len(nonRaft) != len(upgrade.AllKinds()) {
		t.Errorf("handled %d of %d kinds", handled, len(upgrade.AllKinds()))
	}
}

func TestExecuteMisconfigured(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	// No per-member clients: step-down and API joins cannot be targeted.
	ad := &openbao.Adapter{Active: cl.node("bao-0").client(), JoinMode: openbao.JoinAPI}
	for _, a := range []upgrade.Action{
		upgrade.StepDown{Member: "bao-0", ID: "bao-0"},
		upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4"},
	} {
		err := ad.Execute(context.Background(), nil, a)
		if !errors.Is(err, openbao.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", a.Kind(), err)
		}
	}
	// No active client at all.
	var empty openbao.Adapter
	if err := empty.Execute(context.Background(), nil, upgrade.Promote{Member: "bao-3", ID: "bao-3"}); !errors.Is(err, openbao.ErrConfig) {
		t.Errorf("no active client: err = %v", err)
	}
	if _, err := empty.Read(context.Background(), nil); !errors.Is(err, openbao.ErrConfig) {
		t.Errorf("Read without client: err = %v", err)
	}
	for _, r := range cl.allRequests() {
		if !strings.HasPrefix(r, "bao-0: GET ") {
			t.Errorf("misconfigured adapter sent %s", r)
		}
	}
}
