package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// TestOnDeleteOneLeaderChangeFromEveryPosition upgrades a 3-node cluster
// delete-driven (OnDelete, targeted transfer) from every starting leader
// position: followers first, the leader last after one targeted transfer to
// an upgraded follower, so exactly one leader change whatever the start.
func TestOnDeleteOneLeaderChangeFromEveryPosition(t *testing.T) {
	for i := range 3 {
		leader := fmt.Sprintf("raft-%d", i)
		t.Run(leader, func(t *testing.T) {
			var rep Report
			for attempt := 1; ; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				var err error
				rep, err = Run(ctx, Scenario{Strategy: Rolling, Nodes: 3, Dir: t.TempDir(), Timeout: 90 * time.Second,
					Ordering: rolling.OrderingOnDelete, Leader: leader, StartDelay: 200 * time.Millisecond, Logger: raftLogger(t)})
				cancel()
				t.Log(rep.Summary() + "\ntimeline:\n" + strings.Join(rep.Timeline, "\n"))
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				// A leader lost on a starved machine (no leader for longer
				// than the leader lease, so not a transfer) is an election
				// no action asked for: run once more.
				if rep.LeaderChanges == 1 || rep.LongestLeaderless < lostLeader || attempt == 2 {
					break
				}
				t.Logf("attempt %d: %d leader changes after a leader was lost for %s (machine load); running again",
					attempt, rep.LeaderChanges, rep.LongestLeaderless)
			}
			checkReport(t, rep)
			if rep.StartLeader != leader || len(rep.Leaders) == 0 || rep.Leaders[0] != leader {
				t.Errorf("started with leader %s (leaders %v), want %s", rep.StartLeader, rep.Leaders, leader)
			}
			if rep.LeaderChanges != 1 {
				t.Errorf("%d leader changes (%v), want exactly 1", rep.LeaderChanges, rep.Leaders)
			}
			if n := countLines(rep.Timeline, "  delete pod "); n != 3 {
				t.Errorf("%d pods deleted, want 3 (one per member)", n)
			}
			if n := countLines(rep.Timeline, "controller raft deletes"); n != 0 {
				t.Errorf("the OnDelete controller restarted %d pods on its own", n)
			}
		})
	}
}

// TestHandoffOnShutdown upgrades delete-driven without targeted transfer
// (OpenBao): the leader's pod goes last and its deletion is the leadership
// transfer (the node hands leadership over on shutdown); no acknowledged
// write is lost and leadership changes once.
func TestHandoffOnShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Scenario{Strategy: Rolling, Nodes: 3, Dir: t.TempDir(), Timeout: 90 * time.Second,
		Ordering: rolling.OrderingOnDelete, HandoffOnShutdown: true, NoTargetedTransfer: true, Leader: "raft-1",
		StartDelay: 200 * time.Millisecond, Logger: raftLogger(t)})
	t.Log(rep.Summary() + "\ntimeline:\n" + strings.Join(rep.Timeline, "\n"))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkReport(t, rep)
	if rep.LeaderChanges != 1 {
		t.Errorf("%d leader changes (%v), want exactly 1", rep.LeaderChanges, rep.Leaders)
	}
	if countLines(rep.Timeline, "pod raft-1 handed leadership over on shutdown") != 1 {
		t.Errorf("raft-1 did not hand leadership over on shutdown")
	}
	for _, no := range []string{"  step down ", "  transfer leadership "} {
		if n := countLines(rep.Timeline, no); n != 0 {
			t.Errorf("%d %q actions: the handoff should have moved leadership", n, strings.TrimSpace(no))
		}
	}
}

// lostLeader is the leader lease (raftnode.DefaultTiming): a cluster without
// a leader for longer lost it, a transfer does not take that long.
const lostLeader = 250 * time.Millisecond

func countLines(lines []string, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// TestOnDeleteControllerRestartsOnlyDeletedPods checks the OnDelete
// emulation: a template change and any partition restart nothing; a
// deleted pod comes back at the template's version with its data; the
// adapter reports the capabilities it was given, starts with the chosen
// leader and refuses targeted transfers without them.
func TestOnDeleteControllerRestartsOnlyDeletedPods(t *testing.T) {
	a, err := New(context.Background(), Options{Nodes: 3, Dir: t.TempDir(), UpdateStrategy: upgrade.UpdateOnDelete,
		HandoffOnShutdown: true, NoTargetedTransfer: true, Leader: "raft-2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	before := settled(t, a)
	if l, ok := before.Leader(); !ok || l.Name != "raft-2" {
		t.Fatalf("leader %q, want raft-2", l.Name)
	}
	if c := before.Capabilities; c.TargetedTransfer || !c.HandoffOnShutdown {
		t.Errorf("capabilities %+v", c)
	}
	if w := before.Workloads[0]; w.UpdateStrategy != upgrade.UpdateOnDelete {
		t.Errorf("update strategy %q", w.UpdateStrategy)
	}
	ctx := context.Background()
	_, err = a.Execute(ctx, []upgrade.Action{upgrade.TransferLeadership{From: "raft-2", To: "raft-0"}})
	if !errors.Is(err, ErrRejected) {
		t.Errorf("targeted transfer without the capability: %v", err)
	}
	if _, err := a.Execute(ctx, []upgrade.Action{
		upgrade.UpdateTemplate{Workload: "raft", Image: Image("1.1.0"), Version: "1.1.0"},
		upgrade.SetPartition{Workload: "raft", Partition: 0},
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // 15 controller passes
	obs := a.Observe(time.Now())
	for _, m := range obs.Members {
		old, _ := before.Member(m.Name)
		if m.Pod.UID != old.Pod.UID || m.Version != "1.0.0" {
			t.Errorf("%s restarted without a delete: %+v", m.Name, m)
		}
	}
	m0, _ := obs.Member("raft-0")
	if _, err := a.Execute(ctx, []upgrade.Action{upgrade.DeletePod{Member: "raft-0", UID: m0.Pod.UID}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs = a.Observe(time.Now())
		m, _ := obs.Member("raft-0")
		if m.Version == "1.1.0" && m.Raft.Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("raft-0 was not recreated at 1.1.0: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{"raft-1", "raft-2"} {
		m, _ := obs.Member(name)
		old, _ := before.Member(name)
		if m.Pod.UID != old.Pod.UID || m.Version != "1.0.0" {
			t.Errorf("%s restarted although only raft-0 was deleted: %+v", name, m)
		}
	}
	// The leader's pod deleted: it hands leadership over before stopping.
	l, _ := obs.Leader()
	if _, err := a.Execute(ctx, []upgrade.Action{upgrade.DeletePod{Member: l.Name, UID: l.Pod.UID}}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for countLines(a.Events(), "pod "+l.Name+" handed leadership over on shutdown") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no hand-over recorded: %v", a.Events())
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, err := a.WaitLeader(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(n.ID()) == l.Name {
		t.Errorf("%s still leads after handing leadership over", l.Name)
	}
}
