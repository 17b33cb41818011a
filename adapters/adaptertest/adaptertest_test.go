package adaptertest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/raftshift/raftshift/adapters/adaptertest"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// simulated is a cluster and a reference adapter over fake.Cluster: the
// Raft part comes from the simulator, actions are applied to it.
type simulated struct{ c *fake.Cluster }

func (s simulated) Base(context.Context) (upgrade.Observation, error) { return s.c.Observe(), nil }
func (s simulated) Stop(_ context.Context, m string) error            { return s.c.Isolate(m) }
func (s simulated) Start(_ context.Context, m string) error           { return s.c.Heal(m) }
func (s simulated) Settle(context.Context)                            { s.c.Tick() }
func (s simulated) Spare(context.Context) (upgrade.Member, bool, error) {
	if _, err := s.c.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "spare", Replicas: 1,
		Image: "openbao/openbao:2.3.0", Version: "2.3.0"}}); err != nil {
		return upgrade.Member{}, false, err
	}
	for range 30 {
		s.c.Tick()
		obs := s.c.Observe()
		if m, ok := obs.Member("spare-0"); ok && m.Pod.Running {
			return m, true, nil
		}
	}
	return upgrade.Member{}, false, errors.New("spare-0 never ran")
}

func (s simulated) Observe(_ context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	return obs, nil // Base already holds the simulator's Raft view
}

func (s simulated) Execute(_ context.Context, _ *upgrade.Observation, a upgrade.Action) error {
	_, err := s.c.Apply([]upgrade.Action{a})
	if err != nil && (errors.Is(err, fake.ErrPrecondition) || errors.Is(err, fake.ErrRejected)) {
		if _, ok := a.(upgrade.RemovePeer); ok {
			return nil // already gone counts as done
		}
	}
	return err
}

func newSim() simulated {
	return simulated{c: fake.New(fake.Config{Seed: 1, Replicas: 3, TargetedTransfer: true})}
}

func TestReferenceAdapterConforms(t *testing.T) {
	s := newSim()
	adaptertest.Run(t, s, s, adaptertest.Options{})
}

// liar reports every member healthy, whatever the cluster says.
type liar struct{ simulated }

func (l liar) Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	for i := range obs.Members {
		obs.Members[i].Raft.Healthy = true
	}
	return obs, nil
}

// deaf executes nothing.
type deaf struct{ simulated }

func (deaf) Execute(context.Context, *upgrade.Observation, upgrade.Action) error { return nil }

// touchy fails an action repeated after a lost reply.
type touchy struct {
	simulated
	seen map[string]bool
}

func (t touchy) Execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error {
	if t.seen[a.String()] {
		return fmt.Errorf("%s: already done", a)
	}
	t.seen[a.String()] = true
	return t.simulated.Execute(ctx, obs, a)
}

// vague fails with an error that names nobody.
type vague struct{ simulated }

func (vague) Execute(context.Context, *upgrade.Observation, upgrade.Action) error {
	return errors.New("something went wrong\ntry again")
}

// noDemote cannot demote a voter, as etcd cannot: it refuses Demote as
// unsupported, with how in why ("" for one line naming the member).
type noDemote struct {
	simulated
	why string
}

func (n noDemote) Execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error {
	if d, ok := a.(upgrade.Demote); ok {
		if n.why != "" {
			return fmt.Errorf("%s: %w", n.why, errors.ErrUnsupported)
		}
		return fmt.Errorf("demote %s: a voter cannot be demoted: %w", d.Member, errors.ErrUnsupported)
	}
	return n.simulated.Execute(ctx, obs, a)
}

// An adapter that refuses Demote as unsupported, on one line naming the
// member, conforms: the member is removed as a voter instead.
func TestDemoteUnsupportedConforms(t *testing.T) {
	s := newSim()
	if err := adaptertest.New(noDemote{simulated: s}, s, adaptertest.Options{}).Membership(); err != nil {
		t.Fatal(err)
	}
	s = newSim()
	if err := adaptertest.New(noDemote{s, "cannot\ndemote"}, s, adaptertest.Options{Timeout: 1}).Membership(); err == nil {
		t.Error("a refusal on two lines naming nobody passed")
	}
}

// Each check catches the adapter bug it is about.
func TestChecksCatchBrokenAdapters(t *testing.T) {
	opts := adaptertest.Options{Timeout: 1}
	for name, check := range map[string]func() error{
		"a liar is caught by Unreachable": func() error {
			s := newSim()
			return adaptertest.New(liar{s}, s, opts).Unreachable()
		},
		"a deaf adapter is caught by LeadershipMoves": func() error {
			s := newSim()
			return adaptertest.New(deaf{s}, s, opts).LeadershipMoves()
		},
		"a touchy adapter is caught by Membership": func() error {
			s := newSim()
			return adaptertest.New(touchy{s, map[string]bool{}}, s, opts).Membership()
		},
		"a vague adapter is caught by Errors": func() error {
			s := newSim()
			return adaptertest.New(vague{s}, s, opts).Errors()
		},
	} {
		if err := check(); err == nil {
			t.Errorf("%s: no deviation found", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
