package openbao_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

const getConfiguration = "bao-0: GET /v1/sys/storage/raft/configuration"

// TestExecuteMembershipIdempotent: promote and demote only mark the server
// (autopilot applies them at its next reconcile), so a re-issued request
// meets OpenBao's "already" answers; those, and a server already in the
// requested state, are success.
func TestExecuteMembershipIdempotent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route string
		rep   reply
		act   upgrade.Action
		want  []string
		err   error
	}{
		{"promote re-issued", "PUT /v1/sys/storage/raft/promote", reply{status: 500, file: "promote_not_nonvoter_500.json"},
			upgrade.Promote{Member: "bao-3", ID: "bao-3"}, []string{getConfiguration, "bao-0: PUT /v1/sys/storage/raft/promote"}, nil},
		{"promote of a voter", "PUT /v1/sys/storage/raft/promote", reply{status: 500, file: "promote_not_nonvoter_500.json"},
			upgrade.Promote{Member: "bao-1", ID: "bao-1"}, []string{getConfiguration, "bao-0: PUT /v1/sys/storage/raft/promote"}, nil},
		{"demote re-issued", "PUT /v1/sys/storage/raft/demote", reply{status: 500, file: "demote_already_nonvoter_500.json"},
			upgrade.Demote{Member: "bao-2", ID: "bao-2"}, []string{getConfiguration, "bao-0: PUT /v1/sys/storage/raft/demote"}, nil},
		{"promote of a server not in the configuration", "", reply{},
			upgrade.Promote{Member: "bao-4", ID: "bao-4"}, []string{getConfiguration}, openbao.ErrNotInConfiguration},
		{"demote of a server not in the configuration", "", reply{},
			upgrade.Demote{Member: "bao-4", ID: "bao-4"}, []string{getConfiguration}, openbao.ErrNotInConfiguration},
		{"remove-peer of a server already gone", "", reply{},
			upgrade.RemovePeer{Member: "bao-4", ID: "bao-4"}, []string{getConfiguration}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3", "bao-4")
			if tc.route != "" {
				cl.node("bao-0").set(tc.route, tc.rep)
			}
			ad := newTestAdapter(cl)
			obs := observed(t, cl, ad)
			err := ad.Execute(context.Background(), obs, tc.act)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				oneLine(t, "error", err.Error())
				if !strings.Contains(err.Error(), "(GET "+cl.node("bao-0").srv.URL+"/v1/sys/storage/raft/configuration)") {
					t.Errorf("error %q does not name the configuration read", err)
				}
			}
			if got := cl.allRequests(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("requests = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestExecuteLostReplyThenRetry: the request reached OpenBao but the reply
// was lost; the host's retry succeeds.
func TestExecuteLostReplyThenRetry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route string
		after reply // the answer to the re-issued request
		act   upgrade.Action
		// gone switches the configuration to one without the server after
		// the lost reply (remove-peer is applied synchronously).
		gone bool
	}{
		{"promote", "PUT /v1/sys/storage/raft/promote", reply{status: 500, file: "promote_not_nonvoter_500.json"},
			upgrade.Promote{Member: "bao-3", ID: "bao-3"}, false},
		{"demote", "PUT /v1/sys/storage/raft/demote", reply{status: 500, file: "demote_already_nonvoter_500.json"},
			upgrade.Demote{Member: "bao-2", ID: "bao-2"}, false},
		{"remove-peer", "PUT /v1/sys/storage/raft/remove-peer", reply{status: 204},
			upgrade.RemovePeer{Member: "bao-3", ID: "bao-3"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3")
			ad := newTestAdapter(cl)
			obs := observed(t, cl, ad)
			after := tc.after
			cl.node("bao-0").set(tc.route, reply{drop: true, next: &after})
			err := ad.Execute(context.Background(), obs, tc.act)
			if err == nil {
				t.Fatal("a lost reply reported success")
			}
			oneLine(t, "lost reply error", err.Error())
			var re *api.ResponseError
			if errors.As(err, &re) {
				t.Errorf("lost reply carries an HTTP answer: %v", re)
			}
			if tc.gone {
				cl.node("bao-0").set("GET /v1/sys/storage/raft/configuration", reply{status: 200, file: "raft_configuration_failover.json"})
			}
			cl.resetAll()
			if err := ad.Execute(context.Background(), obs, tc.act); err != nil {
				t.Fatalf("retry: %v", err)
			}
			writes := 0
			for _, r := range cl.allRequests() {
				if strings.HasPrefix(r, "bao-0: PUT ") {
					writes++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tc.gone]; writes != want {
				t.Errorf("retry sent %d writes, want %d (%v)", writes, want, cl.allRequests())
			}
		})
	}
}

// TestErrorsAreOneLine: OpenBao's multi-error bodies, proxies' HTML and
// empty error lists all become one line naming the member, the endpoint
// and the status, with the first error message.
func TestErrorsAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rep    reply
		status int
		msg    string
	}{
		{"multierror", reply{status: 403, file: "permission_denied_403.json"}, 403, "permission denied"},
		{"two errors", reply{status: 500, body: []byte(`{"errors":["2 errors occurred:\n\t* first problem\n\t* second problem\n\n"]}`)},
			500, "first problem"},
		{"several entries", reply{status: 400, body: []byte(`{"errors":["","no server id provided","other"]}`)}, 400, "no server id provided"},
		{"no message", reply{status: 503, body: []byte(`{"errors":[]}`)}, 503, "service unavailable"},
		{"html", reply{status: 502, body: []byte("\n<html>\n  <body>bad\tgateway</body>\n</html>\n")}, 502, "<html>"},
		{"one long line", reply{status: 500, body: []byte(`{"errors":["` + strings.Repeat("x", 500) + `"]}`)}, 500, strings.Repeat("x", 200) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, "bao-0", "bao-0", "bao-1", "bao-2", "bao-3")
			cl.node("bao-0").set("PUT /v1/sys/storage/raft/promote", tc.rep)
			ad := newTestAdapter(cl)
			err := ad.Execute(context.Background(), nil, upgrade.Promote{Member: "bao-3", ID: "bao-3"})
			want := "openbao: promote bao-3 via active node (PUT " + cl.node("bao-0").srv.URL + "/v1/sys/storage/raft/promote): HTTP " +
				map[int]string{400: "400", 403: "403", 500: "500", 502: "502", 503: "503"}[tc.status] + ": " + tc.msg
			if err == nil || err.Error() != want {
				t.Fatalf("err = %q\nwant  %q", err, want)
			}
			var ce *openbao.CallError
			var he *openbao.HTTPError
			var re *api.ResponseError
			if !errors.As(err, &ce) || !errors.As(err, &he) || !errors.As(err, &re) || ce.StatusCode != tc.status || he.StatusCode != tc.status {
				t.Errorf("error chain: %#v", err)
			}
			if !strings.Contains(re.Error(), "\n") {
				t.Error("the client's own error is expected to be multi-line (test premise)")
			}

			// The same answer on a read: Read's error and State.Errors too.
			cl.node("bao-0").set("GET /v1/sys/storage/raft/configuration", tc.rep)
			cl.node("bao-0").set("GET /v1/sys/leader", tc.rep)
			st, err := (&openbao.Adapter{Active: cl.node("bao-0").client()}).Read(context.Background(), k8sMembers(2))
			if err == nil {
				t.Fatal("Read succeeded")
			}
			oneLine(t, "Read error", err.Error())
			if !strings.Contains(err.Error(), "): "+he.Error()) {
				t.Errorf("Read error %q lacks %q", err, he.Error())
			}
			for _, e := range st.Errors {
				oneLine(t, "State.Errors entry", e)
			}
		})
	}
}
