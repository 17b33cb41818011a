package upgrade_test

import (
	"strings"
	"testing"

	"github.com/raftshift/raftshift/upgrade"
)

func TestQuorumAndFailureTolerance(t *testing.T) {
	tests := []struct{ voters, healthy, quorum, tolerance int }{
		{1, 1, 1, 0},
		{1, 0, 1, -1},
		{2, 2, 2, 0},
		{2, 1, 2, -1},
		{3, 3, 2, 1},
		{3, 2, 2, 0},
		{3, 1, 2, -1},
		{4, 4, 3, 1},
		{4, 3, 3, 0},
		{5, 5, 3, 2},
		{5, 4, 3, 1},
		{5, 3, 3, 0},
		{6, 6, 4, 2},
		{7, 7, 4, 3},
		{9, 9, 5, 4},
		{101, 101, 51, 50},
	}
	for _, tt := range tests {
		if got := upgrade.Quorum(tt.voters); got != tt.quorum {
			t.Errorf("Quorum(%d) = %d, want %d", tt.voters, got, tt.quorum)
		}
		if got := upgrade.FailureTolerance(tt.voters, tt.healthy); got != tt.tolerance {
			t.Errorf("FailureTolerance(%d, %d) = %d, want %d", tt.voters, tt.healthy, got, tt.tolerance)
		}
	}
}

func TestCanDisrupt(t *testing.T) {
	tests := []struct {
		name              string
		voters, nonvoters int
		safety            upgrade.Safety
		mod               func(*upgrade.Observation)
		member            string
		gate              upgrade.GateName // "" when allowed
		reason            upgrade.Reason
	}{
		{name: "follower of 3", voters: 3, member: "raft-1"},
		{name: "non-voter", voters: 1, nonvoters: 1, member: "green-0"},
		{name: "leader", voters: 3, member: "raft-0", gate: upgrade.GateLeader, reason: upgrade.ReasonIsLeader},
		{name: "sole leader with AllowDowntime", voters: 1, safety: upgrade.Safety{AllowDowntime: true}, member: "raft-0"},
		{name: "another voter down", voters: 3, mod: down("raft-2"), member: "raft-1", gate: upgrade.GateQuorum, reason: upgrade.ReasonOtherVoterDisrupted},
		{name: "the down voter itself", voters: 3, mod: down("raft-2"), member: "raft-2"},
		{name: "failure tolerance 0", voters: 2, member: "raft-1", gate: upgrade.GateQuorum, reason: upgrade.ReasonNoFailureTolerance},
		{name: "failure tolerance 0 with AllowDowntime", voters: 2, safety: upgrade.Safety{AllowDowntime: true}, member: "raft-1"},
		{name: "unknown member", voters: 3, member: "nobody", gate: upgrade.GateQuorum, reason: upgrade.ReasonPodMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := cluster(tt.voters, tt.nonvoters)
			if tt.mod != nil {
				tt.mod(&obs)
			}
			g := tt.safety.CanDisrupt(&obs, tt.member)
			if tt.gate == "" {
				if g != nil {
					t.Fatalf("CanDisrupt(%s) = %v, want nil", tt.member, g)
				}
			} else if g == nil || g.Name != tt.gate || g.Reason != tt.reason || g.Member != tt.member {
				t.Fatalf("CanDisrupt(%s) = %+v, want %s/%s", tt.member, g, tt.gate, tt.reason)
			}
			// CanDisrupt agrees with Check of a single DeletePod.
			err := tt.safety.Check(obs, []upgrade.Action{del(tt.member)})
			if (g == nil) != (err == nil) {
				t.Errorf("CanDisrupt = %v but Check(DeletePod) = %v", g, err)
			}
		})
	}
}

func TestBestTransferTarget(t *testing.T) {
	setVersion := func(v string, names ...string) func(*upgrade.Observation) {
		return func(o *upgrade.Observation) {
			for _, n := range names {
				member(o, n).Version = v
			}
		}
	}
	setIndex := func(i uint64, names ...string) func(*upgrade.Observation) {
		return func(o *upgrade.Observation) {
			for _, n := range names {
				member(o, n).Raft.LastIndex = i
			}
		}
	}
	tests := []struct {
		name    string
		voters  int
		mods    []func(*upgrade.Observation)
		exclude func(upgrade.Member) bool
		want    string // "" when none
	}{
		{name: "lowest name on a tie", voters: 5, want: "raft-1"},
		{name: "prefers the target version", voters: 5, mods: []func(*upgrade.Observation){setVersion("2.4.0", "raft-3")}, want: "raft-3"},
		{name: "target version beats a higher index", voters: 5, mods: []func(*upgrade.Observation){
			setVersion("2.4.0", "raft-4"), setIndex(4990, "raft-4"), setIndex(5000, "raft-1")}, want: "raft-4"},
		{name: "then the highest last index", voters: 5, mods: []func(*upgrade.Observation){
			setVersion("2.4.0", "raft-3", "raft-4"), setIndex(4990, "raft-3")}, want: "raft-4"},
		{name: "highest index without target-version members", voters: 5, mods: []func(*upgrade.Observation){
			setIndex(4995, "raft-1", "raft-3", "raft-4")}, want: "raft-2"},
		{name: "never a non-voter", voters: 3, mods: []func(*upgrade.Observation){setVersion("2.4.0", "green-0", "green-1")}, want: "raft-1"},
		{name: "never the leader", voters: 3, mods: []func(*upgrade.Observation){setVersion("2.4.0", "raft-0", "raft-2")}, want: "raft-2"},
		{name: "never older than the leader (S8)", voters: 3, mods: []func(*upgrade.Observation){setVersion("2.4.0", "raft-0")}},
		{name: "skips unhealthy and lagging voters", voters: 4, mods: []func(*upgrade.Observation){
			setVersion("2.4.0", "raft-1", "raft-2"), down("raft-1"), lagging("raft-2")}, want: "raft-3"},
		{name: "honours exclude", voters: 3, exclude: func(m upgrade.Member) bool { return m.Name == "raft-1" }, want: "raft-2"},
		{name: "none when every voter is excluded", voters: 3, exclude: func(upgrade.Member) bool { return true }},
		{name: "none for a single voter", voters: 1},
		{name: "none without a leader", voters: 3, mods: []func(*upgrade.Observation){func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-0").Raft.Leader = false
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := cluster(tt.voters, 2)
			for _, m := range tt.mods {
				m(&obs)
			}
			got, ok := upgrade.Safety{}.BestTransferTarget(&obs, "2.4.0", tt.exclude)
			if tt.want == "" {
				if ok {
					t.Fatalf("BestTransferTarget = %s, want none", got.Name)
				}
				return
			}
			if !ok || got.Name != tt.want {
				t.Fatalf("BestTransferTarget = %q, %v; want %q", got.Name, ok, tt.want)
			}
			if !got.IsVoter() || obs.IsLeader(got.Name) {
				t.Fatalf("BestTransferTarget picked %s (voter %v)", got.Name, got.IsVoter())
			}
			// The chosen target passes Check as a transfer target, and the
			// result does not depend on member order.
			l, _ := obs.Leader()
			if err := (upgrade.Safety{}).Check(obs, []upgrade.Action{upgrade.TransferLeadership{From: l.Name, To: got.Name}}); err != nil {
				t.Errorf("transfer to the best target refused: %v", err)
			}
			rev := obs.DeepCopy()
			for i, j := 0, len(rev.Members)-1; i < j; i, j = i+1, j-1 {
				rev.Members[i], rev.Members[j] = rev.Members[j], rev.Members[i]
			}
			if again, _ := (upgrade.Safety{}).BestTransferTarget(rev, "2.4.0", tt.exclude); again.Name != got.Name {
				t.Errorf("result depends on member order: %s vs %s", again.Name, got.Name)
			}
		})
	}
}

func TestCheckView(t *testing.T) {
	obs := cluster(3, 1)
	if g := upgrade.CheckView(&obs); g != nil {
		t.Fatalf("CheckView(complete) = %v", g)
	}
	unknown := obs
	unknown.Raft.Known = false
	if g := upgrade.CheckView(&unknown); g == nil || g.Reason != upgrade.ReasonRaftViewUnknown || g.Name != upgrade.GateRaftHealthy ||
		!strings.Contains(g.Message, "unknown") || strings.Contains(g.Message, "not in the raft configuration") {
		t.Errorf("CheckView(unknown) = %+v", g)
	}
	partial := *obs.DeepCopy()
	member(&partial, "raft-2").Raft.Unknown = true
	if g := upgrade.CheckView(&partial); g == nil || g.Reason != upgrade.ReasonRaftViewUnknown || g.Member != "raft-2" ||
		!strings.Contains(g.Message, "partial") {
		t.Errorf("CheckView(partial) = %+v", g)
	}
	if g := (upgrade.Safety{}).CanDisrupt(&partial, "raft-1"); g == nil || g.Reason != upgrade.ReasonRaftViewUnknown {
		t.Errorf("CanDisrupt on a partial view = %+v, want RaftViewUnknown", g)
	}
	if g := (upgrade.Safety{}).CanDisrupt(&partial, "green-0"); g == nil || g.Reason != upgrade.ReasonRaftViewUnknown {
		t.Errorf("CanDisrupt of a non-voter on a partial view = %+v, want RaftViewUnknown", g)
	}
}

func TestCompletionGate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*upgrade.Observation)
		want int
		r    upgrade.Reason
	}{
		{name: "complete", want: 3},
		{name: "a member missing", want: 4, r: upgrade.ReasonIncomplete},
		{name: "a member down", want: 3, mod: down("raft-1"), r: upgrade.ReasonPodNotReady},
		{name: "a member lagging", want: 3, mod: lagging("raft-2"), r: upgrade.ReasonLogLag},
		{name: "view partial", want: 3, mod: func(o *upgrade.Observation) { member(o, "green-0").Raft.Unknown = true }, r: upgrade.ReasonRaftViewUnknown},
		{name: "view unknown", want: 3, mod: unknownView, r: upgrade.ReasonRaftViewUnknown},
		{name: "no leader", want: 3, mod: func(o *upgrade.Observation) {
			o.Raft.LeaderID = ""
			member(o, "raft-0").Raft.Leader = false
		}, r: upgrade.ReasonNoLeader},
		{name: "leader elsewhere", want: 3, mod: func(o *upgrade.Observation) {
			member(o, "raft-0").Raft.Leader = false
			member(o, "green-0").Raft.Leader = true
			o.Raft.LeaderID = "id-green-0"
			member(o, "green-0").Raft.Suffrage = upgrade.Voter
		}, r: upgrade.ReasonNoLeader},
	} {
		t.Run(tt.name, func(t *testing.T) {
			obs := cluster(3, 1)
			if tt.mod != nil {
				tt.mod(&obs)
			}
			g := upgrade.CompletionGate(&obs, "raft", tt.want, upgrade.CatchUp{})
			switch {
			case tt.r == "" && g != nil:
				t.Fatalf("CompletionGate = %v", g)
			case tt.r != "" && (g == nil || g.Reason != tt.r):
				t.Fatalf("CompletionGate = %+v, want %s", g, tt.r)
			}
		})
	}
}
