package policy_test

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"errors"
	"fmt"
	"time"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

func ExampleParseVersion() {
	for _, s := range []string{"v2.4.0-rc.1+build.7", "2.4", "vv2.4.0"} {
		v, err := policy.ParseVersion(s)
		if err != nil {
			var pv *policy.Violation
			errors.As(err, &pv)
			fmt.Printf("%-20q refused: %s\n", s, pv.Reason)
			continue
		}
		fmt.Printf("%-20q major=%d minor=%d patch=%d pre=%s meta=%s\n",
			s, v.Major(), v.Minor(), v.Patch(), v.Prerelease(), v.Metadata())
	}
	// Output:
	// "v2.4.0-rc.1+build.7" major=2 minor=4 patch=0 pre=rc.1 meta=build.7
	// "2.4"                refused: InvalidVersion
	// "vv2.4.0"            refused: InvalidVersion
}

func ExampleEvaluate() {
	changes := []policy.Input{
		{From: "2.3.1", To: "2.4.0", Image: "openbao/openbao:2.4.0"},
		{From: "2.4.0", To: "2.4.0-rc1"},
		{From: "2.3.1", To: "2.5.0"},
		{From: "2.4.0", To: "2.4.1", Image: "openbao/openbao:latest"},
	}
	for _, in := range changes {
		err := policy.Evaluate(in, policy.Rules{})
		var v *policy.Violation
		if errors.As(err, &v) {
			fmt.Printf("%s -> %s: %s %s\n", in.From, in.To, v.Gate, v.Reason)
			continue
		}
		fmt.Printf("%s -> %s: allowed\n", in.From, in.To)
	}
	// With an explicit opt-in the skip is allowed.
	fmt.Println(policy.Evaluate(changes[2], policy.Rules{AllowSkipMinor: true}) == nil)
	// Output:
	// 2.3.1 -> 2.4.0: allowed
	// 2.4.0 -> 2.4.0-rc1: Policy Downgrade
	// 2.3.1 -> 2.5.0: Policy SkipMinor
	// 2.4.0 -> 2.4.1: Policy MutableImageTag
	// true
}

func ExampleCheckPrerequisites() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	member := func(name string, leader bool) upgrade.Member {
		return upgrade.Member{
			Name: name, Workload: "openbao",
			Pod:  upgrade.PodStatus{Exists: true, Ready: true},
			Raft: upgrade.MemberRaft{ID: name, Present: true, Suffrage: upgrade.Voter, Leader: leader, Healthy: true},
		}
	}
	obs := upgrade.Observation{
		Now:     now,
		Members: []upgrade.Member{member("openbao-0", true), member("openbao-1", false), member("openbao-2", false)},
		Raft:    upgrade.RaftView{Known: true, LeaderID: "openbao-0", FailureTolerance: 1, AutopilotHealthy: true},
		Backup:  upgrade.BackupView{Configured: true, LastSuccess: now.Add(-36 * time.Hour)},
	}
	p := policy.Prerequisites{LockHolder: "upgrade-1", RequireBackup: true, MaxBackupAge: metav1.Duration{Duration: 24 * time.Hour}}

	err := policy.CheckPrerequisites(&obs, p)
	var v *policy.Violation
	if errors.As(err, &v) {
		g := v.AsGate()
		fmt.Println(g.Name, g.Reason, "-", g.Message)
	}

	obs.Backup.LastSuccess = now.Add(-time.Hour)
	fmt.Println(policy.CheckPrerequisites(&obs, p))
	// Output:
	// Prerequisites BackupStale - last backup is 36h0m0s old, at most 24h0m0s allowed
	// <nil>
}
