package rolling

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

func (s *stepper) setConditions() {
	c := &s.st.Conditions
	now := s.condNow
	set := func(typ string, st metav1.ConditionStatus, r upgrade.Reason, msg string) {
		upgrade.SetCondition(c, typ, st, r, msg, now)
	}
	g := s.gate
	switch u := s.st.Upgrade; {
	case s.outcome != nil:
		r := upgrade.Reason(s.outcome.Reason)
		set(upgrade.ConditionReady, metav1.ConditionTrue, r, s.outcome.Message)
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, r, s.outcome.Message)
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	case u == nil && g == nil:
		msg := "running " + s.st.CurrentVersion
		r := ReasonUpToDate
		if !policy.SameVersion(s.spec.Version, s.st.CurrentVersion) || s.spec.Image != s.st.CurrentImage {
			r, msg = ReasonAdopted, "adopted running version "+s.st.CurrentVersion
		}
		set(upgrade.ConditionReady, metav1.ConditionTrue, r, msg)
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, ReasonIdle, "")
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	case u == nil:
		set(upgrade.ConditionReady, metav1.ConditionFalse, g.Reason, g.Message)
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, g.Reason, g.Message)
		set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
	case u.Paused != nil:
		p := u.Paused
		set(upgrade.ConditionReady, metav1.ConditionFalse, ReasonUpgrading, "upgrade to "+u.TargetVersion+" is paused")
		set(upgrade.ConditionProgressing, metav1.ConditionFalse, p.Reason, p.Message)
		set(upgrade.ConditionDegraded, metav1.ConditionTrue, p.Reason, p.Message)
	default:
		set(upgrade.ConditionReady, metav1.ConditionFalse, ReasonUpgrading, "upgrading to "+u.TargetVersion)
		if g != nil {
			set(upgrade.ConditionProgressing, metav1.ConditionTrue, g.Reason, g.Message)
		} else {
			set(upgrade.ConditionProgressing, metav1.ConditionTrue, upgrade.Reason(u.Phase), "")
		}
		if v := u.Rolling.UnexpectedVoters; len(v) > 0 {
			set(upgrade.ConditionDegraded, metav1.ConditionTrue, upgrade.ReasonUnexpectedPromotion,
				"promoted behind the upgrade's back: "+strings.Join(v, ", "))
		} else {
			set(upgrade.ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "")
		}
	}
}
