package fake

import (
	"errors"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func TestObservationFaults(t *testing.T) {
	fresh := func() *Cluster {
		c := New(Config{Seed: 1, Replicas: 3})
		c.Run(5)
		return c
	}
	t.Run("raft unknown", func(t *testing.T) {
		c := fresh()
		mustFault(t, c, ObservationFault{Kind: FaultRaftUnknown})
		o := c.Observe()
		if o.Raft.Known || upgrade.CheckView(&o) == nil {
			t.Fatalf("view %+v", o.Raft)
		}
		for _, m := range o.Members {
			if !m.Raft.Unknown || m.Raft.Present || m.Raft.ID == "" || !m.Pod.Ready {
				t.Fatalf("member %+v", m)
			}
		}
		if o2 := c.Observe(); !o2.Raft.Known || upgrade.CheckView(&o2) != nil {
			t.Fatal("the fault lasted past the next observation")
		}
	})
	t.Run("member unknown", func(t *testing.T) {
		c := fresh()
		mustFault(t, c, ObservationFault{Kind: FaultMemberUnknown, Member: "bao-2"})
		o := c.Observe()
		m := memberOf(t, o, "bao-2")
		if !m.Raft.Unknown || !m.IsVoter() || m.Raft.Healthy || m.Raft.LastIndex != 0 {
			t.Fatalf("member %+v", m.Raft)
		}
		if g := upgrade.CheckView(&o); g == nil || g.Member != "bao-2" {
			t.Fatalf("CheckView = %v", g)
		}
	})
	t.Run("member unknown picks a follower", func(t *testing.T) {
		c := fresh()
		mustFault(t, c, ObservationFault{Kind: FaultMemberUnknown})
		o := c.Observe()
		if m := memberOf(t, o, "bao-1"); !m.Raft.Unknown {
			t.Fatalf("member %+v", m.Raft)
		}
	})
	t.Run("no autopilot", func(t *testing.T) {
		c := fresh()
		mustFault(t, c, ObservationFault{Kind: FaultNoAutopilot})
		o := c.Observe()
		for _, m := range o.Members {
			if !m.Raft.Unknown || m.Raft.Healthy {
				t.Fatalf("member %+v", m.Raft)
			}
		}
		if l, ok := o.Leader(); !ok || l.Name != "bao-0" {
			t.Fatal("the configuration's leader was lost")
		}
	})
	t.Run("leader unknown", func(t *testing.T) {
		c := fresh()
		mustFault(t, c, ObservationFault{Kind: FaultLeaderUnknown})
		o := c.Observe()
		if _, ok := o.Leader(); ok || !o.Raft.Known || !o.Raft.LeaderUnknown || upgrade.CheckView(&o) == nil {
			t.Fatalf("view %+v", o.Raft)
		}
	})
	t.Run("no last contact", func(t *testing.T) {
		c := fresh()
		mustFault(t, c, ObservationFault{Kind: FaultNoLastContact, Member: "bao-1"})
		o := c.Observe()
		if m := memberOf(t, o, "bao-1"); !m.Raft.Unknown || m.Raft.LastContact != 0 || !m.Raft.Healthy {
			t.Fatalf("member %+v", m.Raft)
		}
	})
	t.Run("stale cache", func(t *testing.T) {
		c := fresh()
		old := c.Truth()
		if err := c.KillPod("bao-2"); err != nil {
			t.Fatal(err)
		}
		mustApply(t, c, upgrade.StepDown{Member: "bao-0"})
		c.Run(8)
		mustFault(t, c, ObservationFault{Kind: FaultStaleCache, TicksAgo: 8})
		o, truth := c.Observe(), c.Truth()
		if !o.Now.Equal(truth.Now) || o.Raft != truth.Raft {
			t.Fatalf("raft view or time not live: %v %+v", o.Now, o.Raft)
		}
		if m := memberOf(t, o, "bao-2"); m.Pod.UID != memberOf(t, old, "bao-2").Pod.UID ||
			m.Raft != memberOf(t, truth, "bao-2").Raft {
			t.Fatalf("stale pod with live raft state expected: %+v", m)
		}
	})
	if err := New(Config{}).FaultNextObservation(ObservationFault{Kind: "nope"}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("unknown kind: %v", err)
	}
}

func mustFault(t *testing.T, c *Cluster, f ObservationFault) {
	t.Helper()
	if err := c.FaultNextObservation(f); err != nil {
		t.Fatal(err)
	}
}

// TestReadinessLies: by default pods stay Ready while the cluster has no
// leader, as OpenBao's standbyok health check answers 200 on a standby.
func TestReadinessLies(t *testing.T) {
	c := New(Config{Seed: 2, Replicas: 3})
	if err := c.KillLeader(); err != nil {
		t.Fatal(err)
	}
	o := c.Observe()
	if _, ok := o.Leader(); ok {
		t.Fatal("leader survived")
	}
	for _, n := range []string{"bao-1", "bao-2"} {
		if m := memberOf(t, o, n); !m.Pod.Ready || !m.Pod.Running {
			t.Fatalf("%s not ready without a leader: %+v", n, m.Pod)
		}
	}
}

// TestReadyWhenMember: a pod that has not joined runs but is not Ready.
func TestReadyWhenMember(t *testing.T) {
	c := New(Config{Seed: 3, Replicas: 3, Readiness: ReadyWhenMember})
	mustApply(t, c, upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 1})
	c.Run(6)
	m := memberOf(t, c.Observe(), "green-0")
	if !m.Pod.Running || m.Pod.Ready || !m.Joinable() {
		t.Fatalf("unjoined pod: %+v", m.Pod)
	}
	mustApply(t, c, upgrade.JoinNonvoter{Member: "green-0"})
	if m := memberOf(t, c.Observe(), "green-0"); !m.Pod.Ready {
		t.Fatalf("joined pod not ready: %+v", m.Pod)
	}
}

func TestAutopilotQuirks(t *testing.T) {
	c := New(Config{Seed: 4, Replicas: 3, AutopilotQuirks: true})
	before := memberOf(t, c.Observe(), "bao-2").Raft.StableSince
	if err := c.KillPod("bao-2"); err != nil {
		t.Fatal(err)
	}
	runUntil(t, c, 20, "bao-2 healthy", func(o upgrade.Observation) bool { return memberOf(t, o, "bao-2").Raft.Healthy })
	o := c.Observe()
	m := memberOf(t, o, "bao-2")
	if !m.Raft.StableSince.Equal(before) || !m.Pod.StartedAt.After(before) {
		t.Fatalf("stable_since %s moved on a restart (pod started %s)", m.Raft.StableSince, m.Pod.StartedAt)
	}
	// The pod's own start holds the window even though stable_since says
	// an hour.
	if g := upgrade.CaughtUpAfterRestart(&o, m, upgrade.CatchUp{}, time.Time{}); g == nil {
		t.Fatal("a member restarted seconds ago counted as stable")
	}
	mustApply(t, c, upgrade.StepDown{Member: "bao-0"})
	runUntil(t, c, 20, "new leader", func(o upgrade.Observation) bool { _, ok := o.Leader(); return ok })
	o = c.Observe()
	for _, m := range o.Members {
		if !m.Raft.StableSince.Equal(o.Now) && o.Now.Sub(m.Raft.StableSince) > 2*time.Second {
			t.Fatalf("%s stable_since %s not reset by the election at %s", m.Name, m.Raft.StableSince, o.Now)
		}
	}
	// The reset does not restart the window of a member that did not
	// restart.
	if g := upgrade.CaughtUp(&o, memberOf(t, o, "bao-1"), upgrade.CatchUp{}); g != nil {
		t.Fatalf("bao-1 held by an election's reset: %v", g)
	}
}

func TestAutoPromotionAndMembershipDelay(t *testing.T) {
	c := New(Config{Seed: 5, Replicas: 3, AutoPromoteTicks: 12, MembershipDelayTicks: 10})
	o := c.Observe()
	if !o.Capabilities.AutoPromotion || o.Capabilities.MembershipDelay != 10*time.Second {
		t.Fatalf("capabilities %+v", o.Capabilities)
	}
	mustApply(t, c, upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 1})
	c.Run(6)
	mustApply(t, c, upgrade.JoinNonvoter{Member: "green-0"})
	runUntil(t, c, 40, "autopilot promotes green-0", func(o upgrade.Observation) bool { return memberOf(t, o, "green-0").IsVoter() })

	// A demotion is accepted at once and applied ten ticks later; asking
	// again meanwhile changes nothing.
	mustApply(t, c, upgrade.Demote{Member: "bao-2"})
	for range 9 {
		c.Tick()
		mustApply(t, c, upgrade.Demote{Member: "bao-2"})
		if !memberOf(t, c.Observe(), "bao-2").IsVoter() {
			t.Fatalf("demotion applied early at tick %d", c.TickCount())
		}
	}
	c.Tick()
	if m := memberOf(t, c.Observe(), "bao-2"); !m.IsNonvoter() {
		t.Fatalf("demotion not applied: %+v", m.Raft)
	}
	checkHistory(t, c)
}

func TestDemotedServerIsNotAutoPromoted(t *testing.T) {
	c := New(Config{Seed: 6, Replicas: 3, AutoPromoteTicks: 3})
	mustApply(t, c, upgrade.Demote{Member: "bao-2"})
	c.Run(20)
	if m := memberOf(t, c.Observe(), "bao-2"); !m.IsNonvoter() {
		t.Fatalf("a demoted server was promoted again: %+v", m.Raft)
	}
}

func TestOnDeleteWorkload(t *testing.T) {
	c := New(Config{Seed: 7, Replicas: 3, UpdateStrategy: upgrade.UpdateOnDelete})
	if w := c.Observe().Workloads[0]; w.UpdateStrategy != upgrade.UpdateOnDelete {
		t.Fatalf("update strategy %q", w.UpdateStrategy)
	}
	mustApply(t, c, upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.SetPartition{Workload: "bao", Partition: 0})
	c.Run(20)
	for _, m := range c.Observe().Members {
		if m.Version != "2.3.0" {
			t.Fatalf("an OnDelete controller restarted %s on its own", m.Name)
		}
	}
	m := memberOf(t, c.Observe(), "bao-1")
	mustApply(t, c, upgrade.DeletePod{Member: "bao-1", UID: m.Pod.UID})
	c.Run(2)
	if m := memberOf(t, c.Observe(), "bao-1"); m.Version != "2.4.0" || !m.Pod.Exists {
		t.Fatalf("deleted pod recreated at %q", m.Version)
	}
}

func TestHandoffOnShutdown(t *testing.T) {
	c := New(Config{Seed: 8, Replicas: 3, HandoffOnShutdown: true})
	if !c.Observe().Capabilities.HandoffOnShutdown {
		t.Fatal("capability not reported")
	}
	c.Run(3)
	l := memberOf(t, c.Observe(), "bao-0")
	mustApply(t, c, upgrade.DeletePod{Member: "bao-0", UID: l.Pod.UID})
	if got := leaderOf(c); got == "" || got == "bao-0" {
		t.Fatalf("leader after a graceful delete: %q", got)
	}
	c.Run(1)
	if r := c.History()[len(c.History())-1]; r.Leader == "" || !r.Writable {
		t.Fatalf("handoff left the cluster without a writable leader: %s", r)
	}
	// A kill is not a graceful shutdown: no handoff.
	if err := c.KillLeader(); err != nil {
		t.Fatal(err)
	}
	if leaderOf(c) != "" {
		t.Fatal("a killed leader handed over")
	}
	runUntil(t, c, 20, "re-election", func(o upgrade.Observation) bool { _, ok := o.Leader(); return ok })
	// A failed handoff falls back to an election.
	c.Run(20)
	c.FailNextHandoff()
	lead := leaderOf(c)
	mustApply(t, c, upgrade.DeletePod{Member: lead, UID: memberOf(t, c.Observe(), lead).Pod.UID})
	if leaderOf(c) != "" {
		t.Fatal("a failed handoff still handed over")
	}
	runUntil(t, c, 20, "election after a failed handoff", func(o upgrade.Observation) bool { _, ok := o.Leader(); return ok })
	checkHistory(t, c)
}

func TestSelfJoinIsNeverAutoPromoted(t *testing.T) {
	c := New(Config{Seed: 1, Readiness: ReadyWhenMember, MembershipDelayTicks: 10, AutoPromoteTicks: 12})
	mustApply(t, c, upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 2})
	c.Run(7)
	if err := c.SelfJoin("green-0"); err != nil {
		t.Fatal(err)
	}
	mustApply(t, c, upgrade.JoinNonvoter{Member: "green-1"})
	mustApply(t, c, upgrade.Demote{Member: "green-1"}) // a demote on a non-voter marks it permanent
	c.Run(40)
	o := c.Observe()
	for _, n := range []string{"green-0", "green-1"} {
		if m := memberOf(t, o, n); !m.IsNonvoter() {
			t.Fatalf("%s was promoted on its own: %+v", n, m.Raft)
		}
	}
	if err := c.SelfJoin("nobody"); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("SelfJoin(nobody) = %v", err)
	}
}
