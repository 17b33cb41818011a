package fake

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func TestNewIsHealthy(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := New(Config{Replicas: n, BadVersions: []string{"9.9.9"}})
			cfg := c.Config()
			if cfg.Version != "2.3.0" || cfg.Image != "openbao/openbao:2.3.0" || cfg.Workload != "bao" || cfg.Service != "bao" ||
				cfg.Tick != time.Second || cfg.PodStartTicks != 5 || cfg.WriteRate != 10 || cfg.ReplicationRate != 200 ||
				cfg.ElectionTimeout != [2]int{2, 5} || cfg.HookTicks != 2 || len(cfg.BadVersions) != 1 {
				t.Fatalf("defaults not filled: %+v", cfg)
			}
			obs := c.Observe()
			if !obs.Now.Equal(cfg.Start) || c.TickCount() != 0 {
				t.Fatalf("Now = %s, want %s", obs.Now, cfg.Start)
			}
			if !obs.Raft.Known || obs.Raft.LeaderID != "bao-0" || obs.Raft.Term != 1 || !obs.Raft.AutopilotHealthy {
				t.Fatalf("raft view: %+v", obs.Raft)
			}
			if want := int32(n - upgrade.Quorum(n)); obs.Raft.FailureTolerance != want {
				t.Fatalf("failure tolerance %d, want %d", obs.Raft.FailureTolerance, want)
			}
			if len(obs.Members) != n || len(obs.Workloads) != 1 || !obs.Workloads[0].Settled() {
				t.Fatalf("members %d workloads %+v", len(obs.Members), obs.Workloads)
			}
			w := obs.Workloads[0]
			if w.CurrentRevision != w.UpdateRevision || w.ReadyReplicas != int32(n) || w.UpdatedReplicas != int32(n) {
				t.Fatalf("workload: %+v", w)
			}
			for i, m := range obs.Members {
				if m.Name != fmt.Sprintf("bao-%d", i) || !m.IsVoter() || !m.Up() || m.Raft.ID != m.Name ||
					m.Raft.Address != m.Name+".bao:8201" || m.Version != "2.3.0" {
					t.Fatalf("member %d: %+v", i, m)
				}
				if g := upgrade.CaughtUp(&obs, m, upgrade.CatchUp{}); g != nil {
					t.Fatalf("member %s not caught up: %v", m.Name, g)
				}
			}
			if obs.Service.Workload != "bao" || obs.Service.Name != "bao" {
				t.Fatalf("service: %+v", obs.Service)
			}
			if c := obs.Capabilities; c.TargetedTransfer || !c.NonVoters || !c.Snapshots {
				t.Fatalf("capabilities: %+v", c)
			}
			c.Run(20)
			obs = c.Observe()
			if obs.Raft.Term != 1 || obs.Raft.LeaderID != "bao-0" || !obs.Raft.AutopilotHealthy {
				t.Fatalf("steady state changed: %+v", obs.Raft)
			}
			if got := obs.Raft.CommitIndex; got != InitialIndex+20*10 {
				t.Fatalf("commit index %d, want %d", got, InitialIndex+200)
			}
			if h := c.History(); len(h) != 20 || h[19].Tick != 20 || !h[19].Writable || h[19].Leader != "bao-0" {
				t.Fatalf("history: %v", h[len(h)-1])
			}
		})
	}
}

func TestNewPanicsOnSubMillisecondTick(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	New(Config{Tick: 1500 * time.Microsecond})
}

func TestObservationIsACopy(t *testing.T) {
	c := New(Config{})
	obs := c.Observe()
	obs.Members[0].Name = "changed"
	obs.Service.Selector["x"] = "y"
	obs2 := c.Observe()
	if obs2.Members[0].Name != "bao-0" || len(obs2.Service.Selector) != 1 {
		t.Fatal("observation shares memory with the cluster")
	}
}

func TestRevisionName(t *testing.T) {
	got := revisionName("bao", "openbao/openbao:2.3.0", "2.3.0")
	if len(got) != len("bao-")+8 || got[:4] != "bao-" {
		t.Fatalf("revision name %q", got)
	}
	if got == revisionName("bao", "openbao/openbao:2.3.0", "2.3.1") {
		t.Fatal("revision name ignores the version")
	}
	// FNV-1a 32 of "a|b" computed independently.
	if want := "w-" + fmt.Sprintf("%08x", fnv1a("a|b")); revisionName("w", "a", "b") != want {
		t.Fatalf("%s != %s", revisionName("w", "a", "b"), want)
	}
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func TestStaleObservation(t *testing.T) {
	c := New(Config{Seed: 2, Replicas: 3})
	c.Run(10)
	if err := c.KillLeader(); err != nil {
		t.Fatal(err)
	}
	c.Run(8)
	fresh := c.Observe()
	c.StaleNext(9)
	stale := c.Observe()
	if !stale.Now.Equal(fresh.Now.Add(-9*time.Second)) || stale.Raft.LeaderID != "bao-0" || stale.Raft.Term != 1 {
		t.Fatalf("stale observation: now %s leader %s term %d", stale.Now, stale.Raft.LeaderID, stale.Raft.Term)
	}
	if again := c.Observe(); !again.Now.Equal(fresh.Now) || again.Raft.Term != fresh.Raft.Term {
		t.Fatal("staleness lasted more than one observation")
	}
	c.StaleNext(1 << 20)
	if o := c.Observe(); !o.Now.Equal(c.Config().Start) {
		t.Fatalf("clamped stale observation at %s", o.Now)
	}
	c.Run(100)
	c.StaleNext(1 << 20)
	if o := c.Observe(); !o.Now.Equal(c.Now().Add(-StaleDepth * time.Second)) {
		t.Fatalf("clamped stale observation at %s", o.Now)
	}
	c.StaleNext(3)
	c.HealAll()
	if o := c.Observe(); !o.Now.Equal(c.Now()) {
		t.Fatal("HealAll kept pending staleness")
	}
}

func TestLockSnapshotHooksEvents(t *testing.T) {
	c := New(Config{LockHolder: "backup", HookFailures: map[string]bool{"smoke": true}, Backup: upgrade.BackupView{Configured: true}})
	if l := c.Truth().Lock; l.Holder != "backup" {
		t.Fatalf("lock %+v", l)
	}
	applyErr(t, c, ErrRejected, upgrade.AcquireLock{Holder: "upgrade"})
	applyErr(t, c, ErrRejected, upgrade.ReleaseLock{Holder: "upgrade"})
	mustApply(t, c, upgrade.ReleaseLock{Holder: "backup"}, upgrade.ReleaseLock{Holder: "upgrade"},
		upgrade.AcquireLock{Holder: "upgrade"}, upgrade.AcquireLock{Holder: "upgrade"})
	if l := c.Truth().Lock; l.Holder != "upgrade" || !l.Since.Equal(c.Now()) {
		t.Fatalf("lock %+v", l)
	}

	mustApply(t, c, upgrade.TakeSnapshot{Name: "pre-upgrade"})
	c.Tick()
	if b := c.Truth().Backup; !b.InProgress || !b.LastSuccess.IsZero() || !b.Configured {
		t.Fatalf("backup %+v", b)
	}
	c.Tick()
	if b := c.Truth().Backup; b.InProgress || !b.LastSuccess.Equal(c.Now()) || !b.Configured {
		t.Fatalf("backup %+v", b)
	}

	mustApply(t, c, upgrade.RunHook{Hook: "smoke", Phase: "Verify", Attempt: 1}, upgrade.RunHook{Hook: "health", Phase: "Verify", Attempt: 1})
	c.Tick()
	mustApply(t, c, upgrade.RunHook{Hook: "smoke", Phase: "Verify", Attempt: 1}) // no-op
	obs := c.Truth()
	if h, ok := obs.Hook("smoke", "Verify", 1); !ok || h.Done || len(obs.Hooks) != 2 {
		t.Fatalf("hook %+v %v", h, ok)
	}
	c.Tick()
	obs = c.Truth()
	if h, _ := obs.Hook("smoke", "Verify", 1); !h.Done || h.Succeeded {
		t.Fatalf("smoke hook %+v", h)
	}
	if h, _ := obs.Hook("health", "Verify", 1); !h.Done || !h.Succeeded {
		t.Fatalf("health hook %+v", h)
	}
	c.SetHookFailure("smoke", false)
	mustApply(t, c, upgrade.RunHook{Hook: "smoke", Phase: "Verify", Attempt: 2})
	c.Emit([]upgrade.Event{{Type: upgrade.EventNormal, Reason: "Testing", Message: "hello"}})
	c.Run(2)
	obs = c.Truth()
	if h, _ := obs.Hook("smoke", "Verify", 2); !h.Done || !h.Succeeded {
		t.Fatalf("smoke hook attempt 2 %+v", h)
	}
	h := c.History()
	r := h[len(h)-2]
	if len(r.Actions) != 1 || r.Events[0] != "Normal Testing: hello" || len(r.Faults) != 1 {
		t.Fatalf("record %s", r)
	}
}

func TestApplyStopsAtFirstError(t *testing.T) {
	c := New(Config{})
	n, err := c.Apply([]upgrade.Action{
		upgrade.AcquireLock{Holder: "a"},
		upgrade.StepDown{Member: "bao-1"},
		upgrade.ReleaseLock{Holder: "a"},
	})
	if n != 1 || !errors.Is(err, ErrPrecondition) {
		t.Fatalf("Apply = %d, %v", n, err)
	}
	if c.Truth().Lock.Holder != "a" {
		t.Fatal("actions after the failure ran")
	}
	if n, err := c.Apply([]upgrade.Action{nil}); n != 0 || !errors.Is(err, ErrRejected) {
		t.Fatalf("nil action: %d, %v", n, err)
	}
	c.Tick()
	if r := c.History()[0]; len(r.Actions) != 1 || len(r.Events) != 1 {
		t.Fatalf("record %s", r)
	}
}

func TestCheckHistoryDetectsViolations(t *testing.T) {
	ok := []Record{
		{Tick: 1, Term: 1, Leader: "a"},
		{Tick: 2, Term: 1},
		{Tick: 3, Term: 2, Leader: "b", Elections: []Election{{Term: 2, Leader: "b", Previous: "a"}}},
	}
	if err := CheckHistory(ok); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string][]Record{
		"two leaders in a term": {{Tick: 1, Term: 1, Leader: "a"}, {Tick: 2, Term: 1, Leader: "b"}},
		"term goes back":        {{Tick: 1, Term: 2, Leader: "a"}, {Tick: 2, Term: 1}},
		"two elections":         {{Tick: 1, Term: 2, Elections: []Election{{Term: 2, Leader: "a"}, {Term: 2, Leader: "b"}}}},
		"election reelects":     {{Tick: 1, Term: 2, Elections: []Election{{Term: 2, Leader: "a"}}}, {Tick: 2, Term: 2, Elections: []Election{{Term: 2, Leader: "a"}}}},
		"election before record": {{Tick: 1, Term: 2, Leader: "a"}, {Tick: 2, Term: 3, Elections: []Election{{Term: 3, Leader: "a"}}, Leader: "a"},
			{Tick: 3, Term: 3, Leader: "b"}},
		"election past term": {{Tick: 1, Term: 1, Elections: []Election{{Term: 2, Leader: "a"}}}},
	} {
		if err := CheckHistory(h); err == nil {
			t.Errorf("%s: not detected", name)
		}
	}
}

func TestRecordString(t *testing.T) {
	r := Record{Tick: 3, Time: time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC), Term: 2, Leader: "bao-1", Voters: 3, VotersUp: 2,
		Writable: true, ServiceWorkload: "bao", ServiceHasLeader: true, Actions: []string{"a"}, Faults: []string{"f"}, Events: []string{"e1", "e2"}}
	want := "t=3 00:00:03 term=2 leader=bao-1 voters=2/3 writable svc=bao(leader) | actions: a | faults: f | events: e1; e2"
	if got := r.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := (Record{Tick: 1}).String(); got != "t=1 00:00:00 term=0 leader=- voters=0/0 read-only svc=" {
		t.Fatalf("got %s", got)
	}
}

func TestConfigAndHistoryAreCopies(t *testing.T) {
	c := New(Config{BadVersions: []string{"b", "a", "a"}, HookFailures: map[string]bool{"x": true}})
	c.SetBadVersion("c", true)
	c.SetBadVersion("a", false)
	c.SetHookFailure("y", true)
	cfg := c.Config()
	if fmt.Sprint(cfg.BadVersions) != "[b c]" || len(cfg.HookFailures) != 2 || !cfg.HookFailures["y"] {
		t.Fatalf("config %v %v", cfg.BadVersions, cfg.HookFailures)
	}
	cfg.HookFailures["z"] = true
	if len(c.Config().HookFailures) != 2 {
		t.Fatal("Config shares its map")
	}
	c.Tick()
	h := c.History()
	if len(h[0].Faults) != 3 {
		t.Fatalf("faults not recorded: %s", h[0])
	}
	h[0].Faults[0] = "changed"
	if c.History()[0].Faults[0] == "changed" {
		t.Fatal("History shares memory")
	}
}
