package rolling

import (
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// waitingForCatchUp is the steady state of a rolling upgrade: the highest
// ordinal was restarted and Step waits for it to be stable long enough.
func waitingForCatchUp(tb testing.TB, n int) (Spec, upgrade.Observation, upgrade.Status) {
	tb.Helper()
	o := locked(templated(n))
	o.Workloads[0].Partition = int32(n - 1)
	upgraded(&o, n-1)
	o.Members[n-1].Raft.StableSince = t0.Add(-3 * time.Second)
	st := inflight(n, PhaseVerifying, int32(n-1))
	st.Upgrade.PhaseStartedAt = upgrade.Time(t0.Add(-5 * time.Second))
	st.Upgrade.StepStartedAt = st.Upgrade.PhaseStartedAt
	// conditions as left by the previous Step
	d, err := Step(baseSpec(), o, st)
	if err != nil || d.Gate == nil || d.Gate.Name != upgrade.GateStabilized {
		tb.Fatalf("unexpected setup decision: %v %v", d.Gate, err)
	}
	return baseSpec(), o, d.Status
}

func BenchmarkStep(b *testing.B) {
	for _, n := range []int{3, 5, 9, 101} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			spec, obs, st := waitingForCatchUp(b, n)
			b.ReportAllocs()
			for b.Loop() {
				d, err := Step(spec, obs, st)
				if err != nil || d.Gate == nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStepSteadyStateAllocs keeps the steady state within budget.
func TestStepSteadyStateAllocs(t *testing.T) {
	spec, obs, st := waitingForCatchUp(t, 5)
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
		t.Errorf("steady-state Step allocates %.0f times, budget 40", allocs)
	}
}

func BenchmarkFullUpgrade(b *testing.B) {
	b.ReportAllocs()
	var ticks int
	for b.Loop() {
		c := fake.New(fake.Config{Seed: 1, Replicas: 5, TargetedTransfer: true})
		spec := Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0"}
		h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) },
			upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
		n, err := h.RunUntilIdle(1000)
		if err != nil {
			b.Fatal(err)
		}
		ticks = n
	}
	b.ReportMetric(float64(ticks), "ticks/upgrade")
}
