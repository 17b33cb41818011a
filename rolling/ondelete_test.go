package rolling

import (
	"fmt"
	"testing"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// orderingRun upgrades an n-member fake whose leader starts at ordinal
// leader, with the given ordering and capabilities, and summarises the
// upgrade's own history.
func orderingRun(t *testing.T, n, leader int, ordering Ordering, cfg fake.Config) fake.Metrics {
	t.Helper()
	cfg.Seed, cfg.Replicas = uint64(100*n+leader), n
	if ordering == OrderingOnDelete {
		cfg.UpdateStrategy = upgrade.UpdateOnDelete
	}
	c := fake.New(cfg)
	if err := c.ElectLeader(fmt.Sprintf("bao-%d", leader)); err != nil {
		t.Fatal(err)
	}
	c.Tick() // the setup election is not the upgrade's
	start := len(c.History())
	spec := Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0", Ordering: ordering}
	h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) },
		upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
	if _, err := h.RunUntilIdle(3000); err != nil {
		t.Fatalf("n=%d leader=%d %s: %v\n%s", n, leader, ordering, err, h.Timeline())
	}
	if h.Status.CurrentVersion != "2.4.0" {
		t.Fatalf("n=%d leader=%d %s: ended at %s", n, leader, ordering, h.Status.CurrentVersion)
	}
	if err := fake.CheckHistory(c.History()); err != nil {
		t.Fatal(err)
	}
	return fake.Summarize(c.History()[start:])
}

// TestOnDeleteOneLeaderChange is issue 10's first target: with targeted
// transfer, a delete-driven upgrade makes exactly one leader change for
// every starting leader position (3, 5 and 7 members), with no second
// without a leader; the partition ordering makes two when the leader starts
// at the highest ordinal.
func TestOnDeleteOneLeaderChange(t *testing.T) {
	for _, n := range []int{3, 5, 7} {
		var part int
		for leader := range n {
			m := orderingRun(t, n, leader, OrderingOnDelete, fake.Config{TargetedTransfer: true})
			if m.LeaderChanges != 1 || m.TicksWithoutLeader != 0 {
				t.Errorf("OnDelete n=%d leader=bao-%d: %d leader changes, %d s without leader", n, leader, m.LeaderChanges, m.TicksWithoutLeader)
			}
			part += orderingRun(t, n, leader, OrderingPartition, fake.Config{TargetedTransfer: true}).LeaderChanges
		}
		t.Logf("%d members: OnDelete 1.00 leader changes on every start, Partition %.2f on average", n, float64(part)/float64(n))
		if part <= n {
			t.Errorf("%d members: Partition averaged %d/%d leader changes; expected the highest-ordinal start to cost two", n, part, n)
		}
	}
}

// TestOnDeleteHandoffOnShutdown: where the workload hands leadership over
// on shutdown, the leader's pod is deleted last without a step-down first:
// one leader change, no second without a leader, even without targeted
// transfer.
func TestOnDeleteHandoffOnShutdown(t *testing.T) {
	for _, n := range []int{3, 5} {
		for leader := range n {
			m := orderingRun(t, n, leader, OrderingOnDelete, fake.Config{HandoffOnShutdown: true})
			if m.LeaderChanges != 1 || m.TicksWithoutLeader != 0 {
				t.Errorf("handoff n=%d leader=bao-%d: %d leader changes, %d s without leader", n, leader, m.LeaderChanges, m.TicksWithoutLeader)
			}
		}
	}
	// Without handoff or targeted transfer the leader steps down: still one
	// leader change, an election's worth of seconds without a leader.
	m := orderingRun(t, 3, 0, OrderingOnDelete, fake.Config{})
	if m.LeaderChanges != 1 || m.TicksWithoutLeader == 0 {
		t.Errorf("step-down: %d leader changes, %d s without leader", m.LeaderChanges, m.TicksWithoutLeader)
	}
}

func TestOrderingMismatch(t *testing.T) {
	o := healthy(3)
	o.Workloads[0].UpdateStrategy = upgrade.UpdateRollingUpdate
	d, err := Step(Spec{Version: newV, Image: newImg, Ordering: OrderingOnDelete}, o, idleStatus())
	if err != nil || d.Gate == nil || d.Gate.Reason != ReasonUpdateStrategy || len(d.Actions) != 0 {
		t.Fatalf("OnDelete on a RollingUpdate workload: %v %+v %v", err, d.Gate, d.Actions)
	}
	o.Workloads[0].UpdateStrategy = upgrade.UpdateOnDelete
	d, err = Step(Spec{Version: newV, Image: newImg, Ordering: OrderingPartition}, o, idleStatus())
	if err != nil || d.Gate == nil || d.Gate.Reason != ReasonUpdateStrategy {
		t.Fatalf("Partition on an OnDelete workload: %v %+v", err, d.Gate)
	}
	d, err = Step(Spec{Version: newV, Image: newImg}, o, idleStatus())
	if err != nil || d.Status.Upgrade == nil || d.Status.Upgrade.Rolling.Ordering != string(OrderingOnDelete) {
		t.Fatalf("an OnDelete workload did not pick OnDelete: %v %+v", err, d.Status.Upgrade)
	}
	for _, a := range d.Actions {
		if _, ok := a.(upgrade.SetPartition); ok {
			t.Fatalf("OnDelete set a partition: %v", d.Actions)
		}
	}
	if _, err := Step(Spec{Version: newV, Image: newImg, Ordering: "Sideways"}, o, idleStatus()); err == nil {
		t.Fatal("unknown ordering accepted")
	}
}
