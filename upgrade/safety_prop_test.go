package upgrade_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// genObservation draws a cluster of 1-7 voters (workload "raft") and 0-2
// non-voters (workload "green") with random faults, lag, revisions,
// partition and leader.
func genObservation(t *rapid.T) upgrade.Observation {
	voters := rapid.IntRange(1, 7).Draw(t, "voters")
	nonvoters := rapid.IntRange(0, 2).Draw(t, "nonvoters")
	obs := cluster(voters, nonvoters)
	// Half the clusters are healthy, so the rules that only matter on a
	// healthy cluster (tolerance, one at a time, leadership moves) are
	// reached often; the others have a fault per member with odds 1 in 2.
	faultOdds := 9
	if rapid.Bool().Draw(t, "healthy") {
		faultOdds = 1000
	}
	for i := range obs.Members {
		m := &obs.Members[i]
		switch rapid.IntRange(0, faultOdds).Draw(t, "fault "+m.Name) {
		case 0:
			m.Pod.Ready = false
		case 1:
			m.Raft.LastIndex = 10 // lagging
		case 2:
			m.Raft.Healthy = false
		case 3:
			m.Raft.StableSince = now.Add(-time.Second) // an election's reset: not held against it
		case 4:
			m.Pod.ReadySince = now.Add(-time.Second) // restarted: not stable yet
		}
		if rapid.Bool().Draw(t, "updated "+m.Name) && m.Workload == "raft" {
			m.Revision = "raft-2"
		}
	}
	switch rapid.IntRange(0, 19).Draw(t, "view") {
	case 0: // the adapter's read failed
		unknownView(&obs)
		return obs
	case 1: // one member's raft stats missing
		obs.Members[rapid.IntRange(0, len(obs.Members)-1).Draw(t, "unknown member")].Raft.Unknown = true
	}
	obs.Workloads[1].Partition = int32(rapid.IntRange(0, voters).Draw(t, "partition"))
	obs.Capabilities.HandoffOnShutdown = rapid.Bool().Draw(t, "handoffOnShutdown")
	if rapid.IntRange(0, 3).Draw(t, "onDelete") == 0 {
		obs.Workloads[1].UpdateStrategy = upgrade.UpdateOnDelete
	}
	switch rapid.IntRange(0, 9).Draw(t, "leader") {
	case 0: // no leader
		obs.Raft.LeaderID = ""
		member(&obs, "raft-0").Raft.Leader = false
	case 1: // leader elsewhere
		l := fmt.Sprintf("raft-%d", rapid.IntRange(0, voters-1).Draw(t, "leader ordinal"))
		member(&obs, "raft-0").Raft.Leader = false
		member(&obs, l).Raft.Leader = true
		obs.Raft.LeaderID = "id-" + l
	}
	return obs
}

func genActions(t *rapid.T, obs upgrade.Observation) []upgrade.Action {
	var names []string
	for _, m := range obs.Members {
		names = append(names, m.Name)
	}
	names = append(names, "nobody")
	name := rapid.SampledFrom(names)
	// Leadership moves name the leader half the time: the rules about
	// what may follow or precede a move need accepted moves.
	from := name
	if l, ok := obs.Leader(); ok {
		from = rapid.OneOf(rapid.Just(l.Name), name)
	}
	workload := rapid.SampledFrom([]string{"raft", "green"})
	n := len(obs.WorkloadMembers("raft"))
	gens := []*rapid.Generator[upgrade.Action]{
		rapid.Custom(func(t *rapid.T) upgrade.Action { return del(name.Draw(t, "m")) }),
		rapid.Custom(func(t *rapid.T) upgrade.Action {
			return upgrade.SetPartition{Workload: "raft", Partition: int32(rapid.IntRange(0, n+1).Draw(t, "p"))}
		}),
		rapid.Just[upgrade.Action](upgrade.UpdateTemplate{Workload: "raft", Version: "2.4.0"}),
		rapid.Custom(func(t *rapid.T) upgrade.Action {
			return upgrade.TransferLeadership{From: from.Draw(t, "from"), To: name.Draw(t, "to")}
		}),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.StepDown{Member: from.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.Promote{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.Demote{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.RemovePeer{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.JoinNonvoter{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.DeleteRevision{Workload: workload.Draw(t, "w")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action {
			return upgrade.SwitchService{Service: "openbao", Workload: workload.Draw(t, "w")}
		}),
	}
	return rapid.SliceOfN(rapid.OneOf(gens...), 0, 4).Draw(t, "actions")
}

// TestSafetyCheckProperties checks Safety.Check on random observations and
// action lists (RAPID_CHECKS sets the number of cases): it never panics or
// mutates its input, is deterministic, refuses with a *SafetyError whose
// prefix is accepted, is prefix-closed, and every accepted list satisfies
// the independent oracle of package fake/check (S1-S4, unknown is not
// absent): Safety.Check never accepts what check.Decision rejects.
func TestSafetyCheckProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		obs := genObservation(t)
		s := upgrade.Safety{AllowDowntime: rapid.IntRange(0, 4).Draw(t, "allowDowntime") == 0}
		actions := genActions(t, obs)
		before := obs.DeepCopy()

		err := s.Check(obs, actions)
		if !reflect.DeepEqual(before, &obs) {
			t.Fatalf("Check mutated the observation")
		}
		if again := s.Check(obs, actions); !reflect.DeepEqual(err, again) {
			t.Fatalf("Check not deterministic: %v vs %v", err, again)
		}
		if err != nil {
			var se *upgrade.SafetyError
			if !errors.As(err, &se) || !errors.Is(err, upgrade.ErrUnsafe) {
				t.Fatalf("Check = %T %v", err, err)
			}
			if se.Index < 0 || se.Index >= len(actions) || !reflect.DeepEqual(se.Action, actions[se.Index]) {
				t.Fatalf("SafetyError index %d out of range or action mismatch", se.Index)
			}
			if perr := s.Check(obs, actions[:se.Index]); perr != nil {
				t.Fatalf("prefix before the culprit refused: %v (full: %v)", perr, err)
			}
			return
		}
		for k := range actions {
			if perr := s.Check(obs, actions[:k]); perr != nil {
				t.Fatalf("list accepted but its prefix of %d refused: %v", k, perr)
			}
		}
		if oerr := check.Decision(obs, actions, check.Options{CatchUp: s.CatchUp, AllowDowntime: s.AllowDowntime}); oerr != nil {
			t.Fatalf("Check accepted an unsafe list: %v\n%s", oerr, upgrade.FormatActions(actions))
		}
	})
}
