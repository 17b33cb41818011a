package upgrade_test

import (
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

func ExampleSafety_Check() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	voter := func(name string, leader bool) upgrade.Member {
		return upgrade.Member{
			Name: name, Workload: "openbao",
			Pod: upgrade.PodStatus{Exists: true, Ready: true, UID: "uid-" + name},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Leader: leader,
				Healthy: true, LastIndex: 42, LastTerm: 3, StableSince: now.Add(-time.Hour)},
		}
	}
	obs := upgrade.Observation{
		Now:     now,
		Members: []upgrade.Member{voter("openbao-0", true), voter("openbao-1", false), voter("openbao-2", false)},
		Raft:    upgrade.RaftView{Known: true, LeaderID: "openbao-0"},
	}

	plans := [][]upgrade.Action{
		{upgrade.DeletePod{Member: "openbao-2", UID: "uid-openbao-2"}},
		{upgrade.DeletePod{Member: "openbao-0", UID: "uid-openbao-0"}},
		{upgrade.DeletePod{Member: "openbao-1"}, upgrade.DeletePod{Member: "openbao-2"}},
		{upgrade.TransferLeadership{From: "openbao-0", To: "openbao-1"}},
	}
	for _, actions := range plans {
		err := upgrade.Safety{}.Check(obs, actions)
		var se *upgrade.SafetyError
		if errors.As(err, &se) {
			fmt.Printf("refused by %s at action %d (unsafe: %v)\n", se.Rule, se.Index, errors.Is(err, upgrade.ErrUnsafe))
			continue
		}
		fmt.Println("allowed:", upgrade.FormatActions(actions))
	}
	// Output:
	// allowed: DeletePod: delete pod openbao-2 (uid uid-openbao-2)
	// refused by S3 at action 0 (unsafe: true)
	// refused by S2 at action 1 (unsafe: true)
	// allowed: TransferLeadership: transfer leadership from openbao-0 to openbao-1
}

func ExampleSafety_BestTransferTarget() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	voter := func(name, version string, index uint64, leader bool) upgrade.Member {
		return upgrade.Member{
			Name: name, Version: version,
			Pod:  upgrade.PodStatus{Exists: true, Ready: true},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Leader: leader, Healthy: true, LastIndex: index},
		}
	}
	obs := upgrade.Observation{
		Now: now,
		Members: []upgrade.Member{
			voter("openbao-0", "2.3.0", 100, true),
			voter("openbao-1", "2.3.0", 100, false),
			voter("openbao-2", "2.4.0", 99, false),
		},
		Raft: upgrade.RaftView{Known: true, LeaderID: "openbao-0"},
	}
	m, ok := upgrade.Safety{}.BestTransferTarget(&obs, "2.4.0", nil)
	fmt.Println(m.Name, ok)
	// Output:
	// openbao-2 true
}

// ExampleParseWindows checks a maintenance window of two hours every night
// at 02:00 UTC for a step that needs 20 minutes: at 01:00 it is closed (a
// strategy holds with gate MaintenanceWindow until the next opening), at
// 03:30 it is open but too close to its end, at 02:10 a step may start.
func ExampleParseWindows() {
	ws, err := upgrade.ParseWindows([]upgrade.MaintenanceWindow{
		{Schedule: "0 2 * * *", Duration: metav1.Duration{Duration: 2 * time.Hour}},
	}, 20*time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, now := range []time.Time{
		time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 3, 50, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 2, 10, 0, 0, time.UTC),
	} {
		if ws.Allows(now, 20*time.Minute) {
			fmt.Println(now.Format("15:04"), "a step may start")
			continue
		}
		fmt.Println(now.Format("15:04"), ws.HoldMessage(now, 20*time.Minute))
	}
	_, err = upgrade.ParseWindows([]upgrade.MaintenanceWindow{
		{Schedule: "0 2 * * *", Duration: metav1.Duration{Duration: 10 * time.Minute}},
	}, 20*time.Minute)
	fmt.Println(err)
	// Output:
	// 01:00 outside maintenance windows; next window opens at 2026-03-01T02:00:00Z
	// 03:50 the maintenance window closes at 2026-03-01T04:00:00Z, too soon for a step that needs 20m0s; next window opens at 2026-03-02T02:00:00Z
	// 02:10 a step may start
	// invalid maintenance window: maintenanceWindows[0] ("0 2 * * *"): duration 10m0s is shorter than one step (20m0s: the step deadline plus the stabilization window)
}
