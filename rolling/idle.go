package rolling

import (
	"fmt"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

func (s *stepper) idle() error {
	if s.st.CurrentVersion == "" {
		return s.adopt()
	}
	upToDate := policy.SameVersion(s.spec.Version, s.st.CurrentVersion) && s.spec.Image == s.st.CurrentImage
	leftover := s.obs.Lock.Holder == s.spec.LockHolder
	// A partition above 0 while idle is left the same way: the final
	// Decision was persisted and its SetPartition lost (found by the soak,
	// seed 7170399: the lock was then released on a stale cache showing
	// the partition at 0).
	stuck := !s.ondelete && s.w.Partition != 0
	if upToDate && !leftover && !stuck {
		return nil
	}
	if s.stale() {
		return nil
	}
	if leftover || stuck {
		// Our lock is held or the partition is up although no upgrade is
		// in flight: a Decision was executed but its status never
		// persisted, or persisted but not executed. A workload converged on
		// the current version only needs the lock released; otherwise an
		// upgrade to the spec starts (even to the current version), which
		// converges it safely: partition locked, template checked, pods
		// walked, partition restored to 0.
		if s.converged(s.st.CurrentVersion, s.st.CurrentImage) {
			s.act(upgrade.ReleaseLock{Holder: s.spec.LockHolder})
			return nil
		}
	}
	if err := policy.Evaluate(policy.Input{From: s.st.CurrentVersion, To: s.spec.Version, Image: s.spec.Image}, s.spec.Rules); err != nil {
		return s.refuse(err)
	}
	pre := s.spec.Prerequisites
	pre.LockHolder = s.spec.LockHolder
	if len(pre.Workloads) == 0 {
		pre.Workloads = []string{s.w.Name}
	}
	if err := policy.CheckPrerequisites(s.obs, pre); err != nil {
		return s.refuse(err)
	}
	if s.voters <= 2 && !s.spec.AllowDowntime {
		s.hold(upgrade.GateDowntime, ReasonDowntimeNotAllowed, "",
			"restarting a member of a %d-voter cluster loses quorum; set allowDowntime to accept the downtime", s.voters)
		return nil
	}
	if s.spec.Snapshot && !s.obs.Capabilities.Snapshots {
		s.hold(upgrade.GateSnapshot, ReasonSnapshotsUnsupported, "", "a pre-upgrade snapshot is required but the host cannot take snapshots")
		return nil
	}
	if !s.w.Settled() {
		s.hold(upgrade.GateWorkloadSettled, ReasonNotSettled, "", "workload %s: controller has not observed generation %d", s.w.Name, s.w.Generation)
		return nil
	}
	if g := s.orderingMismatch(); g != nil {
		s.gate = g
		return nil
	}
	if s.pausedIdle() {
		return nil
	}
	now := upgrade.Time(s.obs.Now)
	s.st.Upgrade = &upgrade.UpgradeStatus{
		Strategy:       upgrade.StrategyRolling,
		Phase:          string(PhaseIdle),
		FromVersion:    s.st.CurrentVersion,
		FromImage:      s.st.CurrentImage,
		TargetVersion:  s.spec.Version,
		TargetImage:    s.spec.Image,
		LockHolder:     s.spec.LockHolder,
		StartedAt:      now,
		PhaseStartedAt: now,
		StepStartedAt:  now,
		Rolling: &upgrade.RollingProgress{
			Workload: s.w.Name,
			Replicas: s.w.Replicas,
			Ordinal:  s.w.Replicas - 1,
			Ordering: string(s.ordering()),
		},
	}
	for i := range s.members {
		if m := &s.members[i]; m.IsNonvoter() {
			s.st.Upgrade.Rolling.Nonvoters = append(s.st.Upgrade.Rolling.Nonvoters, m.Name)
		}
	}
	if err := s.transition(EventStart, true); err != nil {
		return err
	}
	if s.obs.Lock.Holder != s.spec.LockHolder {
		s.act(upgrade.AcquireLock{Holder: s.spec.LockHolder})
	}
	if !s.ondelete && s.w.Partition < s.w.Replicas {
		s.act(upgrade.SetPartition{Workload: s.w.Name, Partition: s.w.Replicas})
	}
	if policy.SameVersion(s.spec.Version, s.st.CurrentVersion) && s.spec.Image == s.st.CurrentImage {
		s.event(upgrade.EventNormal, upgrade.ReasonStarted, "converging %s on %s after an interrupted decision",
			s.w.Name, s.spec.Version)
	} else {
		s.event(upgrade.EventNormal, upgrade.ReasonStarted, "rolling upgrade of %s from %s to %s started",
			s.w.Name, s.st.CurrentVersion, s.spec.Version)
	}
	return nil
}

// converged reports whether the workload runs version and image everywhere
// with the partition at 0.
func (s *stepper) converged(version, image string) bool {
	w := s.w
	if (!s.ondelete && w.Partition != 0) || w.Image != image || (w.Version != "" && !policy.SameVersion(w.Version, version)) ||
		int32(len(s.members)) != w.Replicas {
		return false
	}
	for i := range s.members {
		if !s.updated(&s.members[i]) {
			return false
		}
	}
	return true
}

// refuse turns a policy violation into a gate (no action).
func (s *stepper) refuse(err error) error {
	g, err := contract.Refusal(err)
	if err != nil {
		return fmt.Errorf("rolling: %w", err)
	}
	s.gate = g
	return nil
}

// adopt records the running version of a settled, healthy, uniform
// workload as the current version, without acting.
func (s *stepper) adopt() error {
	w := s.w
	fail := func(format string, args ...any) error {
		s.hold(upgrade.GateWorkloadSettled, ReasonCannotAdopt, "", format, args...)
		return nil
	}
	if !w.Settled() {
		return fail("workload %s is not settled", w.Name)
	}
	if w.Image == "" || w.Version == "" {
		return fail("workload %s declares no version or image", w.Name)
	}
	if int32(len(s.members)) != w.Replicas {
		return fail("workload %s has %d of %d members", w.Name, len(s.members), w.Replicas)
	}
	for i := range s.members {
		m := &s.members[i]
		switch {
		case !m.Up():
			return fail("member %s is not ready and healthy", m.Name)
		case m.Version != "" && !policy.SameVersion(m.Version, w.Version):
			return fail("member %s runs %s, the template declares %s", m.Name, m.Version, w.Version)
		case m.Revision != w.UpdateRevision:
			return fail("member %s is not at the template's revision", m.Name)
		}
	}
	if _, err := policy.ParseVersion(w.Version); err != nil {
		return fail("workload %s declares version %q that is not a strict semantic version", w.Name, w.Version)
	}
	s.st.CurrentVersion, s.st.CurrentImage = policy.Canonical(w.Version), w.Image
	s.requeue = ActionRequeue
	return nil
}
