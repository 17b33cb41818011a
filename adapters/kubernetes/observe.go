package kubernetes

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// buildObservation builds the Kubernetes part of an Observation: Now,
// Workloads (one per StatefulSet, sorted by name), Members (one per pod owned
// by those StatefulSets plus one with Pod.Exists false for every ordinal in
// [start, start+replicas) that has no pod, sorted by workload then ordinal)
// and Service (with the workload its selector targets).
//
// Each workload's UpdateStrategy is the StatefulSet's spec.updateStrategy.type
// (an empty type is RollingUpdate, as the API server defaults it), and its
// Partition the RollingUpdate partition (0 for OnDelete, which has none and
// whose controller restarts nothing on its own whatever the partition).
//
// Raft, Backup, Capabilities and Hooks are left zero for the Raft adapter
// and the host; Lock is filled by Observer from the lock Lease
// (LockFromLease). The result does not depend on the order of sets or pods,
// duplicates are resolved deterministically, and the inputs are not mutated.
//
// StatefulSets outside cfg.Namespace (when set) or not matching cfg.Selector
// are ignored; so are pods that no remaining StatefulSet owns (by controller
// reference, or for orphans by name and selector) and pods whose name has no
// canonical ordinal.
func buildObservation(now time.Time, sets []appsv1.StatefulSet, pods []corev1.Pod, svc *corev1.Service, cfg Config) upgrade.Observation {
	cfg = cfg.WithDefaults()
	obs := upgrade.Observation{Now: now}

	chosen := selectSets(sets, cfg)
	byName := make(map[string]*appsv1.StatefulSet, len(chosen))
	for _, s := range chosen {
		byName[s.Name] = s
		obs.Workloads = append(obs.Workloads, workloadOf(s, cfg))
	}

	// Pods, keyed by name; duplicates resolved by a total order.
	type ownedPod struct {
		pod     *corev1.Pod
		set     *appsv1.StatefulSet
		ordinal int32
	}
	owned := make(map[string]ownedPod)
	for i := range pods {
		p := &pods[i]
		set, ord, ok := ownerOf(p, byName, chosen)
		if !ok {
			continue
		}
		if prev, dup := owned[p.Name]; dup && comparePods(prev.pod, p) <= 0 {
			continue
		}
		owned[p.Name] = ownedPod{pod: p, set: set, ordinal: ord}
	}
	for _, name := range slices.Sorted(maps.Keys(owned)) {
		op := owned[name]
		obs.Members = append(obs.Members, memberOf(op.pod, op.set, op.ordinal, cfg))
	}
	// Absent pods of the desired ordinal range.
	for _, s := range chosen {
		start, n := ordinalRange(s)
		for ord := int64(start); ord < int64(start)+int64(n) && ord <= math.MaxInt32; ord++ {
			name := s.Name + "-" + strconv.FormatInt(ord, 10)
			if _, ok := owned[name]; ok {
				continue
			}
			obs.Members = append(obs.Members, upgrade.Member{Name: name, Workload: s.Name, Ordinal: int32(ord)})
		}
	}
	slices.SortFunc(obs.Members, func(a, b upgrade.Member) int {
		return cmp.Or(cmp.Compare(a.Workload, b.Workload), cmp.Compare(a.Ordinal, b.Ordinal), cmp.Compare(a.Name, b.Name))
	})

	if svc != nil && (cfg.Namespace == "" || svc.Namespace == "" || svc.Namespace == cfg.Namespace) {
		obs.Service = upgrade.Service{
			Name:     svc.Name,
			Selector: cloneLabels(svc.Spec.Selector),
			Workload: resolveServiceWorkload(svc.Spec.Selector, sortedSets(chosen)),
		}
	}
	return obs
}

// maxOrdinalRange bounds the absent members BuildObservation synthesizes for
// one StatefulSet, so a corrupt replica count cannot exhaust memory.
const maxOrdinalRange = 4096

func ordinalRange(s *appsv1.StatefulSet) (start, n int32) {
	n = replicasOf(s)
	if s.Spec.Ordinals != nil && s.Spec.Ordinals.Start > 0 {
		start = s.Spec.Ordinals.Start
	}
	n = min(max(n, 0), maxOrdinalRange)
	return start, n
}

// selectSets filters sets by namespace and selector, removes duplicate
// names deterministically and returns them sorted by name.
func selectSets(sets []appsv1.StatefulSet, cfg Config) []*appsv1.StatefulSet {
	byName := make(map[string]*appsv1.StatefulSet, len(sets))
	for i := range sets {
		s := &sets[i]
		if s.Name == "" {
			continue
		}
		if cfg.Namespace != "" && s.Namespace != cfg.Namespace {
			continue
		}
		if !labelsMatch(cfg.Selector, s.Labels) {
			continue
		}
		if prev, dup := byName[s.Name]; dup && compareSets(prev, s) <= 0 {
			continue
		}
		byName[s.Name] = s
	}
	out := make([]*appsv1.StatefulSet, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, byName[name])
	}
	return out
}

func sortedSets(ps []*appsv1.StatefulSet) []appsv1.StatefulSet {
	out := make([]appsv1.StatefulSet, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// compareSets and comparePods are total orders used only to pick one of
// several objects with the same name (corrupt input); the JSON encoding is
// the final tie-break so the choice never depends on input order.
func compareSets(a, b *appsv1.StatefulSet) int {
	if c := cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.UID, b.UID)); c != 0 {
		return c
	}
	return compareJSON(a, b)
}

func comparePods(a, b *corev1.Pod) int {
	if c := cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.UID, b.UID)); c != 0 {
		return c
	}
	return compareJSON(a, b)
}

func compareJSON(a, b any) int {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Compare(ja, jb)
}

func replicasOf(s *appsv1.StatefulSet) int32 {
	if s.Spec.Replicas == nil {
		return 1 // the API server's default
	}
	return *s.Spec.Replicas
}

func partitionOf(s *appsv1.StatefulSet) int32 {
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return *ru.Partition
	}
	return 0
}

// updateStrategyOf maps a StatefulSet's update strategy type: empty is
// RollingUpdate (the API server's default), OnDelete is OnDelete, and a type
// Kubernetes does not know is passed on as it is rather than guessed.
func updateStrategyOf(s *appsv1.StatefulSet) upgrade.UpdateStrategy {
	switch t := s.Spec.UpdateStrategy.Type; t {
	case "", appsv1.RollingUpdateStatefulSetStrategyType:
		return upgrade.UpdateRollingUpdate
	case appsv1.OnDeleteStatefulSetStrategyType:
		return upgrade.UpdateOnDelete
	default:
		return upgrade.UpdateStrategy(t)
	}
}

func workloadOf(s *appsv1.StatefulSet, cfg Config) upgrade.Workload {
	image, version := templateVersion(&s.Spec.Template, cfg)
	return upgrade.Workload{
		Name:               s.Name,
		UID:                string(s.UID),
		UpdateStrategy:     updateStrategyOf(s),
		Replicas:           replicasOf(s),
		Partition:          partitionOf(s),
		CurrentRevision:    s.Status.CurrentRevision,
		UpdateRevision:     s.Status.UpdateRevision,
		Generation:         s.Generation,
		ObservedGeneration: s.Status.ObservedGeneration,
		Image:              image,
		Version:            version,
		ReadyReplicas:      s.Status.ReadyReplicas,
		UpdatedReplicas:    s.Status.UpdatedReplicas,
	}
}

// templateVersion returns the configured container's image and the version
// declared by a pod template.
func templateVersion(t *corev1.PodTemplateSpec, cfg Config) (image, version string) {
	if i := containerIndex(t.Spec.Containers, cfg.Container); i >= 0 {
		image = t.Spec.Containers[i].Image
	}
	return image, versionOf(t.Labels, t.Annotations, image, cfg)
}

// versionOf applies the version precedence: annotation, label, image tag.
func versionOf(labels, annotations map[string]string, image string, cfg Config) string {
	if cfg.VersionAnnotation != "" {
		if v := annotations[cfg.VersionAnnotation]; v != "" {
			return v
		}
	}
	if cfg.VersionLabel != "" {
		if v := labels[cfg.VersionLabel]; v != "" {
			return v
		}
	}
	tag, _ := policy.ImageTag(image)
	return tag
}

// containerIndex finds the configured container: by name, or the only
// container when name is empty. It returns -1 when there is none.
func containerIndex(cs []corev1.Container, name string) int {
	if name == "" {
		if len(cs) == 1 {
			return 0
		}
		return -1
	}
	for i := range cs {
		if cs[i].Name == name {
			return i
		}
	}
	return -1
}

// ownerOf finds the StatefulSet owning a pod and the pod's ordinal.
func ownerOf(p *corev1.Pod, byName map[string]*appsv1.StatefulSet, sorted []*appsv1.StatefulSet) (*appsv1.StatefulSet, int32, bool) {
	var ctrl *struct{ kind, name, uid string }
	for _, ref := range p.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			ctrl = &struct{ kind, name, uid string }{ref.Kind, ref.Name, string(ref.UID)}
			break
		}
	}
	if ctrl != nil {
		if ctrl.kind != "StatefulSet" {
			return nil, 0, false
		}
		s, ok := byName[ctrl.name]
		if !ok || (ctrl.uid != "" && s.UID != "" && ctrl.uid != string(s.UID)) || !sameNamespace(s, p) {
			return nil, 0, false
		}
		ord, ok := parseOrdinal(s.Name, p.Name)
		return s, ord, ok
	}
	// Orphan: the StatefulSet whose name prefixes the pod's and whose
	// selector matches it (the controller would adopt it). Longest name wins.
	var best *appsv1.StatefulSet
	var bestOrd int32
	for _, s := range sorted {
		ord, ok := parseOrdinal(s.Name, p.Name)
		if !ok || !sameNamespace(s, p) || s.Spec.Selector == nil || !labelsMatch(s.Spec.Selector.MatchLabels, p.Labels) ||
			len(s.Spec.Selector.MatchLabels) == 0 || len(s.Spec.Selector.MatchExpressions) > 0 {
			continue
		}
		if best == nil || len(s.Name) > len(best.Name) {
			best, bestOrd = s, ord
		}
	}
	return best, bestOrd, best != nil
}

func sameNamespace(s *appsv1.StatefulSet, p *corev1.Pod) bool { return s.Namespace == p.Namespace }

// parseOrdinal returns the ordinal of a StatefulSet pod name ("set-3" -> 3).
// Only canonical decimal ordinals (no sign, no leading zero) are accepted.
func parseOrdinal(set, pod string) (int32, bool) {
	rest, ok := strings.CutPrefix(pod, set+"-")
	if !ok || set == "" || rest == "" || len(rest) > 10 || (len(rest) > 1 && rest[0] == '0') {
		return 0, false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(rest, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

func memberOf(p *corev1.Pod, s *appsv1.StatefulSet, ord int32, cfg Config) upgrade.Member {
	var image string
	if i := containerIndex(p.Spec.Containers, cfg.Container); i >= 0 {
		image = p.Spec.Containers[i].Image
	}
	return upgrade.Member{
		Name:     p.Name,
		Workload: s.Name,
		Ordinal:  ord,
		Revision: p.Labels[appsv1.ControllerRevisionHashLabelKey],
		Version:  versionOf(p.Labels, p.Annotations, image, cfg),
		Image:    image,
		Pod:      podStatusOf(p, cfg),
	}
}

// podStatusOf maps a pod to its lifecycle state:
//
//   - Ready from the Ready condition, and ReadySince from its
//     lastTransitionTime while it is true (zero otherwise);
//   - Running when the phase is Running and every container of the pod
//     (every container of its spec, when the spec lists any) is in state
//     running and not failing its startup probe (started not false). A
//     running pod need not be ready: OpenBao's readiness needs the Raft
//     membership that a running pod is able to acquire;
//   - StartedAt from the latest state.running.startedAt of the pod's
//     containers, so that a container restarting inside the pod restarts
//     stabilization windows; status.startTime when no container runs;
//   - Terminating from the deletion timestamp, CrashLooping from a
//     container (or init container) waiting with one of cfg's crash-loop
//     reasons, Restarts summed over containers.
//
// Kubernetes stores these times truncated to the second, so the true
// instant lies up to a second after the stored one: ReadySince and
// StartedAt are reported a second later than stored (rounded up), so a
// stabilization window counted from them never ends early.
func podStatusOf(p *corev1.Pod, cfg Config) upgrade.PodStatus {
	cfg = cfg.WithDefaults()
	st := upgrade.PodStatus{
		Exists:      true,
		UID:         string(p.UID),
		Phase:       podPhase(p.Status.Phase),
		Terminating: p.DeletionTimestamp != nil,
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			st.Ready = c.Status == corev1.ConditionTrue
			st.ReadySince = time.Time{}
			if st.Ready {
				st.ReadySince = c.LastTransitionTime.Time
			}
		}
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && cfg.crashLoopReason(w.Reason) {
				st.CrashLooping = true
			}
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.RestartCount > 0 && st.Restarts <= (1<<31-1)-cs.RestartCount {
			st.Restarts += cs.RestartCount
		}
		if r := cs.State.Running; r != nil && r.StartedAt.After(st.StartedAt) {
			st.StartedAt = r.StartedAt.Time
		}
	}
	if st.StartedAt.IsZero() && p.Status.StartTime != nil {
		st.StartedAt = p.Status.StartTime.Time
	}
	st.Running = p.Status.Phase == corev1.PodRunning && containersRunning(p)
	st.ReadySince, st.StartedAt = roundUp(st.ReadySince), roundUp(st.StartedAt)
	return st
}

// roundUp returns the latest instant a time stored at Kubernetes'
// one-second precision may stand for (zero stays zero).
func roundUp(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Second).Add(time.Second)
}

// containersRunning reports whether every container of p runs: each
// status is in state running with its startup probe (if any) passed, and
// every container of the spec has such a status.
func containersRunning(p *corev1.Pod) bool {
	if len(p.Status.ContainerStatuses) == 0 {
		return false
	}
	running := make(map[string]bool, len(p.Status.ContainerStatuses))
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil || (cs.Started != nil && !*cs.Started) {
			return false
		}
		running[cs.Name] = true
	}
	for _, c := range p.Spec.Containers {
		if !running[c.Name] {
			return false
		}
	}
	return true
}

func podPhase(p corev1.PodPhase) upgrade.PodPhase {
	switch p {
	case corev1.PodPending, "":
		return upgrade.PodPending
	case corev1.PodRunning:
		return upgrade.PodRunning
	case corev1.PodSucceeded:
		return upgrade.PodSucceeded
	case corev1.PodFailed:
		return upgrade.PodFailed
	default:
		return upgrade.PodUnknown
	}
}

// resolveServiceWorkload returns the name of the single StatefulSet whose pod
// template labels the selector matches, or "" when the selector is empty or
// matches none or several.
func resolveServiceWorkload(selector map[string]string, sets []appsv1.StatefulSet) string {
	if len(selector) == 0 {
		return ""
	}
	found := ""
	for i := range sets {
		if labelsMatch(selector, sets[i].Spec.Template.Labels) {
			if found != "" && found != sets[i].Name {
				return ""
			}
			found = sets[i].Name
		}
	}
	return found
}

// labelsMatch reports whether every key/value of sel is in labels (an
// empty selector matches everything).
func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}

// lockFromLease maps the operation-lock Lease to Observation.Lock: the
// holder identity and its acquire time. A nil Lease is a free lock.
func lockFromLease(l *coordinationv1.Lease) upgrade.LockView {
	if l == nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return upgrade.LockView{}
	}
	v := upgrade.LockView{Holder: *l.Spec.HolderIdentity}
	if l.Spec.AcquireTime != nil {
		v.Since = l.Spec.AcquireTime.Time
	}
	return v
}
