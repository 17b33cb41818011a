package openbaotest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/adapters/openbao/openbaotest"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// Example serves a simulated three-voter cluster through the OpenBao API
// and lets the OpenBao adapter observe it while a green server starts,
// joins by itself as a non-voter and is promoted at autopilot's next
// reconcile.
func Example() {
	c := fake.New(fake.Config{Seed: 1, Readiness: fake.ReadyWhenMember, MembershipDelayTicks: 10})
	em := openbaotest.New(c, openbaotest.Options{SelfJoin: true})
	defer em.Close()
	active, err := em.ActiveClient()
	if err != nil {
		fmt.Println(err)
		return
	}
	ad := &openbao.Adapter{Active: active, Clients: em.Client}
	ctx := context.Background()

	show := func(when string) upgrade.Observation {
		obs, err := ad.Observe(ctx, em.KubernetesObservation())
		if err != nil {
			fmt.Println(when, err)
		}
		fmt.Printf("%s (tick %d):", when, em.TickCount())
		for _, m := range obs.Members {
			suffrage := string(m.Raft.Suffrage)
			if !m.Raft.Present {
				suffrage = "absent"
			}
			fmt.Printf(" %s=%s", m.Name, suffrage)
		}
		fmt.Println()
		return obs
	}

	// The Kubernetes side: a green workload of one pod.
	_, _ = em.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 1}})
	em.Run(5) // the pod's process runs
	obs := show("green running")
	err = ad.Execute(ctx, &obs, upgrade.JoinNonvoter{Member: "green-0", ID: "green-0"})
	fmt.Println("join verified:", err == nil, "not joined yet:", errors.Is(err, openbao.ErrNotJoined))

	em.Run(openbaotest.DefaultSelfJoinDelay) // retry_join_as_non_voter
	obs = show("self-joined")
	fmt.Println("permanent non-voter:", em.Permanent("green-0"))

	fmt.Println("promote:", ad.Execute(ctx, &obs, upgrade.Promote{Member: "green-0", ID: "green-0"}))
	fmt.Println("promote again:", ad.Execute(ctx, &obs, upgrade.Promote{Member: "green-0", ID: "green-0"}))
	em.Run(10) // autopilot's next reconcile
	show("reconciled")
	// Output:
	// green running (tick 5): bao-0=Voter bao-1=Voter bao-2=Voter green-0=absent
	// join verified: false not joined yet: true
	// self-joined (tick 7): bao-0=Voter bao-1=Voter bao-2=Voter green-0=Nonvoter
	// permanent non-voter: true
	// promote: <nil>
	// promote again: <nil>
	// reconciled (tick 17): bao-0=Voter bao-1=Voter bao-2=Voter green-0=Voter
}
