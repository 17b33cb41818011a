package plan_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/fake/plan"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

const (
	from, to = "2.3.0", "2.4.0"
	toImage  = "openbao/openbao:2.4.0"
)

func observed(t *testing.T, leader string, targeted bool) upgrade.Observation {
	t.Helper()
	c := fake.New(fake.Config{Seed: 11, Replicas: 5, TargetedTransfer: targeted, UpdateStrategy: upgrade.UpdateOnDelete})
	if err := c.ElectLeader(leader); err != nil {
		t.Fatal(err)
	}
	return c.Observe()
}

// The plan predicts what a run on the cluster itself then does: the same
// restart order and the same number of leader changes.
func TestPlanPredictsTheRun(t *testing.T) {
	for _, tc := range []struct {
		leader   string
		targeted bool
	}{{"bao-4", true}, {"bao-2", true}, {"bao-0", false}} {
		obs := observed(t, tc.leader, tc.targeted)
		spec := rolling.Spec{Version: to, Image: toImage, Ordering: rolling.OrderingOnDelete}
		rep, err := plan.Run(obs, plan.Options{Rolling: spec, Cluster: fake.Config{Seed: 5}})
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.leader, err, rep)
		}
		if rep.Gate != nil || len(rep.First) == 0 {
			t.Errorf("%s: an idle healthy cluster is held by %+v", tc.leader, rep.Gate)
		}
		if rep.Restarts[len(rep.Restarts)-1] != tc.leader || rep.Metrics.LeaderChanges != 1 {
			t.Errorf("%s: restarts %v, %d leader changes; want the leader last and one change", tc.leader, rep.Restarts, rep.Metrics.LeaderChanges)
		}
		// The "real" run: the cluster itself (another seed for timing),
		// driven by the same strategy.
		real := fake.New(fake.Config{Seed: 99, Replicas: 5, TargetedTransfer: tc.targeted, UpdateStrategy: upgrade.UpdateOnDelete})
		if err := real.ElectLeader(tc.leader); err != nil {
			t.Fatal(err)
		}
		real.Run(1)
		start := len(real.History())
		h := host.New(real, func(o upgrade.Observation, st upgrade.Status) (upgrade.Decision, error) {
			return rolling.Step(spec, o, st)
		},
			upgrade.Status{CurrentVersion: from, CurrentImage: "openbao/openbao:" + from})
		if _, err := h.RunUntilIdle(3600); err != nil {
			t.Fatal(err)
		}
		var restarts []string
		for _, r := range real.History()[start:] {
			for _, ev := range r.Events {
				if name, ok := strings.CutPrefix(ev, "pod "); ok && strings.Contains(name, " created (") {
					restarts = append(restarts, name[:strings.Index(name, " ")])
				}
			}
		}
		m := fake.Summarize(real.History()[start:])
		if !slices.Equal(restarts, rep.Restarts) || m.LeaderChanges != rep.Metrics.LeaderChanges {
			t.Errorf("%s: planned %v with %d leader changes, ran %v with %d", tc.leader, rep.Restarts, rep.Metrics.LeaderChanges, restarts, m.LeaderChanges)
		}
	}
}

// A member trailing the leader holds the upgrade today, and the plan says
// why; the run then waits for it and finishes.
func TestPlanReportsTodaysGate(t *testing.T) {
	obs := observed(t, "bao-0", true)
	obs.Members[3].Raft.LastIndex -= 1812
	rep, err := plan.Run(obs, plan.Options{Rolling: rolling.Spec{Version: to, Image: toImage}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Gate == nil || !strings.Contains(rep.Gate.Message, "bao-3") {
		t.Fatalf("gate %+v", rep.Gate)
	}
	out := rep.String()
	for _, want := range []string{"assumed: bao-3 trails the leader by 1812 entries", "held today by", "restart order:", "outcome: Succeeded 2.3.0 -> 2.4.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanBlueGreen(t *testing.T) {
	obs := observed(t, "bao-1", true)
	rep, err := plan.Run(obs, plan.Options{Strategy: upgrade.StrategyBlueGreen,
		BlueGreen: bluegreen.Spec{Version: to, Image: toImage, AutoPromote: true}})
	if err != nil {
		t.Fatalf("%v\n%s", err, rep)
	}
	if rep.Status.CurrentVersion != to || rep.Metrics.LeaderChanges != 1 {
		t.Errorf("current %s, %d leader changes", rep.Status.CurrentVersion, rep.Metrics.LeaderChanges)
	}
}

func TestPlanErrors(t *testing.T) {
	obs := observed(t, "bao-0", true)
	if _, err := plan.Run(obs, plan.Options{Strategy: "Canary"}); !errors.Is(err, upgrade.ErrInvalidSpec) {
		t.Errorf("unknown strategy: %v", err)
	}
	rep, err := plan.Run(obs, plan.Options{Rolling: rolling.Spec{Version: to, Image: toImage}, MaxTicks: 3})
	if !errors.Is(err, plan.ErrNotFinished) || rep.Timeline == "" {
		t.Errorf("3 ticks: %v", err)
	}
}
