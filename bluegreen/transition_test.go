package bluegreen

import (
	"errors"
	"testing"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// TestNoIllegalTransition: Step never fails with ErrIllegalTransition,
// whatever the persisted phase (any status a Step may have produced, with
// any prefix of its actions executed or not), the observation and the
// requests in the spec. It crosses every phase of the table with
// observations of every stage of an upgrade (green absent, running,
// joined, voting, leading; blue demoted; views unknown or partial) and
// every request.
func TestNoIllegalTransition(t *testing.T) {
	now := t0.Add(time.Hour)
	var observations []upgrade.Observation
	for _, green := range [][]string{nil, {"pod", "pod", "pod"}, {"nv", "pod", "pod"}, {"nv", "nv", "nv"},
		{"v", "nv", "nv"}, {"v", "v", "v"}, {"crash", "nv", "nv"}, {"vcrash", "v", "v"}} {
		for leader := range 3 {
			o := cluster(now, 3, green...)
			switch {
			case leader == 1 && len(green) > 0 && green[0] == "v":
				setLeader(&o, greenW+"-0")
				for i := range 3 {
					o.Members[i].Raft.Suffrage = upgrade.Nonvoter
				}
			case leader == 2:
				setLeader(&o, "")
				o.Raft.LeaderID = ""
			}
			observations = append(observations, o, unknownView(o), partialView(o, "bao-1"))
		}
	}
	specs := map[string]func(*Spec){
		"plain":    func(*Spec) {},
		"rollback": func(s *Spec) { s.RollbackNonce = "rb" },
		"revert":   func(s *Spec) { s.Version, s.Image = fromV, fromImg },
		"retarget": func(s *Spec) { s.Version, s.Image = "2.4.1", "openbao/openbao:2.4.1" },
		"promote":  func(s *Spec) { s.PromoteNonce = "go" },
		"retry":    func(s *Spec) { s.RetryNonce = "again" },
		"ack":      func(s *Spec) { s.BreakGlassAck = "nonce" },
		"typo":     func(s *Spec) { s.Version = "2.4" },
		"auto":     func(s *Spec) { s.AutoPromote = true },
	}
	runs := 0
	for _, tr := range table.Transitions {
		for _, phase := range []Phase{tr.From, tr.To} {
			if phase == PhaseIdle {
				continue
			}
			for _, promoted := range []bool{false, true} {
				st := inFlight(phase, t0, func(s *upgrade.Status) {
					s.Upgrade.BlueGreen.PromotionStarted = promoted
					s.Upgrade.BlueGreen.RollingBack = classOf(phase) == classRepair
					if phase == PhaseBreakGlass {
						s.BreakGlass = &upgrade.BreakGlass{Nonce: "nonce", Reason: "x", EnteredAt: upgrade.Time(t0)}
					}
				})
				for name, mod := range specs {
					spec := baseSpec()
					mod(&spec)
					for i, o := range observations {
						runs++
						if _, err := Step(spec, o, st); errors.Is(err, upgrade.ErrIllegalTransition) {
							t.Fatalf("phase %s, promoted %v, spec %s, observation %d: %v", phase, promoted, name, i, err)
						}
					}
				}
			}
		}
	}
	t.Logf("%d Steps, none illegal", runs)
}
