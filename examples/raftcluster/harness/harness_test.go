package harness

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
	"github.com/raftshift/raftshift/upgrade"
)

// Generous bounds: the machine running the tests may be heavily loaded, so
// only an outage far beyond an election counts as a lost quorum.
const (
	maxLeaderless = 8 * time.Second
	maxWriteGap   = 15 * time.Second
)

func TestUpgradeUnderContinuousWrites(t *testing.T) {
	type tc struct {
		st    Strategy
		nodes int
	}
	cases := []tc{{Baseline, 3}, {Rolling, 3}, {BlueGreen, 3}, {Baseline, 5}, {Rolling, 5}, {BlueGreen, 5}}
	var reports []Report
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.st, c.nodes), func(t *testing.T) {
			if testing.Short() && c.nodes == 5 {
				t.Skip("5-node upgrades skipped in -short mode")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := Run(ctx, Scenario{Strategy: c.st, Nodes: c.nodes, Dir: t.TempDir(), Timeout: 90 * time.Second,
				Logger: raftLogger(t)})
			reports = append(reports, rep)
			// The timeline shows with -v or on failure.
			t.Log(rep.Summary() + "\ntimeline:\n" + strings.Join(rep.Timeline, "\n"))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			checkReport(t, rep)
		})
	}
	t.Log("comparison (baseline = naive ordinal-order restarts, untargeted step-down, no catch-up waits):\n" + FormatTable(reports))
}

// TestCrashLoopingTargetEndsBackAtFrom upgrades to a version whose nodes
// crash on start: rolling pauses after the first pod and is rolled back by
// setting the spec back; blue-green aborts by itself. Writes go on
// throughout and none is lost.
func TestCrashLoopingTargetEndsBackAtFrom(t *testing.T) {
	for _, st := range []Strategy{Rolling, BlueGreen} {
		t.Run(string(st), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := Run(ctx, Scenario{Strategy: st, Nodes: 3, Dir: t.TempDir(), Timeout: 90 * time.Second, BadTarget: true,
				Logger: raftLogger(t)})
			t.Log(rep.Summary() + " outcome=" + rep.Outcome + "\ntimeline:\n" + strings.Join(rep.Timeline, "\n"))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			checkReport(t, rep)
		})
	}
}

// raftLogger returns a logger writing Raft's logs to the file named by
// RAFTCLUSTER_RAFT_LOG, or nil (silent) when it is unset.
func raftLogger(t *testing.T) hclog.Logger {
	path := os.Getenv("RAFTCLUSTER_RAFT_LOG")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info, Output: f})
}

func checkReport(t *testing.T, rep Report) {
	t.Helper()
	if !rep.Completed {
		t.Errorf("upgrade did not complete")
	}
	want, outcomes := rep.To, []string{string(upgrade.OutcomeSucceeded)}
	if rep.BadTarget {
		want, outcomes = rep.From, []string{string(upgrade.OutcomeRolledBack), string(upgrade.OutcomeAborted)}
	}
	if rep.Strategy != Baseline && !slices.Contains(outcomes, rep.Outcome) {
		t.Errorf("outcome %q, want one of %v", rep.Outcome, outcomes)
	}
	if rep.WritesAcked == 0 {
		t.Errorf("no write was acknowledged")
	}
	if rep.WritesLost != 0 {
		t.Errorf("%d of %d acknowledged writes are missing from the final leader's FSM", rep.WritesLost, rep.WritesAcked)
	}
	if !rep.ReplicasConsistent {
		t.Errorf("a running member misses acknowledged writes")
	}
	if rep.LongestLeaderless > maxLeaderless {
		t.Errorf("no leader for %s (quorum lost?), bound %s", rep.LongestLeaderless, maxLeaderless)
	}
	if rep.LongestWriteGap > maxWriteGap {
		t.Errorf("no write acknowledged for %s, bound %s", rep.LongestWriteGap, maxWriteGap)
	}
	voters := 0
	for _, m := range rep.FinalMembers {
		f := strings.Fields(m)
		if len(f) != 3 || f[1] != want || f[2] != string(upgrade.Voter) {
			t.Errorf("final member %q: want a voter at %s", m, want)
			continue
		}
		voters++
	}
	if voters != rep.Nodes {
		t.Errorf("%d final voters at %s, want %d: %v", voters, want, rep.Nodes, rep.FinalMembers)
	}
	if rep.FinalLeader == "" {
		t.Errorf("no final leader")
	}
}

// newCluster starts a 3-node cluster for adapter tests.
func newCluster(t *testing.T) *Adapter {
	t.Helper()
	a, err := New(context.Background(), Options{Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// settled waits until every member is healthy and holds the leader's log.
func settled(t *testing.T, a *Adapter) upgrade.Observation {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs := a.Observe(time.Now())
		ok := obs.Raft.Known && obs.Raft.AutopilotHealthy
		leader, _ := obs.Leader()
		for _, m := range obs.Members {
			ok = ok && m.Up() && m.Raft.LastIndex == leader.Raft.LastIndex && m.Raft.LastTerm == leader.Raft.LastTerm
		}
		if ok {
			return obs
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster did not settle: %+v", obs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestObservation(t *testing.T) {
	a := newCluster(t)
	obs := settled(t, a)
	if len(obs.Workloads) != 1 || obs.Workloads[0].Name != "raft" || obs.Workloads[0].Replicas != 3 ||
		obs.Workloads[0].Version != "1.0.0" || obs.Workloads[0].ReadyReplicas != 3 || !obs.Workloads[0].Settled() {
		t.Errorf("workloads = %+v", obs.Workloads)
	}
	if obs.Service.Workload != "raft" || obs.Service.Selector[SelectorKey] != "raft" {
		t.Errorf("service = %+v", obs.Service)
	}
	if len(obs.Voters()) != 3 || obs.Raft.FailureTolerance != 1 {
		t.Errorf("voters = %d, failure tolerance %d", len(obs.Voters()), obs.Raft.FailureTolerance)
	}
	leader, ok := obs.Leader()
	if !ok || !leader.Raft.Leader || leader.Raft.LastContact != 0 {
		t.Errorf("leader = %+v, %v", leader, ok)
	}
	for i, m := range obs.Members {
		if m.Name != fmt.Sprintf("raft-%d", i) || m.Ordinal != int32(i) || m.Version != "1.0.0" || m.Raft.ID != m.Name ||
			!m.Pod.Exists || m.Pod.UID == "" || m.Raft.StableSince.IsZero() || m.Raft.LastIndex == 0 || m.Raft.LastTerm == 0 {
			t.Errorf("member %d = %+v", i, m)
		}
	}
	if g := upgrade.CaughtUp(&obs, leader, upgrade.CatchUp{Stabilization: metav1.Duration{Duration: -1}}); g != nil {
		t.Errorf("leader not caught up: %v", g)
	}
}

func TestExecuteRefusesUnsafeRaftActions(t *testing.T) {
	a := newCluster(t)
	obs := settled(t, a)
	leader, _ := obs.Leader()
	var follower upgrade.Member
	for _, m := range obs.Members {
		if m.Name != leader.Name {
			follower = m
			break
		}
	}
	ctx := context.Background()
	for _, act := range []upgrade.Action{
		upgrade.Demote{Member: leader.Name, ID: leader.Raft.ID},
		upgrade.RemovePeer{Member: leader.Name, ID: leader.Raft.ID},
		upgrade.TransferLeadership{From: follower.Name, To: leader.Name},
		upgrade.StepDown{Member: follower.Name},
		upgrade.DeletePod{Member: follower.Name, UID: "stale"},
	} {
		if n, err := a.Execute(ctx, []upgrade.Action{act}); n != 0 || err == nil {
			t.Errorf("%s: executed (n=%d, err=%v)", act, n, err)
		} else if !errors.Is(err, ErrPrecondition) && !errors.Is(err, ErrRejected) {
			t.Errorf("%s: error %v wraps neither ErrPrecondition nor ErrRejected", act, err)
		}
	}
	if l := a.Leader(); l == nil || string(l.ID()) != leader.Raft.ID {
		t.Errorf("leadership moved during refused actions")
	}
	// Promoting a voter asks for what already holds (a retry after a lost
	// reply): it succeeds without effect.
	if n, err := a.Execute(ctx, []upgrade.Action{upgrade.Promote{Member: follower.Name}}); n != 1 || err != nil {
		t.Errorf("promote voter %s again: n=%d, err=%v", follower.Name, n, err)
	}
	if after := a.Observe(time.Now()); len(after.Voters()) != len(obs.Voters()) {
		t.Errorf("voters %d after a repeated promotion, %d before", len(after.Voters()), len(obs.Voters()))
	}
}

func TestDemoteAndRemoveFollowerStopsIt(t *testing.T) {
	a := newCluster(t)
	obs := settled(t, a)
	leader, _ := obs.Leader()
	var f upgrade.Member
	for _, m := range obs.Members {
		if m.Name != leader.Name {
			f = m
		}
	}
	ctx := context.Background()
	if _, err := a.Execute(ctx, []upgrade.Action{upgrade.Demote{Member: f.Name, ID: f.Raft.ID}}); err != nil {
		t.Fatal(err)
	}
	obs = a.Observe(time.Now())
	m, _ := obs.Member(f.Name)
	if !m.IsNonvoter() || !m.Pod.Ready {
		t.Fatalf("after demote: %+v", m)
	}
	if _, err := a.Execute(ctx, []upgrade.Action{upgrade.RemovePeer{Member: f.Name, ID: f.Raft.ID}}); err != nil {
		t.Fatal(err)
	}
	obs = a.Observe(time.Now())
	m, _ = obs.Member(f.Name)
	if m.Raft.Present || m.Pod.Ready || !m.Pod.Exists {
		t.Fatalf("after remove: %+v", m)
	}
	if _, ok := a.Nodes()[f.Name]; ok {
		t.Errorf("removed follower %s still runs", f.Name)
	}
	if len(obs.Voters()) != 2 {
		t.Errorf("voters after remove: %d", len(obs.Voters()))
	}
}

func TestPartitionRestartsHighestOutdatedOrdinalKeepingData(t *testing.T) {
	a := newCluster(t)
	settled(t, a)
	ctx := context.Background()
	l := a.Leader()
	cmd, _ := raftnode.SetCommand("before", "restart")
	if err := l.Raft.Apply(cmd, 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	before := a.Observe(time.Now())
	if _, err := a.Execute(ctx, []upgrade.Action{
		upgrade.SetPartition{Workload: "raft", Partition: 3},
		upgrade.UpdateTemplate{Workload: "raft", Image: Image("1.1.0"), Version: "1.1.0"},
		upgrade.SetPartition{Workload: "raft", Partition: 2},
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs := a.Observe(time.Now())
		m2, _ := obs.Member("raft-2")
		if m2.Version == "1.1.0" && m2.Raft.Healthy {
			for _, name := range []string{"raft-0", "raft-1"} {
				m, _ := obs.Member(name)
				old, _ := before.Member(name)
				if m.Version != "1.0.0" || m.Pod.UID != old.Pod.UID {
					t.Errorf("%s was restarted below the partition: %+v", name, m)
				}
			}
			old2, _ := before.Member("raft-2")
			if m2.Pod.UID == old2.Pod.UID {
				t.Errorf("raft-2 kept its pod UID")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("raft-2 was not upgraded: %+v", m2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n := a.Nodes()["raft-2"]
	if err := a.Leader().Raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if v, ok := n.FSM.Get("before"); ok && v == "restart" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted raft-2 lost the write made before its restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
