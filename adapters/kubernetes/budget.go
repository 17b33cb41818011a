package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/upgrade"
)

// PodDisruptionBudget naming and bookkeeping.
const (
	// BudgetSuffix names a workload's PodDisruptionBudget: the StatefulSet's
	// name plus this suffix.
	BudgetSuffix = "-raftshift"
	// BudgetWorkloadLabel marks the PodDisruptionBudgets raftshift keeps;
	// its value is the workload (StatefulSet) the budget protects.
	BudgetWorkloadLabel = "raftshift.io/budget-for"
	// BudgetReasonAnnotation carries why a budget lets no pod go (the
	// gate's reason and message); absent when it lets one go.
	BudgetReasonAnnotation = "raftshift.io/budget-reason"
)

// BudgetName returns the name of the PodDisruptionBudget of a workload.
func BudgetName(workload string) string { return workload + BudgetSuffix }

// SyncDisruptionBudgets keeps one policy/v1 PodDisruptionBudget per
// workload in sync with budgets (upgrade.DisruptionBudget of a complete
// observation, Raft view included): it creates or updates the budget named
// BudgetName(workload) with the budget's minAvailable, an owner reference
// to the StatefulSet (so the garbage collector removes it with the
// workload), the labels of Config.Selector plus BudgetWorkloadLabel, and a
// selector that picks exactly the workload's pods (the StatefulSet's
// selector, plus Config.RevisionLabel when its pod template carries it, so
// blue's budget never counts green's pods). Budgets of workloads that are
// gone (a StatefulSet that no longer exists or is not in budgets) are
// deleted.
//
// Changes that let fewer pods go are written before changes that let more
// go, and deletions last: while budgets are being rewritten, a drain never
// sees two workloads of one Raft configuration both allowed to lose a voter.
// Updates are JSON merge patches of what changed, without a resourceVersion
// precondition: the disruption controller rewrites a budget's status all
// the time, and the desired spec comes from a fresh observation anyway. A
// budget's
// unhealthyPodEvictionPolicy is left to the API server's default
// (IfHealthyBudget): a pod that is not ready is evicted only while the
// budget is met, so a down voter is never the excuse for a second one.
func SyncDisruptionBudgets(ctx context.Context, c client.Client, cfg Config, budgets []upgrade.WorkloadBudget) error {
	cfg = cfg.WithDefaults()
	sets := make([]appsv1.StatefulSet, 0, len(budgets))
	for _, b := range budgets {
		var s appsv1.StatefulSet
		switch err := c.Get(ctx, client.ObjectKey{Namespace: cfg.Namespace, Name: b.Workload}, &s); {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("get statefulset %s: %w", b.Workload, err)
		}
		sets = append(sets, s)
	}
	var list policyv1.PodDisruptionBudgetList
	opts := []client.ListOption{client.MatchingLabels(cfg.Selector), client.HasLabels{BudgetWorkloadLabel}}
	if cfg.Namespace != "" {
		opts = append(opts, client.InNamespace(cfg.Namespace))
	}
	if err := c.List(ctx, &list, opts...); err != nil {
		return fmt.Errorf("list poddisruptionbudgets: %w", err)
	}
	for _, ch := range planBudgets(cfg, sets, list.Items, budgets) {
		var err error
		switch {
		case ch.delete:
			err = client.IgnoreNotFound(c.Delete(ctx, ch.pdb, client.Preconditions{UID: &ch.pdb.UID}))
		case ch.old == nil:
			err = c.Create(ctx, ch.pdb, client.FieldOwner(cfg.FieldOwner))
		default:
			err = c.Patch(ctx, ch.pdb, client.MergeFrom(ch.old), client.FieldOwner(cfg.FieldOwner))
		}
		if err != nil {
			return fmt.Errorf("%s poddisruptionbudget %s: %w", ch.verb(), ch.pdb.Name, err)
		}
	}
	return nil
}

// budgetChange is one write of SyncDisruptionBudgets.
type budgetChange struct {
	pdb *policyv1.PodDisruptionBudget
	// old is the budget pdb patches (nil: pdb is created).
	old    *policyv1.PodDisruptionBudget
	delete bool
	// loosen is true when the change lets more pods go than before.
	loosen bool
}

func (ch budgetChange) verb() string {
	switch {
	case ch.delete:
		return "delete"
	case ch.old == nil:
		return "create"
	}
	return "update"
}

// planBudgets decides the writes that bring existing to the budgets of the
// StatefulSets sets, without I/O: tightening writes first (in workload
// order), then loosening ones, then deletions.
func planBudgets(cfg Config, sets []appsv1.StatefulSet, existing []policyv1.PodDisruptionBudget, budgets []upgrade.WorkloadBudget) []budgetChange {
	have := make(map[string]*policyv1.PodDisruptionBudget, len(existing))
	for i := range existing {
		have[existing[i].Name] = &existing[i]
	}
	var changes []budgetChange
	kept := make(map[string]bool, len(sets))
	for _, b := range budgets {
		i := slices.IndexFunc(sets, func(s appsv1.StatefulSet) bool { return s.Name == b.Workload })
		if i < 0 {
			continue
		}
		want := desiredBudget(cfg, &sets[i], b)
		kept[want.Name] = true
		old, ok := have[want.Name]
		if !ok {
			changes = append(changes, budgetChange{pdb: want})
			continue
		}
		if budgetEqual(old, want) {
			continue
		}
		next := old.DeepCopy()
		next.Labels = merge(next.Labels, want.Labels)
		delete(next.Annotations, BudgetReasonAnnotation)
		if r, ok := want.Annotations[BudgetReasonAnnotation]; ok {
			next.Annotations = merge(next.Annotations, map[string]string{BudgetReasonAnnotation: r})
		}
		next.OwnerReferences = want.OwnerReferences
		next.Spec.MinAvailable, next.Spec.MaxUnavailable, next.Spec.Selector = want.Spec.MinAvailable, nil, want.Spec.Selector
		loosen := old.Spec.MinAvailable == nil || old.Spec.MaxUnavailable != nil ||
			want.Spec.MinAvailable.IntValue() < old.Spec.MinAvailable.IntValue()
		changes = append(changes, budgetChange{pdb: next, old: old, loosen: loosen})
	}
	slices.SortStableFunc(changes, func(a, b budgetChange) int {
		switch {
		case a.loosen == b.loosen:
			return 0
		case a.loosen:
			return 1
		}
		return -1
	})
	var gone []string
	for name := range have {
		if !kept[name] {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		changes = append(changes, budgetChange{pdb: have[name].DeepCopy(), old: have[name], delete: true})
	}
	return changes
}

// desiredBudget is the PodDisruptionBudget of StatefulSet s for budget b.
func desiredBudget(cfg Config, s *appsv1.StatefulSet, b upgrade.WorkloadBudget) *policyv1.PodDisruptionBudget {
	labels := maps.Clone(cfg.Selector)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[BudgetWorkloadLabel] = s.Name
	var annotations map[string]string
	if b.Gate != nil {
		annotations = map[string]string{BudgetReasonAnnotation: string(b.Gate.Reason) + ": " + b.Gate.Message}
	}
	sel := &metav1.LabelSelector{}
	if s.Spec.Selector != nil {
		sel = s.Spec.Selector.DeepCopy()
	}
	if v, ok := s.Spec.Template.Labels[cfg.RevisionLabel]; ok && sel.MatchLabels[cfg.RevisionLabel] != v {
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
		sel.MatchLabels[cfg.RevisionLabel] = v
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta: metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{
			Name: BudgetName(s.Name), Namespace: s.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "StatefulSet", Name: s.Name, UID: s.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(b.MinAvailable)),
			Selector:     sel,
		},
	}
}

// budgetEqual reports whether have already says what want says.
func budgetEqual(have, want *policyv1.PodDisruptionBudget) bool {
	return have.Spec.MaxUnavailable == nil && have.Spec.MinAvailable != nil &&
		*have.Spec.MinAvailable == *want.Spec.MinAvailable &&
		labelSelectorEqual(have.Spec.Selector, want.Spec.Selector) &&
		subset(want.Labels, have.Labels) &&
		have.Annotations[BudgetReasonAnnotation] == want.Annotations[BudgetReasonAnnotation] &&
		slices.EqualFunc(have.OwnerReferences, want.OwnerReferences, func(a, b metav1.OwnerReference) bool {
			return a.UID == b.UID && a.Name == b.Name && a.Kind == b.Kind
		})
}

func labelSelectorEqual(a, b *metav1.LabelSelector) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.MatchLabels, b.MatchLabels) &&
		slices.EqualFunc(a.MatchExpressions, b.MatchExpressions, func(x, y metav1.LabelSelectorRequirement) bool {
			return x.Key == y.Key && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
		})
}

// subset reports whether every entry of a is in b.
func subset(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// merge returns a copy of into with the entries of from set.
func merge(into, from map[string]string) map[string]string {
	out := maps.Clone(into)
	if out == nil {
		out = make(map[string]string, len(from))
	}
	maps.Copy(out, from)
	return out
}
