package host_test

import (
	"fmt"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Example drives a whole rolling upgrade of a simulated 3-member cluster.
func Example() {
	c := fake.New(fake.Config{Seed: 1, Replicas: 3, Version: "2.3.0", TargetedTransfer: true})
	spec := rolling.Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0"}
	h := host.New(c, func(obs upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
		return rolling.Step(spec, obs, st)
	}, upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"})
	h.RoundTrip = true
	if _, err := h.RunUntilIdle(600); err != nil {
		fmt.Println(err)
		return
	}
	m := fake.Summarize(c.History())
	fmt.Println("version:", h.Status.CurrentVersion)
	fmt.Println("leader changes:", m.LeaderChanges)
	fmt.Println("seconds without a leader:", m.TicksWithoutLeader)
	// Output:
	// version: 2.4.0
	// leader changes: 1
	// seconds without a leader: 0
}
