package fake

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

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

// TestStepDownHandsLeadershipToAFollower: a step-down is hashicorp/raft's
// LeadershipTransfer (OpenBao's sys/step-down): the old leader never wins
// the election it caused while a follower can, and the follower is the most
// up-to-date one (soak seed 8164343: ten step-downs re-elected the blue
// leader among two green voters, and the blue-green upgrade rolled back).
func TestStepDownHandsLeadershipToAFollower(t *testing.T) {
	winners := map[string]int{}
	for seed := range uint64(40) {
		c := New(Config{Seed: seed, Replicas: 3})
		if err := c.SlowCatchUp("bao-2", 0); err != nil {
			t.Fatal(err)
		}
		c.Run(3) // bao-2 stalls behind: bao-1 is the most up-to-date follower
		mustApply(t, c, upgrade.StepDown{Member: "bao-0"})
		c.HealAll()
		runUntil(t, c, 10, "a new leader", func(o upgrade.Observation) bool { _, ok := o.Leader(); return ok })
		winners[leaderOf(c)]++
		last := c.History()[len(c.History())-1]
		if !slices.ContainsFunc(last.Events, func(e string) bool { return strings.Contains(e, "leadership transfer after bao-0 stepped down") }) {
			t.Fatalf("seed %d: %s", seed, last)
		}
		checkHistory(t, c)
	}
	if winners["bao-1"] != 40 {
		t.Fatalf("winners %v, want bao-1 every time", winners)
	}
	// The target cannot take over: the election is open again, and the old
	// leader may win it.
	old := 0
	for seed := range uint64(40) {
		c := New(Config{Seed: seed, Replicas: 3})
		mustApply(t, c, upgrade.StepDown{Member: "bao-0"})
		for _, m := range []string{"bao-1", "bao-2"} {
			if leaderOf(c) == "" && c.stepDown != nil && c.stepDown.name == m {
				if err := c.Isolate(m); err != nil {
					t.Fatal(err)
				}
			}
		}
		c.Run(5)
		if leaderOf(c) == "bao-0" {
			old++
		}
	}
	if old == 0 || old == 40 {
		t.Fatalf("old leader won %d of 40 open elections with its transfer target isolated", old)
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

// TestFailNextLeaderMove: a failed step-down leaves the leader leading in its
// term, and a failed targeted transfer times out with the old leader still
// leading; the move after each works again.
func TestFailNextLeaderMove(t *testing.T) {
	c := New(Config{Seed: 2, Replicas: 3})
	c.FailNextLeaderMove()
	mustApply(t, c, upgrade.StepDown{Member: "bao-0"})
	c.Run(5)
	if l := leaderOf(c); l != "bao-0" || c.Truth().Raft.Term != 1 {
		t.Fatalf("failed step-down: leader %q term %d", l, c.Truth().Raft.Term)
	}
	mustApply(t, c, upgrade.StepDown{Member: "bao-0"})
	runUntil(t, c, 10, "a new leader", func(o upgrade.Observation) bool { l, ok := o.Leader(); return ok && l.Name != "bao-0" })

	c = New(Config{Seed: 2, Replicas: 3, TargetedTransfer: true})
	c.FailNextLeaderMove()
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	c.Run(c.cfg.ElectionTimeout[1] + 1)
	if l := leaderOf(c); l != "bao-0" || c.Truth().Raft.Term != 1 {
		t.Fatalf("failed transfer: leader %q term %d", l, c.Truth().Raft.Term)
	}
	if !slices.ContainsFunc(c.History(), func(r Record) bool {
		return slices.ContainsFunc(r.Events, func(e string) bool { return strings.Contains(e, "timed out") })
	}) {
		t.Fatal("no timeout event")
	}
	mustApply(t, c, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"})
	c.Tick()
	if l := leaderOf(c); l != "bao-1" {
		t.Fatalf("transfer after the failed one: leader %q", l)
	}
	checkHistory(t, c)
}
