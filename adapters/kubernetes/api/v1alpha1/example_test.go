package v1alpha1_test

import (
	"fmt"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// The shared fields of a RaftUpgradeSpec win over the strategy block's.
func ExampleRaftUpgradeSpec_RollingSpec() {
	spec := v1alpha1.RaftUpgradeSpec{
		Strategy:    upgrade.StrategyRolling,
		Version:     "2.5.0",
		Image:       "openbao/openbao:2.5.0",
		StatefulSet: "bao",
		Rolling:     &rolling.Spec{Version: "ignored", AllowDowntime: true},
	}
	rs := spec.RollingSpec()
	fmt.Println(rs.Version, rs.Image, rs.Workload, rs.AllowDowntime)
	// Output:
	// 2.5.0 openbao/openbao:2.5.0 bao true
}
