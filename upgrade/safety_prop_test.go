package upgrade_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/upgrade"
)

// genObservation draws a cluster of 1-7 voters (workload "raft") and 0-2
// non-voters (workload "green") with random faults, lag, revisions,
// partition and leader.
func genObservation(t *rapid.T) upgrade.Observation {
	voters := rapid.IntRange(1, 7).Draw(t, "voters")
	nonvoters := rapid.IntRange(0, 2).Draw(t, "nonvoters")
	obs := cluster(voters, nonvoters)
	for i := range obs.Members {
		m := &obs.Members[i]
		switch rapid.IntRange(0, 9).Draw(t, "fault "+m.Name) {
		case 0:
			m.Pod.Ready = false
		case 1:
			m.Raft.LastIndex = 10 // lagging
		case 2:
			m.Raft.Healthy = false
		case 3:
			m.Raft.StableSince = now.Add(-time.Second)
		}
		if rapid.Bool().Draw(t, "updated "+m.Name) && m.Workload == "raft" {
			m.Revision = "raft-2"
		}
	}
	switch rapid.IntRange(0, 9).Draw(t, "view") {
	case 0: // the adapter's read failed
		unknownView(&obs)
		return obs
	case 1: // one member's raft stats missing
		obs.Members[rapid.IntRange(0, len(obs.Members)-1).Draw(t, "unknown member")].Raft.Unknown = true
	}
	obs.Workloads[1].Partition = int32(rapid.IntRange(0, voters).Draw(t, "partition"))
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
	workload := rapid.SampledFrom([]string{"raft", "green"})
	n := len(obs.WorkloadMembers("raft"))
	gens := []*rapid.Generator[upgrade.Action]{
		rapid.Custom(func(t *rapid.T) upgrade.Action { return del(name.Draw(t, "m")) }),
		rapid.Custom(func(t *rapid.T) upgrade.Action {
			return upgrade.SetPartition{Workload: "raft", Partition: int32(rapid.IntRange(0, n+1).Draw(t, "p"))}
		}),
		rapid.Just[upgrade.Action](upgrade.UpdateTemplate{Workload: "raft", Version: "2.4.0"}),
		rapid.Custom(func(t *rapid.T) upgrade.Action {
			return upgrade.TransferLeadership{From: name.Draw(t, "from"), To: name.Draw(t, "to")}
		}),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.StepDown{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.Promote{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.Demote{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.RemovePeer{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.JoinNonvoter{Member: name.Draw(t, "m")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action { return upgrade.DeleteRevision{Workload: workload.Draw(t, "w")} }),
		rapid.Custom(func(t *rapid.T) upgrade.Action {
			return upgrade.SwitchService{Service: "openbao", Workload: workload.Draw(t, "w")}
		}),
		rapid.Just[upgrade.Action](upgrade.RecordEvent{Type: upgrade.EventNormal}),
	}
	return rapid.SliceOfN(rapid.OneOf(gens...), 0, 4).Draw(t, "actions")
}

// oracle re-derives S1-S4 for an accepted action list independently of
// Safety.Check's simulation and reports the first violation.
func oracle(obs upgrade.Observation, s upgrade.Safety, actions []upgrade.Action) error {
	caught := map[string]bool{}
	voter := map[string]bool{}
	members := map[string]upgrade.Member{}
	for _, m := range obs.Members {
		caught[m.Name] = upgrade.CaughtUp(&obs, m, s.CatchUp) == nil
		voter[m.Name] = m.IsVoter()
		members[m.Name] = m
	}
	leader, hasLeader := obs.Leader()
	raftW, _ := obs.Workload("raft")
	partition, template := raftW.Partition, false
	disrupted := map[string]bool{}
	var restartedVoter string // voter restarted, demoted or removed
	shrink, moved, changes := false, false, 0
	voters0 := len(obs.Voters())

	blind := !obs.Raft.Known
	for _, m := range obs.Members {
		blind = blind || m.Raft.Unknown
	}
	hit := func(i int, name string) error {
		if blind {
			return fmt.Errorf("action %d disrupts %s on an unknown or partial raft view", i, name)
		}
		if hasLeader && name == leader.Name && !(s.AllowDowntime && voters0 == 1) {
			return fmt.Errorf("action %d disrupts the leader %s", i, name)
		}
		if !voter[name] {
			return nil
		}
		if moved {
			return fmt.Errorf("action %d disrupts voter %s after leadership moved", i, name)
		}
		disrupted[name] = true
		restartedVoter = name
		return nil
	}
	for i, a := range actions {
		if blind {
			switch a := a.(type) {
			case upgrade.TransferLeadership, upgrade.StepDown, upgrade.Promote, upgrade.Demote, upgrade.RemovePeer,
				upgrade.JoinNonvoter, upgrade.SwitchService:
				return fmt.Errorf("action %d (%s) on an unknown or partial raft view", i, a)
			case upgrade.DeleteRevision:
				if len(obs.WorkloadMembers(a.Workload)) > 0 {
					return fmt.Errorf("action %d (%s) on an unknown or partial raft view", i, a)
				}
			}
		}
		switch a := a.(type) {
		case upgrade.DeletePod:
			if err := hit(i, a.Member); err != nil {
				return err
			}
		case upgrade.SetPartition:
			for _, m := range obs.WorkloadMembers(a.Workload) {
				if m.Ordinal >= a.Partition && m.Ordinal < partition && (m.Revision != raftW.UpdateRevision || template) {
					if err := hit(i, m.Name); err != nil {
						return err
					}
				}
			}
			partition = a.Partition
		case upgrade.UpdateTemplate:
			if partition < raftW.Replicas {
				return fmt.Errorf("action %d changes the template with partition %d < %d", i, partition, raftW.Replicas)
			}
			template = true
		case upgrade.TransferLeadership, upgrade.StepDown:
			from, to := "", ""
			if tl, ok := a.(upgrade.TransferLeadership); ok {
				from, to = tl.From, tl.To
			} else {
				from = a.(upgrade.StepDown).Member
			}
			if moved || !hasLeader || from != leader.Name {
				return fmt.Errorf("action %d moves leadership from %s (leader %s, moved %v)", i, from, leader.Name, moved)
			}
			if len(disrupted) > 0 {
				return fmt.Errorf("action %d moves leadership while voters %v are disrupted by the list", i, disrupted)
			}
			if to != "" && (!voter[to] || !caught[to] || disrupted[to] || to == leader.Name) {
				return fmt.Errorf("action %d moves leadership to %s", i, to)
			}
			moved = true
		case upgrade.Promote:
			changes++
			if _, ok := members[a.Member]; !ok || voter[a.Member] || !caught[a.Member] {
				return fmt.Errorf("action %d promotes %s", i, a.Member)
			}
			voter[a.Member] = true
			disrupted[a.Member] = true
		case upgrade.Demote, upgrade.RemovePeer:
			changes++
			name := fmt.Sprint(reflect.ValueOf(a).FieldByName("Member"))
			if hasLeader && name == leader.Name {
				return fmt.Errorf("action %d demotes or removes the leader", i)
			}
			if voter[name] {
				shrink = true
				left := 0
				for _, v := range voter {
					if v {
						left++
					}
				}
				if left == 1 {
					return fmt.Errorf("action %d demotes or removes the last voter %s", i, name)
				}
			}
			if err := hit(i, name); err != nil {
				return err
			}
			voter[name] = false
		case upgrade.JoinNonvoter:
			changes++
		case upgrade.DeleteRevision:
			for _, m := range obs.WorkloadMembers(a.Workload) {
				if voter[m.Name] || (hasLeader && m.Name == leader.Name) {
					return fmt.Errorf("action %d deletes workload %s holding voter %s", i, a.Workload, m.Name)
				}
			}
		case upgrade.SwitchService:
			if moved || !hasLeader || leader.Workload != a.Workload {
				return fmt.Errorf("action %d switches the service to %s", i, a.Workload)
			}
		}
	}
	if changes > 1 {
		return fmt.Errorf("%d membership changes", changes)
	}
	if len(disrupted) > 1 {
		return fmt.Errorf("%d voters disrupted: %v", len(disrupted), disrupted)
	}
	if restartedVoter == "" || (s.AllowDowntime && voters0 <= 2) {
		return nil
	}
	healthy := 0
	for _, m := range obs.Members {
		if m.IsVoter() && caught[m.Name] {
			healthy++
		}
		if m.IsVoter() && m.Name != restartedVoter && !caught[m.Name] {
			return fmt.Errorf("voter %s disrupted while voter %s is not caught up", restartedVoter, m.Name)
		}
	}
	after, votersAfter := healthy, voters0
	if caught[restartedVoter] {
		after--
		if healthy-upgrade.Quorum(voters0) < 1 {
			return fmt.Errorf("voter %s disrupted with failure tolerance %d", restartedVoter, healthy-upgrade.Quorum(voters0))
		}
	}
	if shrink {
		votersAfter--
	}
	if votersAfter > 0 && after < upgrade.Quorum(votersAfter) {
		return fmt.Errorf("%d healthy voters left of %d", after, votersAfter)
	}
	return nil
}

// TestSafetyCheckProperties checks Safety.Check on random observations and
// action lists (RAPID_CHECKS sets the number of cases): it never panics or
// mutates its input, is deterministic, refuses with a *SafetyError whose
// prefix is accepted, is prefix-closed, and every accepted list satisfies
// an independent re-derivation of S1-S4.
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
		if oerr := oracle(obs, s, actions); oerr != nil {
			t.Fatalf("Check accepted an unsafe list: %v\n%s", oerr, upgrade.FormatActions(actions))
		}
	})
}
