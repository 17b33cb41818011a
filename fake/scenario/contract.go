package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/raftshift/raftshift/fake/check"
	"github.com/raftshift/raftshift/upgrade"
)

// decisionRules judges a Decision made on obs by the oracle (check.Decision)
// and by the rules the strategies enforce on themselves (upgrade.Safety with
// the same catch-up definition and downtime allowance): a wrapper around a
// strategy is held to both.
func decisionRules(obs upgrade.Observation, d upgrade.Decision, o check.Options) error {
	if check.Judged(d.Actions) {
		if err := check.Decision(obs, d.Actions, o); err != nil {
			return err
		}
	}
	if err := (upgrade.Safety{CatchUp: o.CatchUp, AllowDowntime: o.AllowDowntime}).Check(obs, d.Actions); err != nil {
		return &check.Violation{Rule: "Safety", Step: -1, Message: "upgrade.Safety rejects the actions: " + err.Error()}
	}
	return nil
}

// roundTrip persists a status through JSON, as a CRD status would be.
func roundTrip(st upgrade.Status) upgrade.Status {
	raw, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("scenario: status does not marshal: %v", err))
	}
	var out upgrade.Status
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(fmt.Sprintf("scenario: status does not unmarshal: %v", err))
	}
	return out
}

// jsonMemo remembers the last status the per-Step contract sent through
// JSON: a host that waits persists the same status reconcile after
// reconcile, and decoding it again was most of what the contract cost.
type jsonMemo struct {
	raw []byte
	out upgrade.Status
}

// roundTrip is roundTrip, decoding only a status whose encoding differs from
// the last one's.
func (m *jsonMemo) roundTrip(st upgrade.Status) upgrade.Status {
	raw, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("scenario: status does not marshal: %v", err))
	}
	if m.raw == nil || !bytes.Equal(raw, m.raw) {
		var out upgrade.Status
		if err := json.Unmarshal(raw, &out); err != nil {
			panic(fmt.Sprintf("scenario: status does not unmarshal: %v", err))
		}
		m.raw, m.out = raw, out
	}
	return *m.out.DeepCopy()
}

// stepContract checks what every Step owes its host, by calling it again:
// the same inputs decide the same (Step is a pure function), a status that
// went through JSON (a host that restarted) decides the same actions and
// phase, and a Step that only waits (no actions, no events, a gate) is a
// fixed point, so a host never writes a status while nothing changes.
func stepContract(s Strategy, memo *jsonMemo, obs upgrade.Observation, prev upgrade.Status, d upgrade.Decision) error {
	again, err := s.Step(obs, prev)
	if err != nil || !reflect.DeepEqual(again, d) {
		return &check.Violation{Rule: "Determinism", Message: fmt.Sprintf("Step decided differently on the same inputs (err %v)", err)}
	}
	rt, err := s.Step(obs, memo.roundTrip(prev))
	if err != nil || upgrade.FormatActions(rt.Actions) != upgrade.FormatActions(d.Actions) || phaseOf(rt.Status) != phaseOf(d.Status) {
		return &check.Violation{Rule: "RoundTrip", Message: fmt.Sprintf("Step decided differently after the status went through JSON (err %v)", err)}
	}
	if len(d.Actions) == 0 && len(d.Events) == 0 && d.Gate != nil {
		fixed, err := s.Step(obs, d.Status)
		a, _ := json.Marshal(d.Status)
		b, _ := json.Marshal(fixed.Status)
		if err != nil || len(fixed.Actions) != 0 || string(a) != string(b) {
			return &check.Violation{Rule: "FixedPoint", Message: fmt.Sprintf("a waiting Step is not a fixed point (err %v)\n%s\n%s", err, a, b)}
		}
	}
	return nil
}

func phaseOf(st upgrade.Status) string {
	if st.Upgrade == nil {
		return ""
	}
	return st.Upgrade.Phase
}
