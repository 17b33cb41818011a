package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/upgrade"
)

// EvictionWebhookPath is the path the eviction webhook is served at (the
// ValidatingWebhookConfiguration of adapters/kubernetes/config/webhook
// points at it).
const EvictionWebhookPath = "/validate-raftshift-pods-eviction"

// Defaults of EvictionHandler.
const (
	// DefaultEvictionRetryAfter is the Retry-After of a refused eviction.
	DefaultEvictionRetryAfter = 5 * time.Second
	// DefaultEvictionPending is how long an allowed eviction counts as a
	// voter out before the observation shows its pod terminating.
	DefaultEvictionPending = 10 * time.Second
	// DefaultEvictionDraining is how long a pod whose eviction was asked
	// for counts as being drained: leadership never moves to it (kubectl
	// drain retries a refused eviction every 5 s).
	DefaultEvictionDraining = 15 * time.Second
)

// ReasonEvictionLeaderMoved: the eviction webhook moved leadership away from
// a pod a drain wants to evict (event on the RaftUpgrade).
const ReasonEvictionLeaderMoved = "EvictionLeaderMoved"

// EvictionHandler is a validating admission handler for pods/eviction
// (CREATE): it lets a drain evict a Raft member's pod only when
// upgrade.Safety.CanDisrupt allows it on a fresh observation, as the
// reconciler builds it (Kubernetes objects read uncached, then the Raft
// side of the pod's RaftUpgrade). Pods that belong to no RaftUpgrade's
// cluster are allowed. Every refusal is HTTP 429 (TooManyRequests) with
// Retry-After, which kubectl drain and the eviction API's clients retry:
//
//   - an unknown or partial Raft view, or an observation that fails,
//     refuses (unknown is never absent);
//   - the operation lock: while it is held (an upgrade, a backup), the
//     cluster's pods are not evicted, with one exception: the pod the
//     upgrade in flight restarts next (its strategy's Step, which is pure,
//     run on the same observation and the persisted status, deletes it or
//     lowers the partition over it). Evicting that pod is the restart the
//     upgrade is about to make; every other eviction would be a second
//     disruption beside the upgrade's own;
//   - the leader's pod: when every other voter is up and caught up, the
//     handler first asks the Raft cluster to move leadership (a targeted
//     transfer to the best caught-up voter at the
//     leader's version, or a step-down when every other voter runs the
//     leader's version; never while the lock is held, never on a dry
//     run), then refuses; the drain's retry finds a follower;
//   - otherwise Safety.CanDisrupt decides (S1 quorum and failure tolerance,
//     S2 one voter at a time), and an eviction this handler allowed counts
//     as a voter out until the observation shows its pod terminating or
//     recreated (or PendingFor passes): never two voters out at once, even
//     between two observations. Non-voters are allowed whenever the view
//     is complete;
//   - an eviction the pod's PodDisruptionBudget would refuse (its status
//     shows no disruption allowed, or lags its spec) is refused here too,
//     so that it never counts as a voter out: the API server checks
//     budgets after admission webhooks.
//
// Besides RaftUpgrades, the handler reads pods, StatefulSets, Services,
// the lock Lease and PodDisruptionBudgets (get, list).
//
// Requests are judged one at a time. A handler only remembers its own
// allowed evictions; with several webhook replicas, the PodDisruptionBudgets
// (Reconciler.DisruptionBudgets), which the API server checks with
// optimistic concurrency on every eviction, keep concurrent evictions apart.
type EvictionHandler struct {
	// Client lists RaftUpgrades (a cached client is fine).
	Client client.Client
	// Reader reads the cluster's objects for the fresh observation (the
	// manager's APIReader; nil: Client).
	Reader client.Reader
	// Raft returns the Raft side of a RaftUpgrade's cluster, as for the
	// Reconciler. Required.
	Raft RaftProvider
	// Recorder records leadership moves on the RaftUpgrade (nil: none).
	Recorder events.EventRecorder
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// RetryAfter is the Retry-After of refusals (default
	// DefaultEvictionRetryAfter).
	RetryAfter time.Duration
	// PendingFor bounds how long an allowed eviction counts as a voter out
	// (default DefaultEvictionPending).
	PendingFor time.Duration
	// DrainingFor is how long a pod whose eviction was asked for (not a dry
	// run) counts as being drained (default DefaultEvictionDraining).
	// Leadership never moves to a pod being drained: a drain asks for every
	// pod of a node at once and retries, and moving leadership between two
	// of them would hand it back and forth for ever; the followers go
	// first and the leader last.
	DrainingFor time.Duration

	mu      sync.Mutex
	pending map[string]pendingEviction // namespace/pod
	asked   map[string]time.Time       // namespace/pod: last eviction asked for
}

// pendingEviction is an eviction the handler allowed whose pod the last
// observation still showed running.
type pendingEviction struct {
	namespace, pod, uid string
	at                  time.Time
}

var _ admission.Handler = (*EvictionHandler)(nil)

// SetupWithManager serves the handler at EvictionWebhookPath on the
// manager's webhook server (TLS from its CertDir), reading RaftUpgrades
// with the manager's client and the cluster's objects uncached with its
// APIReader unless Client and Reader are set.
func (h *EvictionHandler) SetupWithManager(mgr ctrl.Manager) error {
	if h.Raft == nil {
		return fmt.Errorf("eviction handler has no raft provider")
	}
	if h.Client == nil {
		h.Client = mgr.GetClient()
	}
	if h.Reader == nil {
		h.Reader = mgr.GetAPIReader()
	}
	mgr.GetWebhookServer().Register(EvictionWebhookPath, &admission.Webhook{Handler: h})
	return nil
}

func (h *EvictionHandler) reader() client.Reader {
	if h.Reader != nil {
		return h.Reader
	}
	return h.Client
}

func (h *EvictionHandler) now() time.Time {
	if h.Clock != nil {
		return h.Clock()
	}
	return time.Now()
}

// Handle implements admission.Handler.
func (h *EvictionHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create || req.Resource.Resource != "pods" || req.SubResource != "eviction" {
		return admission.Allowed("not a pod eviction")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var list v1alpha1.RaftUpgradeList
	if err := h.Client.List(ctx, &list, client.InNamespace(req.Namespace)); err != nil {
		return h.refuse("cannot tell whether %s belongs to a raft cluster: list raftupgrades: %v", req.Name, err)
	}
	reader := h.reader()
	for i := range list.Items {
		ru := &list.Items[i]
		if !ru.DeletionTimestamp.IsZero() {
			continue
		}
		now := h.now()
		cfg := kubernetesConfig(&ru.Spec, ru.Namespace)
		obs, err := (&kubernetes.Observer{Reader: reader, Config: cfg, Clock: func() time.Time { return now }}).Observe(ctx)
		if err != nil {
			return h.refuse("cannot tell whether %s belongs to the raft cluster of %s: %v", req.Name, ru.Name, err)
		}
		m, ok := obs.Member(req.Name)
		if !ok || !m.Pod.Exists {
			continue
		}
		resp := h.judge(ctx, ru, obs, m, dryRun(req))
		log.FromContext(ctx).V(1).Info("eviction judged", "pod", req.Name, "raftupgrade", ru.Name,
			"allowed", resp.Allowed, "message", resp.Result.Message)
		return resp
	}
	return admission.Allowed("not a member of a raft cluster of a RaftUpgrade")
}

// dryRun reports whether the eviction is a dry run: the request's dryRun
// (a dryRun=All query parameter) or the Eviction's own deleteOptions.dryRun,
// which is how client-go's Evict and kubectl drain --dry-run=server ask for
// one (the API server does not reflect it in the admission request).
func dryRun(req admission.Request) bool {
	if req.DryRun != nil && *req.DryRun {
		return true
	}
	var ev policyv1.Eviction
	if len(req.Object.Raw) > 0 && json.Unmarshal(req.Object.Raw, &ev) == nil && ev.DeleteOptions != nil {
		return len(ev.DeleteOptions.DryRun) > 0
	}
	return false
}

// judge decides the eviction of member m of ru's cluster on the Kubernetes
// part of a fresh observation.
func (h *EvictionHandler) judge(ctx context.Context, ru *v1alpha1.RaftUpgrade, obs upgrade.Observation, m upgrade.Member, dryRun bool) admission.Response {
	now := obs.Now
	var raft RaftCluster
	var err error
	if h.Raft == nil {
		err = fmt.Errorf("eviction handler has no raft provider")
	} else if raft, err = h.Raft(ctx, ru); err == nil && raft != nil {
		obs, err = raft.Observe(ctx, obs)
	}
	if err != nil || raft == nil {
		obs.Raft = upgrade.RaftView{}
	}
	obs.Now, obs.Generation = now, ru.Generation
	m, _ = obs.Member(m.Name)
	h.prune(&obs, ru.Namespace)
	if !dryRun {
		h.noteAsked(ru.Namespace, m.Name, now)
	}

	if g := upgrade.CheckView(&obs); g != nil {
		return h.refuse("%s is not evicted: %s", m.Name, g.Message)
	}
	if holder := obs.Lock.Holder; holder != "" && !upgradeRestartsNext(ru, obs, m) {
		return h.refuse("%s is not evicted while %s holds the operation lock of %s (only the pod the upgrade restarts next is)",
			m.Name, holder, ru.Name)
	}
	for _, p := range h.pending {
		if p.namespace != ru.Namespace || p.pod == m.Name {
			continue
		}
		if o, ok := obs.Member(p.pod); ok && o.IsVoter() {
			return h.refuse("%s is not evicted: the eviction of voter %s is under way", m.Name, p.pod)
		}
	}
	safety := Safety(ru)
	if obs.IsLeader(m.Name) {
		if obs.Lock.Holder != "" {
			return h.refuse("%s leads and an operation holds the lock of %s; leadership moves with the upgrade", m.Name, ru.Name)
		}
		// Leadership moves only when the leader's pod may go right after:
		// not while another voter is down or catching up.
		for _, v := range obs.Voters() {
			if v.Name == m.Name {
				continue
			}
			if g := upgrade.CaughtUp(&obs, v, safety.CatchUp); g != nil {
				return h.refuse("%s leads and voter %s is not caught up; leadership stays: %s", m.Name, v.Name, g.Message)
			}
		}
		draining := func(name string) bool { return h.draining(ru.Namespace, name, now) }
		how, err := h.moveLeadership(ctx, ru, raft, safety, obs, m, draining, dryRun)
		if err != nil {
			return h.refuse("%s leads and leadership cannot move now: %v", m.Name, err)
		}
		return h.refuse("%s leads; %s, retry once it follows", m.Name, how)
	}
	if g := safety.CanDisrupt(&obs, m.Name); g != nil {
		return h.refuse("%s is not evicted: %s", m.Name, g.Message)
	}
	// The API server checks the pod's PodDisruptionBudgets after this
	// webhook: an eviction they refuse must not count as a voter out.
	if why, err := budgetBlocks(ctx, h.reader(), ru.Namespace, m.Name); err != nil || why != "" {
		if err != nil {
			why = err.Error()
		}
		return h.refuse("%s is not evicted: %s", m.Name, why)
	}
	if !dryRun && m.IsVoter() {
		if h.pending == nil {
			h.pending = map[string]pendingEviction{}
		}
		h.pending[ru.Namespace+"/"+m.Name] = pendingEviction{namespace: ru.Namespace, pod: m.Name, uid: m.Pod.UID, at: now}
	}
	return admission.Allowed(fmt.Sprintf("%s may go: the raft cluster of %s keeps quorum with one voter out", m.Name, ru.Name))
}

// budgetBlocks returns why a PodDisruptionBudget selecting the pod lets it
// not go now (its status from the disruption controller shows no
// disruption allowed, or is behind its spec), "" when none does.
func budgetBlocks(ctx context.Context, r client.Reader, ns, name string) (string, error) {
	var pod corev1.Pod
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
		return "", fmt.Errorf("get pod %s: %w", name, err)
	}
	var list policyv1.PodDisruptionBudgetList
	if err := r.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return "", fmt.Errorf("list poddisruptionbudgets: %w", err)
	}
	for i := range list.Items {
		pdb := &list.Items[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		switch {
		case pdb.Status.ObservedGeneration < pdb.Generation:
			return fmt.Sprintf("its PodDisruptionBudget %s is being updated", pdb.Name), nil
		case pdb.Status.DisruptionsAllowed < 1:
			return fmt.Sprintf("its PodDisruptionBudget %s allows no disruption now", pdb.Name), nil
		}
	}
	return "", nil
}

// prune forgets the pending evictions of namespace ns that the observation
// shows under way (pod terminating, gone or recreated) or that are older
// than PendingFor.
func (h *EvictionHandler) prune(obs *upgrade.Observation, ns string) {
	ttl := h.PendingFor
	if ttl <= 0 {
		ttl = DefaultEvictionPending
	}
	for k, p := range h.pending {
		if p.namespace != ns {
			continue
		}
		m, ok := obs.Member(p.pod)
		if !ok || !m.Pod.Exists || m.Pod.Terminating || m.Pod.UID != p.uid || obs.Now.Sub(p.at) > ttl {
			delete(h.pending, k)
		}
	}
}

// noteAsked records that the eviction of ns/pod was asked for at now and
// forgets requests older than DrainingFor.
func (h *EvictionHandler) noteAsked(ns, pod string, now time.Time) {
	if h.asked == nil {
		h.asked = map[string]time.Time{}
	}
	for k, at := range h.asked {
		if now.Sub(at) > h.drainingFor() {
			delete(h.asked, k)
		}
	}
	h.asked[ns+"/"+pod] = now
}

// draining reports whether the eviction of ns/pod was asked for within
// DrainingFor of now.
func (h *EvictionHandler) draining(ns, pod string, now time.Time) bool {
	at, ok := h.asked[ns+"/"+pod]
	return ok && now.Sub(at) <= h.drainingFor()
}

func (h *EvictionHandler) drainingFor() time.Duration {
	if h.DrainingFor > 0 {
		return h.DrainingFor
	}
	return DefaultEvictionDraining
}

// upgradeRestartsNext reports whether the upgrade in flight of ru would
// restart m's pod in this observation: its strategy's Step (pure) deletes
// the pod or lowers the partition over it.
func upgradeRestartsNext(ru *v1alpha1.RaftUpgrade, obs upgrade.Observation, m upgrade.Member) bool {
	if ru.Status.Upgrade == nil {
		return false
	}
	d, err := (&Reconciler{}).step(ru, obs)
	if err != nil {
		return false
	}
	for _, a := range d.Actions {
		switch a := a.(type) {
		case upgrade.DeletePod:
			if a.Member == m.Name {
				return true
			}
		case upgrade.SetPartition:
			w, ok := obs.Workload(a.Workload)
			if ok && a.Workload == m.Workload && w.UpdateStrategy != upgrade.UpdateOnDelete &&
				a.Partition <= m.Ordinal && m.Ordinal < w.Partition {
				return true
			}
		}
	}
	return false
}

// moveLeadership asks the Raft cluster to move leadership away from leader
// m, only to a voter at m's version (never an older one) that is not being
// drained itself, after checking the move with Safety.Check. It returns
// what it did.
func (h *EvictionHandler) moveLeadership(ctx context.Context, ru *v1alpha1.RaftUpgrade, raft RaftCluster, safety upgrade.Safety,
	obs upgrade.Observation, m upgrade.Member, draining func(string) bool, dryRun bool) (string, error) {
	if raft == nil {
		return "", fmt.Errorf("no raft cluster to ask")
	}
	var a upgrade.Action
	if obs.Capabilities.TargetedTransfer {
		t, ok := safety.BestTransferTarget(&obs, m.Version, func(o upgrade.Member) bool { return o.Version != m.Version || draining(o.Name) })
		if !ok {
			if _, found := safety.BestTransferTarget(&obs, m.Version, func(o upgrade.Member) bool { return o.Version != m.Version }); found {
				return "", fmt.Errorf("every voter that could take over is being evicted too; the followers go first")
			}
			return "", fmt.Errorf("no healthy caught-up voter at version %q to take over", m.Version)
		}
		a = upgrade.TransferLeadership{From: m.Name, FromID: m.Raft.ID, To: t.Name, ToID: t.Raft.ID}
	} else {
		for _, v := range obs.Voters() {
			if v.Name != m.Name && v.Version != m.Version {
				return "", fmt.Errorf("voter %s runs %q, not the leader's %q: a step-down could elect it", v.Name, v.Version, m.Version)
			}
			if v.Name != m.Name && draining(v.Name) {
				return "", fmt.Errorf("voter %s is being evicted too and a step-down could elect it; the followers go first", v.Name)
			}
		}
		a = upgrade.StepDown{Member: m.Name, ID: m.Raft.ID}
	}
	if err := safety.Check(obs, []upgrade.Action{a}); err != nil {
		return "", err
	}
	if dryRun {
		return "leadership would move (" + a.String() + ")", nil
	}
	if err := raft.Execute(ctx, &obs, a); err != nil {
		return "", fmt.Errorf("%s: %w", a, err)
	}
	if h.Recorder != nil {
		h.Recorder.Eventf(ru, nil, corev1.EventTypeNormal, ReasonEvictionLeaderMoved, "Evict",
			"%s leads and a drain evicts it: %s", m.Name, a)
	}
	return "leadership is moving (" + a.String() + ")", nil
}

// refuse is a 429 TooManyRequests refusal with Retry-After.
func (h *EvictionHandler) refuse(format string, args ...any) admission.Response {
	retry := h.RetryAfter
	if retry <= 0 {
		retry = DefaultEvictionRetryAfter
	}
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
		Allowed: false,
		Result: &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusTooManyRequests,
			Reason:  metav1.StatusReasonTooManyRequests,
			Message: fmt.Sprintf(format, args...),
			Details: &metav1.StatusDetails{RetryAfterSeconds: int32(max(1, retry/time.Second))},
		},
	}}
}
