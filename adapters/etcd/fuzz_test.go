package etcd_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

// FuzzDecode feeds arbitrary bodies to both decoders and merges whatever
// decodes into an observation: nothing may panic, every failure must wrap
// ErrMalformedResponse, each listed member must land on exactly one
// observed member, and whatever was not read is unknown: no list, an
// unknown view; no status, an unknown member that is not healthy; a
// leader only where a member claimed leadership itself.
func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			f.Add(fixture(f, e.Name()), fixture(f, "status_leader.json"), uint8(7))
		}
	}
	f.Add([]byte(`{"header":{},"members":[{"ID":"1","peerURLs":["http://a"]},{"ID":1,"peerURLs":["http://b"]}]}`), []byte(`{"header":{"member_id":"1"},"leader":"1","raftTerm":"18446744073709551615"}`), uint8(1))
	f.Add([]byte(`{"header":{},"members":[{"ID":"-1"}]}`), []byte(`{"header":{"member_id":1.5}}`), uint8(3))
	f.Add([]byte(`[]`), []byte(`null`), uint8(0))
	f.Fuzz(func(t *testing.T, listBody, statusBody []byte, answered uint8) {
		st := &etcd.State{Linearizable: answered&0x80 == 0}
		l, err := etcd.DecodeMemberList(listBody)
		if err != nil {
			if !errors.Is(err, etcd.ErrMalformedResponse) {
				t.Fatalf("member list error not ErrMalformedResponse: %v", err)
			}
		} else {
			st.List = &l
		}
		s, err := etcd.DecodeStatus(statusBody)
		if err != nil && !errors.Is(err, etcd.ErrMalformedResponse) {
			t.Fatalf("status error not ErrMalformedResponse: %v", err)
		}
		if st.List != nil {
			for i, m := range st.List.Members {
				ep := etcd.Endpoint{MemberID: m.ID}
				if err == nil && answered&(1<<(i%7)) != 0 {
					c := s
					c.MemberID = m.ID
					ep.Status = &c
				}
				st.Endpoints = append(st.Endpoints, ep)
			}
		}
		ad := &etcd.Adapter{}
		out := ad.Merge(pods(3), st)
		if st.List == nil {
			if out.Raft.Known || upgrade.CheckView(&out) == nil {
				t.Fatalf("view %+v without a member list", out.Raft)
			}
			for _, m := range out.Members {
				if !m.Raft.Unknown || m.Raft.Healthy {
					t.Fatalf("%s %+v without a member list", m.Name, m.Raft)
				}
			}
			return
		}
		seen := map[string]int{}
		for _, m := range out.Members {
			if m.Raft.Present {
				seen[m.Raft.ID]++
			}
			if (m.Raft.Unknown || !m.Raft.Present) && (m.Raft.Healthy || m.Raft.Leader) {
				t.Fatalf("%s healthy or leading but unknown or absent: %+v", m.Name, m.Raft)
			}
		}
		answeredIDs := map[string]*etcd.Status{}
		for _, ep := range st.Endpoints {
			answeredIDs[etcd.FormatID(ep.MemberID)] = ep.Status
		}
		for _, m := range st.List.Members {
			if seen[etcd.FormatID(m.ID)] != 1 {
				t.Fatalf("member %x on %d observed members", m.ID, seen[etcd.FormatID(m.ID)])
			}
		}
		for _, m := range out.Members {
			if m.Raft.Present && answeredIDs[m.Raft.ID] == nil && !m.Raft.Unknown {
				t.Fatalf("%s known without a status: %+v", m.Name, m.Raft)
			}
		}
		if id := out.Raft.LeaderID; id != "" {
			ls := answeredIDs[id]
			if ls == nil || etcd.FormatID(ls.Leader) != id || !st.Linearizable || out.Raft.LeaderUnknown {
				t.Fatalf("leader %s without its own claim: %+v", id, out.Raft)
			}
		}
		if out.Raft.FailureTolerance < 0 {
			t.Fatalf("negative failure tolerance %d", out.Raft.FailureTolerance)
		}
	})
}
