package bluegreen

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// waitingForSync is the steady "waiting" state of a blue-green upgrade:
// Syncing with n blue voters and n green non-voters, the last green member
// still trailing the leader's log, so Step only holds (no action). The
// status carries the conditions left by the previous Step.
func waitingForSync(tb testing.TB, n int) (Spec, upgrade.Observation, upgrade.Status) {
	tb.Helper()
	now := t0.Add(time.Minute)
	green := make([]string, n)
	for i := range green {
		green[i] = "nv"
	}
	obs := cluster(now, n, green...)
	obs.Lock.Holder = DefaultLockHolder
	obs.Members[len(obs.Members)-1].Raft.LastIndex = 1000 // lags by 4000 entries
	st := inFlight(PhaseSyncing, t0, func(s *upgrade.Status) {
		s.Upgrade.BlueGreen.BlueReplicas, s.Upgrade.BlueGreen.GreenReplicas = int32(n), int32(n)
	})
	spec := baseSpec()
	d, err := Step(spec, obs, st)
	if err != nil || len(d.Actions) != 0 || d.Gate == nil || d.Gate.Name != upgrade.GateSync || d.Gate.Reason != upgrade.ReasonLogLag {
		tb.Fatalf("unexpected setup decision: %v %v %v", d.Actions, d.Gate, err)
	}
	return spec, obs, d.Status
}

// BenchmarkStep measures one Step on clusters of n blue members: "start"
// (idle, policy and prerequisites, start of the upgrade), "waiting" (the
// steady state of waitingForSync: n blue voters, n green non-voters, one
// lagging; no action) and "demote" (n blue and n green voters, green
// leads: safety-checked demotion).
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
		b.Run(fmt.Sprintf("waiting/members=%d+%d", n, n), func(b *testing.B) {
			spec, obs, st := waitingForSync(b, n)
			b.ReportAllocs()
			for b.Loop() {
				d, err := Step(spec, obs, st)
				if err != nil || d.Gate == nil || len(d.Actions) != 0 {
					b.Fatal(err, d.Gate)
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

// TestStepWaitingAllocs keeps the steady waiting state (5 blue voters, 5
// green non-voters, one lagging) within its allocation budget.
func TestStepWaitingAllocs(t *testing.T) {
	spec, obs, st := waitingForSync(t, 5)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := Step(spec, obs, st); err != nil {
			t.Fatal(err)
		}
	})
	// The code is written plainly (no buffers or memo tables to save
	// nanoseconds in a function called about once a second); the budget
	// catches regressions such as allocations that grow with the log or
	// the number of Steps, not the cost of a copied member list.
	if allocs > 40 {
		t.Errorf("waiting Step allocates %.0f times, budget 40", allocs)
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
