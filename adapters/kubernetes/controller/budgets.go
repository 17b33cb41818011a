package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/raftshift/raftshift/adapters/kubernetes"
	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/upgrade"
)

// BudgetResync is the longest a reconcile waits before the next one while
// Reconciler.DisruptionBudgets is on: the Raft side has no watch, and a
// budget must follow a voter that falls behind without any pod changing.
const BudgetResync = 10 * time.Second

// ReasonBudgetSyncFailed: writing the PodDisruptionBudgets failed (the
// reconcile goes on; the next one retries).
const ReasonBudgetSyncFailed = "DisruptionBudgetSyncFailed"

// Safety returns the safety rules of a RaftUpgrade: the catch-up definition
// of the strategy it runs (or would run), as the PodDisruptionBudgets and
// the eviction webhook judge it.
func Safety(ru *v1alpha1.RaftUpgrade) upgrade.Safety {
	strategy := ru.Spec.StrategyOrDefault()
	if u := ru.Status.Upgrade; u != nil {
		strategy = u.Strategy
	}
	if strategy == upgrade.StrategyBlueGreen {
		return upgrade.Safety{CatchUp: ru.Spec.BlueGreenSpec().CatchUp}
	}
	return upgrade.Safety{CatchUp: ru.Spec.RollingSpec().CatchUp}
}

// syncBudgets keeps the PodDisruptionBudgets of the RaftUpgrade's workloads
// in sync with the observation (Raft view included: with an unknown view
// every budget lets no pod go). A failure is logged and reported as an
// event; it does not stop the reconcile. It returns the longest the next
// reconcile may wait: BudgetResync, or ConflictRequeue after a failure.
func (r *Reconciler) syncBudgets(ctx context.Context, ru *v1alpha1.RaftUpgrade, cfg kubernetes.Config, obs *upgrade.Observation) time.Duration {
	budgets := Safety(ru).DisruptionBudget(obs)
	if err := kubernetes.SyncDisruptionBudgets(ctx, r.Client, cfg, budgets); err != nil {
		log.FromContext(ctx).Info("poddisruptionbudget sync failed", "error", err.Error())
		r.event(ru, corev1.EventTypeWarning, ReasonBudgetSyncFailed, "%v", err)
		return ConflictRequeue
	}
	return BudgetResync
}

// within returns requeue, shortened to limit when limit is positive.
func within(requeue, limit time.Duration) time.Duration {
	if limit > 0 && (requeue <= 0 || requeue > limit) {
		return limit
	}
	return requeue
}
