package fake

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func TestNewIsHealthy(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := New(Config{Replicas: n, BadVersions: []string{"9.9.9"}})
			cfg := c.Config()
			if cfg.Version != "2.3.0" || cfg.Image != "openbao/openbao:2.3.0" || cfg.Workload != "bao" || cfg.Service != "bao" ||
				cfg.Tick != time.Second || cfg.PodStartTicks != 5 || cfg.WriteRate != 10 || cfg.ReplicationRate != 200 ||
				cfg.ElectionTimeout != [2]int{2, 5} || cfg.HookTicks != 2 || len(cfg.BadVersions) != 1 {
				t.Fatalf("defaults not filled: %+v", cfg)
			}
			obs := c.Observe()
			if !obs.Now.Equal(cfg.Start) || c.TickCount() != 0 {
				t.Fatalf("Now = %s, want %s", obs.Now, cfg.Start)
			}
			if !obs.Raft.Known || obs.Raft.LeaderID != "bao-0" || obs.Raft.Term != 1 || !obs.Raft.AutopilotHealthy {
				t.Fatalf("raft view: %+v", obs.Raft)
			}
			if want := int32(n - upgrade.Quorum(n)); obs.Raft.FailureTolerance != want {
				t.Fatalf("failure tolerance %d, want %d", obs.Raft.FailureTolerance, want)
			}
			if len(obs.Members) != n || len(obs.Workloads) != 1 || !obs.Workloads[0].Settled() {
				t.Fatalf("members %d workloads %+v", len(obs.Members), obs.Workloads)
			}
			w := obs.Workloads[0]
			if w.CurrentRevision != w.UpdateRevision || w.ReadyReplicas != int32(n) || w.UpdatedReplicas != int32(n) {
				t.Fatalf("workload: %+v", w)
			}
			for i, m := range obs.Members {
				if m.Name != fmt.Sprintf("bao-%d", i) || !m.IsVoter() || !m.Up() || m.Raft.ID != m.Name ||
					m.Raft.Address != m.Name+".bao:8201" || m.Version != "2.3.0" {
					t.Fatalf("member %d: %+v", i, m)
				}
				if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g != nil {
					t.Fatalf("member %s not caught up: %v", m.Name, g)
				}
			}
			if obs.Service.Workload != "bao" || obs.Service.Name != "bao" {
				t.Fatalf("service: %+v", obs.Service)
			}
			if c := obs.Capabilities; c.TargetedTransfer || !c.NonVoters || !c.Snapshots {
				t.Fatalf("capabilities: %+v", c)
			}
			c.Run(20)
			obs = c.Observe()
			if obs.Raft.Term != 1 || obs.Raft.LeaderID != "bao-0" || !obs.Raft.AutopilotHealthy {
				t.Fatalf("steady state changed: %+v", obs.Raft)
			}
			if got := obs.Raft.CommitIndex; got != InitialIndex+20*10 {
				t.Fatalf("commit index %d, want %d", got, InitialIndex+200)
			}
			if h := c.History(); len(h) != 20 || h[19].Tick != 20 || !h[19].Writable || h[19].Leader != "bao-0" {
				t.Fatalf("history: %v", h[len(h)-1])
			}
		})
	}
}

func TestNewPanicsOnSubMillisecondTick(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(Config{Tick: 1500 * time.Microsecond})
}

func TestObservationIsACopy(t *testing.T) {
	c := New(Config{})
	obs := c.Observe()
	obs.Members[0].Name = "changed"
	obs.Service.Selector["x"] = "y"
	obs2 := c.Observe()
	if obs2.Members[0].Name != "bao-0" || len(obs2.Service.Selector) != 1 {
		t.Fatal("observation shares memory with the cluster")
	}
}

func TestElectionAfterKillingTheLeader(t *testing.T) {
	seen := map[string]bool{}
	for seed := range uint64(40) {
		c := New(Config{Seed: seed, Replicas: 5})
		c.Run(3)
		if err := c.KillLeader(); err != nil {
			t.Fatal(err)
		}
		if obs := c.Truth(); !obs.Raft.Known || obs.Raft.LeaderID != "" {
			t.Fatalf("leader survived its pod: %+v", obs.Raft)
		}
		c.Run(6)
		obs := c.Observe()
		l, ok := obs.Leader()
		if !ok || l.Name == "bao-0" || obs.Raft.Term != 2 {
			t.Fatalf("seed %d: leader %v %q term %d", seed, ok, l.Name, obs.Raft.Term)
		}
		seen[l.Name] = true
		m := Summarize(c.History())
		if m.Elections != 1 || m.LeaderChanges != 1 || m.TicksWithoutLeader < 1 || m.TicksWithoutLeader > 4 ||
			m.LongestLeaderless != m.TicksWithoutLeader || m.TicksNotWritable != m.TicksWithoutLeader {
			t.Fatalf("seed %d: metrics %+v", seed, m)
		}
		checkHistory(t, c)
	}
	if len(seen) < 2 {
		t.Fatalf("ties are not broken randomly: winners %v", seen)
	}
}

func TestElectionPrefersUpToDateLog(t *testing.T) {
	for seed := range uint64(20) {
		c := New(Config{Seed: seed, Replicas: 3})
		// bao-1 falls behind, then the leader dies: only bao-2 may win.
		if err := c.SlowCatchUp("bao-1", 0); err != nil {
			t.Fatal(err)
		}
		c.Run(5)
		if err := c.KillLeader(); err != nil {
			t.Fatal(err)
		}
		c.Run(6)
		if got := leaderOf(c); got != "bao-2" {
			t.Fatalf("seed %d: leader %q, want bao-2 (the up-to-date voter)", seed, got)
		}
	}
}

func TestQuorumLoss(t *testing.T) {
	t.Run("pods down", func(t *testing.T) {
		c := New(Config{Seed: 3, Replicas: 5, BadVersions: []string{"2.4.0"}})
		c.SetBadVersion("2.3.0", true) // running pods crash from the next tick
		c.Run(1)
		obs := c.Observe()
		if obs.Raft.LeaderID != "" {
			t.Fatalf("leader with every pod crash-looping: %+v", obs.Raft)
		}
		c.SetBadVersion("2.3.0", false)
		c.Run(30)
		if leaderOf(c) == "" {
			t.Fatal("no leader after pods recovered")
		}
		checkHistory(t, c)
	})
	t.Run("majority killed", func(t *testing.T) {
		c := New(Config{Seed: 3, Replicas: 5, PodStartTicks: 20})
		for _, p := range []string{"bao-2", "bao-3", "bao-4"} {
			if err := c.KillPod(p); err != nil {
				t.Fatal(err)
			}
		}
		c.Run(15)
		for _, r := range c.History()[3:] {
			if r.Leader != "" || r.Writable || r.VotersUp != 2 || r.Voters != 5 {
				t.Fatalf("quorum loss not modelled: %s", r)
			}
		}
		if obs := c.Observe(); obs.Raft.LeaderID != "" || obs.Raft.FailureTolerance != 0 || obs.Raft.AutopilotHealthy {
			t.Fatalf("raft view without quorum: %+v", obs.Raft)
		}
		runUntil(t, c, 30, "re-election", func(o upgrade.Observation) bool { return o.Raft.LeaderID != "" })
		checkHistory(t, c)
	})
	t.Run("followers isolated", func(t *testing.T) {
		c := New(Config{Seed: 3, Replicas: 3})
		for _, p := range []string{"bao-1", "bao-2"} {
			if err := c.Isolate(p); err != nil {
				t.Fatal(err)
			}
		}
		c.Run(1)
		if r := c.History()[0]; r.Writable || r.Leader != "bao-0" {
			t.Fatalf("leader without a quorum must not be writable but keeps its lease for a while: %s", r)
		}
		c.Run(20)
		if leaderOf(c) != "" || c.History()[20].Writable {
			t.Fatal("leader kept leadership without a quorum")
		}
		c.HealAll()
		runUntil(t, c, 10, "re-election", func(o upgrade.Observation) bool { return o.Raft.LeaderID != "" })
		checkHistory(t, c)
	})
}

func TestIsolatedLeaderLosesLeadership(t *testing.T) {
	c := New(Config{Seed: 9, Replicas: 3})
	if err := c.Isolate("bao-0"); err != nil {
		t.Fatal(err)
	}
	c.Run(1)
	if leaderOf(c) != "bao-0" {
		t.Fatal("leader lost leadership before ElectionTimeout[0] ticks")
	}
	c.Run(1)
	if leaderOf(c) != "" {
		t.Fatal("isolated leader kept leadership")
	}
	c.Run(10)
	l := leaderOf(c)
	if l == "" || l == "bao-0" {
		t.Fatalf("leader %q", l)
	}
	obs := c.Observe()
	if m := memberOf(t, obs, "bao-0"); m.Raft.Healthy || m.Raft.LastContact < 5*time.Second {
		t.Fatalf("isolated member looks healthy: %+v", m.Raft)
	}
	if err := c.Heal("bao-0"); err != nil {
		t.Fatal(err)
	}
	c.Run(2)
	obs = c.Observe()
	leader, _ := obs.Leader()
	m := memberOf(t, obs, "bao-0")
	if m.Raft.LastTerm != leader.Raft.LastTerm || m.Raft.LastIndex != leader.Raft.LastIndex || !m.Raft.Healthy {
		t.Fatalf("healed member did not catch up: %+v vs leader %+v", m.Raft, leader.Raft)
	}
	checkHistory(t, c)
}

// deletions returns, per tick, the pods of w that disappeared in that tick.
func rollingTimeline(t *testing.T, c *Cluster, ticks int) (order []int32) {
	t.Helper()
	prev := c.Truth()
	for range ticks {
		c.Tick()
		obs := c.Truth()
		var gone []int32
		for _, m := range obs.Members {
			p := memberOf(t, prev, m.Name)
			if p.Pod.Exists && !m.Pod.Exists {
				gone = append(gone, m.Ordinal)
			}
			if !p.Pod.Exists && !m.Pod.Exists {
				t.Fatalf("tick %d: pod %s absent for more than one tick", c.TickCount(), m.Name)
			}
		}
		if len(gone) > 1 {
			t.Fatalf("tick %d: several pods deleted at once: %v", c.TickCount(), gone)
		}
		if len(gone) == 1 {
			for _, m := range prev.Members {
				if !m.Pod.Ready {
					t.Fatalf("tick %d: pod %d deleted while %s was not ready", c.TickCount(), gone[0], m.Name)
				}
			}
			order = append(order, gone[0])
		}
		prev = obs
	}
	return order
}

func TestRollingUpdatePartition(t *testing.T) {
	c := New(Config{Seed: 1, Replicas: 5})
	old := c.Truth().Workloads[0].CurrentRevision
	mustApply(t, c,
		upgrade.SetPartition{Workload: "bao", Partition: 5},
		upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"})
	obs := c.Truth()
	w := obs.Workloads[0]
	if w.Settled() || w.UpdateRevision == old || w.Version != "2.4.0" || w.Generation != 3 {
		t.Fatalf("template update: %+v", w)
	}
	if order := rollingTimeline(t, c, 20); len(order) != 0 {
		t.Fatalf("pods deleted while the partition locks all: %v", order)
	}
	if !c.Truth().Workloads[0].Settled() {
		t.Fatal("controller never observed the generation")
	}
	mustApply(t, c, upgrade.SetPartition{Workload: "bao", Partition: 2})
	order := rollingTimeline(t, c, 60)
	if fmt.Sprint(order) != "[4 3 2]" {
		t.Fatalf("update order %v, want [4 3 2]", order)
	}
	obs = c.Truth()
	w = obs.Workloads[0]
	if w.CurrentRevision != old || w.UpdatedReplicas != 3 || w.ReadyReplicas != 5 {
		t.Fatalf("after partial rollout: %+v", w)
	}
	for _, m := range obs.Members {
		want := "2.4.0"
		if m.Ordinal < 2 {
			want = "2.3.0"
		}
		if m.Version != want || m.Image != "openbao/openbao:"+want {
			t.Fatalf("%s runs %s, want %s", m.Name, m.Version, want)
		}
	}
	mustApply(t, c, upgrade.SetPartition{Workload: "bao", Partition: 0})
	order = rollingTimeline(t, c, 60)
	if fmt.Sprint(order) != "[1 0]" {
		t.Fatalf("update order %v, want [1 0]", order)
	}
	w = c.Truth().Workloads[0]
	if w.CurrentRevision != w.UpdateRevision || w.UpdatedReplicas != 5 {
		t.Fatalf("after full rollout: %+v", w)
	}
	checkHistory(t, c)
}

func TestRevisionName(t *testing.T) {
	got := revisionName("bao", "openbao/openbao:2.3.0", "2.3.0")
	if len(got) != len("bao-")+8 || got[:4] != "bao-" {
		t.Fatalf("revision name %q", got)
	}
	if got == revisionName("bao", "openbao/openbao:2.3.0", "2.3.1") {
		t.Fatal("revision name ignores the version")
	}
	// FNV-1a 32 of "a|b" computed independently.
	if want := "w-" + fmt.Sprintf("%08x", fnv1a("a|b")); revisionName("w", "a", "b") != want {
		t.Fatalf("%s != %s", revisionName("w", "a", "b"), want)
	}
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func TestDeletePodPrecondition(t *testing.T) {
	c := New(Config{Replicas: 3})
	obs := c.Truth()
	m := memberOf(t, obs, "bao-2")
	applyErr(t, c, ErrPrecondition, upgrade.DeletePod{Member: "bao-2", UID: "uid-999"})
	applyErr(t, c, ErrPrecondition, upgrade.DeletePod{Member: "bao-9", UID: m.Pod.UID})
	if got := memberOf(t, c.Truth(), "bao-2"); !got.Pod.Exists || got.Pod.UID != m.Pod.UID {
		t.Fatalf("refused delete had an effect: %+v", got.Pod)
	}
	mustApply(t, c, upgrade.DeletePod{Member: "bao-2", UID: m.Pod.UID})
	if got := memberOf(t, c.Truth(), "bao-2"); got.Pod.Exists || got.Up() {
		t.Fatalf("deleted pod still exists: %+v", got.Pod)
	}
	// Deleting it again (same UID) fails: the pod is gone.
	applyErr(t, c, ErrPrecondition, upgrade.DeletePod{Member: "bao-2", UID: m.Pod.UID})
	c.Tick()
	if got := memberOf(t, c.Truth(), "bao-2"); got.Pod.Exists {
		t.Fatal("pod recreated without being absent for a tick")
	}
	c.Tick()
	got := memberOf(t, c.Truth(), "bao-2")
	if !got.Pod.Exists || got.Pod.UID == m.Pod.UID || got.Pod.Ready || got.Pod.Phase != upgrade.PodPending {
		t.Fatalf("recreated pod: %+v", got.Pod)
	}
	applyErr(t, c, ErrPrecondition, upgrade.DeletePod{Member: "bao-2", UID: m.Pod.UID})
	c.Run(5)
	got = memberOf(t, c.Truth(), "bao-2")
	if !got.Pod.Ready || got.Pod.Phase != upgrade.PodRunning || !got.Up() {
		t.Fatalf("pod not ready after PodStartTicks: %+v", got)
	}
	if !got.Raft.StableSince.Equal(c.Now()) {
		t.Fatalf("StableSince %s, want %s", got.Raft.StableSince, c.Now())
	}
}

func TestTargetedTransfer(t *testing.T) {
	c := New(Config{Seed: 5, Replicas: 5, TargetedTransfer: true})
	c.Run(2)
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-3", FromID: "bao-0", ToID: "bao-3"})
	c.Run(5)
	if leaderOf(c) != "bao-3" {
		t.Fatalf("leader %q, want bao-3", leaderOf(c))
	}
	m := Summarize(c.History())
	if m.LeaderChanges != 1 || m.Elections != 1 || m.TicksWithoutLeader != 0 || m.TicksNotWritable != 0 {
		t.Fatalf("metrics %+v", m)
	}
	if obs := c.Truth(); obs.Raft.Term != 2 {
		t.Fatalf("term %d, want 2", obs.Raft.Term)
	}
	applyErr(t, c, ErrPrecondition, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	applyErr(t, c, ErrPrecondition, upgrade.TransferLeadership{From: "bao-3", To: "bao-3"})
	applyErr(t, c, ErrPrecondition, upgrade.TransferLeadership{From: "bao-3", To: "nope"})
	checkHistory(t, c)
}

func TestTransferWaitsForLaggingTarget(t *testing.T) {
	c := New(Config{Seed: 5, Replicas: 3, TargetedTransfer: true})
	if err := c.SlowCatchUp("bao-1", 1); err != nil {
		t.Fatal(err)
	}
	c.Run(10)
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	c.Run(6)
	if leaderOf(c) != "bao-0" {
		t.Fatalf("lagging target took over: leader %q", leaderOf(c))
	}
	c.HealAll()
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	c.Run(1)
	if leaderOf(c) != "bao-1" {
		t.Fatalf("leader %q, want bao-1", leaderOf(c))
	}
	if m := Summarize(c.History()); m.TicksWithoutLeader != 0 || m.LeaderChanges != 1 {
		t.Fatalf("metrics %+v", m)
	}
	checkHistory(t, c)
}

func TestTransferWithoutCapabilityIsRejected(t *testing.T) {
	c := New(Config{Replicas: 3})
	applyErr(t, c, ErrRejected, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	if leaderOf(c) != "bao-0" {
		t.Fatal("rejected transfer had an effect")
	}
}

func TestTransferToNonvoterCausesOutage(t *testing.T) {
	for seed := range uint64(10) {
		c := New(Config{Seed: seed, Replicas: 4, TargetedTransfer: true})
		mustApply(t, c, upgrade.Demote{Member: "bao-3", ID: "bao-3"})
		c.Run(2)
		mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-3"})
		if leaderOf(c) != "" {
			t.Fatal("leader kept leading after a transfer to a non-voter")
		}
		c.Run(8)
		l := leaderOf(c)
		if l == "" || l == "bao-3" {
			t.Fatalf("leader %q", l)
		}
		if m := Summarize(c.History()); m.TicksWithoutLeader < 1 || m.Elections != 1 {
			t.Fatalf("seed %d: no outage: %+v", seed, m)
		}
		checkHistory(t, c)
	}
}

func TestTransferToDownVoterCausesOutage(t *testing.T) {
	c := New(Config{Seed: 2, Replicas: 3, TargetedTransfer: true})
	if err := c.KillPod("bao-2"); err != nil {
		t.Fatal(err)
	}
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-2"})
	c.Run(8)
	if m := Summarize(c.History()); m.TicksWithoutLeader < 1 || leaderOf(c) == "" || leaderOf(c) == "bao-2" {
		t.Fatalf("metrics %+v, leader %q", m, leaderOf(c))
	}
}

func TestStepDown(t *testing.T) {
	c := New(Config{Seed: 4, Replicas: 3})
	applyErr(t, c, ErrPrecondition, upgrade.StepDown{Member: "bao-1"})
	applyErr(t, c, ErrPrecondition, upgrade.StepDown{Member: "bao-0", ID: "other"})
	mustApply(t, c, upgrade.StepDown{Member: "bao-0", ID: "bao-0"})
	if leaderOf(c) != "" {
		t.Fatal("leader did not step down")
	}
	applyErr(t, c, ErrPrecondition, upgrade.StepDown{Member: "bao-0"})
	applyErr(t, c, ErrRejected, upgrade.Promote{Member: "bao-1"})
	c.Run(6)
	if leaderOf(c) == "" || c.Truth().Raft.Term != 2 {
		t.Fatal("no election after step-down")
	}
	checkHistory(t, c)
}

func TestMembershipChanges(t *testing.T) {
	c := New(Config{Seed: 8, Replicas: 3})
	applyErr(t, c, ErrPrecondition, upgrade.JoinNonvoter{Member: "bao-1"})
	// Membership requests are idempotent: a member already in the requested
	// state is success, as adapters report a retry after a lost reply.
	mustApply(t, c, upgrade.Promote{Member: "bao-1"})
	applyErr(t, c, ErrPrecondition, upgrade.Demote{Member: "nope"})
	mustApply(t, c, upgrade.Demote{Member: "bao-2"})
	mustApply(t, c, upgrade.Demote{Member: "bao-2"})
	obs := c.Truth()
	if m := memberOf(t, obs, "bao-2"); !m.IsNonvoter() {
		t.Fatalf("bao-2 not demoted: %+v", m.Raft)
	}
	if len(obs.Voters()) != 2 || obs.Raft.FailureTolerance != 0 {
		t.Fatalf("voters %d tolerance %d", len(obs.Voters()), obs.Raft.FailureTolerance)
	}
	mustApply(t, c, upgrade.RemovePeer{Member: "bao-2"})
	if m := memberOf(t, c.Truth(), "bao-2"); m.Raft.Present || m.Raft.Healthy {
		t.Fatalf("removed member still present: %+v", m.Raft)
	}
	mustApply(t, c, upgrade.RemovePeer{Member: "bao-2"})
	applyErr(t, c, ErrPrecondition, upgrade.Promote{Member: "bao-2"})
	c.Run(3)
	mustApply(t, c, upgrade.JoinNonvoter{Member: "bao-2", ID: "bao-2", Address: "bao-2.bao:8201"})
	mustApply(t, c, upgrade.Promote{Member: "bao-2"})
	c.Run(2)
	obs = c.Truth()
	if m := memberOf(t, obs, "bao-2"); !m.IsVoter() || !m.Up() {
		t.Fatalf("re-joined member: %+v", m)
	}
	// Demoting the leader makes it step down without a hand-over.
	mustApply(t, c, upgrade.Demote{Member: "bao-0"})
	if leaderOf(c) != "" {
		t.Fatal("demoted leader kept leading")
	}
	c.Run(6)
	if l := leaderOf(c); l == "" || l == "bao-0" {
		t.Fatalf("leader %q after demoting bao-0", l)
	}
	// Removing the leader shuts it down without a hand-over.
	mustApply(t, c, upgrade.RemovePeer{Member: leaderOf(c)})
	if leaderOf(c) != "" {
		t.Fatal("removed leader kept leading")
	}
	c.Run(6)
	if leaderOf(c) == "" {
		t.Fatal("no leader after removing the leader")
	}
	checkHistory(t, c)
}

func TestBlueGreen(t *testing.T) {
	c := New(Config{Seed: 11, Replicas: 3, TargetedTransfer: true})
	mustApply(t, c, upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3})
	applyErr(t, c, ErrPrecondition, upgrade.CreateRevision{Workload: "green", Image: "i", Version: "v", Replicas: 1})
	applyErr(t, c, ErrPrecondition, upgrade.JoinNonvoter{Member: "green-0"}) // pod not running yet
	obs := c.Truth()
	if len(obs.Workloads) != 2 || obs.Workloads[1].Name != "green" || len(obs.Members) != 6 {
		t.Fatalf("green not created: %+v", obs.Workloads)
	}
	if m := memberOf(t, obs, "green-1"); m.Raft.Present || m.Pod.Ready || m.Raft.Address != "green-1.green:8201" {
		t.Fatalf("green member: %+v", m)
	}
	runUntil(t, c, 10, "green ready", func(o upgrade.Observation) bool {
		w, _ := o.Workload("green")
		return w.ReadyReplicas == 3
	})
	for i := range 3 {
		mustApply(t, c, upgrade.JoinNonvoter{Member: fmt.Sprintf("green-%d", i)})
	}
	mustApply(t, c, upgrade.JoinNonvoter{Member: "green-0"}) // idempotent
	if m := memberOf(t, c.Truth(), "green-0"); !m.IsNonvoter() || m.Raft.Healthy {
		t.Fatalf("joined non-voter should be present and not yet caught up: %+v", m.Raft)
	}
	runUntil(t, c, 30, "green caught up", func(o upgrade.Observation) bool {
		l, _ := o.Leader()
		for _, m := range o.WorkloadMembers("green") {
			if upgrade.CaughtUp(&o, m, upgrade.CatchUp{}) != nil || m.Raft.LastIndex != l.Raft.LastIndex {
				return false
			}
		}
		return true
	})
	for i := range 3 {
		mustApply(t, c, upgrade.Promote{Member: fmt.Sprintf("green-%d", i)})
	}
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "green-0"})
	c.Tick()
	if leaderOf(c) != "green-0" {
		t.Fatalf("leader %q", leaderOf(c))
	}
	for i := range 3 {
		mustApply(t, c, upgrade.Demote{Member: fmt.Sprintf("bao-%d", i)})
		mustApply(t, c, upgrade.RemovePeer{Member: fmt.Sprintf("bao-%d", i)})
	}
	applyErr(t, c, ErrPrecondition, upgrade.SwitchService{Service: "bao", Workload: "nope"})
	applyErr(t, c, ErrPrecondition, upgrade.SwitchService{Service: "other", Workload: "green"})
	mustApply(t, c, upgrade.SwitchService{Service: "bao", Workload: "green"}, upgrade.DeleteRevision{Workload: "bao"})
	c.Run(3)
	obs = c.Truth()
	if len(obs.Members) != 3 || len(obs.Workloads) != 1 || obs.Service.Workload != "green" ||
		obs.Service.Selector[selectorKey] != "green" || !obs.Raft.AutopilotHealthy || obs.Raft.FailureTolerance != 1 {
		t.Fatalf("after cutover: %+v", obs)
	}
	r := c.History()[len(c.History())-1]
	if !r.ServiceHasLeader || r.ServiceWorkload != "green" || r.Voters != 3 || !r.Writable {
		t.Fatalf("record: %s", r)
	}
	if m := Summarize(c.History()); m.TicksWithoutLeader != 0 || m.LeaderChanges != 1 || m.LostCommitted != 0 {
		t.Fatalf("metrics %+v", m)
	}
	checkHistory(t, c)
}

func TestUnsafeMembershipChangeLosesCommittedEntries(t *testing.T) {
	c := New(Config{Seed: 1, Replicas: 3})
	if err := c.SlowCatchUp("bao-2", 0); err != nil {
		t.Fatal(err)
	}
	c.Run(10) // entries 2001..2100 are committed on bao-0 and bao-1 only
	commit := c.Truth().Raft.CommitIndex
	mustApply(t, c, upgrade.Demote{Member: "bao-1"}, upgrade.RemovePeer{Member: "bao-0"})
	c.Run(6)
	obs := c.Truth()
	if obs.Raft.LeaderID != "bao-2" || obs.Raft.CommitIndex >= commit {
		t.Fatalf("raft %+v (commit before %d)", obs.Raft, commit)
	}
	m := Summarize(c.History())
	if m.LostCommitted != commit-InitialIndex {
		t.Fatalf("lost %d committed entries, want %d", m.LostCommitted, commit-InitialIndex)
	}
	checkHistory(t, c) // still one leader per term
}

func TestDeleteRevisionHoldingVotersLosesQuorum(t *testing.T) {
	c := New(Config{Seed: 11, Replicas: 3})
	mustApply(t, c, upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3})
	c.Run(6)
	for i := range 3 {
		mustApply(t, c, upgrade.JoinNonvoter{Member: fmt.Sprintf("green-%d", i)})
	}
	mustApply(t, c, upgrade.DeleteRevision{Workload: "bao"})
	c.Run(20)
	obs := c.Truth()
	if obs.Raft.LeaderID != "" || len(obs.Members) != 6 || len(obs.Voters()) != 3 {
		t.Fatalf("deleting the voters' workload: %+v", obs.Raft)
	}
	if m := memberOf(t, obs, "bao-0"); m.Pod.Exists || m.Up() || m.Workload != "bao" {
		t.Fatalf("deleted voter: %+v", m)
	}
	if r := c.History()[19]; r.Writable || r.VotersUp != 0 || r.ServiceWorkload != "" {
		t.Fatalf("record: %s", r)
	}
	checkHistory(t, c)
}

func TestBadVersionCrashLoops(t *testing.T) {
	c := New(Config{Seed: 6, Replicas: 3, BadVersions: []string{"2.4.0"}})
	mustApply(t, c,
		upgrade.SetPartition{Workload: "bao", Partition: 3},
		upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.SetPartition{Workload: "bao", Partition: 0})
	c.Run(40)
	obs := c.Truth()
	m := memberOf(t, obs, "bao-2")
	if m.Version != "2.4.0" || m.Pod.Ready || !m.Pod.CrashLooping || m.Pod.Restarts < 5 || m.Up() {
		t.Fatalf("bad version pod: %+v", m)
	}
	if w := obs.Workloads[0]; w.UpdatedReplicas != 1 || w.ReadyReplicas != 2 {
		t.Fatalf("rollout continued past a crash-looping pod: %+v", w)
	}
	for _, name := range []string{"bao-0", "bao-1"} {
		if m := memberOf(t, obs, name); m.Version != "2.3.0" || !m.Up() {
			t.Fatalf("%s: %+v", name, m)
		}
	}
	c.SetBadVersion("2.4.0", false)
	runUntil(t, c, 60, "rollout completes", func(o upgrade.Observation) bool {
		w := o.Workloads[0]
		return w.CurrentRevision == w.UpdateRevision && w.ReadyReplicas == 3
	})
	checkHistory(t, c)
}

func TestStaleObservation(t *testing.T) {
	c := New(Config{Seed: 2, Replicas: 3})
	c.Run(10)
	if err := c.KillLeader(); err != nil {
		t.Fatal(err)
	}
	c.Run(8)
	fresh := c.Observe()
	c.StaleNext(9)
	stale := c.Observe()
	if !stale.Now.Equal(fresh.Now.Add(-9*time.Second)) || stale.Raft.LeaderID != "bao-0" || stale.Raft.Term != 1 {
		t.Fatalf("stale observation: now %s leader %s term %d", stale.Now, stale.Raft.LeaderID, stale.Raft.Term)
	}
	if again := c.Observe(); !again.Now.Equal(fresh.Now) || again.Raft.Term != fresh.Raft.Term {
		t.Fatal("staleness lasted more than one observation")
	}
	c.StaleNext(1 << 20)
	if o := c.Observe(); !o.Now.Equal(c.Config().Start) {
		t.Fatalf("clamped stale observation at %s", o.Now)
	}
	c.Run(100)
	c.StaleNext(1 << 20)
	if o := c.Observe(); !o.Now.Equal(c.Now().Add(-StaleDepth * time.Second)) {
		t.Fatalf("clamped stale observation at %s", o.Now)
	}
	c.StaleNext(3)
	c.HealAll()
	if o := c.Observe(); !o.Now.Equal(c.Now()) {
		t.Fatal("HealAll kept pending staleness")
	}
}

func TestSlowCatchUpMakesMemberUnhealthy(t *testing.T) {
	c := New(Config{Seed: 2, Replicas: 3})
	if err := c.SlowCatchUp("bao-2", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.SlowCatchUp("nope", 0); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("err %v", err)
	}
	c.Run(100) // exactly 1000 entries behind: still healthy
	if m := memberOf(t, c.Observe(), "bao-2"); !m.Raft.Healthy || m.Raft.LastIndex != InitialIndex {
		t.Fatalf("member: %+v", m.Raft)
	}
	c.Run(1)
	obs := c.Observe()
	m := memberOf(t, obs, "bao-2")
	if m.Raft.Healthy || obs.Raft.AutopilotHealthy || obs.Raft.FailureTolerance != 0 {
		t.Fatalf("stalled member healthy: %+v %+v", m.Raft, obs.Raft)
	}
	if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g == nil {
		t.Fatal("stalled member caught up")
	}
	c.HealAll()
	c.Run(6)
	obs = c.Observe()
	m = memberOf(t, obs, "bao-2")
	if !m.Raft.Healthy || !m.Raft.StableSince.After(obs.Now.Add(-7*time.Second)) {
		t.Fatalf("member did not recover: %+v", m.Raft)
	}
	// The member did not restart: autopilot's stable_since moved, but the
	// stabilization window counts from the member's own restart (its pod
	// has run since the cluster started), so it is caught up again once
	// healthy. A restarted member is judged by CaughtUpAfterRestart, which
	// does count autopilot's stable_since.
	if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g != nil {
		t.Fatalf("recovered member that did not restart: gate %v", g)
	}
	if g := upgrade.CaughtUpAfterRestart(&obs, m, upgrade.CatchUp{}, time.Time{}); g == nil || g.Name != upgrade.GateStabilized {
		t.Fatalf("judged as restarted, the recovered member must still stabilize, gate %v", g)
	}
}

func TestLockSnapshotHooksEvents(t *testing.T) {
	c := New(Config{LockHolder: "backup", HookFailures: map[string]bool{"smoke": true}, Backup: upgrade.BackupView{Configured: true}})
	if l := c.Truth().Lock; l.Holder != "backup" {
		t.Fatalf("lock %+v", l)
	}
	applyErr(t, c, ErrRejected, upgrade.AcquireLock{Holder: "upgrade"})
	applyErr(t, c, ErrRejected, upgrade.ReleaseLock{Holder: "upgrade"})
	mustApply(t, c, upgrade.ReleaseLock{Holder: "backup"}, upgrade.ReleaseLock{Holder: "upgrade"},
		upgrade.AcquireLock{Holder: "upgrade"}, upgrade.AcquireLock{Holder: "upgrade"})
	if l := c.Truth().Lock; l.Holder != "upgrade" || !l.Since.Equal(c.Now()) {
		t.Fatalf("lock %+v", l)
	}

	mustApply(t, c, upgrade.TakeSnapshot{Name: "pre-upgrade"})
	c.Tick()
	if b := c.Truth().Backup; !b.InProgress || !b.LastSuccess.IsZero() || !b.Configured {
		t.Fatalf("backup %+v", b)
	}
	c.Tick()
	if b := c.Truth().Backup; b.InProgress || !b.LastSuccess.Equal(c.Now()) || !b.Configured {
		t.Fatalf("backup %+v", b)
	}

	mustApply(t, c, upgrade.RunHook{Hook: "smoke", Phase: "Verify", Attempt: 1}, upgrade.RunHook{Hook: "health", Phase: "Verify", Attempt: 1})
	c.Tick()
	mustApply(t, c, upgrade.RunHook{Hook: "smoke", Phase: "Verify", Attempt: 1}) // no-op
	obs := c.Truth()
	if h, ok := obs.Hook("smoke", "Verify", 1); !ok || h.Done || len(obs.Hooks) != 2 {
		t.Fatalf("hook %+v %v", h, ok)
	}
	c.Tick()
	obs = c.Truth()
	if h, _ := obs.Hook("smoke", "Verify", 1); !h.Done || h.Succeeded {
		t.Fatalf("smoke hook %+v", h)
	}
	if h, _ := obs.Hook("health", "Verify", 1); !h.Done || !h.Succeeded {
		t.Fatalf("health hook %+v", h)
	}
	c.SetHookFailure("smoke", false)
	mustApply(t, c, upgrade.RunHook{Hook: "smoke", Phase: "Verify", Attempt: 2})
	c.Emit([]upgrade.Event{{Type: upgrade.EventNormal, Reason: "Testing", Message: "hello"}})
	c.Run(2)
	obs = c.Truth()
	if h, _ := obs.Hook("smoke", "Verify", 2); !h.Done || !h.Succeeded {
		t.Fatalf("smoke hook attempt 2 %+v", h)
	}
	h := c.History()
	r := h[len(h)-2]
	if len(r.Actions) != 1 || r.Events[0] != "Normal Testing: hello" || len(r.Faults) != 1 {
		t.Fatalf("record %s", r)
	}
}

func TestApplyStopsAtFirstError(t *testing.T) {
	c := New(Config{})
	n, err := c.Apply([]upgrade.Action{
		upgrade.AcquireLock{Holder: "a"},
		upgrade.StepDown{Member: "bao-1"},
		upgrade.ReleaseLock{Holder: "a"},
	})
	if n != 1 || !errors.Is(err, ErrPrecondition) {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	if c.Truth().Lock.Holder != "a" {
		t.Fatal("actions after the failure ran")
	}
	if n, err := c.Apply([]upgrade.Action{nil}); n != 0 || !errors.Is(err, ErrRejected) {
		t.Fatalf("nil action: %d, %v", n, err)
	}
	c.Tick()
	if r := c.History()[0]; len(r.Actions) != 1 || len(r.Events) != 1 {
		t.Fatalf("record %s", r)
	}
}

func TestCheckHistoryDetectsViolations(t *testing.T) {
	ok := []Record{
		{Tick: 1, Term: 1, Leader: "a"},
		{Tick: 2, Term: 1},
		{Tick: 3, Term: 2, Leader: "b", Elections: []Election{{Term: 2, Leader: "b", Previous: "a"}}},
	}
	if err := CheckHistory(ok); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string][]Record{
		"two leaders in a term": {{Tick: 1, Term: 1, Leader: "a"}, {Tick: 2, Term: 1, Leader: "b"}},
		"term goes back":        {{Tick: 1, Term: 2, Leader: "a"}, {Tick: 2, Term: 1}},
		"two elections":         {{Tick: 1, Term: 2, Elections: []Election{{Term: 2, Leader: "a"}, {Term: 2, Leader: "b"}}}},
		"election reelects":     {{Tick: 1, Term: 2, Elections: []Election{{Term: 2, Leader: "a"}}}, {Tick: 2, Term: 2, Elections: []Election{{Term: 2, Leader: "a"}}}},
		"election before record": {{Tick: 1, Term: 2, Leader: "a"}, {Tick: 2, Term: 3, Elections: []Election{{Term: 3, Leader: "a"}}, Leader: "a"},
			{Tick: 3, Term: 3, Leader: "b"}},
		"election past term": {{Tick: 1, Term: 1, Elections: []Election{{Term: 2, Leader: "a"}}}},
	} {
		if err := CheckHistory(h); err == nil {
			t.Errorf("%s: not detected", name)
		}
	}
}

func TestRecordString(t *testing.T) {
	r := Record{Tick: 3, Time: time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC), Term: 2, Leader: "bao-1", Voters: 3, VotersUp: 2,
		Writable: true, ServiceWorkload: "bao", ServiceHasLeader: true, Actions: []string{"a"}, Faults: []string{"f"}, Events: []string{"e1", "e2"}}
	want := "t=3 00:00:03 term=2 leader=bao-1 voters=2/3 writable svc=bao(leader) | actions: a | faults: f | events: e1; e2"
	if got := r.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := (Record{Tick: 1}).String(); got != "t=1 00:00:00 term=0 leader=- voters=0/0 read-only svc=" {
		t.Fatalf("got %s", got)
	}
}

func TestConfigAndHistoryAreCopies(t *testing.T) {
	c := New(Config{BadVersions: []string{"b", "a", "a"}, HookFailures: map[string]bool{"x": true}})
	c.SetBadVersion("c", true)
	c.SetBadVersion("a", false)
	c.SetHookFailure("y", true)
	cfg := c.Config()
	if fmt.Sprint(cfg.BadVersions) != "[b c]" || len(cfg.HookFailures) != 2 || !cfg.HookFailures["y"] {
		t.Fatalf("config %v %v", cfg.BadVersions, cfg.HookFailures)
	}
	cfg.HookFailures["z"] = true
	if len(c.Config().HookFailures) != 2 {
		t.Fatal("Config shares its map")
	}
	c.Tick()
	h := c.History()
	if len(h[0].Faults) != 3 {
		t.Fatalf("faults not recorded: %s", h[0])
	}
	h[0].Faults[0] = "changed"
	if c.History()[0].Faults[0] == "changed" {
		t.Fatal("History shares memory")
	}
}
