package upgrade_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

func TestDisruptionBudget(t *testing.T) {
	type want struct {
		pods, voters, min int32
		reason            upgrade.Reason // "" when no gate
	}
	tests := []struct {
		name              string
		voters, nonvoters int
		mod               func(*upgrade.Observation)
		green, raft       want
	}{
		{name: "3 voters, all caught up", voters: 3,
			raft: want{3, 3, 2, ""}},
		{name: "5 voters: still one at a time", voters: 5,
			raft: want{5, 5, 4, ""}},
		{name: "non-voters do not protect quorum", voters: 3, nonvoters: 2,
			green: want{2, 0, 0, ""}, raft: want{3, 3, 2, ""}},
		{name: "a voter not ready: none may go", voters: 3, mod: down("raft-2"),
			raft: want{3, 3, 3, upgrade.ReasonPodNotReady}},
		{name: "a voter lagging: none may go", voters: 5, mod: lagging("raft-4"),
			raft: want{5, 5, 5, upgrade.ReasonLogLag}},
		{name: "a non-voter down does not block the voters' budget", voters: 3, nonvoters: 1, mod: down("green-0"),
			green: want{1, 0, 0, ""}, raft: want{3, 3, 2, ""}},
		{name: "two voters: no failure tolerance", voters: 2,
			raft: want{2, 2, 2, upgrade.ReasonNoFailureTolerance}},
		{name: "one voter", voters: 1,
			raft: want{1, 1, 1, upgrade.ReasonNoFailureTolerance}},
		{name: "no leader", voters: 3, mod: func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-0").Raft.Leader = false
		}, raft: want{3, 3, 3, upgrade.ReasonNoLeader}},
		{name: "unknown view: nobody, non-voter workloads included", voters: 3, nonvoters: 2, mod: unknownView,
			green: want{2, 0, 2, upgrade.ReasonRaftViewUnknown}, raft: want{3, 0, 3, upgrade.ReasonRaftViewUnknown}},
		{name: "partial view: nobody", voters: 3, nonvoters: 1, mod: func(o *upgrade.Observation) {
			member(o, "green-0").Raft.Unknown = true
		}, green: want{1, 0, 1, upgrade.ReasonRaftViewUnknown}, raft: want{3, 3, 3, upgrade.ReasonRaftViewUnknown}},
		{name: "leader unknown: nobody", voters: 3, mod: func(o *upgrade.Observation) { o.Raft.LeaderUnknown = true },
			green: want{0, 0, 0, upgrade.ReasonRaftViewUnknown}, raft: want{3, 3, 3, upgrade.ReasonRaftViewUnknown}},
		{name: "a missing pod counts: replicas above members", voters: 3, mod: func(o *upgrade.Observation) {
			o.Workloads[1].Replicas = 4
		}, raft: want{4, 3, 3, ""}},
		// Blue-green: green-0 and green-1 promoted. Five voters share the
		// configuration; the allotment goes to the workload with more.
		{name: "blue-green: one allotment for the shared configuration", voters: 3, nonvoters: 3, mod: promote("green-0", "green-1"),
			green: want{3, 2, 3, upgrade.ReasonBudgetElsewhere}, raft: want{3, 3, 2, ""}},
		{name: "blue-green: allotment follows the voters", voters: 3, nonvoters: 3, mod: func(o *upgrade.Observation) {
			promote("green-0", "green-1", "green-2")(o)
			member(o, "raft-2").Raft.Suffrage = upgrade.Nonvoter // demoted
			member(o, "raft-1").Raft.Suffrage = upgrade.Nonvoter
		}, green: want{3, 3, 2, ""}, raft: want{3, 1, 3, upgrade.ReasonBudgetElsewhere}},
		{name: "blue-green tie: first by name", voters: 2, nonvoters: 3, mod: promote("green-0", "green-1"),
			green: want{3, 2, 2, ""}, raft: want{2, 2, 2, upgrade.ReasonBudgetElsewhere}},
		{name: "blue-green: a green voter down holds blue too", voters: 3, nonvoters: 3, mod: func(o *upgrade.Observation) {
			promote("green-0", "green-1")(o)
			down("green-1")(o)
		}, green: want{3, 2, 3, upgrade.ReasonPodNotReady}, raft: want{3, 3, 3, upgrade.ReasonPodNotReady}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := cluster(tt.voters, tt.nonvoters)
			if tt.mod != nil {
				tt.mod(&obs)
			}
			before := obs.DeepCopy()
			got := upgrade.DisruptionBudget(&obs)
			if !reflect.DeepEqual(before, &obs) {
				t.Fatal("DisruptionBudget mutated its observation")
			}
			if again := upgrade.DisruptionBudget(&obs); !reflect.DeepEqual(got, again) {
				t.Fatalf("not deterministic: %+v vs %+v", got, again)
			}
			if len(got) != 2 || got[0].Workload != "green" || got[1].Workload != "raft" {
				t.Fatalf("budgets = %+v, want green and raft in order", got)
			}
			for i, w := range []want{tt.green, tt.raft} {
				b := got[i]
				if b.Pods != w.pods || b.Voters != w.voters || b.MinAvailable != w.min {
					t.Errorf("%s: pods/voters/minAvailable = %d/%d/%d, want %d/%d/%d",
						b.Workload, b.Pods, b.Voters, b.MinAvailable, w.pods, w.voters, w.min)
				}
				switch {
				case w.reason == "" && b.Gate != nil:
					t.Errorf("%s: gate %v, want none", b.Workload, b.Gate)
				case w.reason != "" && (b.Gate == nil || b.Gate.Reason != w.reason):
					t.Errorf("%s: gate %+v, want reason %s", b.Workload, b.Gate, w.reason)
				}
			}
		})
	}
}

// promote makes the named non-voters voters.
func promote(names ...string) func(*upgrade.Observation) {
	return func(o *upgrade.Observation) {
		for _, n := range names {
			member(o, n).Raft.Suffrage = upgrade.Voter
		}
	}
}

func TestWorkloadBudgetDisruptions(t *testing.T) {
	b := upgrade.WorkloadBudget{Pods: 3, MinAvailable: 2}
	for ready, want := range []int32{0, 0, 0, 1, 2} {
		if got := b.Disruptions(int32(ready)); got != want {
			t.Errorf("Disruptions(%d) = %d, want %d", ready, got, want)
		}
	}
}

// TestDisruptionBudgetProperty drives fake clusters (rolling restarts,
// killed pods, isolated members, slow catch-up, blue-green joins,
// promotions and demotions, and observation faults) and after every step
// plays the worst drain the budgets allow: every workload loses as many of
// its ready pods as the disruption controller would let go, voters first.
// Against the true cluster, the evictions never take out a second voter,
// never leave fewer healthy voters than a quorum, and an unknown or partial
// view lets no pod go anywhere.
func TestDisruptionBudgetProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := fake.New(fake.Config{
			Seed:              rapid.Uint64().Draw(t, "seed"),
			Replicas:          rapid.IntRange(1, 5).Draw(t, "replicas"),
			TargetedTransfer:  true,
			HandoffOnShutdown: rapid.Bool().Draw(t, "handoff"),
			Readiness:         fake.Readiness(rapid.IntRange(0, 1).Draw(t, "readiness")),
		})
		c.Run(3)
		if rapid.Bool().Draw(t, "blue-green") {
			blueGreen(t, c)
		}
		steps := rapid.IntRange(1, 30).Draw(t, "steps")
		for range steps {
			perturb(t, c)
			c.Run(rapid.IntRange(0, 6).Draw(t, "ticks"))
			fault := rapid.IntRange(0, 9).Draw(t, "fault")
			if fault < len(drainFaults) {
				_ = c.FaultNextObservation(fake.ObservationFault{Kind: drainFaults[fault]})
			}
			obs := c.Observe()
			budgets := upgrade.DisruptionBudget(&obs)
			checkDrain(t, c.Truth(), &obs, budgets)
		}
	})
}

// blueGreen deploys a green workload beside the initial one, joins its
// members and promotes some: two workloads then share one configuration.
func blueGreen(t *rapid.T, c *fake.Cluster) {
	n := rapid.IntRange(1, 3).Draw(t, "green replicas")
	_, _ = c.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0",
		Version: "2.4.0", Replicas: int32(n)}})
	c.Run(8)
	for i := range n {
		_, _ = c.Apply([]upgrade.Action{upgrade.JoinNonvoter{Member: fmt.Sprintf("green-%d", i)}})
		c.Run(1)
	}
	c.Run(8)
	for i := range rapid.IntRange(0, n).Draw(t, "promoted") {
		_, _ = c.Apply([]upgrade.Action{upgrade.Promote{Member: fmt.Sprintf("green-%d", i)}})
		c.Run(3)
	}
	c.Run(rapid.IntRange(0, 20).Draw(t, "settle"))
}

// drainFaults are the observation faults a drain check meets; a stale cache
// is left out: a budget is a snapshot, and what changed since is the
// eviction check's (Safety.CanDisrupt on a fresh observation).
var drainFaults = []fake.ObservationFaultKind{fake.FaultRaftUnknown, fake.FaultMemberUnknown,
	fake.FaultLeaderUnknown, fake.FaultNoLastContact, fake.FaultNoAutopilot}

// perturb applies one random change to c (errors from refused actions are
// part of the game).
func perturb(t *rapid.T, c *fake.Cluster) {
	truth := c.Truth()
	var names []string
	for _, m := range truth.Members {
		names = append(names, m.Name)
	}
	if len(names) == 0 {
		return
	}
	name := rapid.SampledFrom(names).Draw(t, "member")
	switch rapid.IntRange(0, 9).Draw(t, "op") {
	case 0:
		_ = c.KillPod(name)
	case 1:
		_ = c.Isolate(name)
	case 2:
		c.HealAll()
	case 3:
		_ = c.SlowCatchUp(name, 1)
	case 4:
		_, _ = c.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0",
			Version: "2.4.0", Replicas: int32(rapid.IntRange(1, 3).Draw(t, "green replicas"))}})
	case 5:
		_, _ = c.Apply([]upgrade.Action{upgrade.JoinNonvoter{Member: name}})
	case 6:
		_, _ = c.Apply([]upgrade.Action{upgrade.Promote{Member: name}})
	case 7:
		_, _ = c.Apply([]upgrade.Action{upgrade.Demote{Member: name}})
	case 8:
		_, _ = c.Apply([]upgrade.Action{upgrade.DeletePod{Member: name}})
	case 9:
		w := truth.Workloads[rapid.IntRange(0, len(truth.Workloads)-1).Draw(t, "workload")]
		_, _ = c.Apply([]upgrade.Action{upgrade.UpdateTemplate{Workload: w.Name, Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
			upgrade.SetPartition{Workload: w.Name, Partition: int32(rapid.IntRange(0, int(w.Replicas)).Draw(t, "partition"))}})
	}
}

// checkDrain evicts, in each workload, as many ready pods as its budget
// lets go (voters serving in the true cluster first) and checks the
// outcome against the true cluster.
func checkDrain(t *rapid.T, truth upgrade.Observation, obs *upgrade.Observation, budgets []upgrade.WorkloadBudget) {
	blind := upgrade.CheckView(obs) != nil
	evicted := map[string]bool{}
	for _, b := range budgets {
		if b.MinAvailable < 0 || b.MinAvailable > b.Pods {
			t.Fatalf("%s: minAvailable %d outside 0..%d", b.Workload, b.MinAvailable, b.Pods)
		}
		if blind && b.MinAvailable != b.Pods {
			t.Fatalf("%s: minAvailable %d < %d pods on an unknown or partial view", b.Workload, b.MinAvailable, b.Pods)
		}
		members := truth.WorkloadMembers(b.Workload)
		// Serving voters first: the drain that hurts most.
		slices.SortStableFunc(members, func(x, y upgrade.Member) int { return rank(x) - rank(y) })
		var ready int32
		for _, m := range members {
			if m.Pod.Exists && m.Pod.Ready && !m.Pod.Terminating {
				ready++
			}
		}
		left := b.Disruptions(ready)
		for _, m := range members {
			if left == 0 {
				break
			}
			if m.Pod.Exists && m.Pod.Ready && !m.Pod.Terminating {
				evicted[m.Name] = true
				left--
			}
		}
	}
	voters, out, hit := 0, 0, 0
	for _, m := range truth.Members {
		if !m.IsVoter() {
			continue
		}
		voters++
		switch {
		case evicted[m.Name] && m.Up():
			hit++
			out++
		case evicted[m.Name] || !m.Up():
			out++
		}
	}
	if hit == 0 {
		return
	}
	if blind {
		t.Fatalf("voters evicted on an unknown or partial view: %v", evicted)
	}
	if hit > 1 || out > 1 {
		t.Fatalf("the budgets let %d voters out (%d evicted): %v\n%s", out, hit, evicted, describe(truth))
	}
	if voters-out < upgrade.Quorum(voters) {
		t.Fatalf("the budgets let quorum go: %d of %d voters left: %v", voters-out, voters, evicted)
	}
}

func rank(m upgrade.Member) int {
	switch {
	case m.IsVoter() && m.Up():
		return 0
	case m.IsVoter():
		return 1
	}
	return 2
}

func describe(o upgrade.Observation) string {
	s := ""
	for _, m := range o.Members {
		s += fmt.Sprintf("%s voter=%v up=%v ready=%v\n", m.Name, m.IsVoter(), m.Up(), m.Pod.Ready)
	}
	return s
}
