package check

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/upgrade"
)

// BlueGreen judges the blue-green rules of S4 that need to know which
// workload is blue and which is green, for a Decision made on obs that
// moved the upgrade from phase prevPhase to phase (the blue-green phase
// names as persisted in UpgradeStatus.Phase):
//
//   - the service switches to a workload, and a workload is deleted, only
//     once no member of the workload left behind is in the Raft
//     configuration;
//   - in DemotingBlue a blue voter is demoted only while green leads, and in
//     RollbackDemotingGreen a green voter only while blue leads;
//   - the upgrade does not abort once a green member votes (it rolls back,
//     which restores blue first).
func BlueGreen(obs upgrade.Observation, actions []upgrade.Action, prevPhase, phase, blue, green string) error {
	fail := func(member, format string, args ...any) error {
		return &Violation{Rule: "S4", Step: -1, Member: member, Message: fmt.Sprintf(format, args...)}
	}
	greenVotes := false
	for _, m := range obs.Members {
		greenVotes = greenVotes || (m.Workload == green && m.Raft.Present && m.Raft.Suffrage == upgrade.Voter)
	}
	if phase == "Aborting" && prevPhase != "Aborting" && greenVotes {
		return fail("", "aborted while green %s votes (a rollback must restore blue first)", green)
	}
	leader := leaderName(&obs)
	lw := leaderWorkload(&obs, leader)
	for _, a := range actions {
		switch a := a.(type) {
		case upgrade.Demote:
			other := ""
			switch phase {
			case "DemotingBlue":
				other = green
			case "RollbackDemotingGreen":
				other = blue
			default:
				continue
			}
			if m, ok := obs.Member(a.Member); ok && m.IsVoter() && (leader == "" || lw != other) {
				return fail(a.Member, "%s demoted in %s while %s does not lead", a.Member, phase, other)
			}
		case upgrade.SwitchService, upgrade.DeleteRevision:
			gone := blue
			if sw, ok := a.(upgrade.SwitchService); ok && sw.Workload == blue {
				gone = green
			}
			if dr, ok := a.(upgrade.DeleteRevision); ok {
				gone = dr.Workload
			}
			for _, m := range obs.Members {
				if m.Workload == gone && m.Raft.Present {
					return fail(m.Name, "%s while %s is still in the raft configuration", a, m.Name)
				}
			}
		}
	}
	return nil
}

// BlueGreenStatus judges what a blue-green Decision d, made on obs from the
// status prev, owes beyond S4 (prevPhase and the phases are the persisted
// UpgradeStatus.Phase names):
//
//   - S5 strictly: the current version changes only in the status that
//     ends an upgrade with OutcomeSucceeded, to that upgrade's target
//     version and image (adoption from an empty status aside); a rollback
//     leaves it where it was;
//   - S6 strictly: a Step that refuses to start (no upgrade before or
//     after, a gate) emits no action at all;
//   - before promotion (DeployingGreen to AwaitingPromotion) a green member
//     that votes is reported (UnexpectedPromotion, with a Degraded
//     condition True) by every Step that decides (a Step that does not act
//     on its observation, gate StaleObservation and no action — it waits to
//     observe its last Decision's effects, or refuses an observation older
//     than one already acted on — decides nothing and reports at the next),
//     and leadership never moves to green.
func BlueGreenStatus(prev upgrade.Status, d upgrade.Decision, obs upgrade.Observation) error {
	fail := func(rule, member, format string, args ...any) error {
		return &Violation{Rule: rule, Step: -1, Member: member, Message: fmt.Sprintf(format, args...)}
	}
	next := d.Status
	if next.CurrentVersion != prev.CurrentVersion && prev.CurrentVersion != "" {
		if prev.Upgrade == nil || next.Upgrade != nil || next.LastResult == nil || next.LastResult.Outcome != upgrade.OutcomeSucceeded ||
			next.CurrentVersion != prev.Upgrade.TargetVersion || next.CurrentImage != prev.Upgrade.TargetImage {
			return fail("S5", "", "current version %s -> %s without completing an upgrade", prev.CurrentVersion, next.CurrentVersion)
		}
	}
	if prev.Upgrade != nil && next.Upgrade == nil && next.LastResult != nil && next.LastResult.Outcome == upgrade.OutcomeRolledBack &&
		next.CurrentVersion != prev.CurrentVersion {
		return fail("S5", "", "rolled back but the current version moved from %s to %s", prev.CurrentVersion, next.CurrentVersion)
	}
	if prev.Upgrade == nil && next.Upgrade == nil && d.Gate != nil && len(d.Actions) > 0 {
		return fail("S6", "", "refused to start (%s) but emitted %s", d.Gate.Reason, d.Actions[0])
	}
	u := next.Upgrade
	if u == nil || u.BlueGreen == nil {
		return nil
	}
	switch u.Phase {
	case "DeployingGreen", "JoiningMesh", "Syncing", "Validating", "AwaitingPromotion":
	default:
		return nil
	}
	awaiting := len(d.Actions) == 0 && d.Gate != nil && d.Gate.Name == upgrade.GateStaleObservation
	for _, m := range obs.Members {
		if m.Workload == u.BlueGreen.Green && m.IsVoter() && !u.BlueGreen.UnexpectedPromotion && !awaiting {
			return fail("S4", m.Name, "green %s votes in %s, not reported", m.Name, u.Phase)
		}
	}
	if u.BlueGreen.UnexpectedPromotion {
		if c := meta.FindStatusCondition(next.Conditions, upgrade.ConditionDegraded); c == nil || c.Status != metav1.ConditionTrue {
			return fail("S4", "", "unexpected promotion without a Degraded condition")
		}
	}
	for _, a := range d.Actions {
		if tr, ok := a.(upgrade.TransferLeadership); ok {
			return fail("S3", tr.To, "leadership moved to %s in %s", tr.To, u.Phase)
		}
	}
	return nil
}
