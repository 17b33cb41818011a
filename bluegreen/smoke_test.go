package bluegreen

import (
	"testing"

	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/fake/host"
	"github.com/raftshift/raftshift/upgrade"
)

func TestSmoke(t *testing.T) {
	for _, tt := range []bool{false, true} {
		c := fake.New(fake.Config{Seed: 1, Replicas: 3, TargetedTransfer: tt})
		spec := Spec{Version: "2.4.0", Image: "openbao/openbao:2.4.0", AutoPromote: true, PrePromotionHook: "pre", PostPromotionHook: "post"}
		h := host.New(c, func(o upgrade.Observation, s upgrade.Status) (upgrade.Decision, error) { return Step(spec, o, s) }, upgrade.Status{})
		h.RoundTrip = true
		n, err := h.RunUntilIdle(2000)
		t.Log(h.Timeline())
		if err != nil {
			t.Fatal(n, err)
		}
		t.Logf("%+v %+v", h.Status.LastResult, fake.Summarize(c.History()))
	}
}
