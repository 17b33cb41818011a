package fake

import (
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func TestFromObservationRoundTrip(t *testing.T) {
	orig := New(Config{Seed: 1, Replicas: 5, TargetedTransfer: true})
	if err := orig.ElectLeader("bao-3"); err != nil {
		t.Fatal(err)
	}
	obs := orig.Observe()
	c, notes, err := FromObservation(obs, Config{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes for a complete observation: %v", notes)
	}
	got := c.Observe()
	if !got.Now.Equal(obs.Now.Truncate(time.Second)) || !got.Capabilities.TargetedTransfer {
		t.Errorf("time %s, capabilities %+v", got.Now, got.Capabilities)
	}
	l, ok := got.Leader()
	if !ok || l.Name != "bao-3" {
		t.Fatalf("leader %v %v", l.Name, ok)
	}
	for i, m := range got.Members {
		o := obs.Members[i]
		if m.Name != o.Name || m.Version != o.Version || m.Raft.Suffrage != o.Raft.Suffrage || m.Pod.Ready != o.Pod.Ready {
			t.Errorf("member %d: %+v, observed %+v", i, m, o)
		}
	}
}

func TestFromObservationMidUpgrade(t *testing.T) {
	obs := New(Config{Seed: 1, Replicas: 3, Version: "2.3.0"}).Observe()
	w := &obs.Workloads[0]
	w.Version, w.Image, w.Partition = "2.4.0", "openbao/openbao:2.4.0", 2
	m2 := &obs.Members[2]
	m2.Version, m2.Image = "2.4.0", "openbao/openbao:2.4.0"
	m2.Pod.Ready = false
	m1 := &obs.Members[1]
	m1.Raft.LastIndex = obs.Members[0].Raft.LastIndex - 812
	obs.Members[0].Raft.Leader = true
	c, notes, err := FromObservation(obs, Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Observe()
	if got.Members[2].Version != "2.4.0" || got.Members[0].Version != "2.3.0" || got.Members[2].Pod.Ready {
		t.Errorf("versions/readiness: %+v", got.Members)
	}
	if lag := got.Members[0].Raft.LastIndex - got.Members[1].Raft.LastIndex; lag < 700 {
		t.Errorf("bao-1 trails by %d, observed 812", lag)
	}
	if len(notes) == 0 || !strings.Contains(strings.Join(notes, "\n"), "bao-1 trails the leader by 812") {
		t.Errorf("notes %v", notes)
	}
	if got.Workloads[0].Partition != 2 {
		t.Errorf("partition %d", got.Workloads[0].Partition)
	}
	// The simulation goes on from there: the lagging member catches up.
	c.Run(10)
	later := c.Observe()
	if g := upgrade.CaughtUp(&later, later.Members[1], upgrade.CatchUp{}); g != nil && g.Reason == upgrade.ReasonLogLag {
		t.Errorf("bao-1 still lags after 10 ticks: %v", g)
	}
}

// A follower that trails the observed leader may be the simulated
// cluster's first leader (ordinal 0): seeding still elects the observed
// leader, then applies the lag (found on a real etcd cluster under writes).
func TestFromObservationFirstOrdinalTrailsTheLeader(t *testing.T) {
	orig := New(Config{Seed: 1, Replicas: 3, TargetedTransfer: true})
	if err := orig.ElectLeader("bao-2"); err != nil {
		t.Fatal(err)
	}
	obs := orig.Observe()
	obs.Members[0].Raft.LastIndex = obs.Members[2].Raft.LastIndex - 40
	c, notes, err := FromObservation(obs, Config{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Observe()
	if l, ok := got.Leader(); !ok || l.Name != "bao-2" {
		t.Fatalf("leader %s %t, observed bao-2", l.Name, ok)
	}
	if lag := got.Members[2].Raft.LastIndex - got.Members[0].Raft.LastIndex; lag < 40 {
		t.Errorf("bao-0 trails by %d, observed 40", lag)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "bao-0 trails the leader by 40") {
		t.Errorf("notes %v", notes)
	}
}

func TestFromObservationRefuses(t *testing.T) {
	obs := New(Config{Seed: 1}).Observe()
	twoWorkloads := obs
	twoWorkloads.Members = append([]upgrade.Member(nil), obs.Members...)
	twoWorkloads.Members[1].Workload = "green"
	for name, o := range map[string]upgrade.Observation{
		"no time":            func() upgrade.Observation { x := obs; x.Now = time.Time{}; return x }(),
		"no workload":        func() upgrade.Observation { x := obs; x.Workloads = nil; return x }(),
		"voters in two sets": twoWorkloads,
	} {
		if _, _, err := FromObservation(o, Config{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFromObservationUnknownAndLeaderless(t *testing.T) {
	obs := New(Config{Seed: 1}).Observe()
	obs.Members[2].Raft = upgrade.MemberRaft{Unknown: true}
	obs.Raft.LeaderID = ""
	for i := range obs.Members {
		obs.Members[i].Raft.Leader = false
	}
	c, notes, err := FromObservation(obs, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "bao-2 is unknown") || !strings.Contains(joined, "no leader") {
		t.Errorf("notes %v", notes)
	}
	first := c.Observe()
	if _, ok := first.Leader(); ok {
		t.Error("a leader before any election")
	}
	c.Run(10)
	after := c.Observe()
	if _, ok := after.Leader(); !ok {
		t.Error("no leader elected after 10 ticks")
	}
}
