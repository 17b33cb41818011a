package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

// exampleCluster is the recorded three-member cluster (testdata) behind
// the fake client the examples use in place of a *clientv3.Client.
func exampleCluster() *fake {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			log.Fatal(err)
		}
		return b
	}
	l, err := etcd.DecodeMemberList(read("member_list.json"))
	if err != nil {
		log.Fatal(err)
	}
	ls, _ := etcd.DecodeStatus(read("status_leader.json"))
	fs, _ := etcd.DecodeStatus(read("status_follower.json"))
	f := &fake{clusterID: l.ClusterID, members: l.Members, status: map[string]etcd.Status{}, nextID: 0x1000, lose: map[string]int{}}
	for _, m := range l.Members {
		s := fs
		if m.ID == ls.MemberID {
			s = ls
		}
		s.MemberID = m.ID
		f.status[m.ClientURLs[0]] = s
	}
	return f
}

// examplePods is the host's view of its pods (the Kubernetes adapter's,
// in an operator).
func examplePods() upgrade.Observation {
	obs := upgrade.Observation{}
	for i := range 3 {
		obs.Members = append(obs.Members, upgrade.Member{Name: fmt.Sprintf("etcd-%d", i), Workload: "etcd", Ordinal: int32(i),
			Pod: upgrade.PodStatus{Exists: true, Ready: true, Phase: upgrade.PodRunning}})
	}
	return obs
}

// Example observes a three-member cluster: the member list, then each
// member's status on its own endpoint; etcd-2 does not answer, so it is
// unknown — present, a voter, but nothing else is known — and the view is
// partial.
func Example() {
	cluster := exampleCluster()
	cluster.down("etcd-2")
	ad := &etcd.Adapter{Client: cluster} // a *clientv3.Client in a host

	obs, err := ad.Observe(context.Background(), examplePods())
	if err != nil {
		fmt.Println("observe:", err)
		return
	}
	fmt.Printf("leader %s (%s), term %d, failure tolerance %d, targeted transfer %v\n",
		obs.Raft.LeaderID, obs.Members[0].Name, obs.Raft.Term, obs.Raft.FailureTolerance, obs.Capabilities.TargetedTransfer)
	for _, m := range obs.Members {
		fmt.Printf("%s %-5s present=%v leader=%-5v healthy=%-5v unknown=%-5v applied=%d\n",
			m.Name, m.Raft.Suffrage, m.Raft.Present, m.Raft.Leader, m.Raft.Healthy, m.Raft.Unknown, m.Raft.LastIndex)
	}
	fmt.Println("partial view:", upgrade.CheckView(&obs) != nil)
	// Output:
	// leader e6c9d813871636c6 (etcd-0), term 2, failure tolerance 0, targeted transfer true
	// etcd-0 Voter present=true leader=true  healthy=true  unknown=false applied=28
	// etcd-1 Voter present=true leader=false healthy=true  unknown=false applied=28
	// etcd-2 Voter present=true leader=false healthy=false unknown=true  applied=0
	// partial view: true
}

// ExampleAdapter_Execute joins a learner (its reply is lost: the member
// list read afterwards shows the learner, and a retry adds nothing),
// promotes it, moves leadership to it with MoveLeader
// on the leader's endpoint, and shows that etcd cannot demote.
func ExampleAdapter_Execute() {
	cluster := exampleCluster()
	ad := &etcd.Adapter{
		Client: cluster,
		Dial:   cluster.dial, // etcd.DialConfig(cfg) in a host
		PeerURL: func(m upgrade.Member) string {
			return "http://" + m.Name + ".etcd:2380"
		},
	}
	ctx := context.Background()
	cluster.lose["MemberAddAsLearner"] = 1
	join := upgrade.JoinNonvoter{Member: "etcd-3"}
	fmt.Println("join, reply lost:", ad.Execute(ctx, nil, join))
	fmt.Println("join again:", ad.Execute(ctx, nil, join))
	fmt.Println("promote:", ad.Execute(ctx, nil, upgrade.Promote{Member: "etcd-3"}))
	fmt.Println("transfer:", ad.Execute(ctx, nil, upgrade.TransferLeadership{From: "etcd-0", To: "etcd-3"}))
	for _, c := range writes(cluster) {
		fmt.Println("  sent", c)
	}
	err := ad.Execute(ctx, nil, upgrade.Demote{Member: "etcd-1"})
	fmt.Println(errors.Is(err, etcd.ErrUnsupported), err)
	fmt.Println("instead:", etcd.DemoteAsRemove(upgrade.Demote{Member: "etcd-1"}))
	// Output:
	// join, reply lost: <nil>
	// join again: <nil>
	// promote: <nil>
	// transfer: <nil>
	//   sent MemberAddAsLearner http://etcd-3.etcd:2380
	//   sent MemberPromote 1001
	//   sent MoveLeader 1001 at http://127.0.0.1:35129
	// true etcd: etcd-1: demote: unsupported operation: etcd cannot demote a voter to a learner; remove the member instead (DemoteAsRemove)
	// instead: remove etcd-1 from the raft configuration
}
