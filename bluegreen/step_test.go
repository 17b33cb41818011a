package bluegreen

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

type stepTableCase struct {
	name      string
	spec      func(*Spec)
	obs       upgrade.Observation
	status    upgrade.Status
	wantPhase Phase
	wantKinds []string
	wantGate  upgrade.Reason
	wantErr   error
	check     func(t *testing.T, d upgrade.Decision)
}

// stepTableCases are the cases of TestStepTable (also stored as data in
// testdata/step, see TestStepTestdata).
func stepTableCases() []stepTableCase {
	return slices.Concat(stepTableCasesCore(), stepTableCasesWindow(), stepTableCasesStray())
}

// stepTableCasesCore are the stepTableCases of every section but
// maintenance windows and pause.
func stepTableCasesCore() []stepTableCase {
	now := t0.Add(time.Minute)
	lagging := func(o upgrade.Observation, name string) upgrade.Observation {
		for i := range o.Members {
			if o.Members[i].Name == name {
				o.Members[i].Raft.LastIndex = 1000
			}
		}
		return o
	}
	withGreenNonvoters := cluster(now, 3, "nv", "nv", "nv")
	greenLeads := cluster(now, 3, "v", "v", "v")
	setLeader(&greenLeads, greenW+"-0")
	blueDemoted := cluster(now, 3, "v", "v", "v")
	setLeader(&blueDemoted, greenW+"-0")
	for i := range 3 {
		blueDemoted.Members[i].Raft.Suffrage = upgrade.Nonvoter
	}
	blueGone := cluster(now, 3, "v", "v", "v")
	setLeader(&blueGone, greenW+"-0")
	for i := range 2 {
		blueGone.Members[i].Raft.Suffrage = upgrade.Nonvoter
		blueGone.Members[i].Pod.CrashLooping, blueGone.Members[i].Pod.Ready = true, false
	}
	noLeader := cluster(now, 3)
	noLeader.Raft = upgrade.RaftView{}
	noLeader.Members[0].Raft.Leader = false
	notReady := cluster(now, 3)
	notReady.Members[2].Pod.Ready = false
	locked := cluster(now, 3)
	locked.Lock.Holder = "backup-operator"
	rolledBackObs := cluster(now, 3)
	greenPodsReady := cluster(now, 3, "pod", "pod", "pod")
	greenOwnLock := greenPodsReady
	greenOwnLock.Lock.Holder = DefaultLockHolder

	return []stepTableCase{
		{name: "idle up to date", obs: cluster(now, 3), status: upgrade.Status{CurrentVersion: toV, CurrentImage: toImg},
			wantPhase: PhaseIdle},
		{name: "start adopts the current version and deploys green", obs: cluster(now, 3), status: upgrade.Status{},
			wantPhase: PhaseDeployingGreen, wantKinds: []string{"AcquireLock", "CreateRevision"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.FromVersion != fromV || d.Status.Upgrade.BlueGreen.Green != greenW || d.Status.Upgrade.BlueGreen.Blue != "bao" {
					t.Errorf("upgrade status = %+v %+v", d.Status.Upgrade, d.Status.Upgrade.BlueGreen)
				}
			}},
		{name: "auto-promote is snapshotted at start", spec: func(s *Spec) { s.AutoPromote = true }, obs: cluster(now, 3),
			wantPhase: PhaseDeployingGreen, wantKinds: []string{"AcquireLock", "CreateRevision"},
			check: func(t *testing.T, d upgrade.Decision) {
				if !d.Status.Upgrade.BlueGreen.AutoPromote {
					t.Error("AutoPromote not snapshotted")
				}
			}},
		{name: "downgrade refused", spec: func(s *Spec) { s.Version, s.Image = "2.2.0", "openbao/openbao:2.2.0" },
			obs: cluster(now, 3), wantPhase: PhaseIdle, wantGate: policy.ReasonDowngrade},
		{name: "invalid version refused", spec: func(s *Spec) { s.Version = "2.4" }, obs: cluster(now, 3),
			wantPhase: PhaseIdle, wantGate: policy.ReasonInvalidVersion},
		{name: "image conflict refused", spec: func(s *Spec) { s.Image = "openbao/openbao:2.5.0" }, obs: cluster(now, 3),
			wantPhase: PhaseIdle, wantGate: policy.ReasonImageConflict},
		{name: "skip minor refused", spec: func(s *Spec) { s.Version, s.Image = "2.6.0", "openbao/openbao:2.6.0" },
			obs: cluster(now, 3), wantPhase: PhaseIdle, wantGate: policy.ReasonSkipMinor},
		{name: "no leader refused", obs: noLeader, wantPhase: PhaseIdle, wantGate: policy.ReasonNoRaftView},
		{name: "member not ready refused", obs: notReady, wantPhase: PhaseIdle, wantGate: policy.ReasonMemberNotReady},
		{name: "lock held by another operation", obs: locked, wantPhase: PhaseIdle, wantGate: policy.ReasonLockHeld},
		{name: "backup required", spec: func(s *Spec) { s.Prerequisites.RequireBackup = true }, obs: cluster(now, 3),
			wantPhase: PhaseIdle, wantGate: policy.ReasonBackupNotConfigured},
		{name: "single voter refused", obs: cluster(now, 1), wantPhase: PhaseIdle, wantGate: ReasonTooFewVoters},
		{name: "stale by time", obs: cluster(now, 3, "nv", "nv", "nv"),
			status:    inFlight(PhaseSyncing, t0, func(s *upgrade.Status) { s.LastStepTime = upgrade.Time(now.Add(time.Second)) }),
			wantPhase: PhaseSyncing, wantGate: upgrade.ReasonObservationNotNewer},
		{name: "stale by term", obs: cluster(now, 3, "nv", "nv", "nv"),
			status:    inFlight(PhaseSyncing, t0, func(s *upgrade.Status) { s.ObservedTerm = 9 }),
			wantPhase: PhaseSyncing, wantGate: upgrade.ReasonTermRegressed},
		{name: "green ready joins the first member", obs: greenOwnLock, status: inFlight(PhaseDeployingGreen, t0),
			wantPhase: PhaseJoiningMesh, wantKinds: []string{"JoinNonvoter"},
			check: func(t *testing.T, d upgrade.Decision) {
				j := d.Actions[len(d.Actions)-1].(upgrade.JoinNonvoter)
				if j.Member != greenW+"-0" || j.Address != greenW+"-0."+greenW+":8201" {
					t.Errorf("join = %+v", j)
				}
			}},
		{name: "deploying re-acquires a lost lock", obs: greenPodsReady, status: inFlight(PhaseDeployingGreen, t0),
			wantPhase: PhaseDeployingGreen, wantKinds: []string{"AcquireLock"}},
		{name: "joins one at a time", obs: cluster(now, 3, "nv", "pod", "pod"), status: inFlight(PhaseJoiningMesh, t0),
			wantPhase: PhaseJoiningMesh, wantKinds: []string{"JoinNonvoter"},
			check: func(t *testing.T, d upgrade.Decision) {
				if j := d.Actions[0].(upgrade.JoinNonvoter); j.Member != greenW+"-1" {
					t.Errorf("joined %s", j.Member)
				}
			}},
		{name: "synced without hook awaits manual promotion", obs: withGreenNonvoters, status: inFlight(PhaseSyncing, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.SyncedSince = upgrade.Time(t0) }),
			wantPhase: PhaseAwaitingPromotion, wantGate: ReasonAwaitingPromotion},
		// The sync window is at least the catch-up stabilization and counts
		// from this strategy's own first observation of green in sync.
		{name: "first observation in sync starts the stabilization window", obs: withGreenNonvoters, status: inFlight(PhaseSyncing, t0),
			wantPhase: PhaseSyncing, wantGate: ReasonMinSyncDuration,
			check: func(t *testing.T, d upgrade.Decision) {
				if got := d.Status.Upgrade.BlueGreen.SyncedSince; !got.Time.Equal(now) {
					t.Errorf("synced since %s, want %s", got, now)
				}
			}},
		{name: "minimum sync duration holds", spec: func(s *Spec) { s.MinSyncDuration.Duration = time.Minute },
			obs: withGreenNonvoters, status: inFlight(PhaseSyncing, t0), wantPhase: PhaseSyncing, wantGate: ReasonMinSyncDuration},
		{name: "lagging green holds sync", obs: lagging(cluster(now, 3, "nv", "nv", "nv"), greenW+"-1"),
			status: inFlight(PhaseSyncing, t0), wantPhase: PhaseSyncing, wantGate: upgrade.ReasonLogLag},
		{name: "pre-promotion hook requested", spec: func(s *Spec) { s.PrePromotionHook = "smoke" },
			obs: withGreenNonvoters, status: inFlight(PhaseSyncing, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.SyncedSince = upgrade.Time(t0) }), wantPhase: PhaseValidating,
			wantKinds: []string{"RunHook"}, wantGate: ReasonHookRunning},
		{name: "manual promotion by nonce", spec: func(s *Spec) { s.PromoteNonce = "go" }, obs: withGreenNonvoters,
			status: inFlight(PhaseAwaitingPromotion, t0), wantPhase: PhasePromoting, wantKinds: []string{"Promote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Handled.Promotion != "go" || !d.Status.Upgrade.BlueGreen.PromotionStarted {
					t.Errorf("handled = %+v", d.Status.Handled)
				}
			}},
		{name: "handled promotion nonce does not promote again", spec: func(s *Spec) { s.PromoteNonce = "go" }, obs: withGreenNonvoters,
			status:    inFlight(PhaseAwaitingPromotion, t0, func(s *upgrade.Status) { s.Handled.Promotion = "go" }),
			wantPhase: PhaseAwaitingPromotion, wantGate: ReasonAwaitingPromotion},
		{name: "auto promotion", obs: withGreenNonvoters,
			status:    inFlight(PhaseAwaitingPromotion, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.AutoPromote = true }),
			wantPhase: PhasePromoting, wantKinds: []string{"Promote"}},
		{name: "promotion waits for a lagging green", obs: lagging(cluster(now, 3, "nv", "nv", "nv"), greenW+"-0"),
			status: inFlight(PhasePromoting, t0), wantPhase: PhasePromoting, wantGate: upgrade.ReasonLogLag},
		{name: "targeted transfer to green", obs: func() upgrade.Observation {
			o := cluster(now, 3, "v", "v", "v")
			o.Capabilities.TargetedTransfer = true
			return o
		}(), status: inFlight(PhasePromoting, t0), wantPhase: PhaseTransferringLeadership, wantKinds: []string{"TransferLeadership"},
			check: func(t *testing.T, d upgrade.Decision) {
				if tl := d.Actions[len(d.Actions)-1].(upgrade.TransferLeadership); tl.To != greenW+"-0" || tl.From != "bao-0" {
					t.Errorf("transfer = %+v", tl)
				}
			}},
		{name: "step-down only: other blue voters are demoted first", obs: cluster(now, 3, "v", "v", "v"),
			status: inFlight(PhaseTransferringLeadership, t0), wantPhase: PhaseTransferringLeadership, wantKinds: []string{"Demote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if m := d.Actions[len(d.Actions)-1].(upgrade.Demote).Member; m != "bao-2" {
					t.Errorf("demoted %s", m)
				}
			}},
		{name: "step-down once only the blue leader votes", obs: func() upgrade.Observation {
			o := cluster(now, 3, "v", "v", "v")
			o.Members[1].Raft.Suffrage, o.Members[2].Raft.Suffrage = upgrade.Nonvoter, upgrade.Nonvoter
			return o
		}(), status: inFlight(PhaseTransferringLeadership, t0), wantPhase: PhaseTransferringLeadership, wantKinds: []string{"StepDown"}},
		{name: "leadership moves exhausted roll back", obs: cluster(now, 3, "v", "v", "v"),
			status: inFlight(PhaseTransferringLeadership, t0, func(s *upgrade.Status) {
				s.Upgrade.BlueGreen.LeaderMoves = DefaultMaxLeaderMoves
				s.Upgrade.BlueGreen.PromotionStarted = true
			}), wantPhase: PhaseDemotingGreen, wantKinds: []string{"Demote"}},
		{name: "green leader: demote blue, never the leader, highest ordinal first", obs: greenLeads,
			status: inFlight(PhaseTransferringLeadership, t0), wantPhase: PhaseDemotingBlue, wantKinds: []string{"Demote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if m := d.Actions[len(d.Actions)-1].(upgrade.Demote).Member; m != "bao-2" {
					t.Errorf("demoted %s", m)
				}
			}},
		{name: "blue leader again goes back to transfer", obs: func() upgrade.Observation {
			o := cluster(now, 3, "v", "v", "v")
			o.Capabilities.TargetedTransfer = true
			return o
		}(), status: inFlight(PhaseDemotingBlue, t0), wantPhase: PhaseTransferringLeadership, wantKinds: []string{"TransferLeadership"}},
		{name: "blue leader after green led: LeaderVersionRegressed and transfer back to green", obs: func() upgrade.Observation {
			o := cluster(now, 3, "v", "v", "v")
			o.Capabilities.TargetedTransfer = true
			return o
		}(), status: func() upgrade.Status {
			st := inFlight(PhaseDemotingBlue, t0)
			st.Upgrade.LeaderHighWater = st.Upgrade.TargetVersion
			return st
		}(), wantPhase: PhaseTransferringLeadership, wantKinds: []string{"TransferLeadership"}, wantGate: upgrade.ReasonLeaderVersionRegressed,
			check: func(t *testing.T, d upgrade.Decision) {
				if tr := d.Actions[0].(upgrade.TransferLeadership); !strings.HasPrefix(tr.To, greenW) {
					t.Errorf("transfer %+v, want to green", tr)
				}
				c := meta.FindStatusCondition(d.Status.Conditions, upgrade.ConditionLeaderVersion)
				if c == nil || c.Reason != string(upgrade.ReasonLeaderVersionRegressed) || !c.LastTransitionTime.Time.Equal(now.Truncate(time.Second)) {
					t.Errorf("LeaderVersion condition %+v", c)
				}
			}},
		{name: "blue demoted: stabilizing then cleanup removes blue", obs: blueDemoted, status: inFlight(PhaseDemotingBlue, t0),
			wantPhase: PhaseCleanup, wantKinds: []string{"RemovePeer"},
			check: func(t *testing.T, d upgrade.Decision) {
				if !d.Status.Upgrade.BlueGreen.PointOfNoReturn {
					t.Error("point of no return not recorded")
				}
			}},
		{name: "stabilization window holds", spec: func(s *Spec) { s.StabilizationWindow.Duration = time.Hour }, obs: blueDemoted,
			status: inFlight(PhaseDemotingBlue, t0), wantPhase: PhaseStabilizing, wantGate: ReasonStabilizationWindow},
		// Unknown is not absent (issue 9): on an unknown or partial raft
		// view no membership change, leadership move, service switch or
		// workload deletion happens, and the gate says why.
		{name: "unknown view: no join", obs: unknownView(cluster(now, 3, "pod", "pod", "pod")), status: inFlight(PhaseJoiningMesh, t0),
			wantPhase: PhaseJoiningMesh, wantGate: upgrade.ReasonNoLeader},
		{name: "partial view: no join", obs: partialView(cluster(now, 3, "pod", "pod", "pod"), "bao-2"), status: inFlight(PhaseJoiningMesh, t0),
			wantPhase: PhaseJoiningMesh, wantGate: upgrade.ReasonRaftViewUnknown},
		{name: "partial view: no promotion", obs: partialView(withGreenNonvoters, "bao-1"), status: inFlight(PhasePromoting, t0),
			wantPhase: PhasePromoting, wantGate: upgrade.ReasonRaftViewUnknown},
		{name: "partial view: no leadership move", obs: partialView(cluster(now, 3, "v", "v", "v"), greenW+"-2"),
			status: inFlight(PhaseTransferringLeadership, t0), wantPhase: PhaseTransferringLeadership, wantGate: upgrade.ReasonRaftViewUnknown},
		{name: "partial view: no blue demotion", obs: partialView(greenLeads, "bao-2"), status: inFlight(PhaseDemotingBlue, t0),
			wantPhase: PhaseDemotingBlue, wantGate: upgrade.ReasonRaftViewUnknown},
		{name: "partial view: no peer removal in cleanup", obs: partialView(blueDemoted, greenW+"-1"), status: inFlight(PhaseCleanup, t0),
			wantPhase: PhaseCleanup, wantGate: upgrade.ReasonRaftViewUnknown},
		{name: "partial view: no green removal when aborting", obs: partialView(withGreenNonvoters, "bao-1"), status: inFlight(PhaseAborting, t0),
			wantPhase: PhaseAborting, wantGate: upgrade.ReasonRaftViewUnknown},
		// Issue 9, bug 3: a Step chained Syncing -> ... -> Promoting and
		// returned Promote; the host executed it and crashed before
		// persisting. The persisted phase stayed Syncing while green votes:
		// a rollback request must roll back, not fail with "no edge".
		{name: "rollback request in a persisted Syncing while green already votes", spec: func(s *Spec) { s.RollbackNonce = "r1" },
			obs: cluster(now, 3, "v", "nv", "nv"), status: inFlight(PhaseSyncing, t0), wantPhase: PhaseDemotingGreen,
			wantKinds: []string{"Demote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if !d.Status.Upgrade.BlueGreen.PromotionStarted || d.Status.Handled.Rollback != "r1" {
					t.Errorf("progress %+v handled %+v", d.Status.Upgrade.BlueGreen, d.Status.Handled)
				}
			}},
		{name: "revert in a persisted Validating while green already votes", spec: func(s *Spec) { s.Version, s.Image = fromV, fromImg },
			obs: cluster(now, 3, "v", "v", "nv"), status: inFlight(PhaseValidating, t0), wantPhase: PhaseDemotingGreen,
			wantKinds: []string{"Demote"}},
		{name: "green voter while aborting rolls back", obs: cluster(now, 3, "v", "nv", "nv"),
			status:    inFlight(PhaseAborting, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.RollingBack = true }),
			wantPhase: PhaseDemotingGreen, wantKinds: []string{"Demote"}},
		{name: "green crash-loop before promotion aborts", obs: cluster(now, 3, "nv", "nv", "crash"), status: inFlight(PhaseSyncing, t0),
			wantPhase: PhaseAborting, wantKinds: []string{"RemovePeer"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.BlueGreen.RollbackReason != ReasonGreenCrashLooping {
					t.Errorf("reason %s", d.Status.Upgrade.BlueGreen.RollbackReason)
				}
			}},
		{name: "manual rollback before promotion aborts", spec: func(s *Spec) { s.RollbackNonce = "r1" },
			obs: cluster(now, 3, "pod", "pod", "pod"), status: inFlight(PhaseJoiningMesh, t0),
			wantPhase: PhaseAborting, wantKinds: []string{"DeleteRevision"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Handled.Rollback != "r1" {
					t.Errorf("handled %+v", d.Status.Handled)
				}
			}},
		{name: "manual rollback after demotion restores blue", spec: func(s *Spec) { s.RollbackNonce = "r1" },
			obs: func() upgrade.Observation {
				o := greenLeads
				o.Members = slices.Clone(o.Members)
				o.Members[2].Raft.Suffrage = upgrade.Nonvoter
				return o
			}(), status: inFlight(PhaseDemotingBlue, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.PromotionStarted = true }),
			wantPhase: PhaseRestoringBlue, wantKinds: []string{"Promote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if p := d.Actions[len(d.Actions)-1].(upgrade.Promote); p.Member != "bao-2" {
					t.Errorf("promoted %s", p.Member)
				}
			}},
		{name: "revert to blue version after a green voter rolls back", spec: func(s *Spec) { s.Version, s.Image = fromV, fromImg },
			obs: cluster(now, 3, "v", "nv", "nv"), status: inFlight(PhasePromoting, t0),
			wantPhase: PhaseDemotingGreen, wantKinds: []string{"Demote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.BlueGreen.RollbackReason != ReasonTargetReverted {
					t.Errorf("reason %s", d.Status.Upgrade.BlueGreen.RollbackReason)
				}
				if m := d.Actions[len(d.Actions)-1].(upgrade.Demote).Member; m != greenW+"-0" {
					t.Errorf("demoted %s", m)
				}
			}},
		{name: "revert before any green voter aborts", spec: func(s *Spec) { s.Version, s.Image = fromV, fromImg },
			obs: withGreenNonvoters, status: inFlight(PhaseAwaitingPromotion, t0),
			wantPhase: PhaseAborting, wantKinds: []string{"RemovePeer"}},
		{name: "third version rolls back first", spec: func(s *Spec) { s.Version, s.Image = "2.4.1", "openbao/openbao:2.4.1" },
			obs: withGreenNonvoters, status: inFlight(PhaseAwaitingPromotion, t0),
			wantPhase: PhaseAborting, wantKinds: []string{"RemovePeer"}},
		{name: "invalid version mid-upgrade holds", spec: func(s *Spec) { s.Version = "banana" },
			obs: withGreenNonvoters, status: inFlight(PhaseSyncing, t0), wantPhase: PhaseSyncing, wantGate: policy.ReasonInvalidVersion},
		{name: "rollback refused past the point of no return", spec: func(s *Spec) { s.RollbackNonce = "late" },
			obs: blueDemoted, status: inFlight(PhaseCleanup, t0), wantPhase: PhaseCleanup, wantKinds: []string{"RemovePeer"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Handled.Rollback != "late" {
					t.Error("request not recorded")
				}
				if c := findCond(d.Status, upgrade.ConditionDegraded); c == nil || c.Reason != string(ReasonRollbackRefused) {
					t.Errorf("degraded = %+v", c)
				}
			}},
		{name: "too many failures abort", obs: cluster(now, 3, "nv", "pod", "pod"),
			status:    inFlight(PhaseJoiningMesh, t0, func(s *upgrade.Status) { s.Upgrade.Failures = DefaultMaxFailures }),
			wantPhase: PhaseAborting, wantKinds: []string{"RemovePeer"}},
		{name: "step deadline after promotion rolls back", obs: cluster(t0.Add(time.Hour), 3, "v", "nv", "nv"),
			status:    inFlight(PhasePromoting, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.PromotionStarted = true }),
			wantPhase: PhaseDemotingGreen, wantKinds: []string{"Demote"}},
		// Found by the kit's rollback property: the Degraded condition of a
		// deadline past the point of no return lasts one Step (the deadline
		// restarts), so that Step reports an event and is not a waiting one.
		{name: "step deadline past the point of no return rolls forward with an event", obs: func() upgrade.Observation {
			o := partialView(blueDemoted, greenW+"-1")
			o.Now = t0.Add(time.Hour)
			return o
		}(), status: inFlight(PhaseCleanup, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.PointOfNoReturn = true }),
			wantPhase: PhaseCleanup, wantGate: upgrade.ReasonRaftViewUnknown,
			check: func(t *testing.T, d upgrade.Decision) {
				if c := findCond(d.Status, upgrade.ConditionDegraded); c == nil || c.Reason != string(ReasonPastPointOfNoReturn) {
					t.Errorf("degraded = %+v", c)
				}
				if len(d.Events) != 1 || d.Events[0].Reason != string(ReasonPastPointOfNoReturn) {
					t.Errorf("events = %+v", d.Events)
				}
			}},
		{name: "blue quorum gone during rollback enters break-glass", obs: blueGone,
			status: inFlight(PhaseRestoringBlue, t0), wantPhase: PhaseBreakGlass,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.BreakGlass == nil || d.Status.BreakGlass.Nonce == "" {
					t.Fatal("no break-glass")
				}
				if c := findCond(d.Status, upgrade.ConditionBreakGlass); c == nil || c.Status != "True" {
					t.Errorf("condition %+v", c)
				}
			}},
		{name: "cleanup completes atomically", obs: func() upgrade.Observation {
			o := cluster(now, 0, "v", "v", "v")
			o.Workloads = o.Workloads[1:]
			o.Service.Workload = greenW
			setLeader(&o, greenW+"-1")
			return o
		}(), status: inFlight(PhaseCleanup, t0), wantPhase: PhaseIdle, wantKinds: []string{"ReleaseLock"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.CurrentVersion != toV || d.Status.CurrentImage != toImg || d.Status.Upgrade != nil ||
					d.Status.LastResult.Outcome != upgrade.OutcomeSucceeded {
					t.Errorf("status %+v", d.Status)
				}
			}},
		{name: "rollback completes with version unchanged", obs: rolledBackObs, status: inFlight(PhaseRollbackCleanup, t0,
			func(s *upgrade.Status) { s.Upgrade.BlueGreen.PromotionStarted = true }),
			wantPhase: PhaseIdle, wantKinds: []string{"ReleaseLock"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.CurrentVersion != fromV || d.Status.LastResult.Outcome != upgrade.OutcomeRolledBack {
					t.Errorf("status %+v %+v", d.Status, d.Status.LastResult)
				}
			}},
		{name: "abort deletes green after its non-voters left", obs: cluster(now, 3, "pod", "pod", "pod"), status: inFlight(PhaseAborting, t0),
			wantPhase: PhaseAborting, wantKinds: []string{"DeleteRevision"}},
		{name: "failed target is not retried without a retry nonce", obs: cluster(now, 3),
			status: upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg,
				LastResult: &upgrade.Result{Outcome: upgrade.OutcomeRolledBack, TargetVersion: toV}},
			wantPhase: PhaseIdle, wantGate: upgrade.ReasonRetryRequired},
		{name: "retry nonce restarts a failed target", spec: func(s *Spec) { s.RetryNonce = "again" }, obs: cluster(now, 3),
			status: upgrade.Status{CurrentVersion: fromV, CurrentImage: fromImg,
				LastResult: &upgrade.Result{Outcome: upgrade.OutcomeRolledBack, TargetVersion: toV}},
			wantPhase: PhaseDeployingGreen, wantKinds: []string{"AcquireLock", "CreateRevision"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Handled.Retry != "again" {
					t.Errorf("retry not recorded: %+v", d.Status.Handled)
				}
			}},
		{name: "rollback deadline enters break-glass", obs: lagging(cluster(t0.Add(time.Hour), 3, "v", "v", "v"), "bao-1"),
			status: inFlight(PhaseRestoringBlue, t0, func(s *upgrade.Status) {
				s.Upgrade.BlueGreen.PromotionStarted, s.Upgrade.BlueGreen.RollingBack = true, true
			}),
			wantPhase: PhaseBreakGlass,
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.BreakGlass.Reason != string(ReasonRollbackDeadline) || len(d.Status.BreakGlass.RecoverySteps) == 0 {
					t.Errorf("break-glass %+v", d.Status.BreakGlass)
				}
			}},
		{name: "rollback demotes an unhealthy green voter first", obs: cluster(now, 3, "v", "vcrash", "v"),
			status:    inFlight(PhaseDemotingGreen, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.PromotionStarted = true }),
			wantPhase: PhaseDemotingGreen, wantKinds: []string{"Demote"},
			check: func(t *testing.T, d upgrade.Decision) {
				if m := d.Actions[len(d.Actions)-1].(upgrade.Demote).Member; m != greenW+"-1" {
					t.Errorf("demoted %s", m)
				}
			}},
		{name: "acting records the step time and term", obs: func() upgrade.Observation {
			o := cluster(now, 3, "pod", "pod", "pod")
			o.Lock.Holder = DefaultLockHolder
			o.Raft.Term = 7
			return o
		}(), status: inFlight(PhaseDeployingGreen, t0), wantPhase: PhaseJoiningMesh, wantKinds: []string{"JoinNonvoter"},
			check: func(t *testing.T, d upgrade.Decision) {
				if !d.Status.LastStepTime.Time.Equal(now) || d.Status.ObservedTerm != 7 {
					t.Errorf("last step %v term %d", d.Status.LastStepTime, d.Status.ObservedTerm)
				}
			}},
		{name: "sync deadline aborts", obs: lagging(cluster(t0.Add(time.Hour), 3, "nv", "nv", "nv"), greenW+"-2"),
			status: inFlight(PhaseSyncing, t0), wantPhase: PhaseAborting, wantKinds: []string{"RemovePeer"},
			check: func(t *testing.T, d upgrade.Decision) {
				if d.Status.Upgrade.BlueGreen.RollbackReason != ReasonStepDeadline {
					t.Errorf("reason %s", d.Status.Upgrade.BlueGreen.RollbackReason)
				}
			}},
		{name: "sync within its deadline holds", obs: lagging(cluster(t0.Add(20*time.Minute), 3, "nv", "nv", "nv"), greenW+"-2"),
			status: inFlight(PhaseSyncing, t0), wantPhase: PhaseSyncing, wantGate: upgrade.ReasonLogLag},
		{name: "invalid spec", spec: func(s *Spec) { s.Replicas = -1 }, obs: cluster(now, 3), wantErr: upgrade.ErrInvalidSpec, wantPhase: PhaseIdle},
		{name: "invalid leaderPlacement", spec: func(s *Spec) { s.LeaderPlacement = "Middle" }, obs: cluster(now, 3), wantErr: upgrade.ErrInvalidSpec, wantPhase: PhaseIdle},
		{name: "status of another strategy", obs: cluster(now, 3),
			status:  inFlight(PhaseSyncing, t0, func(s *upgrade.Status) { s.Upgrade.Strategy = upgrade.StrategyRolling }),
			wantErr: upgrade.ErrInvalidStatus, wantPhase: PhaseSyncing},
		{name: "unknown phase", obs: cluster(now, 3),
			status:  inFlight("Dancing", t0),
			wantErr: upgrade.ErrInvalidStatus, wantPhase: "Dancing"},
		{name: "break-glass phase without break-glass", obs: cluster(now, 3),
			status:  inFlight(PhaseBreakGlass, t0),
			wantErr: upgrade.ErrInvalidStatus, wantPhase: PhaseBreakGlass},
	}
}

func TestStepTable(t *testing.T) {
	for _, c := range stepTableCases() {
		t.Run(c.name, func(t *testing.T) {
			spec := baseSpec()
			if c.spec != nil {
				c.spec(&spec)
			}
			d, err := Step(spec, c.obs, c.status)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				if len(d.Actions) != 0 {
					t.Errorf("actions on error: %v", d.Actions)
				}
			} else if err != nil {
				t.Fatalf("Step: %v", err)
			}
			if got := phaseOf(d.Status); got != c.wantPhase {
				t.Errorf("phase = %s, want %s (gate %+v)", got, c.wantPhase, d.Gate)
			}
			if got := kinds(d.Actions); !slices.Equal(got, c.wantKinds) {
				t.Errorf("actions = %v, want %v\n%s", got, c.wantKinds, upgrade.FormatActions(d.Actions))
			}
			switch {
			case c.wantGate == "" && d.Gate != nil && c.wantErr == nil:
				t.Errorf("unexpected gate %+v", d.Gate)
			case c.wantGate != "" && (d.Gate == nil || d.Gate.Reason != c.wantGate):
				t.Errorf("gate = %+v, want reason %s", d.Gate, c.wantGate)
			}
			if err := (upgrade.Safety{}).Check(c.obs, d.Actions); err != nil {
				t.Errorf("unsafe: %v", err)
			}
			if d.Gate != nil && c.wantErr == nil {
				if cnd := findCond(d.Status, upgrade.ConditionProgressing); cnd == nil || cnd.Reason != string(d.Gate.Reason) {
					t.Errorf("gate not surfaced in a condition: %+v", cnd)
				}
			}
			if c.check != nil && c.wantErr == nil {
				c.check(t, d)
			}
		})
	}
}

func findCond(s upgrade.Status, typ string) *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

func TestBreakGlassAcknowledgement(t *testing.T) {
	now := t0.Add(time.Minute)
	o := cluster(now, 3, "v", "v", "v")
	setLeader(&o, greenW+"-0")
	for i := range 2 {
		o.Members[i].Raft.Suffrage = upgrade.Nonvoter
		o.Members[i].Pod.CrashLooping, o.Members[i].Pod.Ready = true, false
	}
	spec := baseSpec()
	d, err := Step(spec, o, inFlight(PhaseRestoringBlue, t0))
	if err != nil || d.Status.BreakGlass == nil {
		t.Fatalf("want break-glass, got %v %+v", err, d.Status)
	}
	nonce := d.Status.BreakGlass.Nonce
	// Deterministic nonce.
	d2, _ := Step(spec, o, inFlight(PhaseRestoringBlue, t0))
	if d2.Status.BreakGlass.Nonce != nonce {
		t.Fatalf("nonce not deterministic: %s vs %s", nonce, d2.Status.BreakGlass.Nonce)
	}
	// Blue heals; without (or with a wrong) acknowledgement nothing happens.
	healed := cluster(now.Add(time.Minute), 3, "v", "v", "v")
	setLeader(&healed, greenW+"-0")
	for i := range 2 {
		healed.Members[i].Raft.Suffrage = upgrade.Nonvoter
	}
	// Near misses derived from the real nonce (issue 13): a prefix, its
	// first character, upper case, surrounding space. None may resume.
	for _, ack := range []string{"", "wrong", nonce + "x", nonce[:len(nonce)-1], nonce[:1], strings.ToUpper(nonce),
		" " + nonce, nonce + " ", "\t" + nonce + "\n"} {
		spec.BreakGlassAck = ack
		d3, err := Step(spec, healed, d.Status)
		if err != nil {
			t.Fatal(err)
		}
		if phaseOf(d3.Status) != PhaseBreakGlass || d3.Gate == nil || d3.Gate.Name != upgrade.GateBreakGlass {
			t.Fatalf("ack %q: phase %s gate %+v", ack, phaseOf(d3.Status), d3.Gate)
		}
		for _, a := range d3.Actions {
			if upgrade.IsDisruptive(a) {
				t.Fatalf("S7: disruptive %s during break-glass", a)
			}
		}
	}
	// The exact nonce resumes the rollback from its first step.
	spec.BreakGlassAck = nonce
	d4, err := Step(spec, healed, d.Status)
	if err != nil {
		t.Fatal(err)
	}
	if d4.Status.BreakGlass != nil || d4.Status.Handled.BreakGlassAck != nonce || phaseOf(d4.Status) != PhaseRestoringBlue {
		t.Fatalf("after ack: %+v phase %s", d4.Status.Handled, phaseOf(d4.Status))
	}
	if got := kinds(d4.Actions); !slices.Equal(got, []string{"Promote"}) {
		t.Fatalf("after ack actions %v", got)
	}
}

func TestStepDoesNotMutateInputs(t *testing.T) {
	o := cluster(t0.Add(time.Minute), 3, "v", "v", "v")
	setLeader(&o, greenW+"-0")
	st := inFlight(PhaseTransferringLeadership, t0, func(s *upgrade.Status) { s.Upgrade.BlueGreen.PromotionStarted = true })
	oc, sc := o.DeepCopy(), st.DeepCopy()
	spec := baseSpec()
	spec.RollbackNonce = "x"
	d1, err := Step(spec, o, st)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&o, oc) || !reflect.DeepEqual(&st, sc) {
		t.Fatal("Step mutated its inputs")
	}
	d2, _ := Step(spec, o, st)
	if mustJSON(t, d1) != mustJSON(t, d2) || upgrade.FormatActions(d1.Actions) != upgrade.FormatActions(d2.Actions) {
		t.Fatal("Step is not deterministic")
	}
	// Returned status shares no memory with the input.
	d1.Status.Upgrade.BlueGreen.Green = "changed"
	if st.Upgrade.BlueGreen.Green == "changed" {
		t.Fatal("returned status aliases the input")
	}
}

func TestDeepCopyProgress(t *testing.T) {
	s := inFlight(PhaseSyncing, t0)
	c := s.DeepCopy()
	c.Upgrade.BlueGreen.Blue = "x"
	c.Upgrade.BlueGreen.SyncedSince = upgrade.Time(t0.Add(time.Hour))
	if s.Upgrade.BlueGreen.Blue != "bao" || !s.Upgrade.BlueGreen.SyncedSince.IsZero() {
		t.Fatal("DeepCopy shares BlueGreenProgress")
	}
}

func TestGreenName(t *testing.T) {
	a := GreenName("bao", "2.4.0", "openbao/openbao:2.4.0")
	if a != GreenName("bao", "2.4.0", "openbao/openbao:2.4.0") || a == GreenName("bao", "2.4.1", "openbao/openbao:2.4.1") {
		t.Fatal("GreenName not deterministic or not version-specific")
	}
	if len(a) != len("bao-")+8 {
		t.Fatalf("GreenName = %s", a)
	}
	long := GreenName(string(make([]byte, 100)), "1.0.0", "x")
	if len(long) > 63 {
		t.Fatalf("name too long: %d", len(long))
	}
}
