package openbao_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/upgrade"
)

func decodedFixtures(t testing.TB) (openbao.Configuration, openbao.AutopilotState) {
	t.Helper()
	cfg, err := openbao.DecodeConfiguration(fixture(t, "raft_configuration.json"))
	if err != nil {
		t.Fatal(err)
	}
	ap, err := openbao.DecodeAutopilotState(fixture(t, "autopilot_healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, ap
}

func TestDecodeFixtures(t *testing.T) {
	cfg, ap := decodedFixtures(t)
	wantCfg := openbao.Configuration{Servers: []openbao.Server{
		{NodeID: "bao-0", Address: "bao-0.bao-internal:8201", Leader: true, Voter: true, ProtocolVersion: "3"},
		{NodeID: "bao-1", Address: "bao-1.bao-internal:8201", Voter: true, ProtocolVersion: "3"},
		{NodeID: "bao-2", Address: "bao-2.bao-internal:8201", Voter: true, ProtocolVersion: "3"},
		{NodeID: "bao-3", Address: "bao-3.bao-internal:8201", Voter: false, ProtocolVersion: "3"},
	}}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("configuration = %+v", cfg)
	}
	if !ap.Healthy || ap.FailureTolerance != 1 || ap.Leader != "bao-0" ||
		!reflect.DeepEqual(ap.Voters, []string{"bao-0", "bao-1", "bao-2"}) ||
		!reflect.DeepEqual(ap.NonVoters, []string{"bao-3"}) || len(ap.Servers) != 4 {
		t.Errorf("autopilot = %+v", ap)
	}
	for id, want := range map[string]struct {
		suffrage upgrade.Suffrage
		leader   bool
		contact  time.Duration
	}{
		"bao-0": {upgrade.Voter, true, 0},
		"bao-1": {upgrade.Voter, false, 1500 * time.Millisecond},
		"bao-2": {upgrade.Voter, false, 312451 * time.Microsecond},
		"bao-3": {upgrade.Nonvoter, false, 850 * time.Millisecond},
	} {
		s := ap.Servers[id]
		got, ok := s.Suffrage()
		if !ok || got != want.suffrage || s.IsLeader() != want.leader || s.LastContact != want.contact || !s.LastContactKnown {
			t.Errorf("%s: suffrage %v/%v leader %v contact %v", id, got, ok, s.IsLeader(), s.LastContact)
		}
	}
}

func TestAutopilotServerSuffrage(t *testing.T) {
	for _, tc := range []struct {
		status, nodeType string
		want             upgrade.Suffrage
		ok               bool
	}{
		{"leader", "voter", upgrade.Voter, true},
		{"voter", "voter", upgrade.Voter, true},
		{"non-voter", "", upgrade.Nonvoter, true},
		{"non-voter", "voter", upgrade.Nonvoter, true}, // awaiting promotion: not a voter yet
		{"staging", "voter", upgrade.Nonvoter, true},
		{"none", "voter", "", false},
		{"", "voter", upgrade.Voter, true},
		{"", "non-voter", upgrade.Nonvoter, true},
		{"", "", "", false},
		{"bogus", "voter", "", false},
	} {
		got, ok := openbao.AutopilotServer{Status: tc.status, NodeType: tc.nodeType}.Suffrage()
		if got != tc.want || ok != tc.ok {
			t.Errorf("Suffrage(%q,%q) = %q,%v want %q,%v", tc.status, tc.nodeType, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseLastContactForms(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		want  time.Duration
		ok    bool
		known bool
	}{
		{`"1.5s"`, 1500 * time.Millisecond, true, true},
		{`"0s"`, 0, true, true},
		{`"1m2.25s"`, 62250 * time.Millisecond, true, true},
		{`"10"`, 10 * time.Second, true, true}, // plain seconds, as parseutil accepts
		{`1500000000`, 1500 * time.Millisecond, true, true},
		{`0`, 0, true, true},
		{`null`, 0, true, false},
		{`""`, 0, true, false},
		{`"soon"`, 0, false, false},
		{`"-1s"`, 0, false, false},
		{`-1`, 0, false, false},
		{`"1e300"`, 0, false, false},
		{`true`, 0, false, false},
	} {
		body := fmt.Sprintf(`{"data":{"healthy":true,"failure_tolerance":0,"leader":"a","servers":{"a":{"id":"a","status":"leader","last_contact":%s}}}}`, tc.raw)
		ap, err := openbao.DecodeAutopilotState([]byte(body))
		if (err == nil) != tc.ok {
			t.Errorf("last_contact %s: err = %v, want ok=%v", tc.raw, err, tc.ok)
			continue
		}
		if s := ap.Servers["a"]; tc.ok && (s.LastContact != tc.want || s.LastContactKnown != tc.known) {
			t.Errorf("last_contact %s = %v known %v, want %v known %v", tc.raw, s.LastContact, s.LastContactKnown, tc.want, tc.known)
		}
	}
	// A server without the field at all has no known contact.
	ap, err := openbao.DecodeAutopilotState([]byte(`{"data":{"servers":{"a":{"status":"voter"}}}}`))
	if err != nil || ap.Servers["a"].LastContact != 0 || ap.Servers["a"].LastContactKnown || ap.Servers["a"].ID != "a" {
		t.Errorf("absent fields: %+v %v", ap, err)
	}
}

func TestMergeNilState(t *testing.T) {
	in := k8sObservation(3)
	in.Members[1].Raft = upgrade.MemberRaft{ID: "stale", Address: "bao-1.bao-internal:8201", Present: true, Healthy: true, Leader: true}
	in.Raft = upgrade.RaftView{Known: true, LeaderID: "bao-1", FailureTolerance: 1}
	out := openbao.Merge(in, nil, nil)
	if out.Raft != (upgrade.RaftView{}) {
		t.Errorf("view = %+v, want unknown", out.Raft)
	}
	for i, m := range out.Members {
		want := upgrade.MemberRaft{Unknown: true, ID: m.Name}
		if i == 1 {
			want.Address = "bao-1.bao-internal:8201"
		}
		if m.Raft != want {
			t.Errorf("%s Raft = %+v, want %+v", m.Name, m.Raft, want)
		}
	}
	if g := upgrade.CheckView(&out); g == nil || g.Reason != upgrade.ReasonRaftViewUnknown {
		t.Errorf("CheckView = %+v", g)
	}
	// A state without a configuration is no better than none.
	_, ap := decodedFixtures(t)
	if got := openbao.Merge(in, &openbao.State{Autopilot: &ap}, nil); !reflect.DeepEqual(got, out) {
		t.Errorf("autopilot without configuration: %+v", got.Raft)
	}
	if in.Members[1].Raft.ID != "stale" {
		t.Error("Merge mutated its input")
	}
	if _, ok := out.Leader(); ok {
		t.Error("leader known without a raft view")
	}
}

func TestMergeLeaderDisagreement(t *testing.T) {
	cfg, ap := decodedFixtures(t)
	ap.Leader = "bao-1"
	out := openbao.Merge(k8sObservation(4), &openbao.State{Configuration: &cfg, Autopilot: &ap}, nil)
	if out.Raft.LeaderID != "" || out.Raft.Term != 0 {
		t.Errorf("contradictory leaders: view = %+v, want no leader", out.Raft)
	}
	for _, m := range out.Members {
		if m.Raft.Leader {
			t.Errorf("%s flagged leader", m.Name)
		}
	}
	// The configuration alone, without autopilot's opinion, names bao-0.
	ap.Leader = ""
	out = openbao.Merge(k8sObservation(4), &openbao.State{Configuration: &cfg, Autopilot: &ap}, nil)
	if out.Raft.LeaderID != "bao-0" {
		t.Errorf("LeaderID = %q", out.Raft.LeaderID)
	}
	// Two servers flagged leader: no leader.
	two := cfg
	two.Servers = append([]openbao.Server(nil), cfg.Servers...)
	two.Servers[1].Leader = true
	out = openbao.Merge(k8sObservation(4), &openbao.State{Configuration: &two}, nil)
	if out.Raft.LeaderID != "" {
		t.Errorf("two leaders: LeaderID = %q", out.Raft.LeaderID)
	}
}

func TestMergeSealedMemberIsUnhealthy(t *testing.T) {
	cfg, ap := decodedFixtures(t)
	st := &openbao.State{Configuration: &cfg, Autopilot: &ap, Health: map[string]openbao.MemberHealth{
		"bao-1": {Reachable: true, Initialized: true, Sealed: true, Standby: true},
		"bao-2": {Error: "connection refused"},
	}}
	out := openbao.Merge(k8sObservation(4), st, nil)
	for name, want := range map[string]bool{"bao-0": true, "bao-1": false, "bao-2": false, "bao-3": true} {
		m, _ := out.Member(name)
		if m.Raft.Healthy != want {
			t.Errorf("%s healthy = %v, want %v", name, m.Raft.Healthy, want)
		}
	}
}

func TestMergeDuplicateNodeIDs(t *testing.T) {
	cfg, _ := decodedFixtures(t)
	in := k8sObservation(2)
	same := func(upgrade.Member) string { return "bao-0" }
	out := openbao.Merge(in, &openbao.State{Configuration: &cfg}, same)
	if !out.Members[0].Raft.Present || out.Members[1].Raft.Present {
		t.Errorf("duplicate mapping: %+v / %+v", out.Members[0].Raft, out.Members[1].Raft)
	}
	// bao-1..3 match nobody and are appended by node ID.
	var names []string
	for _, m := range out.Members[2:] {
		names = append(names, m.Name)
	}
	if !reflect.DeepEqual(names, []string{"bao-1", "bao-2", "bao-3"}) {
		t.Errorf("appended = %v", names)
	}
}

// genState draws a random but well-formed State over node IDs n0..n7.
func genState(t *rapid.T) *openbao.State {
	pool := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"}
	st := &openbao.State{}
	if rapid.Bool().Draw(t, "hasConfig") {
		ids := rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 0, len(pool), rapid.ID[string]).Draw(t, "servers")
		cfg := openbao.Configuration{}
		leader := rapid.IntRange(-1, len(ids)).Draw(t, "leader")
		for i, id := range ids {
			cfg.Servers = append(cfg.Servers, openbao.Server{
				NodeID: id, Address: id + ":8201", Voter: i == leader || rapid.Bool().Draw(t, "voter"), Leader: i == leader,
			})
		}
		st.Configuration = &cfg
	}
	if rapid.Bool().Draw(t, "hasAutopilot") {
		ap := openbao.AutopilotState{
			Healthy:          rapid.Bool().Draw(t, "apHealthy"),
			FailureTolerance: rapid.IntRange(0, 3).Draw(t, "ft"),
			Leader:           rapid.SampledFrom(append([]string{""}, pool...)).Draw(t, "apLeader"),
			Servers:          map[string]openbao.AutopilotServer{},
		}
		ids := rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 0, len(pool), rapid.ID[string]).Draw(t, "apServers")
		for _, id := range ids {
			ap.Servers[id] = openbao.AutopilotServer{
				ID: id, Address: id + ":8201", Healthy: rapid.Bool().Draw(t, "h"),
				Status:      rapid.SampledFrom([]string{"leader", "voter", "non-voter", "staging", "none", ""}).Draw(t, "status"),
				NodeType:    rapid.SampledFrom([]string{"voter", "", "non-voter"}).Draw(t, "nodeType"),
				LastIndex:   rapid.Uint64Range(0, 1000).Draw(t, "idx"),
				LastTerm:    rapid.Uint64Range(0, 9).Draw(t, "term"),
				LastContact: time.Duration(rapid.Int64Range(0, int64(time.Minute)).Draw(t, "contact")),
				// Mostly known, as OpenBao always sends it.
				LastContactKnown: rapid.IntRange(0, 3).Draw(t, "contactKnown") > 0,
			}
		}
		st.Autopilot = &ap
	}
	if rapid.Bool().Draw(t, "hasHealth") {
		st.Health = map[string]openbao.MemberHealth{}
		for _, id := range rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 0, len(pool), rapid.ID[string]).Draw(t, "health") {
			st.Health[id] = openbao.MemberHealth{
				Reachable: rapid.Bool().Draw(t, "reach"), Initialized: rapid.Bool().Draw(t, "init"), Sealed: rapid.Bool().Draw(t, "sealed"),
			}
		}
	}
	return st
}

// TestMergeProperties: Merge is deterministic, never mutates its inputs,
// places every configured server on exactly one member, preserves the
// voter count and the input members, never invents health, and reports
// unknown whatever it could not read.
func TestMergeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		st := genState(t)
		names := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "x"}),
			0, 9, rapid.ID[string]).Draw(t, "members")
		in := upgrade.Observation{Now: testNow}
		for i, n := range names {
			in.Members = append(in.Members, upgrade.Member{Name: n, Workload: "w", Ordinal: int32(i),
				Pod: upgrade.PodStatus{Exists: true, Ready: true}})
		}
		inCopy := in.DeepCopy()
		stCopy := deepCopyState(st)

		out := openbao.Merge(in, st, nil)
		again := openbao.Merge(in, st, nil)
		if !reflect.DeepEqual(out, again) {
			t.Fatalf("Merge not deterministic")
		}
		if !reflect.DeepEqual(&in, inCopy) || !reflect.DeepEqual(st, stCopy) {
			t.Fatalf("Merge mutated its inputs")
		}
		if out.Capabilities != openbao.Capabilities() {
			t.Fatalf("capabilities %+v", out.Capabilities)
		}
		for i, m := range in.Members {
			pod := m.Pod
			if h, ok := st.Health[m.Name]; ok && h.Reachable {
				pod.Running = true
			}
			if out.Members[i].Name != m.Name || out.Members[i].Pod != pod {
				t.Fatalf("member %d changed: %+v", i, out.Members[i])
			}
		}
		present := map[string]int{}
		leaders := 0
		for _, m := range out.Members {
			if m.Raft.Present {
				present[m.Raft.ID]++
			}
			if m.Raft.Healthy && (!m.Raft.Present || m.Raft.Unknown) {
				t.Fatalf("%s healthy but not in the configuration or unknown: %+v", m.Name, m.Raft)
			}
			if m.Raft.Present && !m.Raft.Unknown {
				// Known stats come from an autopilot entry with a contact
				// (or the leader's).
				a, ok := st.Autopilot.Servers[m.Raft.ID]
				if !ok || a.Status == "none" || (!a.LastContactKnown && !m.Raft.Leader && !a.IsLeader()) {
					t.Fatalf("%s known without autopilot stats: %+v", m.Name, m.Raft)
				}
			}
			if m.Raft.Leader {
				leaders++
				if m.Raft.ID != out.Raft.LeaderID {
					t.Fatalf("%s flagged leader, view says %q", m.Name, out.Raft.LeaderID)
				}
			}
		}
		if leaders > 1 {
			t.Fatalf("%d leaders", leaders)
		}
		if out.Raft.FailureTolerance < 0 {
			t.Fatalf("negative failure tolerance")
		}
		if st.Configuration == nil {
			if out.Raft != (upgrade.RaftView{}) {
				t.Fatalf("view %+v without a configuration", out.Raft)
			}
			for _, m := range out.Members {
				if !m.Raft.Unknown || m.Raft.Present {
					t.Fatalf("%s = %+v without a configuration", m.Name, m.Raft)
				}
			}
		}
		if st.Configuration != nil {
			if !out.Raft.Known {
				t.Fatalf("view unknown with a configuration")
			}
			voters := 0
			for _, s := range st.Configuration.Servers {
				if present[s.NodeID] != 1 {
					t.Fatalf("server %s on %d members", s.NodeID, present[s.NodeID])
				}
				if s.Voter {
					voters++
				}
			}
			if len(present) != len(st.Configuration.Servers) {
				t.Fatalf("%d present members for %d servers", len(present), len(st.Configuration.Servers))
			}
			if got := len(out.Voters()); got != voters {
				t.Fatalf("voters %d, configuration has %d", got, voters)
			}
		}
		if st.Autopilot == nil && out.Raft.Known {
			if out.Raft.FailureTolerance != 0 || out.Raft.AutopilotHealthy {
				t.Fatalf("view without autopilot claims %+v", out.Raft)
			}
			for _, m := range out.Members {
				if m.Raft.Present && !m.Raft.Unknown {
					t.Fatalf("%s known without autopilot", m.Name)
				}
			}
		}
		if upgrade.CheckView(&out) == nil && (st.Configuration == nil || st.Autopilot == nil) {
			for _, m := range out.Members {
				if m.Raft.Present {
					t.Fatalf("complete view from a partial state")
				}
			}
		}
	})
}

func deepCopyState(st *openbao.State) *openbao.State {
	if st == nil {
		return nil
	}
	c := *st
	if st.Configuration != nil {
		cfg := *st.Configuration
		cfg.Servers = append([]openbao.Server(nil), cfg.Servers...)
		c.Configuration = &cfg
	}
	if st.Autopilot != nil {
		ap := *st.Autopilot
		ap.Servers = map[string]openbao.AutopilotServer{}
		for k, v := range st.Autopilot.Servers {
			ap.Servers[k] = v
		}
		c.Autopilot = &ap
	}
	if st.Health != nil {
		c.Health = map[string]openbao.MemberHealth{}
		for k, v := range st.Health {
			c.Health[k] = v
		}
	}
	return &c
}

// seedFixtures adds every testdata JSON file to a fuzz corpus.
func seedFixtures(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"data":{"config":{"servers":[{"node_id":"a","voter":true,"leader":true}]},"healthy":true,"leader":"a","servers":{"a":{"status":"leader","last_contact":"1.5s","stable_since":"2026-11-25T07:40:12Z"}}}}`))
	f.Add([]byte(`{"data":{"servers":{"a":{"last_contact":1e400}}}}`))
	f.Add([]byte(`{"data":{"servers":{"a":null}}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
}
