package openbao_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/upgrade"
)

// recorded is one request a fake node received.
type recorded struct {
	Method string
	Path   string
	Query  string
	Body   string
	Token  string
}

// String renders "METHOD /path" for compact assertions.
func (r recorded) String() string { return r.Method + " " + r.Path }

// reply is a canned response: a fixture file from testdata or raw bytes.
// The fixtures are shaped after the OpenBao 2.6 handlers: sys/health
// (http/sys_health.go HealthResponse), sys/leader (vault.LeaderResponse,
// is_self and leader_address omitted when empty), the raft configuration
// and autopilot state (vault/logical_system_raft.go over physical/raft's
// RaftConfigurationResponse and AutopilotState, last_contact a
// ReadableDuration string) and error answers ({"errors":[...]}, handler
// errors wrapped in a multierror: "1 error occurred:\n\t* ...").
type reply struct {
	status int
	file   string
	body   []byte
	// drop closes the connection without answering (a lost reply) after
	// recording the request; then the route switches to next, if set.
	drop bool
	next *reply
}

// fakeNode is one OpenBao server replaying recorded response shapes.
type fakeNode struct {
	t      testing.TB
	name   string
	mu     sync.Mutex
	routes map[string]reply
	reqs   []recorded
	srv    *httptest.Server
}

// healthOverride maps a sys/health status code to the query parameter
// OpenBao lets clients use to override it.
var healthOverride = map[int]string{
	http.StatusOK:       "activecode",
	429:                 "standbycode",
	473:                 "performancestandbycode",
	501:                 "uninitcode",
	503:                 "sealedcode",
	530:                 "removedcode",
	472:                 "drsecondarycode",
	http.StatusNotFound: "",
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

func newFakeNode(t testing.TB, name string, active bool) *fakeNode {
	n := &fakeNode{t: t, name: name, routes: map[string]reply{}}
	if active {
		n.routes["GET /v1/sys/health"] = reply{status: 200, file: "health_active_200.json"}
		n.routes["GET /v1/sys/leader"] = reply{status: 200, file: "leader_active.json"}
	} else {
		n.routes["GET /v1/sys/health"] = reply{status: 429, file: "health_standby_429.json"}
		n.routes["GET /v1/sys/leader"] = reply{status: 200, file: "leader_standby.json"}
	}
	n.routes["GET /v1/sys/storage/raft/configuration"] = reply{status: 200, file: "raft_configuration.json"}
	n.routes["GET /v1/sys/storage/raft/autopilot/state"] = reply{status: 200, file: "autopilot_healthy.json"}
	n.routes["PUT /v1/sys/step-down"] = reply{status: 204}
	n.routes["POST /v1/sys/storage/raft/join"] = reply{status: 200, file: "join_ok.json"}
	for _, p := range []string{"promote", "demote", "remove-peer"} {
		n.routes["PUT /v1/sys/storage/raft/"+p] = reply{status: 204}
		n.routes["POST /v1/sys/storage/raft/"+p] = reply{status: 204}
	}
	n.routes["GET /v1/sys/storage/raft/snapshot"] = reply{status: 200, body: snapshotArchive(t, true)}
	n.srv = httptest.NewServer(http.HandlerFunc(n.serve))
	t.Cleanup(n.srv.Close)
	return n
}

func (n *fakeNode) set(route string, r reply) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[route] = r
}

func (n *fakeNode) requests() []recorded {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]recorded(nil), n.reqs...)
}

func (n *fakeNode) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reqs = nil
}

func (n *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n.mu.Lock()
	n.reqs = append(n.reqs, recorded{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
		Token: r.Header.Get("X-Vault-Token"),
	})
	rep, ok := n.routes[r.Method+" "+r.URL.Path]
	if ok && rep.drop && rep.next != nil {
		n.routes[r.Method+" "+r.URL.Path] = *rep.next
	}
	n.mu.Unlock()
	if !ok {
		rep = reply{status: 404, file: "unsupported_path_404.json"}
	}
	if rep.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	status := rep.status
	if r.URL.Path == "/v1/sys/health" {
		// OpenBao lets the caller override each health status code.
		if p := healthOverride[status]; p != "" {
			if v, err := strconv.Atoi(r.URL.Query().Get(p)); err == nil {
				status = v
			}
		}
	}
	payload := rep.body
	if rep.file != "" {
		payload = fixture(n.t, rep.file)
	}
	if len(payload) > 0 && rep.file != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

// client returns an OpenBao client for the node: no retries, no
// environment, short timeout.
func (n *fakeNode) client() *api.Client {
	n.t.Helper()
	cfg := api.NewConfig()
	cfg.Address = n.srv.URL
	cfg.MaxRetries = 0
	cfg.Timeout = 5 * time.Second
	c, err := api.NewClient(cfg)
	if err != nil {
		n.t.Fatalf("client: %v", err)
	}
	c.SetToken("s.raftshift-test")
	return c
}

// fakeCluster is bao-0 (active) .. bao-N, each its own server.
type fakeCluster struct {
	nodes  map[string]*fakeNode
	order  []string
	leader string
}

func newCluster(t testing.TB, leader string, names ...string) *fakeCluster {
	c := &fakeCluster{nodes: map[string]*fakeNode{}, order: names, leader: leader}
	for _, n := range names {
		c.nodes[n] = newFakeNode(t, n, n == leader)
	}
	return c
}

func (c *fakeCluster) node(name string) *fakeNode { return c.nodes[name] }

func (c *fakeCluster) factory() func(m upgrade.Member) (*api.Client, error) {
	return func(m upgrade.Member) (*api.Client, error) {
		n, ok := c.nodes[m.Name]
		if !ok {
			return nil, fmt.Errorf("no fake node %s", m.Name)
		}
		return n.client(), nil
	}
}

// resetAll clears every node's recorded requests.
func (c *fakeCluster) resetAll() {
	for _, n := range c.nodes {
		n.reset()
	}
}

// allRequests returns "node: METHOD /path" for every recorded request, in
// node order.
func (c *fakeCluster) allRequests() []string {
	var out []string
	for _, name := range c.order {
		for _, r := range c.nodes[name].requests() {
			out = append(out, name+": "+r.String())
		}
	}
	return out
}

// snapshotArchive builds a gzip'd tar shaped like an OpenBao snapshot; the
// client checks that SHA256SUMS.sealed is present and non-empty.
func snapshotArchive(t testing.TB, complete bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := []struct{ name, body string }{
		{"meta.json", `{"Version":1,"ID":"7-4711-1795593600000","Index":4711,"Term":7}`},
		{"state.bin", "raft-fsm-state"},
		{"SHA256SUMS", "0f1e2d3c  meta.json\n4b5a6978  state.bin\n"},
	}
	if complete {
		files = append(files, struct{ name, body string }{"SHA256SUMS.sealed", "sealed-checksums"})
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.body)),
			ModTime: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// down closes the node's server: every call to it is refused.
func (n *fakeNode) down() { n.srv.Close() }

// k8sMembers is what the Kubernetes adapter would observe: pods bao-0..n-1
// of workload "bao", running and ready, no Raft data yet.
func k8sMembers(n int) []upgrade.Member {
	out := make([]upgrade.Member, n)
	for i := range out {
		out[i] = upgrade.Member{
			Name: fmt.Sprintf("bao-%d", i), Workload: "bao", Ordinal: int32(i),
			Revision: "bao-7d9f", Version: "2.6.2", Image: "quay.io/openbao/openbao:2.6.2",
			Pod: upgrade.PodStatus{Exists: true, UID: fmt.Sprintf("uid-%d", i), Phase: upgrade.PodRunning, Ready: true},
		}
	}
	return out
}

var testNow = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// oneLine fails the test when s spans several lines.
func oneLine(t testing.TB, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\n\r") {
		t.Errorf("%s spans several lines: %q", what, s)
	}
}

func k8sObservation(n int) upgrade.Observation {
	return upgrade.Observation{
		Now:       testNow,
		Workloads: []upgrade.Workload{{Name: "bao", Replicas: int32(n), Partition: int32(n)}},
		Service:   upgrade.Service{Name: "bao-active", Selector: map[string]string{"app": "bao"}, Workload: "bao"},
		Members:   k8sMembers(n),
	}
}
