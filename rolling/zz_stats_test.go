package rolling

import (
	"math/rand/v2"
	"strings"
	"testing"
	"fmt"
)

func TestZZUnsafe(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shown := 0
	for range 200000 {
		b := make([]byte, 120)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		spec, obs, st := decodeInput(b)
		_, err := Step(spec, obs, st)
		if err != nil && strings.Contains(err.Error(), "refusing") && shown < 4 {
			shown++
			t.Logf("%v\nspec %+v\nphase %+v %+v\nwl %+v\nraft %+v", err, spec, st.Upgrade, st.Upgrade.Rolling, obs.Workloads, obs.Raft)
			for _, m := range obs.Members {
				t.Logf("  %s", fmt.Sprintf("%+v", m))
			}
		}
	}
}
