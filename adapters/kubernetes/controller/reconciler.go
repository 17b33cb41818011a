package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

// Requeue intervals of the reconciler itself (the strategies choose theirs
// in Decision.RequeueAfter).
const (
	// ConflictRequeue is the delay before retrying a reconcile whose status
	// write lost an optimistic-concurrency race.
	ConflictRequeue = 200 * time.Millisecond
	// ErrorRequeue is the delay after an action failed or the strategy
	// refused its input for a reason other than an invalid spec.
	ErrorRequeue = 10 * time.Second
)

// Event and condition reasons set by the reconciler (the strategies set
// their own).
const (
	// ReasonStepFailed: the strategy refused its input (Ready=False).
	ReasonStepFailed = "StepFailed"
	// ReasonActionFailed: executing an action of the decision failed.
	ReasonActionFailed = "ActionFailed"
	// ReasonRaftUnavailable: the Raft view could not be read.
	ReasonRaftUnavailable = "RaftUnavailable"
	// ReasonStrategyDeferred: Spec.Strategy changed during an upgrade.
	ReasonStrategyDeferred = "StrategyChangeDeferred"
)

// RaftCluster is the Raft side of one cluster: it fills the Raft part of an
// Observation and carries out Raft actions with the one executor shape of
// raftshift's adapters (kubernetes.ActionExecutor). *openbao.Adapter
// implements it; tests use a fake.
type RaftCluster interface {
	// Observe returns a copy of obs with the Raft view, the members' Raft
	// state and the capabilities filled in. On error it should still
	// return obs with Raft.Known false, so the strategy refuses every
	// disruptive step.
	Observe(ctx context.Context, obs upgrade.Observation) (upgrade.Observation, error)
	kubernetes.ActionExecutor
}

// RaftProvider returns the RaftCluster of a RaftUpgrade (for OpenBao: an
// adapter pointed at the cluster's address with its token).
type RaftProvider func(ctx context.Context, ru *v1alpha1.RaftUpgrade) (RaftCluster, error)

// Reconciler drives RaftUpgrades with raftshift's strategies, following
// the host protocol of package upgrade: observe (Kubernetes adapter, then
// the Raft side), Step, persist the new status with optimistic concurrency,
// execute the actions, emit the events, requeue.
type Reconciler struct {
	// Client reads the cluster's objects and the RaftUpgrade and writes
	// both (usually the manager's cached client).
	Client client.Client
	// Raft returns the Raft side of a RaftUpgrade's cluster. Required.
	Raft RaftProvider
	// Recorder records events on the RaftUpgrade (nil: none).
	Recorder events.EventRecorder
	// Clock is the time source of observations and of the lock Lease
	// (default time.Now). It is the only clock the strategies see.
	Clock func() time.Time
	// Metrics receives the reconciler's metrics (nil: DefaultMetrics,
	// registered with controller-runtime's registry).
	Metrics *Metrics
	// DisruptionBudgets makes every reconcile keep one PodDisruptionBudget
	// per workload in sync with upgrade.DisruptionBudget of the fresh
	// observation (kubernetes.SyncDisruptionBudgets), before Step runs.
	// Needs RBAC on policy poddisruptionbudgets.
	DisruptionBudgets bool
}

func (r *Reconciler) metrics() *Metrics {
	if r.Metrics != nil {
		return r.Metrics
	}
	return DefaultMetrics()
}

var _ reconcile.Reconciler = (*Reconciler)(nil)

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

func (r *Reconciler) event(obj *v1alpha1.RaftUpgrade, typ, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "Reconcile", format, args...)
	}
}

// Reconcile runs one Step of the RaftUpgrade named by req.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	var ru v1alpha1.RaftUpgrade
	if err := r.Client.Get(ctx, req.NamespacedName, &ru); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics().forget(req.Namespace, req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ru.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	now := r.now()
	cfg := kubernetesConfig(&ru.Spec, ru.Namespace)

	// Observe: Kubernetes objects first, then the Raft view.
	obs, err := (&kubernetes.Observer{Reader: r.Client, Config: cfg, Clock: func() time.Time { return now }}).Observe(ctx)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("observe kubernetes objects: %w", err)
	}
	var raft RaftCluster
	if r.Raft == nil {
		err = errors.New("reconciler has no raft provider")
	} else {
		raft, err = r.Raft(ctx, &ru)
	}
	if err == nil && raft != nil {
		obs, err = raft.Observe(ctx, obs)
	}
	if err != nil {
		// Step still runs: with Raft.Known false every strategy holds
		// (gate NoRaftView / NoLeader) and reports it in the conditions.
		obs.Raft = upgrade.RaftView{}
		logger.Info("raft view unavailable", "error", err.Error())
		r.event(&ru, corev1.EventTypeWarning, ReasonRaftUnavailable, "raft view unavailable: %v", err)
	}
	obs.Now = now
	obs.Generation = ru.Generation
	var resync time.Duration
	if r.DisruptionBudgets {
		resync = r.syncBudgets(ctx, &ru, cfg, &obs)
	}

	// Decide.
	start := time.Now()
	d, stepErr := r.step(&ru, obs)
	r.metrics().StepLatency.Observe(time.Since(start).Seconds())
	if stepErr != nil {
		return r.stepFailed(ctx, &ru, now, stepErr)
	}
	prev := *ru.Status.DeepCopy()

	// Persist first (write-ahead): nothing is executed unless the status
	// it leads to is durably recorded against the resourceVersion the
	// decision was computed from.
	if len(d.Actions) > 0 || !equality.Semantic.DeepEqual(ru.Status, d.Status) {
		ru.Status = d.Status
		if err := r.Client.Status().Update(ctx, &ru); err != nil {
			switch {
			case apierrors.IsConflict(err):
				// Stale cache, a concurrent writer or a spec edit: drop
				// the decision, decide again on the fresh object.
				logger.V(1).Info("status conflict; requeue without acting")
				return reconcile.Result{RequeueAfter: ConflictRequeue}, nil
			case apierrors.IsNotFound(err):
				return reconcile.Result{}, nil
			default:
				return reconcile.Result{}, fmt.Errorf("persist status: %w", err)
			}
		}
	}

	r.metrics().observeStep(ru.Namespace, ru.Name, now, &prev, &d.Status, d.Gate)

	// Execute in order, stop at the first failure, then emit the events.
	exec := kubernetes.CompositeExecutor{
		Kubernetes: &kubernetes.Executor{Client: r.Client, Config: cfg, Recorder: r.Recorder, EventObject: &ru, Clock: r.now},
	}
	if raft != nil {
		exec.Raft = raft
	}
	err = exec.Apply(ctx, &obs, d)
	executed := d.Actions
	var ae *kubernetes.ActionError
	if errors.As(err, &ae) {
		executed = d.Actions[:ae.Index]
	}
	r.metrics().observeActions(ru.Namespace, ru.Name, executed)
	if err != nil {
		logger.Info("action failed; requeue", "error", err.Error())
		r.event(&ru, corev1.EventTypeWarning, ReasonActionFailed, "%v", err)
		return reconcile.Result{RequeueAfter: minPositive(d.RequeueAfter, ErrorRequeue)}, nil
	}
	if g := d.Gate; g != nil {
		logger.V(1).Info("holding", "gate", g.Name, "reason", g.Reason, "message", g.Message)
	}
	return reconcile.Result{RequeueAfter: within(d.RequeueAfter, resync)}, nil
}

// step calls the strategy of the upgrade in flight, or of the spec when
// idle.
func (r *Reconciler) step(ru *v1alpha1.RaftUpgrade, obs upgrade.Observation) (upgrade.Decision, error) {
	status := *ru.Status.DeepCopy()
	strategy := ru.Spec.StrategyOrDefault()
	if u := status.Upgrade; u != nil && u.Strategy != strategy {
		r.event(ru, corev1.EventTypeNormal, ReasonStrategyDeferred,
			"strategy %s applies once the %s upgrade in flight ends", strategy, u.Strategy)
		strategy = u.Strategy
	}
	switch strategy {
	case upgrade.StrategyRolling:
		return rolling.Step(ru.Spec.RollingSpec(), obs, status)
	case upgrade.StrategyBlueGreen:
		return bluegreen.Step(ru.Spec.BlueGreenSpec(), obs, status)
	default:
		return upgrade.Decision{Status: status}, fmt.Errorf("%w: unknown strategy %q (want %s or %s)",
			upgrade.ErrInvalidSpec, strategy, upgrade.StrategyRolling, upgrade.StrategyBlueGreen)
	}
}

// stepFailed reports a strategy error (bad spec, status or observation):
// nothing is executed; a Ready=False condition and a warning event say why.
func (r *Reconciler) stepFailed(ctx context.Context, ru *v1alpha1.RaftUpgrade, now time.Time, stepErr error) (reconcile.Result, error) {
	r.event(ru, corev1.EventTypeWarning, ReasonStepFailed, "%v", stepErr)
	st := ru.Status.DeepCopy()
	upgrade.SetCondition(&st.Conditions, upgrade.ConditionReady, metav1.ConditionFalse, ReasonStepFailed, stepErr.Error(), now, ru.Generation)
	if !equality.Semantic.DeepEqual(ru.Status, *st) {
		ru.Status = *st
		if err := r.Client.Status().Update(ctx, ru); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{RequeueAfter: ConflictRequeue}, nil
			}
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	if errors.Is(stepErr, upgrade.ErrInvalidSpec) {
		return reconcile.Result{}, nil // wait for a spec change
	}
	return reconcile.Result{RequeueAfter: ErrorRequeue}, nil
}

func minPositive(a, b time.Duration) time.Duration {
	if a > 0 && a < b {
		return a
	}
	return b
}

// SetupWithManager registers the reconciler with a manager. RaftUpgrades
// are reconciled on spec changes (status writes do not retrigger) and
// whenever a StatefulSet or Pod of their namespace changes; the strategies'
// RequeueAfter covers the Raft side, which has no watch.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	inNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list v1alpha1.RaftUpgradeList
		if err := mgr.GetClient().List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("raftupgrade").
		For(&v1alpha1.RaftUpgrade{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&appsv1.StatefulSet{}, inNamespace).
		Watches(&corev1.Pod{}, inNamespace).
		Complete(r)
}

// kubernetesConfig returns the Kubernetes adapter's configuration for a
// RaftUpgrade in namespace ns.
func kubernetesConfig(s *v1alpha1.RaftUpgradeSpec, ns string) kubernetes.Config {
	return kubernetes.Config{
		Namespace:    ns,
		Selector:     maps.Clone(s.Selector),
		ServiceName:  s.Service,
		Container:    s.Container,
		VersionLabel: s.VersionLabel,
	}
}

// NewScheme returns a scheme with the built-in Kubernetes types and
// raftshift.io/v1alpha1, for a manager running the Reconciler.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}
