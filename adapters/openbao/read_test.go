package openbao_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

func TestReadHealthVariants(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		want   openbao.MemberHealth
	}{
		{"health_active_200.json", 200, openbao.MemberHealth{Reachable: true, Initialized: true, Version: "2.6.2"}},
		{"health_standby_429.json", 429, openbao.MemberHealth{Reachable: true, Initialized: true, Standby: true, Version: "2.6.2"}},
		{"health_standby_429.json", 200, openbao.MemberHealth{Reachable: true, Initialized: true, Standby: true, Version: "2.6.2"}},
		{"health_uninit_501.json", 501, openbao.MemberHealth{Reachable: true, Sealed: true, Standby: true, Version: "2.6.2"}},
		{"health_sealed_503.json", 503, openbao.MemberHealth{Reachable: true, Initialized: true, Sealed: true, Standby: true, Version: "2.6.2"}},
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
			if got, want := st.Health["bao-1"].Serving(), tc.want.Initialized && !tc.want.Sealed; got != want {
				t.Errorf("Serving = %v, want %v", got, want)
			}
		})
	}
}

// TestMergeRunningFromHealth: a member whose own sys/health answers in any
// state runs and its API answers (enough to join); Ready is untouched.
func TestMergeRunningFromHealth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rep     reply
		running bool
	}{
		{"uninitialized 501", reply{status: 501, file: "health_uninit_501.json"}, true},
		{"sealed 503", reply{status: 503, file: "health_sealed_503.json"}, true},
		{"standby 429", reply{status: 429, file: "health_standby_429.json"}, true},
		{"performance standby 473", reply{status: 473, file: "health_standby_429.json"}, true},
		{"proxy 502", reply{status: 502, body: []byte("<html>bad gateway</html>")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
			cl.node("bao-4").set("GET /v1/sys/health", tc.rep)
			ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory()}
			in := k8sObservation(5)
			in.Members[4].Pod.Ready = false // green pod: not initialized or unsealed yet
			obs, err := ad.Observe(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			m := obs.Members[4]
			if m.Pod.Running != tc.running || m.Pod.Ready || m.Joinable() != tc.running {
				t.Errorf("pod = %+v, want running=%v, not ready", m.Pod, tc.running)
			}
		})
	}
	// A pod-less member is never marked running.
	st := &openbao.State{Health: map[string]openbao.MemberHealth{"bao-0": {Reachable: true}}}
	in := k8sObservation(1)
	in.Members[0].Pod = upgrade.PodStatus{}
	if out := openbao.Merge(in, st, nil); out.Members[0].Pod.Running {
		t.Error("absent pod marked running")
	}
}

func TestReadHealthUnreachableMember(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2")
	// A proxy that ignores OpenBao's code overrides answers a raw 502.
	cl.node("bao-1").set("GET /v1/sys/health", reply{status: 502, body: []byte("<html>\n<body>bad gateway</body>\n</html>")})
	cl.node("bao-2").down()
	ad := &openbao.Adapter{Active: cl.node("bao-0").client(), Clients: cl.factory(), ReadTimeout: 2 * time.Second}
	st, err := ad.Read(context.Background(), k8sMembers(3))
	if err != nil {
		t.Fatalf("Read failed because of one member: %v", err)
	}
	for _, name := range []string{"bao-1", "bao-2"} {
		h := st.Health[name]
		if h.Reachable || h.Serving() {
			t.Errorf("%s health = %+v, want unreachable", name, h)
		}
		prefix := "openbao: read health on " + name + " (GET " + cl.node(name).srv.URL + "/v1/sys/health): "
		if !strings.HasPrefix(h.Error, prefix) {
			t.Errorf("%s error = %q, want prefix %q", name, h.Error, prefix)
		}
		oneLine(t, name+" health error", h.Error)
	}
	if h := st.Health["bao-1"].Error; !strings.HasSuffix(h, "HTTP 502: <html>") {
		t.Errorf("bao-1 error = %q, want the status and the body's first line", h)
	}
	if !st.Health["bao-0"].Serving() {
		t.Errorf("bao-0 health = %+v", st.Health["bao-0"])
	}
}

func TestObserveErrors(t *testing.T) {
	const cfgCall = "openbao: read raft configuration on active node (GET "
	for _, tc := range []struct {
		name      string
		route     string
		rep       reply
		call      string
		malformed bool
		status    int
		unknown   bool
	}{
		{"configuration truncated JSON", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, file: "raft_configuration_malformed.json"}, cfgCall, true, 0, true},
		{"configuration without config", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, body: []byte(`{"data":{"servers":[]}}`)}, cfgCall, true, 0, true},
		{"configuration wrong types", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, body: []byte(`{"data":{"config":{"servers":[{"node_id":7}]}}}`)}, cfgCall, true, 0, true},
		{"configuration duplicate node", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200, body: []byte(`{"data":{"config":{"servers":[{"node_id":"a","voter":true},{"node_id":"a"}]}}}`)}, cfgCall, true, 0, true},
		{"configuration empty 200", "GET /v1/sys/storage/raft/configuration",
			reply{status: 200}, cfgCall, true, 0, true},
		{"configuration permission denied", "GET /v1/sys/storage/raft/configuration",
			reply{status: 403, file: "permission_denied_403.json"}, cfgCall, false, 403, true},
		{"autopilot bad last_contact", "GET /v1/sys/storage/raft/autopilot/state",
			reply{status: 200, file: "autopilot_badtypes.json"},
			"openbao: read autopilot state on active node (GET ", true, 0, false},
		{"autopilot truncated JSON", "GET /v1/sys/storage/raft/autopilot/state",
			reply{status: 200, body: []byte(`{"data":{"healthy":tru`)},
			"openbao: read autopilot state on active node (GET ", true, 0, false},
		{"autopilot server error", "GET /v1/sys/storage/raft/autopilot/state",
			reply{status: 500, file: "no_active_500.json"},
			"openbao: read autopilot state on active node (GET ", false, 500, false},
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
			oneLine(t, "error", err.Error())
			var ce *openbao.CallError
			if !errors.As(err, &ce) || ce.StatusCode != tc.status {
				t.Fatalf("CallError = %+v, want status %d", ce, tc.status)
			}
			if !strings.HasPrefix(ce.Error(), tc.call+cl.node("bao-0").srv.URL+"/v1/") {
				t.Errorf("call error %q\nwant prefix %q", ce, tc.call)
			}
			if tc.status != 0 && !strings.Contains(ce.Error(), "HTTP "+strconv.Itoa(tc.status)+": ") {
				t.Errorf("call error %q lacks the status", ce)
			}
			if got := errors.Is(err, openbao.ErrMalformedResponse); got != tc.malformed {
				t.Errorf("errors.Is(ErrMalformedResponse) = %v, want %v (%v)", got, tc.malformed, err)
			}
			if errors.Is(err, openbao.ErrViewUnknown) != tc.unknown || obs.Raft.Known == tc.unknown {
				t.Errorf("view known = %v, ErrViewUnknown = %v, want unknown = %v", obs.Raft.Known, errors.Is(err, openbao.ErrViewUnknown), tc.unknown)
			}
			if upgrade.CheckView(&obs) == nil {
				t.Error("a failed read produced a complete view")
			}
			if len(obs.Members) < 3 || obs.Members[0].Pod != in.Members[0].Pod {
				t.Error("workload part lost on error")
			}
			for _, m := range obs.Members {
				if !m.Raft.Unknown || m.Raft.Healthy || m.Up() {
					t.Errorf("%s raft state survived a failed read: %+v", m.Name, m.Raft)
				}
			}
		})
	}
}

// TestObserveLeaderReadFailsButConfigurationAnswers: a malformed sys/leader
// does not hide the view; CommitIndex stays unknown (0).
func TestObserveLeaderReadFailsButConfigurationAnswers(t *testing.T) {
	cl := newCluster(t, "bao-0", "bao-0")
	cl.node("bao-0").set("GET /v1/sys/leader", reply{status: 200, body: []byte("<html>oops</html>")})
	ad := &openbao.Adapter{Active: cl.node("bao-0").client()}
	st, err := ad.Read(context.Background(), k8sMembers(3))
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != nil || len(st.Errors) != 1 || !strings.HasPrefix(st.Errors[0], "openbao: read leader on active node (GET ") {
		t.Errorf("leader %+v, errors %q", st.Leader, st.Errors)
	}
	obs := openbao.Merge(k8sObservation(3), st, nil)
	if !obs.Raft.Known || obs.Raft.LeaderID != "bao-0" || obs.Raft.CommitIndex != 0 {
		t.Errorf("view = %+v", obs.Raft)
	}
}

func TestReadMisconfigured(t *testing.T) {
	var empty openbao.Adapter
	if _, err := empty.Read(context.Background(), nil); !errors.Is(err, openbao.ErrConfig) {
		t.Errorf("Read without clients: err = %v", err)
	}
	var nilAd *openbao.Adapter
	obs, err := nilAd.Observe(context.Background(), k8sObservation(2))
	if !errors.Is(err, openbao.ErrConfig) || obs.Raft.Known || !obs.Members[0].Raft.Unknown {
		t.Errorf("nil adapter: err = %v, view %+v", err, obs.Raft)
	}
	// Clients only, no Active: reads go through the members.
	cl := newCluster(t, "bao-0", "bao-0", "bao-1")
	ad := &openbao.Adapter{Clients: cl.factory()}
	obs, err = ad.Observe(context.Background(), k8sObservation(2))
	if err != nil || !obs.Raft.Known || obs.Raft.LeaderID != "bao-0" {
		t.Errorf("clients only: err = %v, view %+v", err, obs.Raft)
	}
}
