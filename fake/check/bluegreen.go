package check

import (
	"fmt"

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
