package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/upgrade"
)

// evictionRequest is the admission request the API server sends for
// POST pods/<pod>/eviction.
func evictionRequest(pod string, dryRun bool) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:         types.UID("req-" + pod),
		Kind:        metav1.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"},
		Resource:    metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		SubResource: "eviction",
		Name:        pod,
		Namespace:   testNS,
		Operation:   admissionv1.Create,
		DryRun:      ptr.To(dryRun),
	}}
}

func (c *cluster) evictionHandler() *EvictionHandler {
	return &EvictionHandler{
		Client: c.base,
		Raft:   func(context.Context, *v1alpha1.RaftUpgrade) (RaftCluster, error) { return c.raft, nil },
		Clock:  c.clock.Now,
	}
}

// refused checks that resp is a 429 with Retry-After whose message says
// want.
func refused(t *testing.T, resp admission.Response, want string) {
	t.Helper()
	r := resp.Result
	if resp.Allowed || r == nil || r.Code != http.StatusTooManyRequests || r.Reason != metav1.StatusReasonTooManyRequests ||
		r.Details == nil || r.Details.RetryAfterSeconds != 5 {
		t.Fatalf("response %+v (result %+v), want a 429 with Retry-After 5", resp.AdmissionResponse, r)
	}
	if !strings.Contains(r.Message, want) {
		t.Fatalf("message %q, want it to say %q", r.Message, want)
	}
}

func allowed(t *testing.T, resp admission.Response) {
	t.Helper()
	if !resp.Allowed {
		t.Fatalf("refused: %+v", resp.Result)
	}
}

func newEvictionCluster(t *testing.T, targeted bool) *cluster {
	ru := raftUpgrade("upgrade", "2.4.1", upgrade.StrategyRolling)
	ru.Status.CurrentVersion, ru.Status.CurrentImage = "2.4.1", image("2.4.1")
	return newCluster(t, "2.4.1", 3, "bao-0", targeted, ru)
}

func TestEvictionOneVoterAtATime(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	ctx := context.Background()
	allowed(t, h.Handle(ctx, evictionRequest("bao-2", false)))
	// bao-2's eviction is under way (its pod still runs): a second voter
	// waits, even though the observation still shows three healthy voters.
	refused(t, h.Handle(ctx, evictionRequest("bao-1", false)), "eviction of voter bao-2 is under way")
	// The same pod again is fine (a retried request).
	allowed(t, h.Handle(ctx, evictionRequest("bao-2", false)))
	// The pod goes: the observation shows a voter down, S2 holds bao-1.
	p := c.pods("bao")[2]
	if err := c.base.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	refused(t, h.Handle(ctx, evictionRequest("bao-1", false)), "not healthy and caught up")
	// Recreated and caught up: the next one may go.
	c.settle()
	c.settle()
	c.clock.Advance(time.Minute)
	allowed(t, h.Handle(ctx, evictionRequest("bao-1", false)))
}

func TestEvictionOfTheLeaderMovesLeadershipFirst(t *testing.T) {
	for _, targeted := range []bool{true, false} {
		c := newEvictionCluster(t, targeted)
		rec := events.NewFakeRecorder(10)
		h := c.evictionHandler()
		h.Recorder = rec
		ctx := context.Background()
		// A dry run moves nothing.
		refused(t, h.Handle(ctx, evictionRequest("bao-0", true)), "leadership would move")
		if c.raft.leader != "bao-0" {
			t.Fatalf("a dry run moved leadership to %s", c.raft.leader)
		}
		refused(t, h.Handle(ctx, evictionRequest("bao-0", false)), "leadership is moving")
		if c.raft.leader == "bao-0" || c.raft.moves != 1 {
			t.Fatalf("targeted=%v: leader %s after %d moves, want it moved once", targeted, c.raft.leader, c.raft.moves)
		}
		want := "raft StepDown bao-0"
		if targeted {
			want = "raft TransferLeadership bao-0->"
		}
		if !slices.ContainsFunc(c.log, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Fatalf("targeted=%v: raft log %v, want %s", targeted, c.log, want)
		}
		if ev := drain(rec); len(ev) != 1 || !strings.Contains(ev[0], ReasonEvictionLeaderMoved) {
			t.Fatalf("events %v", ev)
		}
		// The drain retries: bao-0 follows now and may go.
		allowed(t, h.Handle(ctx, evictionRequest("bao-0", false)))
	}
}

func TestEvictionLeaderNeverFailsBackToAnOlderVersion(t *testing.T) {
	c := newEvictionCluster(t, false)
	h := c.evictionHandler()
	// bao-1 runs an older version: a step-down could elect it.
	p := c.pods("bao")[1]
	p.Labels[versionLabel] = "2.4.0"
	if err := c.base.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	refused(t, h.Handle(context.Background(), evictionRequest("bao-0", false)), "a step-down could elect it")
	if c.raft.moves != 0 {
		t.Fatal("leadership moved toward an older version")
	}
}

func TestEvictionRefusedOnUnknownView(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	c.raft.fail = errors.New("connection refused")
	for _, pod := range []string{"bao-0", "bao-1", "bao-2"} {
		refused(t, h.Handle(context.Background(), evictionRequest(pod, false)), "raft view is unknown")
	}
	if c.raft.moves != 0 {
		t.Fatal("leadership moved on an unknown view")
	}
	// A partial view (one member's raft state missing) refuses too.
	c.raft.fail = nil
	h.Raft = func(context.Context, *v1alpha1.RaftUpgrade) (RaftCluster, error) {
		return partialRaft{c.raft}, nil
	}
	refused(t, h.Handle(context.Background(), evictionRequest("bao-2", false)), "raft view is partial")
	// No raft provider: unknown as well.
	h.Raft = nil
	refused(t, h.Handle(context.Background(), evictionRequest("bao-2", false)), "raft view is unknown")
}

// partialRaft reports bao-1's raft state as unreadable.
type partialRaft struct{ *fakeRaft }

func (p partialRaft) Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	out, err := p.fakeRaft.Observe(ctx, obs)
	for i := range out.Members {
		if out.Members[i].Name == "bao-1" {
			out.Members[i].Raft.Unknown = true
		}
	}
	return out, err
}

func TestEvictionOfNonvotersAndStrangers(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	ctx := context.Background()
	c.raft.voters["bao-2"] = upgrade.Nonvoter
	// A voter down: no voter may go, but a non-voter does not protect quorum.
	p := c.pods("bao")[1]
	if err := c.base.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	allowed(t, h.Handle(ctx, evictionRequest("bao-2", false)))
	// A pod of no RaftUpgrade, and requests that are not evictions.
	allowed(t, h.Handle(ctx, evictionRequest("web-0", false)))
	req := evictionRequest("bao-0", false)
	req.SubResource = ""
	allowed(t, h.Handle(ctx, req))
}

// TestEvictionDuringAnUpgrade drives a rolling upgrade and, before every
// reconcile, asks the handler (dry run) about every pod: while the
// operation lock is held, the only pod it lets go is the one the upgrade
// restarts next, and only when the reconcile that follows does restart it.
func TestEvictionDuringAnUpgrade(t *testing.T) {
	ru := raftUpgrade("upgrade", "2.5.0", upgrade.StrategyRolling)
	c := newCluster(t, "2.4.1", 3, "bao-0", true, ru)
	r := c.reconciler(c.recorded(nil), events.NewFakeRecorder(1000))
	h := c.evictionHandler()
	ctx := context.Background()
	allowedDuringLock := 0
	for round := 1; round <= 200; round++ {
		c.round = round
		c.clock.Advance(3 * time.Second)
		var lease coordinationv1.Lease
		locked := false
		if err := c.base.Get(ctx, types.NamespacedName{Namespace: testNS, Name: "bao-raftshift-lock"}, &lease); err == nil {
			locked = lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
		}
		var ok []string
		for _, pod := range []string{"bao-0", "bao-1", "bao-2"} {
			if h.Handle(ctx, evictionRequest(pod, true)).Allowed {
				ok = append(ok, pod)
			}
		}
		before := len(c.replaced)
		_, writes, err := c.reconcile(r, "upgrade")
		if err != nil {
			t.Fatal(err)
		}
		c.settle()
		if locked && len(ok) > 0 {
			allowedDuringLock++
			restarted := c.replaced[before:]
			if len(ok) != 1 || !slices.Equal(restarted, ok) {
				t.Fatalf("round %d: lock held, evictions allowed for %v, but the reconcile restarted %v (writes %v)",
					round, ok, restarted, writes)
			}
		}
		var got v1alpha1.RaftUpgrade
		c.get(&got, "upgrade")
		if got.Status.Upgrade == nil && got.Status.CurrentVersion == "2.5.0" {
			if allowedDuringLock == 0 {
				t.Fatal("no eviction was ever allowed during the upgrade")
			}
			return
		}
	}
	t.Fatal("upgrade not done after 200 rounds")
}

// TestEvictionWebhookOverHTTP serves the handler as controller-runtime's
// admission webhook and checks the AdmissionReview a refusal answers: the
// API server turns its status (429, RetryAfterSeconds) into the eviction's
// response and its Retry-After header.
func TestEvictionWebhookOverHTTP(t *testing.T) {
	c := newEvictionCluster(t, true)
	c.raft.fail = errors.New("connection refused")
	srv := httptest.NewServer(&admission.Webhook{Handler: c.evictionHandler()})
	defer srv.Close()
	req := evictionRequest("bao-1", false)
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &req.AdmissionRequest,
	})
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
		t.Fatal(err)
	}
	r := review.Response
	if r == nil || r.UID != req.UID || r.Allowed || r.Result.Code != http.StatusTooManyRequests || r.Result.Details.RetryAfterSeconds != 5 {
		t.Fatalf("review response %+v", r)
	}
}

func TestEvictionWaitsForTheOperationLock(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	ctx := context.Background()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "bao-raftshift-lock", Namespace: testNS},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("backup/nightly")}}
	if err := c.base.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	refused(t, h.Handle(ctx, evictionRequest("bao-2", false)), "backup/nightly holds the operation lock")
	refused(t, h.Handle(ctx, evictionRequest("bao-0", false)), "holds the operation lock")
	if c.raft.moves != 0 {
		t.Fatal("leadership moved while the lock is held")
	}
	lease.Spec.HolderIdentity = ptr.To("")
	if err := c.base.Update(ctx, lease); err != nil {
		t.Fatal(err)
	}
	allowed(t, h.Handle(ctx, evictionRequest("bao-2", false)))
}

// TestEvictionFollowsTheBudget: an eviction the pod's PodDisruptionBudget
// would refuse (the API server checks it after the webhook) is refused and
// does not count as a voter out.
func TestEvictionFollowsTheBudget(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	ctx := context.Background()
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "bao-raftshift", Namespace: testNS, Generation: 1},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bao"}}},
		Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 0},
	}
	if err := c.base.Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	refused(t, h.Handle(ctx, evictionRequest("bao-2", false)), "PodDisruptionBudget bao-raftshift allows no disruption now")
	pdb.Status.DisruptionsAllowed = 1
	if err := c.base.Status().Update(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	// bao-2's refused eviction left nothing pending: bao-1 may go.
	allowed(t, h.Handle(ctx, evictionRequest("bao-1", false)))
}

// TestEvictionDryRunInTheBody: client-go's Evict and kubectl drain
// --dry-run=server put dryRun in the Eviction's deleteOptions, which the
// API server does not reflect in the admission request: still a dry run,
// so leadership does not move.
func TestEvictionDryRunInTheBody(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	req := evictionRequest("bao-0", false)
	raw, _ := json.Marshal(policyv1.Eviction{
		TypeMeta:      metav1.TypeMeta{APIVersion: "policy/v1", Kind: "Eviction"},
		ObjectMeta:    metav1.ObjectMeta{Name: "bao-0", Namespace: testNS},
		DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}},
	})
	req.Object.Raw = raw
	refused(t, h.Handle(context.Background(), req), "leadership would move")
	if c.raft.moves != 0 {
		t.Fatal("a dry-run eviction moved leadership")
	}
}

// TestEvictionOfTheLeaderWithAVoterDown: leadership stays while another
// voter is down; moving it would gain nothing (the leader's pod could not
// go) and cost an election.
func TestEvictionOfTheLeaderWithAVoterDown(t *testing.T) {
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	if err := c.base.Delete(context.Background(), c.pods("bao")[2]); err != nil {
		t.Fatal(err)
	}
	refused(t, h.Handle(context.Background(), evictionRequest("bao-0", false)), "voter bao-2 is not caught up; leadership stays")
	if c.raft.moves != 0 {
		t.Fatal("leadership moved with a voter down")
	}
}

// TestEvictionDrainOfSeveralPods: a drain asks for every pod of a node at
// once and retries; leadership never moves to a pod being drained, or two
// of them would hand it back and forth for ever (seen in e2e TestEviction:
// 440 refusals in 4 min, bao-1 and bao-2 each leading when asked). The
// followers go first and the leader last.
func TestEvictionDrainOfSeveralPods(t *testing.T) {
	ctx := context.Background()
	for _, targeted := range []bool{true, false} {
		c := newEvictionCluster(t, targeted)
		h := c.evictionHandler()
		h.noteAsked(testNS, "bao-1", c.clock.Now())
		h.noteAsked(testNS, "bao-2", c.clock.Now())
		refused(t, h.Handle(ctx, evictionRequest("bao-0", false)), "the followers go first")
		if c.raft.leader != "bao-0" || c.raft.moves != 0 {
			t.Fatalf("targeted=%v: leader %s after %d moves, want none", targeted, c.raft.leader, c.raft.moves)
		}
		allowed(t, h.Handle(ctx, evictionRequest("bao-1", false)))
	}
	// A follower not being drained takes over; one asked for long ago is
	// not being drained any more.
	c := newEvictionCluster(t, true)
	h := c.evictionHandler()
	h.noteAsked(testNS, "bao-1", c.clock.Now())
	refused(t, h.Handle(ctx, evictionRequest("bao-0", false)), "leadership is moving")
	if c.raft.leader != "bao-2" {
		t.Fatalf("leader %s, want bao-2 (bao-1 is being drained)", c.raft.leader)
	}
	if !h.draining(testNS, "bao-1", c.clock.Now()) || h.draining(testNS, "bao-1", c.clock.Now().Add(DefaultEvictionDraining+time.Second)) {
		t.Fatal("draining window")
	}
}
