package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestRecordFixtures records the test fixtures of adapters/etcd from a
// real cluster: the grpc-gateway JSON answers of /v3/cluster/member/list
// and /v3/maintenance/status in the states the adapter reads (leader,
// follower, unstarted and started learner, no leader). It runs only with
// ETCD_RECORD_FIXTURES set to the output directory:
//
//	ETCD_RECORD_FIXTURES=$PWD/../../adapters/etcd/testdata go test -run TestRecordFixtures ./harness
func TestRecordFixtures(t *testing.T) {
	out := os.Getenv("ETCD_RECORD_FIXTURES")
	if out == "" {
		t.Skip("set ETCD_RECORD_FIXTURES to the output directory to record adapters/etcd fixtures")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names := []string{"etcd-0", "etcd-1", "etcd-2", "etcd-3"}
	peer, client := map[string]string{}, map[string]string{}
	for _, n := range names {
		var err error
		if peer[n], err = FreeURL(); err != nil {
			t.Fatal(err)
		}
		if client[n], err = FreeURL(); err != nil {
			t.Fatal(err)
		}
	}
	initial := func(ns ...string) string {
		var parts []string
		for _, n := range ns {
			parts = append(parts, n+"="+peer[n])
		}
		return strings.Join(parts, ",")
	}
	nodes := map[string]*Node{}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	start := func(name, cluster string, existing bool) {
		t.Helper()
		n, err := StartNode(NodeConfig{Name: name, Dir: filepath.Join(dir, name), PeerURL: peer[name], ClientURL: client[name],
			InitialCluster: cluster, Existing: existing, Token: "fixtures", MaxLearners: 3})
		if err != nil {
			t.Fatal(err)
		}
		nodes[name] = n
	}
	for _, n := range names[:3] {
		start(n, initial(names[:3]...), false)
	}
	for _, n := range names[:3] {
		if err := nodes[n].WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client["etcd-0"], client["etcd-1"], client["etcd-2"]},
		DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i := range 20 {
		if _, err := cli.Put(ctx, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	leader := ""
	for _, n := range names[:3] {
		if l, _ := nodes[n].Leads(); l {
			leader = n
		}
	}
	follower := "etcd-0"
	if leader == follower {
		follower = "etcd-1"
	}
	save := func(file, ep, path, body string) {
		t.Helper()
		resp, err := http.Post(ep+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, b, "", "  "); err != nil {
			t.Fatalf("%s: %v: %s", path, err, b)
		}
		pretty.WriteByte('\n')
		if err := os.WriteFile(filepath.Join(out, file), pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (HTTP %d) from %s%s", file, resp.StatusCode, ep, path)
	}
	const list, status = "/v3/cluster/member/list", "/v3/maintenance/status"
	save("member_list.json", client[follower], list, `{"linearizable":true}`)
	save("status_leader.json", client[leader], status, `{}`)
	save("status_follower.json", client[follower], status, `{}`)

	// StrictReconfigCheck: members are added once the leader has been
	// connected to its peers for etcd's health interval (5s).
	time.Sleep(5500 * time.Millisecond)
	if _, err := cli.MemberAddAsLearner(ctx, []string{peer["etcd-3"]}); err != nil {
		t.Fatal(err)
	}
	save("member_list_unstarted_learner.json", client[follower], list, `{"linearizable":true}`)
	start("etcd-3", initial(names...), true)
	if err := nodes["etcd-3"].WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	save("member_list_learner.json", client[follower], list, `{"linearizable":true}`)
	save("status_learner.json", client["etcd-3"], status, `{}`)

	// Lose quorum: only one voter of three is left; it reports no leader
	// once its election timeout passed, and only serializable reads answer.
	survivor := follower
	for _, n := range names {
		if n != survivor {
			nodes[n].Kill()
			delete(nodes, n)
		}
	}
	time.Sleep(3 * time.Second)
	save("status_no_leader.json", client[survivor], status, `{}`)
	save("member_list_serializable.json", client[survivor], list, `{"linearizable":false}`)
}
