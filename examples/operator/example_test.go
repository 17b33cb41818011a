package main

import (
	"fmt"

	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// The shared fields of a RaftUpgradeSpec win over the strategy block's.
func ExampleRaftUpgradeSpec_RollingSpec() {
	spec := RaftUpgradeSpec{
		Strategy:    upgrade.StrategyRolling,
		Version:     "2.5.0",
		Image:       "openbao/openbao:2.5.0",
		StatefulSet: "bao",
		Rolling:     &rolling.Spec{Version: "ignored", AllowDowntime: true},
	}
	rs := spec.RollingSpec()
	fmt.Println(rs.Version, rs.Image, rs.Workload, rs.AllowDowntime)
	cfg := spec.KubernetesConfig("vault")
	fmt.Println(cfg.Namespace)
	// Output:
	// 2.5.0 openbao/openbao:2.5.0 bao true
	// vault
}
