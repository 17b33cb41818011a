package openbao_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

// exampleServer replays recorded OpenBao answers for the active node and
// prints every write it receives.
func exampleServer() *httptest.Server {
	files := map[string]string{
		"/v1/sys/leader":                         "leader_active.json",
		"/v1/sys/storage/raft/configuration":     "raft_configuration.json",
		"/v1/sys/storage/raft/autopilot/state":   "autopilot_healthy.json",
		"/v1/sys/storage/raft/autopilot/unknown": "",
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			body, _ := io.ReadAll(r.Body)
			fmt.Printf("server got %s %s %s\n", r.Method, r.URL.Path, body)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		name, ok := files[r.URL.Path]
		if !ok || name == "" {
			http.Error(w, `{"errors":[]}`, http.StatusNotFound)
			return
		}
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
}

func exampleClient(addr string) *api.Client {
	cfg := api.NewConfig()
	cfg.Address = addr
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	c.SetToken("s.example")
	return c
}

// Example observes a three-voter cluster with one non-voter and merges the
// Raft view into the pods the Kubernetes adapter reported.
func Example() {
	srv := exampleServer()
	defer srv.Close()

	ad := &openbao.Adapter{Active: exampleClient(srv.URL)}
	k8s := upgrade.Observation{Now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	for i := range 4 {
		k8s.Members = append(k8s.Members, upgrade.Member{
			Name: fmt.Sprintf("bao-%d", i), Workload: "bao", Ordinal: int32(i),
			Pod: upgrade.PodStatus{Exists: true, Ready: true, Phase: upgrade.PodRunning},
		})
	}

	obs, err := ad.Observe(context.Background(), k8s)
	if err != nil {
		fmt.Println("observe:", err)
		return
	}
	fmt.Printf("leader %s, term %d, failure tolerance %d, targeted transfer %v\n",
		obs.Raft.LeaderID, obs.Raft.Term, obs.Raft.FailureTolerance, obs.Capabilities.TargetedTransfer)
	fmt.Printf("auto-promotion %v, membership changes show within %s, partial view: %v\n",
		obs.Capabilities.AutoPromotion, obs.Capabilities.MembershipDelay, upgrade.CheckView(&obs) != nil)
	for _, m := range obs.Members {
		fmt.Printf("%s %-8s leader=%-5v healthy=%v index=%d contact=%s\n",
			m.Name, m.Raft.Suffrage, m.Raft.Leader, m.Raft.Healthy, m.Raft.LastIndex, m.Raft.LastContact)
	}
	// Output:
	// leader bao-0, term 7, failure tolerance 1, targeted transfer false
	// auto-promotion false, membership changes show within 10s, partial view: false
	// bao-0 Voter    leader=true  healthy=true index=4711 contact=0s
	// bao-1 Voter    leader=false healthy=true index=4711 contact=1.5s
	// bao-2 Voter    leader=false healthy=true index=4709 contact=312.451ms
	// bao-3 Nonvoter leader=false healthy=true index=4702 contact=850ms
}

// ExampleAdapter_Execute promotes the caught-up non-voter, verifies
// self-joins and shows that leadership cannot be transferred to a chosen
// server on OpenBao.
func ExampleAdapter_Execute() {
	srv := exampleServer()
	defer srv.Close()
	ad := &openbao.Adapter{Active: exampleClient(srv.URL)}

	err := ad.Execute(context.Background(), nil, upgrade.Promote{Member: "bao-3", ID: "bao-3"})
	fmt.Println("promote:", err)

	// JoinSelf (the default): bao-3 joined by itself as a non-voter, bao-4
	// has not joined yet; nothing is sent.
	fmt.Println("join bao-3:", ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "bao-3", ID: "bao-3"}))
	err = ad.Execute(context.Background(), nil, upgrade.JoinNonvoter{Member: "bao-4", ID: "bao-4"})
	fmt.Println("join bao-4 not joined yet:", errors.Is(err, openbao.ErrNotJoined))

	err = ad.Execute(context.Background(), nil, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	fmt.Println(err)

	err = ad.Execute(context.Background(), nil, upgrade.SetPartition{Workload: "bao", Partition: 2})
	fmt.Println(err, openbao.Handles(upgrade.KindSetPartition))
	// Output:
	// server got PUT /v1/sys/storage/raft/promote {"server_id":"bao-3"}
	// promote: <nil>
	// join bao-3: <nil>
	// join bao-4 not joined yet: true
	// openbao: transfer leadership from bao-0 to bao-1: operation not supported (use StepDown)
	// openbao: SetPartition: not a raft action false
}
