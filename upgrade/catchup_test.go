package upgrade_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

func TestCatchUpWithDefaults(t *testing.T) {
	d := upgrade.DefaultCatchUp()
	if d != (upgrade.CatchUp{MaxLag: 1000, MaxContact: metav1.Duration{Duration: 10 * time.Second}, Stabilization: metav1.Duration{Duration: 10 * time.Second}}) {
		t.Fatalf("DefaultCatchUp() = %+v", d)
	}
	tests := []struct{ in, want upgrade.CatchUp }{
		{upgrade.CatchUp{}, d},
		{upgrade.CatchUp{MaxLag: 5}, upgrade.CatchUp{MaxLag: 5, MaxContact: metav1.Duration{Duration: d.MaxContact.Duration}, Stabilization: metav1.Duration{Duration: d.Stabilization.Duration}}},
		{upgrade.CatchUp{MaxContact: metav1.Duration{Duration: time.Second}}, upgrade.CatchUp{MaxLag: d.MaxLag, MaxContact: metav1.Duration{Duration: time.Second}, Stabilization: metav1.Duration{Duration: d.Stabilization.Duration}}},
		{upgrade.CatchUp{Stabilization: metav1.Duration{Duration: time.Minute}}, upgrade.CatchUp{MaxLag: d.MaxLag, MaxContact: metav1.Duration{Duration: d.MaxContact.Duration}, Stabilization: metav1.Duration{Duration: time.Minute}}},
		{upgrade.CatchUp{MaxContact: metav1.Duration{Duration: -1}, Stabilization: metav1.Duration{Duration: -1}}, upgrade.CatchUp{MaxLag: d.MaxLag, MaxContact: metav1.Duration{Duration: -1}, Stabilization: metav1.Duration{Duration: -1}}},
		{upgrade.CatchUp{MaxLag: 1, MaxContact: metav1.Duration{Duration: 2}, Stabilization: metav1.Duration{Duration: 3}}, upgrade.CatchUp{MaxLag: 1, MaxContact: metav1.Duration{Duration: 2}, Stabilization: metav1.Duration{Duration: 3}}},
	}
	for _, tt := range tests {
		if got := tt.in.WithDefaults(); got != tt.want {
			t.Errorf("%+v.WithDefaults() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestCaughtUp(t *testing.T) {
	tests := []struct {
		name   string
		member string
		c      upgrade.CatchUp
		mod    func(*upgrade.Observation)
		gate   upgrade.GateName // "" when caught up
		reason upgrade.Reason
	}{
		{name: "caught up", member: "raft-1"},
		{name: "non-voter caught up", member: "green-0"},
		{name: "leader itself", member: "raft-0"},
		{name: "leader is never judged against itself", member: "raft-0", mod: func(o *upgrade.Observation) {
			l := member(o, "raft-0")
			l.Raft.LastContact = time.Hour
			l.Raft.LastTerm = 0
		}},
		{name: "pod missing", member: "raft-1", mod: func(o *upgrade.Observation) {
			m := member(o, "raft-1")
			m.Pod = upgrade.PodStatus{}
		}, gate: upgrade.GatePodReady, reason: upgrade.ReasonPodMissing},
		{name: "crash-looping", member: "raft-1", mod: func(o *upgrade.Observation) {
			m := member(o, "raft-1")
			m.Pod.CrashLooping, m.Pod.Ready = true, false
		}, gate: upgrade.GatePodReady, reason: upgrade.ReasonPodCrashLooping},
		{name: "terminating", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.Terminating = true
		}, gate: upgrade.GatePodReady, reason: upgrade.ReasonPodTerminating},
		{name: "not ready", member: "raft-1", mod: down("raft-1"), gate: upgrade.GatePodReady, reason: upgrade.ReasonPodNotReady},
		{name: "not in configuration", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.Present = false
		}, gate: upgrade.GateRaftHealthy, reason: upgrade.ReasonNotInConfiguration},
		{name: "raft unhealthy", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.Healthy = false
		}, gate: upgrade.GateRaftHealthy, reason: upgrade.ReasonRaftUnhealthy},
		{name: "no leader", member: "raft-1", mod: func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-0").Raft.Leader = false
		}, gate: upgrade.GateLeader, reason: upgrade.ReasonNoLeader},
		{name: "two members flagged leader without leader id", member: "raft-1", mod: func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-2").Raft.Leader = true
		}, gate: upgrade.GateLeader, reason: upgrade.ReasonNoLeader},
		{name: "leader flag used without leader id", member: "raft-1", mod: func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
		}},
		{name: "log lag", member: "raft-1", mod: lagging("raft-1"), gate: upgrade.GateCaughtUp, reason: upgrade.ReasonLogLag},
		{name: "log lag one over default", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastIndex = 5000 - 1001
		}, gate: upgrade.GateCaughtUp, reason: upgrade.ReasonLogLag},
		{name: "log lag exactly default", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastIndex = 5000 - 1000
		}},
		{name: "log lag custom", member: "raft-1", c: upgrade.CatchUp{MaxLag: 10}, mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastIndex = 5000 - 11
		}, gate: upgrade.GateCaughtUp, reason: upgrade.ReasonLogLag},
		{name: "ahead of the leader", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastIndex = 9000
		}},
		{name: "term behind", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastTerm = 4
		}, gate: upgrade.GateCaughtUp, reason: upgrade.ReasonTermBehind},
		{name: "no recent contact", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastContact = 11 * time.Second
		}, gate: upgrade.GateCaughtUp, reason: upgrade.ReasonNoRecentContact},
		{name: "contact check disabled", member: "raft-1", c: upgrade.CatchUp{MaxContact: metav1.Duration{Duration: -1}}, mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.LastContact = time.Hour
		}},
		{name: "pod started recently", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.StartedAt = now.Add(-5 * time.Second)
		}, gate: upgrade.GateStabilized, reason: upgrade.ReasonNotStable},
		{name: "pod ready recently", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.ReadySince = now.Add(-5 * time.Second)
		}, gate: upgrade.GateStabilized, reason: upgrade.ReasonNotStable},
		{name: "leader pod started recently", member: "raft-0", mod: func(o *upgrade.Observation) {
			member(o, "raft-0").Pod.StartedAt = now.Add(-5 * time.Second)
		}, gate: upgrade.GateStabilized, reason: upgrade.ReasonNotStable},
		{name: "pod started in the future", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.StartedAt = now.Add(time.Minute)
		}, gate: upgrade.GateStabilized, reason: upgrade.ReasonNotStable},
		{name: "ready exactly long enough", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.ReadySince = now.Add(-10 * time.Second)
		}},
		{name: "stabilization custom", member: "raft-1", c: upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 3 * time.Second}}, mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.ReadySince = now.Add(-5 * time.Second)
		}},
		{name: "stabilization disabled", member: "raft-1", c: upgrade.CatchUp{Stabilization: metav1.Duration{Duration: -1}}, mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Pod.ReadySince = now
		}},
		// Autopilot resets stable_since for every server when a new leader
		// is elected: that is not an outage of a member whose pod has run
		// for an hour, and must not restart its window.
		{name: "autopilot reset of stable since after an election is ignored", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.StableSince = now.Add(-time.Second)
		}},
		{name: "without pod times autopilot stable since stands in", member: "raft-1", mod: func(o *upgrade.Observation) {
			m := member(o, "raft-1")
			m.Pod.StartedAt, m.Pod.ReadySince = time.Time{}, time.Time{}
			m.Raft.StableSince = now.Add(-5 * time.Second)
		}, gate: upgrade.GateStabilized, reason: upgrade.ReasonNotStable},
		{name: "nothing known about stability is not held against", member: "raft-1", mod: func(o *upgrade.Observation) {
			m := member(o, "raft-1")
			m.Pod.StartedAt, m.Pod.ReadySince, m.Raft.StableSince = time.Time{}, time.Time{}, time.Time{}
		}},
		{name: "member raft state unknown", member: "raft-1", mod: func(o *upgrade.Observation) {
			member(o, "raft-1").Raft.Unknown = true
		}, gate: upgrade.GateRaftHealthy, reason: upgrade.ReasonRaftViewUnknown},
		{name: "raft view unknown", member: "raft-1", mod: func(o *upgrade.Observation) {
			o.Raft.Known = false
		}, gate: upgrade.GateRaftHealthy, reason: upgrade.ReasonRaftViewUnknown},
		{name: "raft view unknown is not reported as absent", member: "raft-1", mod: func(o *upgrade.Observation) {
			// what adapters/openbao returned when its read failed
			o.Raft = upgrade.RaftView{}
			for i := range o.Members {
				o.Members[i].Raft = upgrade.MemberRaft{ID: o.Members[i].Raft.ID}
			}
		}, gate: upgrade.GateRaftHealthy, reason: upgrade.ReasonRaftViewUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := cluster(3, 1)
			if tt.mod != nil {
				tt.mod(&obs)
			}
			m, _ := obs.Member(tt.member)
			g := upgrade.CaughtUp(&obs, m, tt.c)
			if tt.gate == "" {
				if g != nil {
					t.Fatalf("CaughtUp(%s) = %v, want caught up", tt.member, g)
				}
				return
			}
			if g == nil {
				t.Fatalf("CaughtUp(%s) = nil, want %s/%s", tt.member, tt.gate, tt.reason)
			}
			if g.Name != tt.gate || g.Reason != tt.reason || g.Member != tt.member || g.Message == "" {
				t.Errorf("CaughtUp(%s) = %+v, want %s/%s on %s", tt.member, g, tt.gate, tt.reason, tt.member)
			}
			if !strings.Contains(g.Error(), string(tt.reason)) {
				t.Errorf("Gate.Error() = %q lacks the reason", g.Error())
			}
		})
	}
}

// TestCaughtUpAfterRestart pins the stabilization rule of a member the
// strategy restarted: the window counts from the latest of the pod's start
// and readiness, the strategy's own first observation of it caught up, and
// autopilot's stable_since.
func TestCaughtUpAfterRestart(t *testing.T) {
	c := upgrade.CatchUp{}
	restarted := func(mod func(m *upgrade.Member)) upgrade.Observation {
		obs := cluster(3, 0)
		mod(member(&obs, "raft-2"))
		return obs
	}
	tests := []struct {
		name     string
		obs      upgrade.Observation
		observed time.Time
		want     upgrade.Reason
	}{
		{name: "autopilot missed the 0.4 s restart", obs: restarted(func(m *upgrade.Member) {
			m.Pod.StartedAt, m.Pod.ReadySince = now.Add(-600*time.Millisecond), now.Add(-200*time.Millisecond)
			m.Raft.StableSince = now.Add(-time.Hour) // predates the restart
		}), observed: now.Add(-100 * time.Millisecond), want: upgrade.ReasonNotStable},
		{name: "pod old, first observed caught up just now", obs: restarted(func(m *upgrade.Member) {}),
			observed: now.Add(-3 * time.Second), want: upgrade.ReasonNotStable},
		{name: "not observed caught up yet: the window starts now", obs: restarted(func(m *upgrade.Member) {}),
			want: upgrade.ReasonNotStable},
		{name: "autopilot stable since later than everything", obs: restarted(func(m *upgrade.Member) {
			m.Raft.StableSince = now.Add(-2 * time.Second)
		}), observed: now.Add(-time.Minute), want: upgrade.ReasonNotStable},
		{name: "stable long enough on every clock", obs: restarted(func(m *upgrade.Member) {
			m.Pod.StartedAt, m.Pod.ReadySince = now.Add(-time.Minute), now.Add(-50*time.Second)
			m.Raft.StableSince = now.Add(-45 * time.Second)
		}), observed: now.Add(-40 * time.Second)},
		{name: "not caught up comes first", obs: restarted(func(m *upgrade.Member) { m.Raft.LastIndex = 1 }),
			observed: now.Add(-time.Minute), want: upgrade.ReasonLogLag},
		{name: "unknown comes first", obs: restarted(func(m *upgrade.Member) { m.Raft.Unknown = true }),
			observed: now.Add(-time.Minute), want: upgrade.ReasonRaftViewUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := tt.obs.Member("raft-2")
			g := upgrade.CaughtUpAfterRestart(&tt.obs, m, c, tt.observed)
			switch {
			case tt.want == "" && g != nil:
				t.Fatalf("CaughtUpAfterRestart = %v, want caught up", g)
			case tt.want != "" && (g == nil || g.Reason != tt.want || g.Member != "raft-2"):
				t.Fatalf("CaughtUpAfterRestart = %+v, want %s", g, tt.want)
			}
		})
	}
	obs := restarted(func(m *upgrade.Member) {})
	m, _ := obs.Member("raft-2")
	if g := upgrade.CaughtUpAfterRestart(&obs, m, upgrade.CatchUp{Stabilization: metav1.Duration{Duration: -1}}, time.Time{}); g != nil {
		t.Errorf("window disabled: %v", g)
	}
}
