package openbao_test

import (
	"errors"
	"testing"

	"github.com/raftshift/raftshift/adapters/openbao"
)

// FuzzDecode feeds arbitrary bodies to both response decoders and merges
// whatever decodes into an observation: nothing may panic, every failure
// must be an ErrMalformedResponse, and a decoded configuration must place
// each server on exactly one member.
func FuzzDecode(f *testing.F) {
	seedFixtures(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		st := &openbao.State{}
		cfg, err := openbao.DecodeConfiguration(body)
		if err != nil {
			if !errors.Is(err, openbao.ErrMalformedResponse) {
				t.Fatalf("configuration error not ErrMalformedResponse: %v", err)
			}
		} else {
			st.Configuration = &cfg
		}
		ap, err := openbao.DecodeAutopilotState(body)
		if err != nil {
			if !errors.Is(err, openbao.ErrMalformedResponse) {
				t.Fatalf("autopilot error not ErrMalformedResponse: %v", err)
			}
		} else {
			st.Autopilot = &ap
			for id, s := range ap.Servers {
				if s.LastContact < 0 || s.ID != id {
					t.Fatalf("server %q decoded as %+v", id, s)
				}
			}
		}
		out := openbao.Merge(k8sObservation(3), st, nil)
		if st.Configuration != nil {
			seen := map[string]int{}
			for _, m := range out.Members {
				if m.Raft.Present {
					seen[m.Raft.ID]++
				}
			}
			for _, s := range st.Configuration.Servers {
				if seen[s.NodeID] != 1 {
					t.Fatalf("server %q on %d members", s.NodeID, seen[s.NodeID])
				}
			}
		}
		if out.Raft.FailureTolerance < 0 {
			t.Fatalf("negative failure tolerance %d", out.Raft.FailureTolerance)
		}
	})
}
