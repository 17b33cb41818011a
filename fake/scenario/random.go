package scenario

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"math/rand/v2"
	"time"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Kind names a strategy for Random.
type Kind string

// Strategy kinds.
const (
	KindRolling   Kind = "rolling"
	KindBlueGreen Kind = "bluegreen"
)

// RandomOptions bound what Random draws.
type RandomOptions struct {
	// Strategies to draw from (default both).
	Strategies []Kind
	// MaxSteps bounds the reconciles with events (default 200).
	MaxSteps int
	// EventOdds is N in the one-in-N chance that a reconcile is preceded by
	// an event (default 3).
	EventOdds int
}

// Random draws a scenario from seed: a strategy and its spec, a cluster
// (size, leadership capabilities, autopilot quirks, a bad version, failing
// hooks, where the leader starts), the status the host starts from, and a
// schedule of events of every kind (pod, leader and network faults,
// observation faults, requests, host crashes at any point, restarts and
// lag). The same seed gives the same scenario.
func Random(seed uint64, opts RandomOptions) Scenario {
	if len(opts.Strategies) == 0 {
		opts.Strategies = []Kind{KindRolling, KindBlueGreen}
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = 200
	}
	if opts.EventOdds <= 0 {
		opts.EventOdds = 3
	}
	g := rand.New(rand.NewPCG(seed, 0x7363656e6172696f))
	kind := opts.Strategies[g.IntN(len(opts.Strategies))]
	target := []string{To, Next}[g.IntN(2)]
	cfg := fake.Config{
		Seed:             g.Uint64(),
		Version:          From,
		TargetedTransfer: g.IntN(2) == 0,
		AutopilotQuirks:  g.IntN(2) == 0,
	}
	if g.IntN(5) == 0 {
		cfg.BadVersions = []string{[]string{To, Next}[g.IntN(2)]}
	}
	sc := Scenario{Cluster: cfg, Steps: 10 + g.IntN(opts.MaxSteps)}
	switch kind {
	case KindRolling:
		n := 1 + g.IntN(7)
		sc.Cluster.Replicas = n
		// Both orderings: an OnDelete workload makes the strategy delete
		// pods itself; OpenBao-like workloads hand leadership over on
		// shutdown.
		if g.IntN(2) == 0 {
			sc.Cluster.UpdateStrategy = upgrade.UpdateOnDelete
		}
		sc.Cluster.HandoffOnShutdown = g.IntN(3) == 0
		spec := rolling.Spec{Version: target, Image: Image(target), AllowDowntime: n <= 2, StepTimeout: metav1.Duration{Duration: 2 * time.Hour}}
		sc.Strategy = func() Strategy { return Rolling(spec) }
		sc.Bound = 300 + 60*n
	default:
		n := 2 + g.IntN(6)
		sc.Cluster.Replicas = n
		spec := bluegreen.Spec{Version: target, Image: Image(target), Workload: "bao", Service: "bao",
			AutoPromote:         g.IntN(2) == 0,
			MinSyncDuration:     metav1.Duration{Duration: time.Duration(g.IntN(20)) * time.Second},
			StabilizationWindow: metav1.Duration{Duration: time.Duration(g.IntN(20)) * time.Second},
			Timeouts:            bluegreen.Timeouts{Step: metav1.Duration{Duration: 3 * time.Minute}, Sync: metav1.Duration{Duration: 3 * time.Minute}, Hook: metav1.Duration{Duration: time.Minute}, Rollback: metav1.Duration{Duration: 3 * time.Minute}},
		}
		if g.IntN(2) == 0 {
			spec.PrePromotionHook = "pre"
		}
		if g.IntN(2) == 0 {
			spec.PostPromotionHook = "post"
		}
		sc.Strategy = func() Strategy { return BlueGreen(spec) }
		sc.Bound = 3000
		// OpenBao as it behaves: readiness that needs membership, autopilot
		// promoting API-joined non-voters, asynchronous suffrage changes.
		if g.IntN(2) == 0 {
			sc.Cluster.Readiness = fake.ReadyWhenMember
		}
		if g.IntN(3) == 0 {
			sc.Cluster.AutoPromoteTicks = 12
		}
		if g.IntN(3) == 0 {
			sc.Cluster.MembershipDelayTicks = 10
		}
	}
	if g.IntN(2) == 0 {
		sc.Status = upgrade.Status{CurrentVersion: From, CurrentImage: Image(From)}
	}
	if ord := g.IntN(sc.Cluster.Replicas + 1); ord < sc.Cluster.Replicas {
		sc.Leader = fmt.Sprintf("bao-%d", ord)
	}
	sc.Name = fmt.Sprintf("%s seed=%d replicas=%d targeted=%t", kind, seed, sc.Cluster.Replicas, cfg.TargetedTransfer)
	for at := 0; at < sc.Steps; at++ {
		if g.IntN(opts.EventOdds) == 0 {
			sc.Events = append(sc.Events, randomEvent(g, at, kind, sc.Cluster.Replicas))
		}
	}
	return sc
}

// randomEvent draws one event; pod, leader and network faults, observation
// faults, requests and host failures are drawn with equal weight.
func randomEvent(g *rand.Rand, at int, kind Kind, replicas int) Event {
	member := func() string {
		if kind == KindBlueGreen && g.IntN(2) == 0 {
			// green members are named after their workload; a member of the
			// first green workload the scenarios create
			return fmt.Sprintf("bao-%s-%d", greenSuffix(g), g.IntN(replicas))
		}
		return fmt.Sprintf("bao-%d", g.IntN(replicas))
	}
	e := Event{At: at}
	switch g.IntN(4) {
	case 0: // cluster faults
		switch g.IntN(9) {
		case 0, 1:
			e.Kind, e.Member = KillPod, member()
		case 2:
			e.Kind = KillLeader
		case 8:
			e.Kind = MoveFails
		case 3:
			e.Kind, e.Member = Isolate, member()
		case 4:
			e.Kind, e.Member = Heal, member()
		case 5:
			e.Kind, e.Member, e.N = Slow, member(), g.IntN(50)
		case 6:
			e.Kind, e.N = Stale, 1+g.IntN(10)
		default:
			if g.IntN(3) == 0 {
				e.Kind, e.Version = BadVersion, []string{To, Next}[g.IntN(2)]
			} else {
				e.Kind, e.Member, e.N = HookFailure, []string{"pre", "post"}[g.IntN(2)], g.IntN(2)
			}
		}
	case 1: // observation faults
		kinds := fake.ObservationFaultKinds()
		e.Kind = Observe
		e.Fault = fake.ObservationFault{Kind: kinds[g.IntN(len(kinds))], TicksAgo: 1 + g.IntN(8)}
		if g.IntN(2) == 0 {
			e.Fault.Member = member()
		}
	case 2: // requests
		reqs := Requests()
		e.Kind, e.Request = Request, reqs[g.IntN(len(reqs))]
	default: // host failures
		switch g.IntN(4) {
		case 0, 1:
			e.Kind, e.Crash = Crash, CrashPoint{Executed: g.IntN(4), Persisted: g.IntN(2) == 0}
		case 2:
			e.Kind = Restart
		default:
			e.Kind, e.N = HostLag, 1+g.IntN(5)
		}
	}
	return e
}

// greenSuffix is the hash suffix of the green workload of a target.
func greenSuffix(g *rand.Rand) string {
	v := []string{To, Next}[g.IntN(2)]
	name := bluegreen.GreenName("bao", v, Image(v))
	return name[len("bao-"):]
}
