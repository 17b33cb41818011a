package bluegreen_test

import (
	"fmt"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// ExampleStep drives a blue-green upgrade of a simulated three-member
// OpenBao-like cluster (step-down only) the way a host would: observe, Step,
// execute the actions, persist the status, repeat.
func ExampleStep() {
	cluster := fake.New(fake.Config{Seed: 1, Replicas: 3, Version: "2.3.0"})
	spec := bluegreen.Spec{
		Version:     "2.4.0",
		Image:       "openbao/openbao:2.4.0",
		Workload:    "bao",
		AutoPromote: true,
	}
	var status upgrade.Status
	last := "Idle"
	for range 500 {
		d, err := bluegreen.Step(spec, cluster.Observe(), status)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		status = d.Status
		if _, err := cluster.Apply(d.Actions); err != nil {
			fmt.Println("apply:", err)
		}
		phase := "Idle"
		if status.Upgrade != nil {
			phase = status.Upgrade.Phase
		}
		if phase != last {
			fmt.Println(phase)
			last = phase
		}
		if status.Upgrade == nil && status.CurrentVersion == spec.Version {
			break
		}
		cluster.Tick()
	}
	fmt.Println(status.LastResult.Outcome, status.CurrentVersion, cluster.Observe().Service.Workload)
	// Output:
	// DeployingGreen
	// JoiningMesh
	// Syncing
	// Promoting
	// TransferringLeadership
	// DemotingBlue
	// Cleanup
	// Idle
	// Succeeded 2.4.0 bao-ec561bc0
}

// ExampleGreenName shows the deterministic green workload name.
func ExampleGreenName() {
	fmt.Println(bluegreen.GreenName("bao", "2.4.0", "openbao/openbao:2.4.0"))
	// Output:
	// bao-ec561bc0
}

// ExampleFSM builds a looplab/fsm machine from the transition table, e.g.
// to ask which events a phase accepts.
func ExampleFSM() {
	m := bluegreen.FSM(bluegreen.PhaseCleanup)
	fmt.Println(m.Can(string(bluegreen.EventCompleted)), m.Can(string(bluegreen.EventRollback)))
	m = bluegreen.FSM(bluegreen.PhaseBreakGlass)
	fmt.Println(m.AvailableTransitions())
	// Output:
	// true false
	// [Acknowledged]
}
