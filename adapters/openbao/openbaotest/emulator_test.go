package openbaotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openbao/openbao/api/v2"

	"github.com/raftshift/raftshift/adapters/openbao"
	"github.com/raftshift/raftshift/adapters/openbao/openbaotest"
	"github.com/raftshift/raftshift/fake"
	"github.com/raftshift/raftshift/upgrade"
)

// setup is a three-voter cluster whose readiness needs membership, its
// emulator and an adapter over it.
func setup(t *testing.T, opts openbaotest.Options, mode openbao.JoinMode) (*openbaotest.Emulator, *openbao.Adapter) {
	t.Helper()
	c := fake.New(fake.Config{Seed: 3, Readiness: fake.ReadyWhenMember, MembershipDelayTicks: 10})
	em := openbaotest.New(c, opts)
	t.Cleanup(em.Close)
	active, err := em.ActiveClient()
	if err != nil {
		t.Fatal(err)
	}
	return em, &openbao.Adapter{Active: active, Clients: em.Client, JoinMode: mode}
}

// createGreen adds workload green with n pods and runs the cluster until
// they run (PodStartTicks is 5).
func createGreen(t *testing.T, em *openbaotest.Emulator, n int32) {
	t.Helper()
	if _, err := em.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: n}}); err != nil {
		t.Fatal(err)
	}
	em.Run(5)
}

func client(t *testing.T, em *openbaotest.Emulator, member string) *api.Client {
	t.Helper()
	c, err := em.Client(upgrade.Member{Name: member})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// status is the HTTP status of a plain GET of addr+path (0: no response).
func status(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get(addr + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// member is a member of the cluster's truth.
func member(em *openbaotest.Emulator, name string) (upgrade.Member, bool) {
	truth := em.Truth()
	return truth.Member(name)
}

// serverSays reports whether err is an HTTP error with that status whose
// messages contain msg.
func serverSays(err error, code int, msg string) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == code && strings.Contains(strings.Join(re.Errors, " "), msg)
}

func TestHealthCodes(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{}, openbao.JoinAPI)
	if _, err := em.Apply([]upgrade.Action{upgrade.CreateRevision{Workload: "green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 2}}); err != nil {
		t.Fatal(err)
	}
	em.Tick()
	// green-0 starting: its process does not run yet, nothing answers.
	if got := status(t, em.URL("green-0"), "/v1/sys/health"); got != 0 {
		t.Errorf("starting pod answered %d, want no response", got)
	}
	em.Run(4)
	if err := em.Seal("bao-2", true); err != nil {
		t.Fatal(err)
	}
	for member, want := range map[string]int{"bao-0": 200, "bao-1": 429, "bao-2": 503, "green-0": 501, "nope": 0} {
		if got := status(t, em.URL(member), "/v1/sys/health"); got != want {
			t.Errorf("%s: sys/health %d, want %d", member, got, want)
		}
	}
	// OpenBao's overrides: the client sets every code to 299.
	h, err := client(t, em, "green-0").Sys().Health()
	if err != nil || h.Initialized || !h.Sealed || h.Version != "2.4.0" {
		t.Errorf("uninitialized green-0: %+v, %v", h, err)
	}
	if got := status(t, em.URL("bao-1"), "/v1/sys/health?standbyok=true"); got != 200 {
		t.Errorf("standbyok: %d, want 200", got)
	}
	// Sealed and uninitialized servers answer nothing else.
	_, err = client(t, em, "bao-2").Logical().Read(openbao.PathConfiguration)
	if !serverSays(err, 503, openbaotest.MsgSealed) {
		t.Errorf("sealed bao-2 configuration: %v", err)
	}
	if err := em.Seal("bao-2", false); err != nil {
		t.Fatal(err)
	}

	// The adapter: a refused call is a transport error, the rest are read.
	k8s := em.KubernetesObservation()
	st, err := ad.Read(context.Background(), k8s.Members)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	for name, want := range map[string]openbao.MemberHealth{
		"bao-0":   {Reachable: true, Initialized: true, Version: "2.3.0"},
		"bao-1":   {Reachable: true, Initialized: true, Standby: true, Version: "2.3.0"},
		"green-0": {Reachable: true, Sealed: true, Standby: true, Version: "2.4.0"},
	} {
		if got := st.Health[name]; got != want {
			t.Errorf("%s health %+v, want %+v", name, got, want)
		}
	}
}

func TestActiveEndpointAndStandbysWithoutLeader(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{}, openbao.JoinSelf)
	ctx := context.Background()
	li, err := client(t, em, "bao-1").Sys().Leader()
	if err != nil || li.IsSelf || li.LeaderAddress != em.URL("bao-0") {
		t.Fatalf("standby sys/leader: %+v, %v", li, err)
	}
	obs := em.KubernetesObservation()
	if err := ad.Execute(ctx, &obs, upgrade.StepDown{Member: "bao-0", ID: "bao-0"}); err != nil {
		t.Fatalf("step-down: %v", err)
	}
	if truth := em.Truth(); truth.Raft.LeaderID != "" {
		t.Fatal("still a leader after step-down")
	}
	// No leader: the active service has no endpoint; standbys cannot
	// forward; their sys/leader still names the last leader.
	if got := status(t, em.URL("bao-1"), "/v1/sys/health"); got != 429 {
		t.Errorf("standby health without leader: %d, want 429", got)
	}
	active, _ := em.ActiveClient()
	if _, err := active.Sys().Leader(); err == nil || errors.As(err, new(*api.ResponseError)) {
		t.Errorf("active endpoint without leader: %v, want a transport error", err)
	}
	_, err = client(t, em, "bao-1").Logical().Read(openbao.PathAutopilot)
	if !serverSays(err, 500, openbaotest.MsgNoActive) {
		t.Errorf("standby autopilot without leader: %v", err)
	}
	if li, err := client(t, em, "bao-2").Sys().Leader(); err != nil || li.IsSelf || li.LeaderAddress != em.URL("bao-0") {
		t.Errorf("stale sys/leader: %+v, %v", li, err)
	}
	_, err = ad.Read(ctx, obs.Members)
	if !errors.Is(err, openbao.ErrViewUnknown) {
		t.Errorf("read without leader: %v, want ErrViewUnknown", err)
	}
	for range 10 {
		em.Tick()
		if truth := em.Truth(); truth.Raft.LeaderID != "" {
			break
		}
	}
	st, err := ad.Read(ctx, obs.Members)
	if err != nil || st.Leader == nil || !st.Leader.IsSelf || st.Autopilot == nil {
		t.Fatalf("read after the election: %+v, %v", st, err)
	}
}

// TestReadMatchesTruth checks the configuration and autopilot shapes: what
// the adapter merges from the emulated API is the cluster's truth.
func TestReadMatchesTruth(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{SelfJoin: true}, openbao.JoinSelf)
	createGreen(t, em, 2)
	em.Run(20)
	obs, err := ad.Observe(context.Background(), em.KubernetesObservation())
	if err != nil {
		t.Fatal(err)
	}
	truth := em.Truth()
	if obs.Raft.LeaderID != "bao-0" || obs.Raft.LeaderUnknown || obs.Raft.FailureTolerance != truth.Raft.FailureTolerance ||
		obs.Raft.CommitIndex != truth.Raft.CommitIndex || obs.Raft.Term != truth.Raft.Term || !obs.Raft.AutopilotHealthy {
		t.Errorf("raft view %+v, truth %+v", obs.Raft, truth.Raft)
	}
	if len(obs.Members) != len(truth.Members) {
		t.Fatalf("%d members, truth has %d", len(obs.Members), len(truth.Members))
	}
	for i, m := range obs.Members {
		want := truth.Members[i].Raft
		if m.Raft.Leader {
			want.LastContact = 0
		}
		if m.Raft != want {
			t.Errorf("%s raft\n got %+v\nwant %+v", m.Name, m.Raft, want)
		}
	}
	if obs.Capabilities != ad.Capabilities() {
		t.Errorf("capabilities %+v", obs.Capabilities)
	}
}

func TestSelfJoin(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{SelfJoin: true, SelfJoinDelay: 3}, openbao.JoinSelf)
	createGreen(t, em, 2) // running from tick 5
	em.Run(2)
	ctx := context.Background()
	obs := em.KubernetesObservation()
	err := ad.Execute(ctx, &obs, upgrade.JoinNonvoter{Member: "green-0", ID: "green-0"})
	if !errors.Is(err, openbao.ErrNotJoined) {
		t.Fatalf("join before the self-join: %v, want ErrNotJoined", err)
	}
	em.Tick() // tick 8: three ticks after the process started
	if got := em.SelfJoined(); !slices.Equal(got, []string{"green-0", "green-1"}) {
		t.Fatalf("self-joined %v", got)
	}
	if err := ad.Execute(ctx, &obs, upgrade.JoinNonvoter{Member: "green-0", ID: "green-0"}); err != nil {
		t.Errorf("join after the self-join: %v", err)
	}
	if !em.Permanent("green-0") || em.Permanent("bao-1") {
		t.Error("green-0 should be marked a permanent non-voter, bao-1 not")
	}
	st, err := ad.Read(ctx, obs.Members)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Autopilot.Servers["green-0"]; s.NodeType != "non-voter" || s.Status != openbao.StatusNonVoter {
		t.Errorf("autopilot green-0: %+v", s)
	}
	em.Run(40)
	for _, m := range em.Truth().Members {
		if m.Workload == "green" && m.Raft.Suffrage != upgrade.Nonvoter {
			t.Errorf("%s is %q, want a non-voter: the emulator never promotes by itself", m.Name, m.Raft.Suffrage)
		}
	}
	if em.Requests()["green-0 POST /v1/"+openbao.PathJoin] != 0 {
		t.Error("self-join sent a join call")
	}
	// Removed, green-1 does not join again: its storage is initialized.
	if err := ad.Execute(ctx, &obs, upgrade.RemovePeer{Member: "green-1", ID: "green-1"}); err != nil {
		t.Fatal(err)
	}
	em.Run(10)
	if m, _ := member(em, "green-1"); m.Raft.Present {
		t.Error("green-1 joined again after its removal")
	}
}

func TestMembershipAnswers(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{SelfJoin: true}, openbao.JoinSelf)
	createGreen(t, em, 1)
	em.Run(3)
	ctx := context.Background()
	active, _ := em.ActiveClient()
	write := func(path, id string) error {
		_, err := active.Logical().Write(path, map[string]any{"server_id": id})
		return err
	}
	if err := write(openbao.PathPromote, "green-0"); err != nil {
		t.Fatalf("promote: %v", err)
	}
	if err := write(openbao.PathPromote, "green-0"); !serverSays(err, 500, openbaotest.MsgNotNonVoter) {
		t.Errorf("promote re-issued: %v", err)
	}
	if err := write(openbao.PathDemote, "bao-2"); err != nil {
		t.Fatalf("demote: %v", err)
	}
	if err := write(openbao.PathDemote, "bao-2"); !serverSays(err, 500, openbaotest.MsgAlreadyNonVoter) {
		t.Errorf("demote re-issued: %v", err)
	}
	if err := write(openbao.PathPromote, "nobody"); !serverSays(err, 500, "not found") {
		t.Errorf("promote of an unknown server: %v", err)
	}
	if err := write(openbao.PathRemovePeer, "nobody"); err != nil {
		t.Errorf("remove-peer of an unknown server: %v", err)
	}
	// The adapter treats both re-issue answers as success.
	obs := em.KubernetesObservation()
	for _, a := range []upgrade.Action{upgrade.Promote{Member: "green-0", ID: "green-0"}, upgrade.Demote{Member: "bao-2", ID: "bao-2"}} {
		if err := ad.Execute(ctx, &obs, a); err != nil {
			t.Errorf("%s re-issued through the adapter: %v", a, err)
		}
	}
	// Marked only: applied at autopilot's next reconcile.
	if m, _ := member(em, "green-0"); m.Raft.Suffrage != upgrade.Nonvoter {
		t.Errorf("green-0 promoted before the reconcile")
	}
	// Both are due at the reconcile ten ticks on; the voter set changes one
	// server at a time, so the second applies once the first has committed.
	em.Run(12)
	truth := em.Truth()
	if m, _ := truth.Member("green-0"); m.Raft.Suffrage != upgrade.Voter {
		t.Errorf("green-0 not promoted at the reconcile")
	}
	if m, _ := truth.Member("bao-2"); m.Raft.Suffrage != upgrade.Nonvoter {
		t.Errorf("bao-2 not demoted at the reconcile")
	}
	if got := status(t, em.ActiveURL(), "/v1/sys/storage/raft/snapshot"); got != 404 {
		t.Errorf("unsupported path: %d, want 404", got)
	}
}

func TestAPIJoin(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{}, openbao.JoinAPI)
	createGreen(t, em, 1)
	ctx := context.Background()
	obs := em.KubernetesObservation()
	green, _ := obs.Member("green-0")
	_, err := client(t, em, "green-0").Sys().RaftJoin(&api.RaftJoinRequest{LeaderAPIAddr: "http://127.0.0.1:1"})
	if !serverSays(err, 500, "failed to join raft cluster") {
		t.Errorf("join through an unknown leader: %v", err)
	}
	if err := ad.Execute(ctx, &obs, upgrade.JoinNonvoter{Member: green.Name, ID: green.Name}); err != nil {
		t.Fatalf("API join: %v", err)
	}
	if m, _ := member(em, "green-0"); !m.Raft.Present || m.Raft.Suffrage != upgrade.Nonvoter {
		t.Fatalf("green-0 after the join: %+v", m.Raft)
	}
	if em.Permanent("green-0") {
		t.Error("an API join must not mark a permanent non-voter (OpenBao 2.6 drops the flag)")
	}
	if em.Requests()["green-0 POST /v1/"+openbao.PathJoin] != 2 { // the failed one and the adapter's
		t.Errorf("requests: %v", em.Requests())
	}
	if got := status(t, em.URL("green-0"), "/v1/sys/health"); got != 429 {
		t.Errorf("joined green-0 health %d, want 429", got)
	}
}

// TestDeterministic runs the same calls against two emulators of the same
// seed: the adapter reads identical states.
func TestDeterministic(t *testing.T) {
	read := func() []string {
		em, ad := setup(t, openbaotest.Options{SelfJoin: true}, openbao.JoinSelf)
		createGreen(t, em, 3)
		var out []string
		for range 30 {
			st, err := ad.Read(context.Background(), em.KubernetesObservation().Members)
			if err != nil {
				t.Fatal(err)
			}
			// Addresses and transport errors name the servers' random ports.
			st.Errors = nil
			if st.Leader != nil {
				st.Leader.LeaderAddress = ""
			}
			raw, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(raw))
			em.Tick()
		}
		return out
	}
	a, b := read(), read()
	if !slices.Equal(a, b) {
		t.Error("two runs of the same seed read different states")
	}
}

// TestConcurrentUse reads through the API from several goroutines while the
// cluster ticks (run with -race).
func TestConcurrentUse(t *testing.T) {
	em, ad := setup(t, openbaotest.Options{SelfJoin: true}, openbao.JoinSelf)
	createGreen(t, em, 2)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				_, _ = ad.Observe(context.Background(), em.KubernetesObservation())
			}
		})
	}
	for range 20 {
		em.Tick()
	}
	wg.Wait()
	if len(em.SelfJoined()) != 2 {
		t.Errorf("self-joined %v", em.SelfJoined())
	}
}
