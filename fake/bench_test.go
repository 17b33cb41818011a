package fake

import (
	"fmt"
	"testing"
)

// BenchmarkTick measures one steady-state tick (writes, replication, health,
// history record and stale-observation snapshot) for several cluster sizes.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{3, 9, 101} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			c := New(Config{Seed: 1, Replicas: n})
			c.Run(100) // fill the snapshot ring
			b.ReportAllocs()
			for b.Loop() {
				c.Tick()
			}
		})
	}
}

// BenchmarkObserve measures building a deep-copied observation.
func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{3, 101} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			c := New(Config{Seed: 1, Replicas: n})
			b.ReportAllocs()
			for b.Loop() {
				_ = c.Observe()
			}
		})
	}
}
