package check_test

import (
	"errors"
	"fmt"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// A host that restarts the leader's pod without moving leadership first
// breaks S3; restarting a follower of a healthy 3-member cluster is fine.
func ExampleDecision() {
	obs := fake.New(fake.Config{Seed: 1, Replicas: 3}).Observe()
	leader, _ := obs.Leader()
	restart := func(name string) []upgrade.Action {
		m, _ := obs.Member(name)
		return []upgrade.Action{upgrade.DeletePod{Member: m.Name, UID: m.Pod.UID}}
	}
	fmt.Println(check.Decision(obs, restart("bao-2"), check.Options{}))
	var v *check.Violation
	if err := check.Decision(obs, restart(leader.Name), check.Options{}); errors.As(err, &v) {
		fmt.Println(v.Rule, v.Member)
	}
	// Output:
	// <nil>
	// S3 bao-0
}
