package check

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// Held reports whether a spec holds new disruptive steps at now: it pauses,
// or none of its maintenance windows has room left for one step (room: the
// strategy's step timeout plus its stabilization). Windows that do not
// parse hold nothing (Step refuses such a spec).
func Held(paused bool, windows []upgrade.MaintenanceWindow, room time.Duration, now time.Time) bool {
	if paused {
		return true
	}
	ws, err := upgrade.ParseWindows(windows, room)
	if err != nil {
		return false
	}
	return !ws.Allows(now, room)
}

// holdStart judges what both strategies owe a hold before an upgrade
// exists: no upgrade starts while paused.
func holdStart(paused bool, prev upgrade.Status, d upgrade.Decision) error {
	if prev.Upgrade == nil && paused && d.Status.Upgrade != nil {
		return &Violation{Rule: "Hold", Step: -1, Message: "an upgrade started while paused"}
	}
	return nil
}

// RollingHold judges the hold rule of a rolling Decision d, made on obs
// from prev while the spec holds (held, see Held; paused is spec.paused):
// no upgrade starts while paused, and no new pod restart or leadership
// move starts. Only the pod in flight (phases MovingLeader and Restarting)
// may be finished, an upgrade whose pods all run the target may finalize,
// and two restarts are never held: a crash-looping pod restarted at the
// fixed version (it disrupts no one) and a pod the partition already
// admits (the controller restarts it anyway; a Decision executed whose
// status was lost lowered the partition). It reports checked: whether the
// Decision was one the rule constrains.
func RollingHold(held, paused bool, obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) (checked bool, _ error) {
	if !held || prev.Upgrade == nil {
		if held {
			return false, holdStart(paused, prev, d)
		}
		return false, nil
	}
	if d.Status.Upgrade == nil {
		return false, nil // finalized: every pod already runs the target
	}
	if p := prev.Upgrade.Phase; p == "MovingLeader" || p == "Restarting" {
		return false, nil
	}
	var partition int32
	onDelete := true
	if len(obs.Workloads) > 0 {
		partition, onDelete = obs.Workloads[0].Partition, obs.Workloads[0].UpdateStrategy == upgrade.UpdateOnDelete
	}
	for _, a := range d.Actions {
		bad := false
		switch a := a.(type) {
		case upgrade.DeletePod:
			m, ok := obs.Member(a.Member)
			admitted := ok && !onDelete && partition <= m.Ordinal
			bad = !ok || !(m.Pod.CrashLooping || admitted)
		case upgrade.TransferLeadership, upgrade.StepDown:
			bad = true
		case upgrade.SetPartition:
			bad = len(obs.Workloads) > 0 && a.Partition < partition
		}
		if bad {
			return true, &Violation{Rule: "Hold", Step: -1, Member: heldMember(a), Message: fmt.Sprintf("%s (%s): %s started from phase %s while held (paused %t)",
				obs.Now.Format(time.RFC3339), d.Status.Upgrade.Phase, a.Kind(), prev.Upgrade.Phase, paused)}
		}
	}
	return true, nil
}

// BlueGreenHold judges the hold rule of a blue-green Decision d, made on obs
// from prev while the spec holds (held, see Held; paused is spec.paused):
// no upgrade starts while paused, and an upgrade preparing green (phases
// DeployingGreen to AwaitingPromotion) does not start its promotion: no
// promotion phase, no green voter, no leadership move, no demotion.
// Aborts, rollbacks and break-glass are repairs and are never held. It
// reports checked: whether the Decision was one the rule constrains.
func BlueGreenHold(held, paused bool, obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) (checked bool, _ error) {
	if !held || prev.Upgrade == nil {
		if held {
			return false, holdStart(paused, prev, d)
		}
		return false, nil
	}
	switch prev.Upgrade.Phase {
	case "DeployingGreen", "JoiningMesh", "Syncing", "Validating", "AwaitingPromotion":
	default:
		return false, nil
	}
	u := d.Status.Upgrade
	if u == nil {
		return false, nil // aborted: a repair, never held
	}
	switch u.Phase {
	case "Aborting", "RollbackRestoringBlue", "RollbackTransferringLeadership", "RollbackDemotingGreen", "RollbackCleanup", "BreakGlass":
		return false, nil // a repair, never held
	}
	fail := func(member, format string, args ...any) error {
		return &Violation{Rule: "Hold", Step: -1, Member: member, Message: fmt.Sprintf(format, args...)}
	}
	switch u.Phase {
	case "Promoting", "TransferringLeadership", "DemotingBlue", "Stabilizing", "Cleanup":
		return true, fail("", "%s: promotion started (phase %s -> %s) while held (paused %t)", obs.Now.Format(time.RFC3339), prev.Upgrade.Phase, u.Phase, paused)
	}
	for _, a := range d.Actions {
		switch a.(type) {
		case upgrade.Promote, upgrade.TransferLeadership, upgrade.StepDown, upgrade.Demote:
			return true, fail(heldMember(a), "%s in phase %s while held", a.Kind(), prev.Upgrade.Phase)
		}
	}
	return true, nil
}

// heldMember is the member an action names, if any.
func heldMember(a upgrade.Action) string {
	switch a := a.(type) {
	case upgrade.DeletePod:
		return a.Member
	case upgrade.TransferLeadership:
		return a.To
	case upgrade.StepDown:
		return a.Member
	case upgrade.Promote:
		return a.Member
	case upgrade.Demote:
		return a.Member
	}
	return ""
}
