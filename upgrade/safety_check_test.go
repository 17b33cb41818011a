package upgrade_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// bogus is an Action outside the closed set (it embeds the interface).
type bogus struct{ upgrade.Action }

func del(name string) upgrade.DeletePod { return upgrade.DeletePod{Member: name, UID: "uid-" + name} }

type checkCase struct {
	name              string
	voters, nonvoters int
	safety            upgrade.Safety
	mod               func(*upgrade.Observation)
	actions           []upgrade.Action
	rule              string // "" when allowed, "*" for any rule
	index             int
}

// handoff declares (or not) HandoffOnShutdown and puts the named members at
// the update revision.
func handoff(declared bool, upgraded ...string) func(*upgrade.Observation) {
	return func(o *upgrade.Observation) {
		o.Capabilities.HandoffOnShutdown = declared
		for _, n := range upgraded {
			member(o, n).Revision = "raft-2"
		}
	}
}

// ondelete gives workload raft the OnDelete update strategy.
func ondelete(o *upgrade.Observation) {
	for i := range o.Workloads {
		if o.Workloads[i].Name == "raft" {
			o.Workloads[i].UpdateStrategy = upgrade.UpdateOnDelete
		}
	}
}

func checkCases() []checkCase {
	partition := func(p int32) func(*upgrade.Observation) {
		return func(o *upgrade.Observation) {
			for i := range o.Workloads {
				if o.Workloads[i].Name == "raft" {
					o.Workloads[i].Partition = p
				}
			}
		}
	}
	updated := func(names ...string) func(*upgrade.Observation) {
		return func(o *upgrade.Observation) {
			for _, n := range names {
				member(o, n).Revision = "raft-2"
			}
		}
	}
	noLeader := func(o *upgrade.Observation) {
		o.Raft.LeaderID = ""
		member(o, "raft-0").Raft.Leader = false
	}
	sp := func(p int32) upgrade.SetPartition { return upgrade.SetPartition{Workload: "raft", Partition: p} }
	tmpl := upgrade.UpdateTemplate{Workload: "raft", Image: "openbao/openbao:2.4.0", Version: "2.4.0"}
	xfer := func(from, to string) upgrade.TransferLeadership {
		return upgrade.TransferLeadership{From: from, To: to, FromID: "id-" + from, ToID: "id-" + to}
	}
	step := upgrade.StepDown{Member: "raft-0", ID: "id-raft-0"}
	acts := func(a ...upgrade.Action) []upgrade.Action { return a }
	allow := upgrade.Safety{AllowDowntime: true}

	return []checkCase{
		{name: "empty list", voters: 3},
		{name: "non-disruptive actions", voters: 2, actions: acts(
			upgrade.AcquireLock{Holder: "u"}, upgrade.TakeSnapshot{Name: "s"}, upgrade.RunHook{Hook: "h"},
			upgrade.CreateRevision{Workload: "new", Replicas: 3},
			upgrade.ReleaseLock{Holder: "u"})},
		{name: "unknown action type", voters: 3, actions: acts(bogus{upgrade.RunHook{}}), rule: "*"},

		// S1 quorum.
		{name: "S1 restart follower of 3 voters", voters: 3, actions: acts(del("raft-2"))},
		{name: "S1 restart voter with failure tolerance 0", voters: 2, actions: acts(del("raft-1")), rule: "S1"},
		{name: "S1 restarting the down voter of 4", voters: 4, mod: down("raft-3"), actions: acts(del("raft-3"))},
		{name: "S1 5 voters one down: restarting another refused by S2", voters: 5, mod: down("raft-4"), actions: acts(del("raft-1")), rule: "S2"},
		{name: "S1 restarting the down voter itself", voters: 3, mod: down("raft-2"), actions: acts(del("raft-2"))},
		{name: "S1 disrupting a non-voter needs no tolerance", voters: 2, nonvoters: 1, actions: acts(del("green-0"))},
		{name: "S1 unknown member", voters: 3, actions: acts(del("nobody")), rule: "*"},
		{name: "S1 AllowDowntime with 1 voter deletes the sole leader", voters: 1, safety: allow, actions: acts(del("raft-0"))},
		{name: "S1 sole leader without AllowDowntime", voters: 1, actions: acts(del("raft-0")), rule: "S3"},
		{name: "S1 AllowDowntime with 2 voters restarts the follower", voters: 2, safety: allow, actions: acts(del("raft-1"))},
		{name: "S1 AllowDowntime with 2 voters never deletes the leader", voters: 2, safety: allow, actions: acts(del("raft-0")), rule: "S3"},
		// Found by the soak: no leader (quorum lost), raft-0's pod down
		// between crash-loop restarts, raft-1 serving but unhealthy.
		{name: "S2 AllowDowntime never takes a second pod down", voters: 2, safety: allow,
			mod: func(o *upgrade.Observation) {
				o.Raft.LeaderID = ""
				for i := range o.Members {
					o.Members[i].Raft.Leader, o.Members[i].Raft.Healthy = false, false
				}
				m := member(o, "raft-0")
				m.Pod.Running, m.Pod.Ready, m.Pod.Phase = false, false, upgrade.PodPending
			},
			actions: acts(del("raft-1")), rule: "S2"},
		{name: "S1 AllowDowntime with 2 voters is still one at a time", voters: 2, nonvoters: 1, safety: allow,
			mod:     func(o *upgrade.Observation) { member(o, "green-0").Raft.Suffrage = upgrade.Voter },
			actions: acts(del("raft-1"), del("green-0")), rule: "S2", index: 1},
		{name: "S1 AllowDowntime does not relax 3 voters", voters: 3, safety: allow, mod: down("raft-2"), actions: acts(del("raft-1")), rule: "S2"},
		{name: "S1 AllowDowntime does not relax 5 voters with two down", voters: 5, safety: allow, mod: down("raft-3", "raft-4"),
			actions: acts(del("raft-1")), rule: "S2"},

		// S2 one at a time.
		{name: "S2 two DeletePod of voters", voters: 5, actions: acts(del("raft-1"), del("raft-2")), rule: "S2", index: 1},
		{name: "S2 DeletePod of the same voter twice", voters: 3, actions: acts(del("raft-1"), del("raft-1"))},
		{name: "S2 voter and non-voter", voters: 3, nonvoters: 1, actions: acts(del("raft-1"), del("green-0"))},
		{name: "S2 other voter lagging", voters: 3, mod: lagging("raft-2"), actions: acts(del("raft-1")), rule: "S2"},
		{name: "S2 other voter not stable yet", voters: 3, mod: func(o *upgrade.Observation) {
			member(o, "raft-2").Pod.ReadySince = now.Add(-time.Second)
		}, actions: acts(del("raft-1")), rule: "S2"},
		{name: "S2 other voter's autopilot stable since reset by an election", voters: 3, mod: func(o *upgrade.Observation) {
			for i := range o.Members {
				o.Members[i].Raft.StableSince = now.Add(-time.Second)
			}
		}, actions: acts(del("raft-1"))},
		{name: "S2 custom catch-up tolerates the lag", voters: 3, safety: upgrade.Safety{CatchUp: upgrade.CatchUp{MaxLag: 10000}},
			mod: lagging("raft-2"), actions: acts(del("raft-1"))},
		{name: "S2 SetPartition restarting two outdated voters", voters: 3, actions: acts(sp(1)), rule: "S2"},
		{name: "S2 SetPartition restarting one outdated voter", voters: 3, actions: acts(sp(2))},
		{name: "S2 SetPartition to 0 would restart the leader", voters: 1, actions: acts(sp(0)), rule: "S3"},
		{name: "S2 SetPartition then DeletePod of the same pod", voters: 3, actions: acts(sp(2), del("raft-2"))},
		{name: "S2 SetPartition then DeletePod of another voter", voters: 3, actions: acts(sp(2), del("raft-1")), rule: "S2", index: 1},
		{name: "S2 SetPartition lowering over updated pods", voters: 3, mod: updated("raft-1", "raft-2"), actions: acts(sp(1))},
		{name: "S2 SetPartition raising the partition", voters: 3, mod: partition(1), actions: acts(sp(3))},
		{name: "S2 SetPartition raising above replicas", voters: 3, actions: acts(sp(10))},
		{name: "S2 SetPartition unchanged", voters: 3, actions: acts(sp(3))},
		{name: "S2 SetPartition unknown workload", voters: 3, actions: acts(upgrade.SetPartition{Workload: "nope"}), rule: "S2"},
		{name: "S2 UpdateTemplate with partition locking all pods", voters: 3, actions: acts(tmpl)},
		{name: "S2 UpdateTemplate while partition below replicas", voters: 3, mod: partition(2), actions: acts(tmpl), rule: "S2"},
		{name: "S2 SetPartition(replicas) then UpdateTemplate", voters: 3, mod: partition(2), actions: acts(sp(3), tmpl)},
		{name: "S2 UpdateTemplate then SetPartition restarts updated pods", voters: 3, mod: updated("raft-0", "raft-1", "raft-2"),
			actions: acts(tmpl, sp(1)), rule: "S2", index: 1},
		{name: "S2 UpdateTemplate then SetPartition one", voters: 3, mod: updated("raft-0", "raft-1", "raft-2"), actions: acts(tmpl, sp(2))},
		{name: "S2 UpdateTemplate unknown workload", voters: 3, actions: acts(upgrade.UpdateTemplate{Workload: "nope"}), rule: "S2"},
		{name: "S2 Promote then DeletePod of a voter", voters: 3, nonvoters: 1,
			actions: acts(upgrade.Promote{Member: "green-0"}, del("raft-1")), rule: "S2", index: 1},
		{name: "S2 Promote then DeletePod of the promoted member", voters: 3, nonvoters: 1,
			actions: acts(upgrade.Promote{Member: "green-0"}, del("green-0")), rule: "S2", index: 1},
		{name: "S3 Promote then transfer to the promoted member", voters: 3, nonvoters: 1,
			actions: acts(upgrade.Promote{Member: "green-0"}, xfer("raft-0", "green-0")), rule: "S3", index: 1},
		{name: "S2 DeletePod of a voter then Promote", voters: 3, nonvoters: 1,
			actions: acts(del("raft-1"), upgrade.Promote{Member: "green-0"}), rule: "S2", index: 1},

		// S3 leader.
		{name: "S3 DeletePod of the leader", voters: 3, actions: acts(del("raft-0")), rule: "S3"},
		{name: "S3 DeletePod of the leader named by LeaderID only", voters: 3,
			mod: func(o *upgrade.Observation) { member(o, "raft-0").Raft.Leader = false }, actions: acts(del("raft-0")), rule: "S3"},
		{name: "S3 DeletePod of a leader not marked voter", voters: 3,
			mod: func(o *upgrade.Observation) { member(o, "raft-0").Raft.Suffrage = "" }, actions: acts(del("raft-0")), rule: "S3"},
		{name: "S3 transfer to a healthy voter", voters: 3, actions: acts(xfer("raft-0", "raft-1"))},
		{name: "S3 transfer to a non-voter", voters: 3, nonvoters: 1, actions: acts(xfer("raft-0", "green-0")), rule: "S3"},
		{name: "S3 transfer to an unhealthy voter", voters: 3,
			mod: func(o *upgrade.Observation) { member(o, "raft-1").Raft.Healthy = false }, actions: acts(xfer("raft-0", "raft-1")), rule: "S3"},
		{name: "S3 transfer to a lagging voter", voters: 3, mod: lagging("raft-1"), actions: acts(xfer("raft-0", "raft-1")), rule: "S3"},
		{name: "S3 transfer to itself", voters: 3, actions: acts(xfer("raft-0", "raft-0")), rule: "S3"},
		{name: "S3 transfer to an unknown member", voters: 3, actions: acts(xfer("raft-0", "nobody")), rule: "*"},
		{name: "S3 transfer from a non-leader", voters: 3, actions: acts(xfer("raft-1", "raft-2")), rule: "S3"},
		{name: "S3 transfer without a leader", voters: 3, mod: noLeader, actions: acts(xfer("raft-0", "raft-1")), rule: "S3"},
		{name: "S3 transfer to a voter deleted earlier", voters: 3, actions: acts(del("raft-1"), xfer("raft-0", "raft-1")), rule: "S3", index: 1},
		{name: "S3 two leadership moves", voters: 3, actions: acts(xfer("raft-0", "raft-1"), step), rule: "S3", index: 1},
		{name: "S3 step down with another healthy voter", voters: 3, actions: acts(step)},
		{name: "S3 step down as sole voter", voters: 1, actions: acts(step), rule: "S3"},
		{name: "S3 step down with no other healthy voter", voters: 2, mod: down("raft-1"), actions: acts(step), rule: "S3"},
		{name: "S3 step down with only non-voters besides", voters: 1, nonvoters: 2, actions: acts(step), rule: "S3"},
		{name: "S3 step down from a non-leader", voters: 3, actions: acts(upgrade.StepDown{Member: "raft-1"}), rule: "S3"},
		{name: "S3 step down then DeletePod of another voter", voters: 3, actions: acts(step, del("raft-1")), rule: "S3", index: 1},
		{name: "S3 step down then DeletePod of the old leader", voters: 3, actions: acts(step, del("raft-0")), rule: "S3", index: 1},
		{name: "S3 step down then DeletePod of a non-voter", voters: 3, nonvoters: 1, actions: acts(step, del("green-0"))},
		{name: "S2 DeletePod then step down", voters: 3, actions: acts(del("raft-2"), step), rule: "S2", index: 1},
		{name: "S2 DeletePod then transfer", voters: 5, actions: acts(del("raft-4"), xfer("raft-0", "raft-1")), rule: "S2", index: 1},
		{name: "S2 DeletePod of a non-voter then step down", voters: 3, nonvoters: 1, actions: acts(del("green-0"), step)},

		// Regressions found by TestSafetyCheckProperties (issue 13): a
		// member already disrupted by the list is not exempt from the
		// leadership-move rule, and the last voter never leaves.
		{name: "S3 seed 10784675221077392656: DeletePod, step down, DeletePod of the same voter", voters: 4,
			mod:     lagging("raft-0", "raft-1", "raft-3"),
			actions: acts(del("raft-2"), step, del("raft-2")), rule: "S2", index: 1},
		{name: "S3 SetPartition, transfer, DeletePod of the restarted voter", voters: 5, mod: partition(5),
			actions: acts(sp(4), xfer("raft-0", "raft-1"), del("raft-4")), rule: "S2", index: 1},
		{name: "S3 transfer then DeletePod twice of the same voter", voters: 5,
			actions: acts(xfer("raft-0", "raft-1"), del("raft-4"), del("raft-4")), rule: "S3", index: 1},
		{name: "S3 SetPartition then DeletePod of the same voter after a step down", voters: 3,
			actions: acts(step, sp(2), del("raft-2")), rule: "S3", index: 1},
		{name: "S1 RemovePeer of the last voter without a leader", voters: 1, mod: noLeader,
			actions: acts(upgrade.RemovePeer{Member: "raft-0"}), rule: "S1"},
		{name: "S1 Demote of the last voter without a leader", voters: 1, mod: noLeader,
			actions: acts(upgrade.Demote{Member: "raft-0"}), rule: "S1"},
		{name: "S1 Demote of the last voter with downtime allowed", voters: 1, safety: allow, mod: noLeader,
			actions: acts(upgrade.Demote{Member: "raft-0"}), rule: "S1"},
		{name: "S1 RemovePeer of the last voter, non-voters left", voters: 1, nonvoters: 2, mod: noLeader,
			actions: acts(upgrade.RemovePeer{Member: "raft-0"}), rule: "S1"},
		{name: "S1 DeletePod of the last voter without a leader", voters: 1, mod: noLeader,
			actions: acts(del("raft-0")), rule: "S1"},

		// Unknown is not absent (issue 9): on an unknown or partial raft
		// view nothing that can disrupt a member passes.
		{name: "view unknown: DeletePod of a member that looks absent", voters: 3, mod: unknownView,
			actions: acts(del("raft-1")), rule: "S1"},
		{name: "view unknown: SetPartition admitting a pod", voters: 3, mod: unknownView, actions: acts(sp(2)), rule: "S1"},
		{name: "view unknown: SetPartition to 0 as in the OpenBao run", voters: 3, mod: func(o *upgrade.Observation) {
			unknownView(o)
			updated("raft-1", "raft-2")(o)
			partition(1)(o)
			member(o, "raft-1").Pod.Ready = false
		}, actions: acts(sp(0)), rule: "S1"},
		{name: "view unknown: SetPartition over updated pods restarts nobody", voters: 3, mod: func(o *upgrade.Observation) {
			unknownView(o)
			updated("raft-1", "raft-2")(o)
		}, actions: acts(sp(1))},
		{name: "view unknown: raising the partition", voters: 3, mod: func(o *upgrade.Observation) {
			unknownView(o)
			partition(1)(o)
		}, actions: acts(sp(3))},
		{name: "view unknown: template behind a locked partition", voters: 3, mod: unknownView, actions: acts(tmpl)},
		{name: "view unknown: non-disruptive actions", voters: 3, mod: unknownView, actions: acts(
			upgrade.AcquireLock{Holder: "u"}, upgrade.TakeSnapshot{Name: "s"}, upgrade.RunHook{Hook: "h"},
			upgrade.CreateRevision{Workload: "new", Replicas: 3},
			upgrade.ReleaseLock{Holder: "u"})},
		{name: "view unknown: step down", voters: 3, mod: unknownView, actions: acts(upgrade.StepDown{Member: "raft-0"}), rule: "S3"},
		{name: "view unknown: transfer", voters: 3, mod: unknownView, actions: acts(xfer("raft-0", "raft-1")), rule: "S3"},
		{name: "view unknown: join", voters: 3, mod: unknownView, actions: acts(upgrade.JoinNonvoter{Member: "green-5"}), rule: "S4"},
		{name: "view unknown: promote", voters: 3, nonvoters: 1, mod: unknownView, actions: acts(upgrade.Promote{Member: "green-0"}), rule: "S4"},
		{name: "view unknown: remove", voters: 3, nonvoters: 1, mod: unknownView, actions: acts(upgrade.RemovePeer{Member: "green-0"}), rule: "S4"},
		{name: "view unknown: delete a workload with members", voters: 3, nonvoters: 1, mod: unknownView,
			actions: acts(upgrade.DeleteRevision{Workload: "green"}), rule: "S4"},
		{name: "view unknown: switch service", voters: 3, mod: unknownView,
			actions: acts(upgrade.SwitchService{Service: "openbao", Workload: "raft"}), rule: "S4"},
		{name: "view partial: DeletePod of a known follower", voters: 5, mod: func(o *upgrade.Observation) {
			member(o, "raft-3").Raft.Unknown = true
		}, actions: acts(del("raft-1")), rule: "S1"},
		{name: "view partial: DeletePod of a known non-voter", voters: 3, nonvoters: 1, mod: func(o *upgrade.Observation) {
			member(o, "raft-2").Raft.Unknown = true
		}, actions: acts(del("green-0")), rule: "S1"},
		{name: "view partial: leader unknown, downtime allowed, 2 voters", voters: 2, safety: allow, mod: func(o *upgrade.Observation) {
			noLeader(o)
			o.Raft.LeaderUnknown = true
		}, actions: acts(del("raft-1")), rule: "S1"},
		{name: "known leaderless 2 voters with downtime allowed: the way out stays open", voters: 2, safety: allow, mod: func(o *upgrade.Observation) {
			noLeader(o)
			down("raft-1")(o)
		}, actions: acts(del("raft-1"))},
		{name: "view partial: step down", voters: 5, mod: func(o *upgrade.Observation) {
			member(o, "raft-3").Raft.Unknown = true
		}, actions: acts(upgrade.StepDown{Member: "raft-0"}), rule: "S3"},

		// S3's one exception (issue 10): where the workload hands
		// leadership over on shutdown, deleting the leader's pod is the
		// leadership move, only as the last pod of the upgrade.
		{name: "S3 handoff: the leader's pod last", voters: 3, mod: handoff(true, "raft-1", "raft-2"),
			actions: acts(del("raft-0"))},
		{name: "S3 handoff: another pod not upgraded yet", voters: 3, mod: handoff(true, "raft-1"),
			actions: acts(del("raft-0")), rule: "S3"},
		{name: "S3 handoff: not declared by the workload", voters: 3, mod: handoff(false, "raft-1", "raft-2"),
			actions: acts(del("raft-0")), rule: "S3"},
		{name: "S3 handoff: another voter lagging", voters: 3, mod: func(o *upgrade.Observation) {
			handoff(true, "raft-1", "raft-2")(o)
			lagging("raft-2")(o)
		}, actions: acts(del("raft-0")), rule: "S3"},
		{name: "S3 handoff: no failure tolerance", voters: 2, mod: handoff(true, "raft-1"),
			actions: acts(del("raft-0")), rule: "S1"},
		{name: "S3 handoff: not through a partition", voters: 3, mod: func(o *upgrade.Observation) {
			handoff(true, "raft-1", "raft-2")(o)
			partition(1)(o)
		}, actions: acts(sp(0)), rule: "S3"},
		{name: "S3 handoff: nothing disrupts a voter after it", voters: 5, mod: handoff(true, "raft-1", "raft-2", "raft-3", "raft-4"),
			actions: acts(del("raft-0"), del("raft-4")), rule: "S3", index: 1},
		{name: "S3 handoff: not after a step down", voters: 3, mod: handoff(true, "raft-1", "raft-2"),
			actions: acts(step, del("raft-0")), rule: "S3", index: 1},
		{name: "S3 handoff: a non-voter in another workload does not matter", voters: 3, nonvoters: 1, mod: handoff(true, "raft-1", "raft-2"),
			actions: acts(del("raft-0"))},
		{name: "S3 handoff: a voter in another workload blocks it", voters: 3, nonvoters: 1, mod: func(o *upgrade.Observation) {
			handoff(true, "raft-1", "raft-2")(o)
			member(o, "green-0").Raft.Suffrage = upgrade.Voter
		}, actions: acts(del("raft-0")), rule: "S3"},
		{name: "OnDelete: template change with the partition down", voters: 3, mod: func(o *upgrade.Observation) {
			ondelete(o)
			partition(0)(o)
		}, actions: acts(tmpl)},
		{name: "OnDelete: a partition change restarts nobody", voters: 3, mod: ondelete, actions: acts(sp(0))},

		// S4 membership.
		{name: "S4 JoinNonvoter of a new member", voters: 3, actions: acts(upgrade.JoinNonvoter{Member: "green-5"})},
		{name: "S4 JoinNonvoter of a voter", voters: 3, actions: acts(upgrade.JoinNonvoter{Member: "raft-1"}), rule: "S4"},
		{name: "S4 two membership changes", voters: 3, nonvoters: 1,
			actions: acts(upgrade.JoinNonvoter{Member: "green-5"}, upgrade.Promote{Member: "green-0"}), rule: "S4", index: 1},
		{name: "S4 Promote healthy caught-up non-voter", voters: 3, nonvoters: 1, actions: acts(upgrade.Promote{Member: "green-0"})},
		{name: "S4 Promote lagging non-voter", voters: 3, nonvoters: 1, mod: lagging("green-0"),
			actions: acts(upgrade.Promote{Member: "green-0"}), rule: "S4"},
		{name: "S4 Promote unready non-voter", voters: 3, nonvoters: 1, mod: down("green-0"),
			actions: acts(upgrade.Promote{Member: "green-0"}), rule: "S4"},
		{name: "S4 Promote of a voter", voters: 3, actions: acts(upgrade.Promote{Member: "raft-1"}), rule: "S4"},
		{name: "S4 Promote of a member outside the configuration", voters: 3, nonvoters: 1,
			mod:     func(o *upgrade.Observation) { member(o, "green-0").Raft.Present = false },
			actions: acts(upgrade.Promote{Member: "green-0"}), rule: "S4"},
		{name: "S4 Promote of an unknown member", voters: 3, actions: acts(upgrade.Promote{Member: "nobody"}), rule: "*"},
		{name: "S4 Demote a follower", voters: 3, actions: acts(upgrade.Demote{Member: "raft-2"})},
		{name: "S4 Demote the leader", voters: 3, actions: acts(upgrade.Demote{Member: "raft-0"}), rule: "S3"},
		{name: "S4 RemovePeer the leader", voters: 3, actions: acts(upgrade.RemovePeer{Member: "raft-0"}), rule: "S3"},
		{name: "S4 Demote a follower of 2 voters", voters: 2, actions: acts(upgrade.Demote{Member: "raft-1"}), rule: "S1"},
		{name: "S4 RemovePeer of a down voter", voters: 3, mod: down("raft-2"), actions: acts(upgrade.RemovePeer{Member: "raft-2"})},
		{name: "S4 RemovePeer of a non-voter", voters: 2, nonvoters: 1, actions: acts(upgrade.RemovePeer{Member: "green-0"})},
		{name: "S4 Demote then DeletePod of another voter", voters: 5,
			actions: acts(upgrade.Demote{Member: "raft-4"}, del("raft-1")), rule: "S2", index: 1},
		{name: "S4 Demote then DeletePod of the demoted member", voters: 5,
			actions: acts(upgrade.Demote{Member: "raft-4"}, del("raft-4"))},
		{name: "S4 DeleteRevision of a workload holding voters", voters: 3, nonvoters: 1,
			actions: acts(upgrade.DeleteRevision{Workload: "raft"}), rule: "S4"},
		{name: "S4 DeleteRevision of a workload holding only non-voters", voters: 3, nonvoters: 2,
			actions: acts(upgrade.DeleteRevision{Workload: "green"})},
		{name: "S4 DeleteRevision after removing its last voter", voters: 3, nonvoters: 2,
			mod:     func(o *upgrade.Observation) { member(o, "green-0").Raft.Suffrage = upgrade.Voter },
			actions: acts(upgrade.RemovePeer{Member: "green-0"}, upgrade.DeleteRevision{Workload: "green"})},
		{name: "S4 DeleteRevision of a workload holding one voter", voters: 3, nonvoters: 2,
			mod:     func(o *upgrade.Observation) { member(o, "green-1").Raft.Suffrage = upgrade.Voter },
			actions: acts(upgrade.DeleteRevision{Workload: "green"}), rule: "S4"},
		{name: "S4 SwitchService to the leader's workload", voters: 3, nonvoters: 1,
			actions: acts(upgrade.SwitchService{Service: "openbao", Workload: "raft"})},
		{name: "S4 SwitchService to the workload without the leader", voters: 3, nonvoters: 1,
			actions: acts(upgrade.SwitchService{Service: "openbao", Workload: "green"}), rule: "S4"},
		{name: "S4 SwitchService without a leader", voters: 3, mod: noLeader,
			actions: acts(upgrade.SwitchService{Service: "openbao", Workload: "raft"}), rule: "S4"},
		{name: "S4 SwitchService while leadership moves", voters: 3,
			actions: acts(step, upgrade.SwitchService{Service: "openbao", Workload: "raft"}), rule: "S4", index: 1},
	}
}

func TestSafetyCheck(t *testing.T) {
	for _, tt := range checkCases() {
		t.Run(tt.name, func(t *testing.T) {
			obs := cluster(tt.voters, tt.nonvoters)
			if tt.mod != nil {
				tt.mod(&obs)
			}
			before := obs.DeepCopy()
			err := tt.safety.Check(obs, tt.actions)
			if !reflect.DeepEqual(before, &obs) {
				t.Errorf("Check mutated its observation")
			}
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("Check = %v, want allowed", err)
				}
				return
			}
			var se *upgrade.SafetyError
			if !errors.As(err, &se) {
				t.Fatalf("Check = %T %v, want *upgrade.SafetyError", err, err)
			}
			if !errors.Is(err, upgrade.ErrUnsafe) {
				t.Errorf("errors.Is(%v, ErrUnsafe) = false", err)
			}
			if tt.rule != "*" && se.Rule != tt.rule {
				t.Errorf("Rule = %s, want %s (%v)", se.Rule, tt.rule, err)
			}
			if se.Index != tt.index || !reflect.DeepEqual(se.Action, tt.actions[tt.index]) {
				t.Errorf("Index = %d (%v), want %d", se.Index, se.Action, tt.index)
			}
			if se.Message == "" || !strings.HasPrefix(err.Error(), se.Rule+": ") {
				t.Errorf("Error() = %q", err.Error())
			}
			// A prefix of the list up to (not including) the offending action
			// is accepted: the violation is attributed to the first culprit.
			if err := tt.safety.Check(obs, tt.actions[:tt.index]); err != nil {
				t.Errorf("prefix before the violation refused: %v", err)
			}
		})
	}
}

func TestSafetyCheckUsesDefaults(t *testing.T) {
	for _, tt := range checkCases() {
		if tt.safety != (upgrade.Safety{}) {
			continue
		}
		obs := cluster(tt.voters, tt.nonvoters)
		if tt.mod != nil {
			tt.mod(&obs)
		}
		a, b := upgrade.Safety{}.Check(obs, tt.actions), upgrade.Safety{}.Check(obs, tt.actions)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: Safety.Check = %v, Safety{}.Check = %v", tt.name, a, b)
		}
	}
}
