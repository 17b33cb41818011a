// Package adaptertest is a conformance suite for raftshift's Raft adapters:
// the behaviour every adapter (adapters/openbao, adapters/etcd, the
// hashicorp/raft adapter of examples/raftcluster, yours) must show against a
// cluster its author starts, real or emulated, for the strategies' safety
// rules to mean anything:
//
//   - Complete: with every member answering, the view is known, names the
//     leader, and every member is present with its suffrage.
//   - Unreachable: with the leader or a follower stopped, the view is
//     unknown or partial, never healthy-looking: the stopped member is
//     never reported as a healthy member (a lost leader may still be named
//     the leader, marked unhealthy, until an election).
//   - LeadershipMoves: a targeted transfer (or a step-down, when the adapter
//     cannot target) moves leadership, and the next observations show it.
//   - Membership: join as non-voter, promote, demote and remove each
//     succeed when executed twice (a retry after a lost reply) and the
//     observation ends in the state asked for. An adapter whose system
//     cannot demote a voter (etcd) may refuse Demote with an error that
//     wraps errors.ErrUnsupported, on one line naming the member, leaving
//     it a voter; the member is then removed as a voter.
//   - Errors: an action on a member that does not exist fails with one line
//     that names the member.
//
// Run it from a test of the adapter's module:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, myAdapter, myCluster, adaptertest.Options{})
//	}
package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// Adapter is the Raft adapter under test, with the shape of raftshift's Raft
// adapters.
type Adapter interface {
	// Observe fills the Raft part of obs (members, view, capabilities).
	Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error)
	// Execute carries out one Raft action decided on obs.
	Execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error
}

// Cluster is the cluster the adapter talks to, started by the test.
type Cluster interface {
	// Base returns the workload part of an observation (members with their
	// pods, Now set) for the adapter to fill.
	Base(ctx context.Context) (upgrade.Observation, error)
	// Stop makes a member unreachable (its process stopped or partitioned
	// away); Start makes it reachable again.
	Stop(ctx context.Context, member string) error
	// Start undoes Stop.
	Start(ctx context.Context, member string) error
	// Spare returns a running server that is not in the Raft configuration
	// and can join it; ok false skips the membership checks.
	Spare(ctx context.Context) (m upgrade.Member, ok bool, err error)
	// Settle lets time pass between two observations: a simulated cluster
	// ticks, a real one sleeps briefly.
	Settle(ctx context.Context)
}

// Options tunes Run.
type Options struct {
	// Timeout bounds each wait for an effect (default 30 s).
	Timeout time.Duration
	// Skip names checks not to run ("Membership" for an adapter without
	// non-voters), with the reason in the test log.
	Skip map[string]string
	// Transient reports errors the cluster answers while it is briefly
	// unable to act, which a strategy meets by re-issuing the action at a
	// later Step (etcd's StrictReconfigCheck refusing a membership change
	// until the leader has heard from every voter for 5 s). Membership
	// retries the first attempt of an action on them until Timeout; the
	// second attempt, the retry after a lost reply, must succeed outright.
	Transient func(error) bool
}

// Run runs every check as a subtest.
func Run(t *testing.T, a Adapter, c Cluster, opts Options) {
	t.Helper()
	s := New(a, c, opts)
	for _, tc := range []struct {
		name string
		f    func() error
	}{
		{"Complete", s.Complete},
		{"Unreachable", s.Unreachable},
		{"LeadershipMoves", s.LeadershipMoves},
		{"Membership", s.Membership},
		{"Errors", s.Errors},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := opts.Skip[tc.name]; ok {
				t.Skip(why)
			}
			if err := tc.f(); errors.Is(err, errSkip) {
				t.Skip(err)
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Suite holds the checks; Run runs them all, and each can be called alone
// (it returns the first deviation it finds).
type Suite struct {
	a    Adapter
	c    Cluster
	opts Options
}

// New returns the suite for an adapter and its cluster.
func New(a Adapter, c Cluster, opts Options) *Suite {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return &Suite{a: a, c: c, opts: opts}
}

var errSkip = errors.New("skipped")

func (s *Suite) observe() (upgrade.Observation, error) {
	ctx := context.Background()
	base, err := s.c.Base(ctx)
	if err != nil {
		return base, fmt.Errorf("cluster base observation: %w", err)
	}
	return s.a.Observe(ctx, base)
}

// await observes until cond holds or the timeout passes.
func (s *Suite) await(what string, cond func(upgrade.Observation, error) bool) (upgrade.Observation, error) {
	deadline := time.Now().Add(s.opts.Timeout)
	for {
		obs, err := s.observe()
		if cond(obs, err) {
			return obs, nil
		}
		if time.Now().After(deadline) {
			return obs, fmt.Errorf("%s: not observed within %s (last error %v, view %+v)", what, s.opts.Timeout, err, obs.Raft)
		}
		s.c.Settle(context.Background())
	}
}

func healthyAndComplete(obs upgrade.Observation, err error) bool {
	if err != nil || !obs.Raft.Known || obs.Raft.LeaderUnknown {
		return false
	}
	if _, ok := obs.Leader(); !ok {
		return false
	}
	for _, m := range obs.Members {
		if m.Raft.Unknown || (m.Raft.Present && !m.Raft.Healthy) {
			return false
		}
	}
	return true
}

// Complete checks that with every member answering, the view is known,
// names the leader and every member is present with its suffrage and ID.
func (s *Suite) Complete() error {
	obs, err := s.await("a complete, healthy view", healthyAndComplete)
	if err != nil {
		return err
	}
	for _, m := range obs.Members {
		if !m.Raft.Present || m.Raft.Suffrage == "" || m.Raft.ID == "" {
			return fmt.Errorf("%s: present %t, suffrage %q, id %q", m.Name, m.Raft.Present, m.Raft.Suffrage, m.Raft.ID)
		}
	}
	if len(obs.Voters()) == 0 {
		return errors.New("no voters")
	}
	return nil
}

// healthyLooking reports whether obs shows name as a healthy member: what
// an unreachable member must never look like. Naming it the leader is
// allowed when it is marked unhealthy (Raft followers keep believing in a
// lost leader until their election timeout; the strategies hold on an
// unhealthy leader).
func healthyLooking(obs upgrade.Observation, name string) bool {
	m, ok := obs.Member(name)
	return ok && !m.Raft.Unknown && m.Raft.Present && m.Raft.Healthy
}

// Unreachable stops a follower, then the leader, and checks that no
// observation while it is stopped shows it as a healthy member, and that
// the view recovers once it is back.
func (s *Suite) Unreachable() error {
	ctx := context.Background()
	obs, err := s.await("a complete, healthy view", healthyAndComplete)
	if err != nil {
		return err
	}
	leader, _ := obs.Leader()
	var follower string
	for _, m := range obs.Voters() {
		if m.Name != leader.Name {
			follower = m.Name
			break
		}
	}
	for _, name := range []string{follower, leader.Name} {
		if name == "" {
			continue
		}
		if err := s.c.Stop(ctx, name); err != nil {
			return fmt.Errorf("stop %s: %w", name, err)
		}
		// Every observation until it is back must not show it healthy;
		// poll a few times, letting time pass.
		for range 5 {
			got, _ := s.observe()
			if healthyLooking(got, name) {
				_ = s.c.Start(ctx, name)
				return fmt.Errorf("%s is stopped but observed as a healthy member (view %+v)", name, got.Raft)
			}
			s.c.Settle(ctx)
		}
		if err := s.c.Start(ctx, name); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		if _, err := s.await("the view healthy again after "+name+" came back", healthyAndComplete); err != nil {
			return err
		}
	}
	return nil
}

// LeadershipMoves executes a targeted transfer (or a step-down when the
// adapter cannot target) and checks the next observations show a new
// leader (the target, for a transfer).
func (s *Suite) LeadershipMoves() error {
	ctx := context.Background()
	obs, err := s.await("a complete, healthy view", healthyAndComplete)
	if err != nil {
		return err
	}
	leader, _ := obs.Leader()
	var a upgrade.Action = upgrade.StepDown{Member: leader.Name, ID: leader.Raft.ID}
	if obs.Capabilities.TargetedTransfer {
		for _, m := range obs.Voters() {
			if m.Name != leader.Name {
				a = upgrade.TransferLeadership{From: leader.Name, FromID: leader.Raft.ID, To: m.Name, ToID: m.Raft.ID}
				break
			}
		}
	}
	if err := s.a.Execute(ctx, &obs, a); err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	got, err := s.await("leadership moved away from "+leader.Name, func(o upgrade.Observation, err error) bool {
		l, ok := o.Leader()
		return healthyAndComplete(o, err) && ok && l.Name != leader.Name
	})
	if err != nil {
		return err
	}
	if tr, ok := a.(upgrade.TransferLeadership); ok {
		if l, _ := got.Leader(); l.Name != tr.To {
			return fmt.Errorf("transfer to %s landed on %s", tr.To, l.Name)
		}
	}
	return nil
}

// Membership joins a spare server as a non-voter, promotes, demotes and
// removes it, executing each action twice (the second is the retry after a
// lost reply), and checks each effect shows.
func (s *Suite) Membership() error {
	ctx := context.Background()
	spare, ok, err := s.c.Spare(ctx)
	if err != nil {
		return fmt.Errorf("spare: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: the cluster offers no spare server", errSkip)
	}
	if _, err := s.await("a complete, healthy view", healthyAndComplete); err != nil {
		return err
	}
	step := func(a upgrade.Action, what string, cond func(upgrade.Member) bool) error {
		deadline := time.Now().Add(s.opts.Timeout)
		for i := 0; i < 2; {
			obs, err := s.observe()
			if err != nil {
				return fmt.Errorf("observe before %s: %w", a, err)
			}
			switch err := s.a.Execute(ctx, &obs, a); {
			case err == nil:
				i++
			case i == 0 && s.opts.Transient != nil && s.opts.Transient(err) && time.Now().Before(deadline):
				s.c.Settle(ctx)
			default:
				return fmt.Errorf("%s (attempt %d): %w", a, i+1, err)
			}
		}
		_, err := s.await(spare.Name+" "+what, func(o upgrade.Observation, err error) bool {
			m, ok := o.Member(spare.Name)
			return err == nil && ok && !m.Raft.Unknown && cond(m)
		})
		return err
	}
	obs, _ := s.observe()
	addr := spare.Raft.Address
	if m, ok := obs.Member(spare.Name); ok && m.Raft.Address != "" {
		addr = m.Raft.Address
	}
	if err := step(upgrade.JoinNonvoter{Member: spare.Name, ID: spare.Raft.ID, Address: addr}, "joined as a non-voter",
		func(m upgrade.Member) bool { return m.Raft.Present && m.Raft.Suffrage == upgrade.Nonvoter }); err != nil {
		return err
	}
	if _, err := s.await(spare.Name+" caught up", func(o upgrade.Observation, err error) bool {
		m, ok := o.Member(spare.Name)
		return err == nil && ok && upgrade.CaughtUp(&o, m, upgrade.CatchUp{Stabilization: metav1.Duration{Duration: -1}}) == nil
	}); err != nil {
		return err
	}
	for _, st := range []struct {
		a    upgrade.Action
		what string
		cond func(upgrade.Member) bool
	}{
		{upgrade.Promote{Member: spare.Name, ID: spare.Raft.ID}, "promoted to voter",
			func(m upgrade.Member) bool { return m.Raft.Present && m.Raft.Suffrage == upgrade.Voter }},
		{upgrade.Demote{Member: spare.Name, ID: spare.Raft.ID}, "demoted to non-voter",
			func(m upgrade.Member) bool { return m.Raft.Present && m.Raft.Suffrage == upgrade.Nonvoter }},
		{upgrade.RemovePeer{Member: spare.Name, ID: spare.Raft.ID}, "removed",
			func(m upgrade.Member) bool { return !m.Raft.Present }},
	} {
		if d, ok := st.a.(upgrade.Demote); ok {
			if refused, err := s.demoteUnsupported(d); err != nil {
				return err
			} else if refused {
				continue
			}
		}
		if err := step(st.a, st.what, st.cond); err != nil {
			return err
		}
	}
	return nil
}

// demoteUnsupported executes d once and reports whether the adapter refused
// it as unsupported (errors.ErrUnsupported) the way Membership allows: one
// line naming the member, which stays a voter. Any other error fails; a
// success is left for the caller's two attempts to confirm.
func (s *Suite) demoteUnsupported(d upgrade.Demote) (bool, error) {
	obs, err := s.observe()
	if err != nil {
		return false, fmt.Errorf("observe before %s: %w", d, err)
	}
	err = s.a.Execute(context.Background(), &obs, d)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, errors.ErrUnsupported):
		return false, fmt.Errorf("%s: %w", d, err)
	case strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), d.Member):
		return false, fmt.Errorf("%s: refusal %q is not one line naming the member", d, err)
	}
	_, err = s.await(d.Member+" still a voter after the refused demotion", func(o upgrade.Observation, err error) bool {
		m, ok := o.Member(d.Member)
		return err == nil && ok && !m.Raft.Unknown && m.Raft.Present && m.Raft.Suffrage == upgrade.Voter
	})
	return err == nil, err
}

// Errors checks that an action on a member that does not exist fails with
// one line naming the member (removing it may count as done instead).
func (s *Suite) Errors() error {
	ctx := context.Background()
	obs, err := s.await("a complete, healthy view", healthyAndComplete)
	if err != nil {
		return err
	}
	const ghost = "no-such-member-7"
	for _, a := range []upgrade.Action{
		upgrade.Promote{Member: ghost, ID: ghost},
		upgrade.RemovePeer{Member: ghost, ID: ghost},
	} {
		err := s.a.Execute(ctx, &obs, a)
		switch {
		case err == nil:
			if _, ok := a.(upgrade.Promote); ok {
				return fmt.Errorf("%s succeeded", a)
			}
		case strings.Contains(err.Error(), "\n"):
			return fmt.Errorf("%s: error on several lines: %q", a, err)
		case !strings.Contains(err.Error(), ghost):
			return fmt.Errorf("%s: error %q does not name the member", a, err)
		}
	}
	return nil
}
