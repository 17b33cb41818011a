package policy

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fmt"
	"slices"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// Reasons for unmet prerequisites.
const (
	ReasonLockHeld            upgrade.Reason = "LockHeldByOther"
	ReasonNoRaftView          upgrade.Reason = "NoRaftView"
	ReasonNoLeader            upgrade.Reason = "NoLeader"
	ReasonMemberNotReady      upgrade.Reason = "MemberNotReady"
	ReasonAutopilotUnhealthy  upgrade.Reason = "AutopilotUnhealthy"
	ReasonNoFailureTolerance  upgrade.Reason = "NoFailureTolerance"
	ReasonBackupNotConfigured upgrade.Reason = "BackupNotConfigured"
	ReasonBackupInProgress    upgrade.Reason = "BackupInProgress"
	ReasonBackupStale         upgrade.Reason = "BackupStale"
)

// Prerequisites configures preflight checks. The zero value checks the lock,
// the leader, member readiness, autopilot health and failure tolerance, and
// does not require backups.
//
// +kubebuilder:object:generate=true
type Prerequisites struct {
	// LockHolder is this operation's lock identity: the lock may be free or
	// held by LockHolder, any other holder blocks.
	LockHolder string `json:"lockHolder,omitempty"`
	// Workloads limits the readiness check to members of these workloads
	// (all members when empty).
	Workloads []string `json:"workloads,omitempty"`
	// SkipAutopilot ignores the autopilot verdict (for Raft implementations
	// without autopilot).
	SkipAutopilot bool `json:"skipAutopilot,omitempty"`
	// RequireBackup requires backups to be configured, idle, and (with
	// MaxBackupAge) recent.
	RequireBackup bool `json:"requireBackup,omitempty"`
	// MaxBackupAge is the oldest acceptable last successful backup; 0 means
	// any successful backup will do.
	MaxBackupAge metav1.Duration `json:"maxBackupAge,omitempty"`
}

// CheckPrerequisites returns nil when every preflight prerequisite holds, or
// the first unmet one as a *Violation (checked in a fixed order: lock, raft
// view and leader, member readiness, autopilot, failure tolerance, backup).
func CheckPrerequisites(obs *upgrade.Observation, p Prerequisites) error {
	fail := func(gate upgrade.GateName, r upgrade.Reason, format string, args ...any) error {
		return &Violation{Gate: gate, Reason: r, Message: fmt.Sprintf(format, args...)}
	}
	if obs == nil {
		return fail(upgrade.GatePrerequisites, ReasonNoRaftView, "no observation")
	}
	if h := obs.Lock.Holder; h != "" && h != p.LockHolder {
		return fail(upgrade.GateLock, ReasonLockHeld, "operation lock is held by %q", h)
	}
	if !obs.Raft.Known {
		return fail(upgrade.GatePrerequisites, ReasonNoRaftView, "no raft view could be obtained")
	}
	if _, ok := obs.Leader(); !ok {
		return fail(upgrade.GatePrerequisites, ReasonNoLeader, "the cluster has no leader")
	}
	for _, m := range obs.Members {
		if len(p.Workloads) > 0 && !slices.Contains(p.Workloads, m.Workload) {
			continue
		}
		if !m.Up() {
			return &Violation{Gate: upgrade.GatePrerequisites, Reason: ReasonMemberNotReady,
				Message: fmt.Sprintf("member %s is not ready and healthy", m.Name)}
		}
	}
	if !p.SkipAutopilot && !obs.Raft.AutopilotHealthy {
		return fail(upgrade.GatePrerequisites, ReasonAutopilotUnhealthy, "autopilot reports the cluster unhealthy")
	}
	voters := obs.Voters()
	healthy := 0
	for _, m := range voters {
		if m.Up() {
			healthy++
		}
	}
	ft := upgrade.FailureTolerance(len(voters), healthy)
	if !p.SkipAutopilot && int(obs.Raft.FailureTolerance) < ft {
		ft = int(obs.Raft.FailureTolerance)
	}
	if len(voters) >= 3 && ft < 1 {
		return fail(upgrade.GatePrerequisites, ReasonNoFailureTolerance,
			"failure tolerance is %d with %d/%d healthy voters; at least 1 is required", ft, healthy, len(voters))
	}
	if p.RequireBackup {
		switch {
		case !obs.Backup.Configured:
			return fail(upgrade.GatePrerequisites, ReasonBackupNotConfigured, "backups are required but not configured")
		case obs.Backup.InProgress:
			return fail(upgrade.GatePrerequisites, ReasonBackupInProgress, "a backup is in progress")
		case obs.Backup.LastSuccess.IsZero():
			return fail(upgrade.GatePrerequisites, ReasonBackupStale, "no backup has succeeded yet")
		case p.MaxBackupAge.Duration > 0 && obs.Now.Sub(obs.Backup.LastSuccess) > p.MaxBackupAge.Duration:
			return fail(upgrade.GatePrerequisites, ReasonBackupStale, "last backup is %s old, at most %s allowed",
				obs.Now.Sub(obs.Backup.LastSuccess).Truncate(time.Second), p.MaxBackupAge.Duration)
		}
	}
	return nil
}
