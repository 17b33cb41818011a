package check_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

func healthy() upgrade.Observation {
	return fake.New(fake.Config{Seed: 1, Replicas: 3}).Observe()
}

func TestDecision(t *testing.T) {
	obs := healthy()
	uid := func(name string) string { m, _ := obs.Member(name); return m.Pod.UID }
	del := func(name string) upgrade.Action { return upgrade.DeletePod{Member: name, UID: uid(name)} }
	step := upgrade.StepDown{Member: "bao-0"}
	unknown := *obs.DeepCopy()
	unknown.Raft.Known = false
	for _, tt := range []struct {
		name    string
		obs     upgrade.Observation
		actions []upgrade.Action
		rule    string
	}{
		{name: "follower restart", obs: obs, actions: []upgrade.Action{del("bao-2")}},
		{name: "leader restart", obs: obs, actions: []upgrade.Action{del("bao-0")}, rule: "S3"},
		{name: "two voters", obs: obs, actions: []upgrade.Action{del("bao-1"), del("bao-2")}, rule: "S2"},
		{name: "step down then restart", obs: obs, actions: []upgrade.Action{step, del("bao-1")}, rule: "S3"},
		{name: "restart then step down", obs: obs, actions: []upgrade.Action{del("bao-1"), step}, rule: "S2"},
		{name: "unknown view", obs: unknown, actions: []upgrade.Action{del("bao-2")}, rule: "S1"},
		{name: "remove the leader", obs: obs, actions: []upgrade.Action{upgrade.RemovePeer{Member: "bao-0"}}, rule: "S3"},
		{name: "non-disruptive only", obs: unknown, actions: []upgrade.Action{upgrade.RunHook{}, upgrade.AcquireLock{Holder: "x"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := check.Decision(tt.obs, tt.actions, check.Options{})
			var v *check.Violation
			switch {
			case tt.rule == "" && err != nil:
				t.Fatalf("Decision = %v", err)
			case tt.rule != "" && (!errors.As(err, &v) || v.Rule != tt.rule):
				t.Fatalf("Decision = %v, want rule %s", err, tt.rule)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
}

func TestCaughtUpCountsFromThePodsOwnRestart(t *testing.T) {
	obs := healthy()
	m, _ := obs.Member("bao-1")
	if !check.CaughtUp(&obs, m, upgrade.CatchUp{}) {
		t.Fatal("healthy member not caught up")
	}
	m.Raft.StableSince = obs.Now // an election's reset
	if !check.CaughtUp(&obs, m, upgrade.CatchUp{}) {
		t.Fatal("an election's reset held a member that did not restart")
	}
	m.Pod.ReadySince = obs.Now.Add(-time.Second)
	if check.CaughtUp(&obs, m, upgrade.CatchUp{}) {
		t.Fatal("a member ready a second ago counted as stable")
	}
}

func TestTransition(t *testing.T) {
	obs := healthy()
	idle := upgrade.Status{CurrentVersion: "2.3.0", CurrentImage: "openbao/openbao:2.3.0"}
	inflight := idle
	inflight.Upgrade = &upgrade.UpgradeStatus{FromVersion: "2.3.0", TargetVersion: "2.4.0", TargetImage: "i"}
	bg := idle
	bg.Upgrade = inflight.Upgrade
	bg.BreakGlass = &upgrade.BreakGlass{Nonce: "abc"}
	for _, tt := range []struct {
		name string
		prev upgrade.Status
		d    upgrade.Decision
		ack  string
		rule string
	}{
		{name: "idle stays idle", prev: idle, d: upgrade.Decision{Status: idle}},
		{name: "current version moves while idle", prev: idle, d: upgrade.Decision{Status: upgrade.Status{CurrentVersion: "2.4.0"}}, rule: "S5"},
		{name: "current version moves mid-upgrade", prev: inflight,
			d: upgrade.Decision{Status: upgrade.Status{CurrentVersion: "2.4.0", Upgrade: inflight.Upgrade}}, rule: "S5"},
		{name: "ends without a result", prev: inflight, d: upgrade.Decision{Status: idle}, rule: "S5"},
		{name: "succeeds while members run the old version", prev: inflight,
			d: upgrade.Decision{Status: upgrade.Status{CurrentVersion: "2.4.0", CurrentImage: "i",
				LastResult: &upgrade.Result{Outcome: upgrade.OutcomeSucceeded}}}, rule: "S5"},
		{name: "refusal acts", prev: idle, d: upgrade.Decision{Status: idle, Gate: &upgrade.Gate{Name: upgrade.GatePolicy},
			Actions: []upgrade.Action{upgrade.SetPartition{Workload: "bao"}}}, rule: "S6"},
		{name: "break-glass acts", prev: bg, d: upgrade.Decision{Status: bg, Actions: []upgrade.Action{upgrade.StepDown{Member: "bao-0"}}}, rule: "S7"},
		{name: "near-miss acknowledgement clears", prev: bg, ack: "ab", d: upgrade.Decision{Status: inflight}, rule: "S7"},
		{name: "exact acknowledgement clears", prev: bg, ack: "abc", d: upgrade.Decision{Status: inflight}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := check.Transition(tt.prev, tt.d, tt.ack, obs, upgrade.CatchUp{})
			var v *check.Violation
			switch {
			case tt.rule == "" && err != nil:
				t.Fatalf("Transition = %v", err)
			case tt.rule != "" && (!errors.As(err, &v) || v.Rule != tt.rule):
				t.Fatalf("Transition = %v, want rule %s", err, tt.rule)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	c := fake.New(fake.Config{Seed: 2, Replicas: 3})
	c.Run(3)
	if err := check.History(c.History(), true); err != nil {
		t.Fatal(err)
	}
	if err := c.KillPod("bao-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.KillPod("bao-2"); err != nil {
		t.Fatal(err)
	}
	c.Run(2)
	var v *check.Violation
	if err := check.History(c.History(), true); !errors.As(err, &v) || (v.Rule != "S2" && v.Rule != "S1") {
		t.Fatalf("two voters down in a quiet run: %v", err)
	}
	if err := check.History(c.History(), false); err != nil {
		t.Fatalf("faults excuse downtime: %v", err)
	}
}
