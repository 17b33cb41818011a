package fake

import (
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// TestMixedVersionElectionsCanFailBack: elections ignore versions, as Raft
// does. With bao-1 and bao-2 upgraded and upgraded bao-2 leading, killing
// the leader lets old bao-0 win some elections (its log is as up-to-date as
// bao-1's): the failback a strategy must never cause itself and must report
// and correct when an election causes it (S8).
func TestMixedVersionElectionsCanFailBack(t *testing.T) {
	old, upgraded := 0, 0
	for seed := uint64(1); seed <= 40; seed++ {
		c := New(Config{Seed: seed, Replicas: 3, TargetedTransfer: true})
		mustApply(t, c,
			upgrade.SetPartition{Workload: "bao", Partition: 3},
			upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
			upgrade.SetPartition{Workload: "bao", Partition: 1})
		c.Run(60)
		if err := c.ElectLeader("bao-2"); err != nil {
			t.Fatal(err)
		}
		c.Run(5)
		if err := c.KillLeader(); err != nil {
			t.Fatal(err)
		}
		for range 30 {
			c.Tick()
			tr := c.Truth()
			if l, ok := tr.Leader(); ok && l.Name != "bao-2" {
				if l.Version == "2.3.0" {
					old++
				} else {
					upgraded++
				}
				break
			}
		}
	}
	t.Logf("after a leader fault: %d elections won by an old member, %d by an upgraded one", old, upgraded)
	if old == 0 || upgraded == 0 {
		t.Fatalf("after a leader fault, old members won %d elections and upgraded ones %d; both must be possible", old, upgraded)
	}
}
