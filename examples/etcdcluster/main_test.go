package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/examples/etcdcluster/harness"
	"github.com/raftshift/raftshift/fake/plan"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-members", "4"},
		{"-members", "3,x"},
		{"-runs", "canary"},
		{"-runs", "baseline,"},
		{"-repeat", "0"},
		{"-leader", "3"},
		{"-leader", "-1"},
		{"-members", "5", "-leader", "first"},
		{"-no-such-flag"},
		{"rolling"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
		if out.Len() != 0 {
			t.Errorf("run(%v) printed %q", args, out.String())
		}
	}
}

func TestScenarios(t *testing.T) {
	for _, k := range Kinds {
		sc, err := Scenario(k, 5, "dir")
		if err != nil || sc.Members != 5 || sc.Dir != "dir" || sc.Strategy == "" {
			t.Errorf("%s: %+v, %v", k, sc, err)
		}
	}
}

// TestObserveLivePlans reads a running 3-member etcd cluster through the
// adapter (-observe), and plans a delete-driven upgrade from that
// observation with fake/plan: followers first, the leader last, one leader
// change.
func TestObserveLivePlans(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real etcd cluster")
	}
	c, err := harness.NewCluster(t.Context(), harness.Options{Members: 3, Version: "3.7.0", Dir: t.TempDir(), NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cli, err := c.NewLoadClient()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"-observe", strings.Join(cli.Endpoints(), ",")}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var obs upgrade.Observation
	if err := json.Unmarshal(out.Bytes(), &obs); err != nil {
		t.Fatal(err)
	}
	leader, ok := obs.Leader()
	if !ok || !obs.Raft.Known || len(obs.Voters()) != 3 {
		t.Fatalf("observation: leader %q %t, view %+v, %d voters", leader.Name, ok, obs.Raft, len(obs.Voters()))
	}
	from := obs.Workloads[0].Version
	to := "3.8.0"
	p, err := plan.Run(obs, plan.Options{Strategy: upgrade.StrategyRolling,
		Rolling: rolling.Spec{Version: to, Image: "quay.io/coreos/etcd:" + to, Ordering: rolling.OrderingOnDelete},
		Status:  &upgrade.Status{CurrentVersion: from, CurrentImage: obs.Workloads[0].Image}})
	if err != nil {
		t.Fatalf("plan: %v (notes %v, gate %v)\n%s", err, p.Notes, p.Gate, p.Timeline)
	}
	if len(p.Restarts) != 3 || p.Restarts[2] != leader.Name || p.Metrics.LeaderChanges != 1 {
		t.Errorf("plan from the live observation: restarts %v (leader %s), %d leader changes", p.Restarts, leader.Name, p.Metrics.LeaderChanges)
	}
	t.Logf("etcd %s, leader %s: planned restarts %v, %d leader change(s)", from, leader.Name, p.Restarts, p.Metrics.LeaderChanges)
}
