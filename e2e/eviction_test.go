package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// guardLabel is the namespace label the eviction webhook's configuration
// selects (as adapters/kubernetes/config/webhook/eviction.yaml).
const guardLabel = "raftshift.io/guard-evictions"

// drainStats counts a drain's eviction requests.
type drainStats struct {
	mu sync.Mutex
	// attempts, allowed: eviction requests sent and accepted.
	attempts, allowed int
	// byWebhook, byBudget: 429s from the eviction webhook and from the
	// PodDisruptionBudget (the API server's own check).
	byWebhook, byBudget int
	// other: other failures (the pod being recreated: NotFound), retried.
	other int
	// duringUpgrade: evictions accepted while the upgrade was in flight.
	duringUpgrade int
	// reasons counts the webhook's refusals by their first words.
	reasons map[string]int
	// log lists the accepted evictions; attemptLog every request (sent
	// after the drain's start, duration, pod, outcome).
	log, attemptLog []string
}

func (d *drainStats) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.reasons))
	for k := range d.reasons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d eviction requests: %d allowed (%d while the upgrade ran), %d refused by the webhook, %d by the budget, %d other",
		d.attempts, d.allowed, d.duringUpgrade, d.byWebhook, d.byBudget, d.other)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  webhook: %s: %d", k, d.reasons[k])
	}
	for _, l := range d.log {
		fmt.Fprintf(&b, "\n  %s", l)
	}
	b.WriteString("\n  requests:")
	for _, l := range d.attemptLog {
		fmt.Fprintf(&b, "\n  %s", l)
	}
	return b.String()
}

// TestEviction drains a Raft cluster while a rolling upgrade runs, on the
// real control plane: the reconciler keeps a PodDisruptionBudget per
// workload (Reconciler.DisruptionBudgets), the real disruption controller
// keeps its status, and the eviction webhook (controller.EvictionHandler,
// served over TLS from the test with a self-signed CA and registered for
// pods/eviction) judges every eviction. A drain evicts every pod of the
// cluster through the pods/eviction subresource, all at once, retrying on
// 429 as kubectl drain does. The API server must refuse the unsafe
// evictions, the simulated Raft must never lose quorum, have two voters
// out or lose its leader to a pod deletion (S1, S2, S3), every pod must
// have been evicted once, and the upgrade must still finish.
func TestEviction(t *testing.T) {
	begin := time.Now()
	cp := cluster.Start(t)
	cp.StartDisruptionController(t)
	t.Logf("control plane and disruption controller started in %s", time.Since(begin).Round(time.Millisecond))
	c := newAPIClient(t, cp)
	installCRD(t, c)
	ctx, cancel := context.WithTimeout(cp.Context(), 240*time.Second)
	defer cancel()

	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: 0, TargetedTransfer: true})
	if _, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute); err != nil {
		t.Fatal(err)
	}
	log, hookLog := &opLog{rs: rs}, &opLog{rs: rs}
	// The webhook gets a client of its own: the test's polling client
	// spends its rate limiter, and the API server waits for the webhook.
	hookCfg := restConfig(cp)
	hookCfg.QPS, hookCfg.Burst = 500, 1000
	hookClient, err := client.New(hookCfg, client.Options{Scheme: newScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	handler := &controller.EvictionHandler{
		Client: hookClient, Reader: hookClient,
		Raft: func(_ context.Context, ru *v1alpha1.RaftUpgrade) (controller.RaftCluster, error) {
			return simRaft{rs: rs, log: hookLog}, nil
		},
		RetryAfter: time.Second,
	}
	var hookTimes []time.Duration
	var hookMu sync.Mutex
	hook := &admission.Webhook{Handler: handler}
	wh := cluster.ServeWebhook(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		hook.ServeHTTP(w, r)
		hookMu.Lock()
		hookTimes = append(hookTimes, time.Since(begin))
		hookMu.Unlock()
	}))
	defer func() {
		hookMu.Lock()
		defer hookMu.Unlock()
		slices.Sort(hookTimes)
		if n := len(hookTimes); n > 0 {
			t.Logf("%d webhook calls, median %s, max %s", n, hookTimes[n/2].Round(time.Millisecond), hookTimes[n-1].Round(time.Millisecond))
		}
	}()
	cp.RegisterEvictionWebhook(t, "raftshift-eviction", wh, controller.EvictionWebhookPath, guardLabel)
	if err := rs.LabelNamespace(ctx, guardLabel, "true"); err != nil {
		t.Fatal(err)
	}
	startManager(t, cp, rs, log, 1, func(r *controller.Reconciler) { r.DisruptionBudgets = true })

	// The RaftUpgrade first asks for the running version: nothing to do,
	// but the reconciler writes the budget and the webhook knows the
	// cluster.
	spec := baseSpec(rs, upgrade.StrategyRolling)
	spec.Version, spec.Image = oldVersion, oldImage
	spec.Rolling = &rolling.Spec{
		CatchUp:      upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		PollInterval: metav1.Duration{Duration: 100 * time.Millisecond},
		StepTimeout:  metav1.Duration{Duration: 2 * time.Minute},
	}
	createUpgrade(t, ctx, c, rs, spec)
	waitUpgrade(t, ctx, c, rs, log, "idle at the running version", 30*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
		return ru.Status.Idle() && ru.Status.CurrentVersion == oldVersion
	})
	pdb := waitBudget(t, ctx, c, rs, 2, 1)
	if o := pdb.OwnerReferences; len(o) != 1 || o[0].Kind != "StatefulSet" || o[0].Name != rs.Spec.Name {
		t.Errorf("budget owner references %+v, want the StatefulSet", o)
	}
	// Wait until the API server calls the webhook: a dry-run eviction of
	// the leader is refused by it (and moves nothing).
	err = rs.WaitFor(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		err := evict(ctx, cp, rs, rs.Raft.Leader(), true)
		return err != nil && strings.Contains(err.Error(), "admission webhook"), nil
	})
	if err != nil {
		t.Fatalf("the eviction webhook was never called: %v", err)
	}

	// Start the upgrade, then drain while it runs.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ru, err := getUpgrade(ctx, c, rs)
		if err != nil {
			return err
		}
		ru.Spec.Version, ru.Spec.Image = newVersion, newImage
		return c.Update(ctx, ru)
	}); err != nil {
		t.Fatal(err)
	}
	upgradeStart := time.Now()
	waitUpgrade(t, ctx, c, rs, log, "upgrade in flight", 30*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
		return ru.Status.Upgrade != nil
	})
	var inFlight sync.Mutex
	running := true
	stats := &drainStats{reasons: map[string]int{}}
	drainStart := time.Now()
	var wg sync.WaitGroup
	for ord := range int32(3) {
		pod := rs.PodName(ord)
		wg.Go(func() {
			for ctx.Err() == nil {
				sent := time.Now()
				err := evict(ctx, cp, rs, pod, false)
				took := time.Since(sent)
				inFlight.Lock()
				during := running
				inFlight.Unlock()
				stats.mu.Lock()
				stats.attempts++
				switch {
				case err == nil:
					stats.allowed++
					if during {
						stats.duringUpgrade++
					}
					stats.log = append(stats.log, fmt.Sprintf("%s evicted after %s (upgrade in flight: %v, leader %s)",
						pod, time.Since(drainStart).Round(time.Millisecond), during, rs.Raft.Leader()))
				case apierrors.IsTooManyRequests(err) && strings.Contains(err.Error(), "admission webhook"):
					stats.byWebhook++
					stats.reasons[reasonOf(err)]++
				case apierrors.IsTooManyRequests(err):
					stats.byBudget++
				default:
					stats.other++
				}
				outcome := "allowed"
				if err != nil {
					outcome = err.Error()
				}
				stats.attemptLog = append(stats.attemptLog, fmt.Sprintf("%8s +%-8s %s: %s", sent.Sub(drainStart).Round(time.Millisecond),
					took.Round(time.Millisecond), pod, outcome))
				stats.mu.Unlock()
				if err == nil {
					return
				}
				// Retry after the Retry-After (the webhook asks for 1 s,
				// a budget for 10 s), at most 5 s as kubectl drain waits.
				delay := time.Second
				if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
					delay = min(time.Duration(s)*time.Second, 5*time.Second)
				}
				select {
				case <-ctx.Done():
				case <-time.After(delay):
				}
			}
		})
	}

	final := waitUpgrade(t, ctx, c, rs, log, "rolling upgrade done during the drain", 150*time.Second, upgraded)
	inFlight.Lock()
	running = false
	inFlight.Unlock()
	upgradeTook := time.Since(upgradeStart)
	wg.Wait()
	drainTook := time.Since(drainStart)
	if ctx.Err() != nil {
		t.Fatalf("drain not done: %v\n%s", ctx.Err(), stats)
	}
	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, newImage, 30*time.Second)
	if err != nil {
		t.Error(err)
	}
	t.Logf("upgrade took %s, drain %s; %s", upgradeTook.Round(time.Millisecond), drainTook.Round(time.Millisecond), stats)
	t.Logf("reconciler writes:\n%s", log)
	t.Logf("webhook raft actions:\n%s", hookLog)
	t.Logf("pod events:\n%s", cluster.FormatEvents(rs.Recorder.Events()))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	// Safety: never quorum lost, never two voters out, never the leader's
	// pod deleted while it led.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	t.Logf("max voters down at once: %d; raft safety violations: %d", rs.Raft.MaxVotersDown(), len(rs.Raft.Violations()))
	if got := rs.Raft.MaxVotersDown(); got > 1 {
		t.Errorf("max voters down at once = %d, want at most 1", got)
	}
	// The drain: every pod evicted once, the unsafe evictions refused by
	// the API server (through the webhook), leadership moved by the
	// webhook before the leader's pod went.
	stats.mu.Lock()
	if stats.allowed != 3 {
		t.Errorf("%d evictions allowed, want 3 (one per pod)", stats.allowed)
	}
	if stats.byWebhook == 0 {
		t.Error("the webhook refused no eviction")
	}
	stats.mu.Unlock()
	moves := 0
	for _, e := range hookLog.ok() {
		switch e.Action.(type) {
		case upgrade.TransferLeadership, upgrade.StepDown:
			moves++
		}
	}
	// Every "leadership is moving" refusal is one move the webhook made (the
	// upgrade may have moved leadership off a pod before the drain asked
	// for it: then the webhook moves nothing).
	stats.mu.Lock()
	promised := 0
	for k, n := range stats.reasons {
		if strings.HasPrefix(k, "leadership is moving") {
			promised += n
		}
	}
	stats.mu.Unlock()
	if moves != promised {
		t.Errorf("the webhook moved leadership %d times, but answered %d times that it was moving", moves, promised)
	}
	t.Logf("leadership moves by the webhook: %d", moves)
	// A drain's evictions change the StatefulSet's status under the
	// reconciler's cached copy: a partition patch may lose an optimistic-
	// concurrency race and is retried at the next reconcile. Nothing else
	// may fail.
	for _, l := range []*opLog{log, hookLog} {
		l.mu.Lock()
		for _, e := range l.entries {
			switch {
			case e.Err == nil:
			case apierrors.IsConflict(e.Err):
				t.Logf("conflict, retried: %s", e)
			default:
				t.Errorf("failed write: %s", e)
			}
		}
		l.mu.Unlock()
	}
	checkFinalStatus(t, final)
	checkPodsAt(t, pods, 3, newImage, newVersion)
	checkLockReleased(t, ctx, rs)
	// Back to steady state, the budget lets one pod go again.
	waitBudget(t, ctx, c, rs, 2, 1)
}

// evict posts an eviction of pod (dry run or not) through the
// pods/eviction subresource, as kubectl drain does.
func evict(ctx context.Context, cp *cluster.ControlPlane, rs *cluster.RaftSet, pod string, dryRun bool) error {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: rs.Namespace}}
	if dryRun {
		ev.DeleteOptions = &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}
	}
	// client-go's Evict retries a 429 by itself, up to 10 times, honouring
	// Retry-After; the drain retries on its own instead, so that every
	// request the API server answers is counted.
	return cp.Client.PolicyV1().RESTClient().Post().AbsPath("/api/v1").Namespace(rs.Namespace).
		Resource("pods").Name(pod).SubResource("eviction").Body(ev).MaxRetries(0).Do(ctx).Error()
}

// reasonOf is the webhook's refusal without the pod's name and details:
// the words after "is not evicted" or "leads;", for counting.
func reasonOf(err error) string {
	msg := err.Error()
	for _, cut := range []string{"is not evicted: ", "is not evicted ", "leads; ", "leads and "} {
		if _, after, ok := strings.Cut(msg, cut); ok {
			words := strings.Fields(after)
			return strings.Join(words[:min(6, len(words))], " ")
		}
	}
	return msg
}

// waitBudget waits until the workload's PodDisruptionBudget has
// minAvailable min and, in its status from the disruption controller, the
// given disruptionsAllowed for its current generation.
func waitBudget(t *testing.T, ctx context.Context, c client.Client, rs *cluster.RaftSet, min, allowed int32) *policyv1.PodDisruptionBudget {
	t.Helper()
	var pdb policyv1.PodDisruptionBudget
	err := rs.WaitFor(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: kubernetes.BudgetName(rs.Spec.Name)}, &pdb)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntVal == min &&
			pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.DisruptionsAllowed == allowed, nil
	})
	if err != nil {
		t.Fatalf("budget %s not at minAvailable %d with %d disruptions allowed: %v (spec %+v, status %+v)",
			kubernetes.BudgetName(rs.Spec.Name), min, allowed, err, pdb.Spec, pdb.Status)
	}
	return &pdb
}
