package bluegreen

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// BenchmarkStep measures one Step on clusters of n blue members: "start"
// (idle, policy and prerequisites, start of the upgrade) and "demote"
// (n blue and n green voters, green leads: safety-checked demotion).
func BenchmarkStep(b *testing.B) {
	now := t0.Add(time.Minute)
	for _, n := range []int{3, 5, 9, 101} {
		b.Run(fmt.Sprintf("start/members=%d", n), func(b *testing.B) {
			obs := cluster(now, n)
			spec := baseSpec()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Step(spec, obs, upgrade.Status{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("demote/members=%d+%d", n, n), func(b *testing.B) {
			green := make([]string, n)
			for i := range green {
				green[i] = "v"
			}
			obs := cluster(now, n, green...)
			setLeader(&obs, greenW+"-0")
			st := inFlight(PhaseDemotingBlue, t0, func(s *upgrade.Status) {
				s.Upgrade.BlueGreen.BlueReplicas, s.Upgrade.BlueGreen.GreenReplicas = int32(n), int32(n)
			})
			spec := baseSpec()
			b.ReportAllocs()
			for b.Loop() {
				d, err := Step(spec, obs, st)
				if err != nil || len(d.Actions) == 0 {
					b.Fatal(err, d.Gate)
				}
			}
		})
	}
}

// BenchmarkFullUpgrade runs a complete simulated 3-member blue-green
// upgrade (auto-promotion, both hooks, step-down only) per iteration,
// simulator included.
func BenchmarkFullUpgrade(b *testing.B) {
	spec := goldenSpec()
	spec.AutoPromote = true
	b.ReportAllocs()
	for b.Loop() {
		c := fake.New(fake.Config{Seed: 1, Replicas: 3})
		var st upgrade.Status
		for i := 0; ; i++ {
			if i == 1000 {
				b.Fatal("upgrade did not finish")
			}
			d, err := Step(spec, c.Observe(), st)
			if err != nil {
				b.Fatal(err)
			}
			st = d.Status
			if _, err := c.Apply(d.Actions); err != nil {
				b.Fatal(err)
			}
			if st.Upgrade == nil && st.CurrentVersion == spec.Version {
				break
			}
			c.Tick()
		}
	}
}
