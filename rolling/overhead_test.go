package rolling

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

// TestOverheadOverSerialLowerBound is issue 10's overhead target: with a
// host that observes every 100 ms, a delete-driven upgrade takes at most 2%
// longer than the serial lower bound N x (restart + catch-up +
// stabilization window): each member must be restarted (its pod absent,
// then starting), catch up, and be stable for the window, one after the
// other.
func TestOverheadOverSerialLowerBound(t *testing.T) {
	const tick = 100 * time.Millisecond
	for _, n := range []int{3, 5} {
		cfg := fake.Config{Seed: 11, Replicas: n, Tick: tick, PodStartTicks: 50, ElectionTimeout: [2]int{20, 50},
			WriteRate: 1, ReplicationRate: 200, TargetedTransfer: true, UpdateStrategy: upgrade.UpdateOnDelete}
		c := fake.New(cfg)
		spec := Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0", RetryInterval: metav1.Duration{Duration: 10 * time.Second}}
		h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) },
			upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
		ticks, err := h.RunUntilIdle(20000)
		if err != nil {
			t.Fatalf("%d members: %v", n, err)
		}
		took := time.Duration(ticks) * tick
		// restart: the pod is absent for a tick, then starts for
		// PodStartTicks; catch-up: a tick of replication; then the
		// stabilization window (upgrade.DefaultCatchUp).
		per := tick + time.Duration(cfg.PodStartTicks)*tick + tick + upgrade.DefaultCatchUp().Stabilization.Duration
		bound := time.Duration(n) * per
		over := float64(took-bound) / float64(bound)
		t.Logf("%d members: %s, serial lower bound %s, overhead %.2f%%", n, took, bound, 100*over)
		if over > 0.02 {
			t.Errorf("%d members: %s is %.2f%% above the serial lower bound %s (target 2%%)", n, took, 100*over, bound)
		}
		if got := fake.Summarize(c.History()).LeaderChanges; got != 1 {
			t.Errorf("%d members: %d leader changes", n, got)
		}
	}
}
