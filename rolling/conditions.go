package rolling

import (
	"strings"

	"github.com/raftshift/raftshift/internal/contract"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// setConditions sets the conditions both strategies share (package
// contract) for this Step.
func (s *stepper) setConditions() {
	v := contract.View{Gate: s.gate, Ended: s.outcome}
	if s.st.Upgrade == nil && s.outcome == nil {
		v.Adopted = !policy.SameVersion(s.spec.Version, s.st.CurrentVersion) || s.spec.Image != s.st.CurrentImage
	}
	if u := s.st.Upgrade; u != nil && len(u.Rolling.UnexpectedVoters) > 0 {
		v.Degraded = &upgrade.Gate{Name: upgrade.GateMembership, Reason: upgrade.ReasonUnexpectedPromotion,
			Message: "promoted behind the upgrade's back: " + strings.Join(u.Rolling.UnexpectedVoters, ", ")}
	}
	contract.SetConditions(&s.st, v, s.condNow, s.obs.Generation)
}
