package harness

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/raftshift/raftshift/adapters/adaptertest"
	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

// conformance is the conformance suite's cluster over a real embedded etcd
// cluster: a stopped member is crashed (its etcd killed, the pod left
// without a running container) and started again on its data; the spare
// is the pod of a second workload, which starts its etcd once it has been
// added to the cluster (an etcd member cannot start before it is a
// member).
type conformance struct {
	c *Cluster
}

func (k conformance) Base(context.Context) (upgrade.Observation, error) {
	return k.c.Pods(time.Now()), nil
}

func (k conformance) Stop(_ context.Context, member string) error  { return k.c.Crash(member) }
func (k conformance) Start(_ context.Context, member string) error { return k.c.Revive(member) }
func (k conformance) Settle(ctx context.Context)                   { sleepCtx(ctx, 200*time.Millisecond) }

func (k conformance) Spare(ctx context.Context) (upgrade.Member, bool, error) {
	if obs := k.c.Pods(time.Now()); hasPod(&obs, "spare-0") {
		m, _ := obs.Member("spare-0")
		return k.spare(m), true, nil
	}
	if err := k.c.Apply(upgrade.CreateRevision{Workload: "spare", Replicas: 1, Image: Image("3.7.3"), Version: "3.7.3"}); err != nil {
		return upgrade.Member{}, false, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		obs := k.c.Pods(time.Now())
		if m, ok := obs.Member("spare-0"); ok && m.Pod.Running {
			return k.spare(m), true, nil
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	return upgrade.Member{}, false, errors.New("spare-0 never ran")
}

func hasPod(obs *upgrade.Observation, name string) bool {
	m, ok := obs.Member(name)
	return ok && m.Pod.Exists
}

// spare gives the spare its peer URL as the address to join at.
func (k conformance) spare(m upgrade.Member) upgrade.Member {
	m.Raft.Address = k.c.PeerURL(m)
	return m
}

// TestConformance runs adapters/adaptertest against the etcd adapter on a
// real 3-member etcd cluster, every check included. etcd cannot demote a
// voter: the adapter refuses Demote with etcd.ErrDemoteUnsupported (an
// errors.ErrUnsupported) on one line naming the member, which the suite's
// Membership check accepts, then removes the member as a voter. A
// membership change etcd's StrictReconfigCheck refuses while the leader has
// not yet heard from every voter for 5 s ("unhealthy cluster") is transient:
// a strategy re-issues it at a later Step, and the suite retries it.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real etcd cluster")
	}
	c, err := NewCluster(t.Context(), Options{Members: 3, Version: "3.7.0", Dir: t.TempDir(), StartDelay: 50 * time.Millisecond, NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := NewHost(c)
	adaptertest.Run(t, h.Adapter, conformance{c: c}, adaptertest.Options{
		Transient: func(err error) bool { return errors.Is(err, rpctypes.ErrUnhealthy) },
	})
	if !errors.Is(etcd.ErrDemoteUnsupported, errors.ErrUnsupported) {
		t.Error("etcd.ErrDemoteUnsupported is not an errors.ErrUnsupported")
	}
}
