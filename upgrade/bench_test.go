package upgrade_test

import (
	"fmt"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

// BenchmarkSafety.Check checks a typical rolling step (lock, lower the
// partition by one, delete that pod, record an event) against clusters of
// growing size.
func BenchmarkSafetyCheck(b *testing.B) {
	for _, n := range []int{3, 5, 9, 101} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			obs := cluster(n, 0)
			last := fmt.Sprintf("raft-%d", n-1)
			actions := []upgrade.Action{
				upgrade.AcquireLock{Holder: "u"},
				upgrade.SetPartition{Workload: "raft", Partition: int32(n - 1)},
				upgrade.DeletePod{Member: last, UID: "uid-" + last},
			}
			if err := (upgrade.Safety{}).Check(obs, actions); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := (upgrade.Safety{}).Check(obs, actions); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCaughtUp(b *testing.B) {
	obs := cluster(5, 0)
	m := obs.Members[3]
	b.ReportAllocs()
	for b.Loop() {
		if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g != nil {
			b.Fatal(g)
		}
	}
}

func BenchmarkTableNext(b *testing.B) {
	tab := testTable()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.Next(failed, evAbort); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatusDeepCopy(b *testing.B) {
	s := filledStatus(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.DeepCopy()
	}
}
