package fake

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/upgrade"
)

var versions = []string{"2.3.0", "2.4.0", "2.5.0"}

// chooser abstracts over rapid draws and a seeded math/rand generator so the
// same random scenario drives the property and determinism tests.
type chooser interface {
	intn(n int, label string) int
}

type rapidChooser struct{ t *rapid.T }

func (r rapidChooser) intn(n int, label string) int { return rapid.IntRange(0, n-1).Draw(r.t, label) }

type randChooser struct{ r *rand.Rand }

func (r randChooser) intn(n int, _ string) int { return r.r.IntN(n) }

func pick[T any](ch chooser, label string, xs []T) T { return xs[ch.intn(len(xs), label)] }

// memberNames are the names an action or fault may target: the current
// members plus one that never exists.
func memberNames(c *Cluster) []string {
	names := []string{"ghost-0"}
	for _, m := range c.members {
		names = append(names, m.name)
	}
	return names
}

func workloadNames(c *Cluster) []string {
	names := []string{"bao", "green"}
	for _, w := range c.workloads {
		if !slices.Contains(names, w.name) {
			names = append(names, w.name)
		}
	}
	return names
}

// randomAction returns a random action against the cluster's current state;
// about half of them are plausible, the rest exercise refusals.
func randomAction(c *Cluster, ch chooser) upgrade.Action {
	name := pick(ch, "member", memberNames(c))
	other := pick(ch, "other", memberNames(c))
	wl := pick(ch, "workload", workloadNames(c))
	leader := ""
	if c.leader != nil {
		leader = c.leader.name
	}
	uid := ""
	if m := c.byName[name]; m != nil && ch.intn(4, "staleUID") > 0 {
		uid = m.uid
	}
	v := pick(ch, "version", versions)
	switch ch.intn(14, "action") {
	case 0:
		return upgrade.StepDown{Member: pick(ch, "stepDown", []string{leader, name})}
	case 1:
		return upgrade.TransferLeadership{From: pick(ch, "from", []string{leader, name}), To: other}
	case 2:
		return upgrade.DeletePod{Member: name, UID: uid}
	case 3:
		return upgrade.JoinNonvoter{Member: name}
	case 4:
		return upgrade.Promote{Member: name}
	case 5:
		return upgrade.Demote{Member: name}
	case 6:
		return upgrade.RemovePeer{Member: name}
	case 7:
		return upgrade.UpdateTemplate{Workload: wl, Image: "openbao/openbao:" + v, Version: v}
	case 8:
		return upgrade.SetPartition{Workload: wl, Partition: int32(ch.intn(10, "partition"))}
	case 9:
		return upgrade.CreateRevision{Workload: wl, Image: "openbao/openbao:" + v, Version: v, Replicas: int32(1 + ch.intn(5, "replicas"))}
	case 10:
		return upgrade.DeleteRevision{Workload: wl}
	case 11:
		return upgrade.SwitchService{Service: "bao", Workload: wl}
	case 12:
		return pick[upgrade.Action](ch, "misc", []upgrade.Action{
			upgrade.AcquireLock{Holder: "a"}, upgrade.AcquireLock{Holder: "b"}, upgrade.ReleaseLock{Holder: "a"},
			upgrade.TakeSnapshot{Name: "s"}, upgrade.RunHook{Hook: "h", Phase: "p", Attempt: int32(ch.intn(3, "attempt"))},
		})
	default:
		return upgrade.TransferLeadership{From: leader, To: other}
	}
}

// randomFault injects a random fault and returns its error, if any.
func randomFault(c *Cluster, ch chooser) error {
	name := pick(ch, "member", memberNames(c))
	switch ch.intn(10, "fault") {
	case 9:
		kinds := ObservationFaultKinds()
		return c.FaultNextObservation(ObservationFault{Kind: kinds[ch.intn(len(kinds), "obsFault")], Member: name,
			TicksAgo: ch.intn(10, "ago")})
	case 0:
		return c.KillPod(name)
	case 1:
		return c.KillLeader()
	case 2:
		return c.Isolate(name)
	case 3:
		return c.Heal(name)
	case 4:
		return c.SlowCatchUp(name, uint64(ch.intn(3, "rate")*5))
	case 5:
		c.StaleNext(ch.intn(70, "ago"))
	case 6:
		c.SetBadVersion(pick(ch, "bad", versions), ch.intn(3, "isBad") == 0)
	case 7:
		c.SetHookFailure("h", ch.intn(2, "hookFails") == 0)
	default:
		c.HealAll()
	}
	return nil
}

// invariants checks a cluster incrementally: it remembers which leader each
// term had and the last committed entry.
type invariants struct {
	leaders    map[uint64]string
	checked    int
	lastTerm   uint64
	commit     uint64
	commitTerm uint64
}

func (inv *invariants) check(c *Cluster) error {
	if inv.leaders == nil {
		inv.leaders = map[uint64]string{}
	}
	h := c.history
	var lost uint64
	// CheckHistory over the new records, seeded with the terms seen before.
	for _, r := range h[inv.checked:] {
		lost += r.LostCommitted
		if r.Term < inv.lastTerm {
			return fmt.Errorf("tick %d: term went back from %d to %d", r.Tick, inv.lastTerm, r.Term)
		}
		inv.lastTerm = r.Term
		for _, e := range r.Elections {
			if prev, ok := inv.leaders[e.Term]; ok && prev != e.Leader {
				return fmt.Errorf("tick %d: term %d has two leaders %s and %s", r.Tick, e.Term, prev, e.Leader)
			}
			inv.leaders[e.Term] = e.Leader
		}
		if r.Leader != "" {
			if prev, ok := inv.leaders[r.Term]; ok && prev != r.Leader {
				return fmt.Errorf("tick %d: term %d has two leaders %s and %s", r.Tick, r.Term, prev, r.Leader)
			}
			inv.leaders[r.Term] = r.Leader
		}
	}
	inv.checked = len(h)

	obs := c.Truth()
	if obs.Raft.Term < inv.lastTerm {
		return fmt.Errorf("observed term %d below recorded %d", obs.Raft.Term, inv.lastTerm)
	}
	if err := checkObservation(obs); err != nil {
		return err
	}
	// Leader completeness: a committed entry stays in every later leader's
	// log, unless the history reports the loss.
	if lost > 0 {
		inv.commit, inv.commitTerm = 0, 0
	}
	if l := c.leader; l != nil {
		if lost == 0 && inv.commit > 0 && l.log.termAt(inv.commit) != inv.commitTerm {
			return fmt.Errorf("leader %s of term %d lost committed entry %d (term %d) unreported", l.name, c.term, inv.commit, inv.commitTerm)
		}
		if lost == 0 && c.commit < inv.commit {
			return fmt.Errorf("commit index went back from %d to %d", inv.commit, c.commit)
		}
		if c.commit > l.log.lastIndex() {
			return fmt.Errorf("commit index %d beyond leader's last index %d", c.commit, l.log.lastIndex())
		}
		inv.commit, inv.commitTerm = c.commit, l.log.termAt(c.commit)
	}
	return nil
}

// checkObservation checks the structural invariants of an observation.
func checkObservation(obs upgrade.Observation) error {
	leaders := 0
	for i, m := range obs.Members {
		if i > 0 {
			p := obs.Members[i-1]
			if p.Workload > m.Workload || (p.Workload == m.Workload && p.Ordinal >= m.Ordinal) {
				return fmt.Errorf("members out of order: %s before %s", p.Name, m.Name)
			}
		}
		if m.Name != fmt.Sprintf("%s-%d", m.Workload, m.Ordinal) || m.Raft.ID != m.Name {
			return fmt.Errorf("member naming: %+v", m)
		}
		if m.Raft.LastTerm > obs.Raft.Term {
			return fmt.Errorf("%s has last term %d beyond term %d", m.Name, m.Raft.LastTerm, obs.Raft.Term)
		}
		if m.Raft.Leader {
			leaders++
			if !m.IsVoter() || !m.Pod.Ready || m.Raft.ID != obs.Raft.LeaderID || m.Raft.LastTerm != obs.Raft.Term {
				return fmt.Errorf("bad leader %+v (raft %+v)", m, obs.Raft)
			}
		}
		if m.Raft.Healthy && (!m.Raft.Present || !m.Pod.Ready || !m.Up()) {
			return fmt.Errorf("%s healthy but not up: %+v", m.Name, m)
		}
		if !m.Pod.Exists && (m.Pod.Ready || m.Pod.UID != "") {
			return fmt.Errorf("%s absent pod with state: %+v", m.Name, m.Pod)
		}
	}
	if !obs.Raft.Known || leaders > 1 || (leaders == 1) != (obs.Raft.LeaderID != "") {
		return fmt.Errorf("%d leaders flagged, raft view %+v", leaders, obs.Raft)
	}
	if obs.Raft.FailureTolerance < 0 {
		return fmt.Errorf("negative failure tolerance")
	}
	if !slices.IsSortedFunc(obs.Workloads, func(a, b upgrade.Workload) int { return strings.Compare(a.Name, b.Name) }) {
		return fmt.Errorf("workloads out of order")
	}
	for _, w := range obs.Workloads {
		if w.ReadyReplicas > w.Replicas || w.UpdatedReplicas > w.Replicas || w.ObservedGeneration > w.Generation {
			return fmt.Errorf("workload status: %+v", w)
		}
	}
	return nil
}

// step performs one random step: ticks, an action or a fault.
func step(c *Cluster, ch chooser) error {
	switch ch.intn(3, "kind") {
	case 0:
		c.Run(1 + ch.intn(8, "ticks"))
	case 1:
		a := randomAction(c, ch)
		if _, err := c.Apply([]upgrade.Action{a}); err != nil && !errors.Is(err, ErrPrecondition) && !errors.Is(err, ErrRejected) {
			return fmt.Errorf("Apply(%s): unclassified error %w", a, err)
		}
	default:
		if err := randomFault(c, ch); err != nil && !errors.Is(err, ErrPrecondition) {
			return fmt.Errorf("fault: unclassified error %w", err)
		}
	}
	return nil
}

func randomConfig(ch chooser, seed uint64) Config {
	return Config{
		Seed:                 seed,
		Replicas:             1 + ch.intn(9, "replicas"),
		TargetedTransfer:     ch.intn(2, "targeted") == 0,
		PodStartTicks:        1 + ch.intn(6, "podStart"),
		ReplicationRate:      uint64(20 + ch.intn(300, "replication")),
		ElectionTimeout:      [2]int{1 + ch.intn(3, "etMin"), 3 + ch.intn(5, "etMax")},
		Readiness:            Readiness(ch.intn(2, "readiness")),
		AutopilotQuirks:      ch.intn(2, "quirks") == 0,
		AutoPromoteTicks:     ch.intn(3, "autoPromote") * 5,
		MembershipDelayTicks: ch.intn(3, "membershipDelay") * 4,
	}
}

// TestPropertyRaftInvariants drives random 1–9 replica clusters through random
// ticks, actions and faults and checks that the model never breaks Raft's
// invariants: at most one leader per term, terms never decrease, committed
// entries survive every leader change, observations are well formed.
func TestPropertyRaftInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := New(randomConfig(rapidChooser{t}, rapid.Uint64().Draw(t, "seed")))
		var inv invariants
		t.Repeat(map[string]func(*rapid.T){
			"tick": func(t *rapid.T) { c.Run(1 + rapid.IntRange(0, 9).Draw(t, "ticks")) },
			"action": func(t *rapid.T) {
				a := randomAction(c, rapidChooser{t})
				if _, err := c.Apply([]upgrade.Action{a}); err != nil && !errors.Is(err, ErrPrecondition) && !errors.Is(err, ErrRejected) {
					t.Fatalf("Apply(%s): unclassified error %v", a, err)
				}
			},
			"fault": func(t *rapid.T) {
				if err := randomFault(c, rapidChooser{t}); err != nil && !errors.Is(err, ErrPrecondition) {
					t.Fatalf("fault: unclassified error %v", err)
				}
			},
			"observe": func(t *rapid.T) {
				degraded := len(c.obsFaults) > 0
				obs := c.Observe()
				if degraded {
					// A degraded view never looks healthy where it is not
					// known: unknown members report no health.
					for _, m := range obs.Members {
						if m.Raft.Unknown && m.Raft.Healthy && m.Raft.LastContact != 0 {
							t.Fatalf("unknown member %s reports stats: %+v", m.Name, m.Raft)
						}
					}
					return
				}
				if err := checkObservation(obs); err != nil {
					t.Fatal(err)
				}
			},
			"": func(t *rapid.T) {
				if err := inv.check(c); err != nil {
					for _, r := range c.History() {
						t.Log(r)
					}
					t.Fatal(err)
				}
			},
		})
		if err := CheckHistory(c.History()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPropertyRecovers checks liveness of the model: once faults stop and no
// workload holding voters was deleted, a cluster whose voters all run a good
// version elects a leader and becomes healthy again.
func TestPropertyRecovers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ch := rapidChooser{t}
		c := New(randomConfig(ch, rapid.Uint64().Draw(t, "seed")))
		steps := rapid.IntRange(0, 40).Draw(t, "steps")
		for range steps { // ticks and faults only: the voter set stays the initial one
			if ch.intn(2, "kind") == 0 {
				c.Run(1 + ch.intn(8, "ticks"))
			} else if err := randomFault(c, ch); err != nil && !errors.Is(err, ErrPrecondition) {
				t.Fatalf("fault: unclassified error %v", err)
			}
		}
		c.HealAll()
		for _, v := range versions {
			c.SetBadVersion(v, false)
		}
		c.Run(60)
		obs := c.Observe()
		if !obs.Raft.Known || !obs.Raft.AutopilotHealthy {
			for _, r := range c.History() {
				t.Log(r)
			}
			t.Fatalf("cluster did not recover: %+v", obs.Raft)
		}
		if err := CheckHistory(c.History()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDeterminism runs the same random scenario twice per seed and requires
// identical histories and observations.
func TestDeterminism(t *testing.T) {
	for seed := range uint64(10) {
		run := func() ([]Record, []upgrade.Observation) {
			ch := randChooser{rand.New(rand.NewPCG(seed, 99))}
			c := New(randomConfig(ch, seed))
			var obs []upgrade.Observation
			for range 150 {
				if err := step(c, ch); err != nil {
					t.Fatal(err)
				}
				obs = append(obs, c.Observe())
			}
			return c.History(), obs
		}
		h1, o1 := run()
		h2, o2 := run()
		if len(h1) == 0 {
			t.Fatal("empty history")
		}
		if d := cmp.Diff(h1, h2); d != "" {
			t.Fatalf("seed %d: histories differ (-first +second):\n%s", seed, d)
		}
		if d := cmp.Diff(o1, o2); d != "" {
			t.Fatalf("seed %d: observations differ (-first +second):\n%s", seed, d)
		}
	}
}

func TestRaftLog(t *testing.T) {
	var a raftLog
	a.add(1, 10)
	a.add(1, 5)
	a.add(3, 5)
	if a.lastIndex() != 20 || a.lastTerm() != 3 || len(a) != 2 || a.termAt(15) != 1 || a.termAt(16) != 3 || a.termAt(21) != 0 || a.termAt(0) != 0 {
		t.Fatalf("log %v", a)
	}
	b := a.clone()
	b.truncate(12)
	b.add(4, 10) // diverges from a after index 12
	if got := matchIndex(a, b); got != 12 {
		t.Fatalf("matchIndex = %d, want 12", got)
	}
	c := a.clone()
	if got := c.copyFrom(b, 3); got != 15 || c.lastIndex() != 15 || c.termAt(13) != 4 || c.termAt(12) != 1 {
		t.Fatalf("copyFrom: %d %v", got, c)
	}
	if got := c.copyFrom(b, 100); got != 22 || matchIndex(c, b) != 22 || len(c) != 2 {
		t.Fatalf("copyFrom: %d %v", got, c)
	}
	var empty raftLog
	if got := empty.copyFrom(a, 1<<63); got != 20 || matchIndex(empty, a) != 20 {
		t.Fatalf("copyFrom into empty: %d %v", got, empty)
	}
	if matchIndex(nil, a) != 0 {
		t.Fatal("matchIndex with empty log")
	}
	d := a.clone()
	d.truncate(0)
	if len(d) != 0 {
		t.Fatalf("truncate(0) = %v", d)
	}
}
