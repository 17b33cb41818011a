package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/adapters/adaptertest"
	"github.com/raftshift/raftshift/upgrade"
)

// conformance is the adaptertest view of a harness Adapter on a real
// hashicorp/raft cluster: the adapter fills whole observations (pods and
// Raft) itself, a suspended node stands for an unreachable member, and the
// spare is the pod of a one-replica second workload, started but not in the
// Raft configuration.
type conformance struct{ a *Adapter }

func (c conformance) Observe(_ context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	return c.a.Observe(obs.Now), nil
}

func (c conformance) Execute(ctx context.Context, _ *upgrade.Observation, act upgrade.Action) error {
	_, err := c.a.Execute(ctx, []upgrade.Action{act})
	return err
}

func (c conformance) Base(context.Context) (upgrade.Observation, error) {
	return upgrade.Observation{Now: time.Now()}, nil
}

func (c conformance) Stop(_ context.Context, member string) error  { return c.a.Suspend(member) }
func (c conformance) Start(_ context.Context, member string) error { return c.a.Resume(member) }
func (c conformance) Settle(context.Context)                       { time.Sleep(50 * time.Millisecond) }

func (c conformance) Spare(context.Context) (upgrade.Member, bool, error) {
	if _, err := c.a.Execute(context.Background(), []upgrade.Action{
		upgrade.CreateRevision{Workload: "spare", Image: Image("1.0.0"), Version: "1.0.0", Replicas: 1}}); err != nil {
		return upgrade.Member{}, false, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		obs := c.a.Observe(time.Now())
		if m, ok := obs.Member("spare-0"); ok && m.Pod.Ready {
			return m, true, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return upgrade.Member{}, false, fmt.Errorf("spare-0 never became ready")
}

// TestConformance runs raftshift's adapter conformance suite against the
// harness adapter on a real 3-node hashicorp/raft cluster.
func TestConformance(t *testing.T) {
	a, err := New(context.Background(), Options{Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	adaptertest.Run(t, conformance{a: a}, conformance{a: a}, adaptertest.Options{Timeout: 20 * time.Second})
}
