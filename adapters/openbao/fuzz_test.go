package openbao_test

import (
	"errors"
	"testing"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

// FuzzDecode feeds arbitrary bodies to both response decoders and merges
// whatever decodes into an observation: nothing may panic, every failure
// must be an ErrMalformedResponse, a decoded configuration must place each
// server on exactly one member, and whatever was not read is unknown: no
// configuration, an unknown view; no autopilot entry (or no last_contact
// for a follower), an unknown member.
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
				if s.LastContact < 0 || s.ID != id || (!s.LastContactKnown && s.LastContact != 0) {
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
		if st.Configuration == nil && (out.Raft.Known || upgrade.CheckView(&out) == nil) {
			t.Fatalf("view %+v without a configuration", out.Raft)
		}
		for _, m := range out.Members {
			if !m.Raft.Present || m.Raft.Unknown {
				if m.Raft.Healthy {
					t.Fatalf("%s healthy but absent or unknown: %+v", m.Name, m.Raft)
				}
				continue
			}
			a, ok := st.Autopilot.Servers[m.Raft.ID]
			if !ok || (!a.LastContactKnown && !m.Raft.Leader && !a.IsLeader()) {
				t.Fatalf("%s known without autopilot stats: %+v", m.Name, m.Raft)
			}
		}
	})
}
