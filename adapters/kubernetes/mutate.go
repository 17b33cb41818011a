package kubernetes

import (
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/upgrade"
)

// state is the current objects an action is planned against. Plan reads only
// what the action needs: the named StatefulSet, pod, Service or the Lease.
type state struct {
	// StatefulSets of the cluster (CreateRevision clones one of them).
	StatefulSets []appsv1.StatefulSet
	// Pods of the cluster (DeletePod).
	Pods []corev1.Pod
	// Service is the client-facing Service (SwitchService, CreateRevision's
	// choice of the source workload).
	Service *corev1.Service
	// Lease is the operation lock (nil when absent).
	Lease *coordinationv1.Lease
}

func (s state) set(name string) *appsv1.StatefulSet {
	for i := range s.StatefulSets {
		if s.StatefulSets[i].Name == name {
			return &s.StatefulSets[i]
		}
	}
	return nil
}

// clusterSet returns the named StatefulSet, nil when absent, and
// ErrForeignWorkload when it exists but does not match cfg.Selector.
func (s state) clusterSet(name string, cfg Config) (*appsv1.StatefulSet, error) {
	set := s.set(name)
	if set != nil && !labelsMatch(cfg.Selector, set.Labels) {
		return nil, fmt.Errorf("statefulset %q: %w", name, ErrForeignWorkload)
	}
	return set, nil
}

func (s state) pod(name string) *corev1.Pod {
	for i := range s.Pods {
		if s.Pods[i].Name == name {
			return &s.Pods[i]
		}
	}
	return nil
}

// changeOp is the kind of API call a Change needs.
type changeOp string

// change operations.
const (
	// opNone: the cluster already reflects the action (idempotent no-op).
	opNone changeOp = "None"
	// opPatch: Patch Object with Patch.
	opPatch changeOp = "Patch"
	// opCreate: Create Object; AlreadyExists counts as done.
	opCreate changeOp = "Create"
	// opDelete: Delete Object with Delete options; NotFound (and, for pods,
	// a Conflict on the UID precondition) counts as done.
	opDelete changeOp = "Delete"
)

// change is the exact object change that carries out one Action.
type change struct {
	// Op is the API call.
	Op changeOp
	// Object is the modified object (OpPatch), the new object (OpCreate) or
	// the object to delete (OpDelete, name, namespace and UID set).
	Object client.Object
	// Patch is the patch for OpPatch, computed against the current object;
	// with a resourceVersion on the current object it carries it as an
	// optimistic-lock precondition.
	Patch client.Patch
	// Delete are the options of OpDelete (UID precondition, propagation).
	Delete *client.DeleteOptions
	// Reason explains OpNone.
	Reason string
}

// IsKubernetesAction reports whether an Action is carried out on Kubernetes
// objects (true) or by the Raft adapter (false).
func IsKubernetesAction(a upgrade.Action) bool {
	switch a.(type) {
	case upgrade.SetPartition, upgrade.UpdateTemplate, upgrade.DeletePod, upgrade.CreateRevision,
		upgrade.DeleteRevision, upgrade.SwitchService, upgrade.AcquireLock, upgrade.ReleaseLock:
		return true
	default:
		return false
	}
}

// plan returns the exact object change that carries out a against the
// current objects. It is pure: it performs no I/O and does not mutate st.
// now is used only as the Lease's acquire time. Raft actions return
// ErrNotKubernetesAction.
func plan(a upgrade.Action, st state, cfg Config, now time.Time) (change, error) {
	cfg = cfg.WithDefaults()
	switch a := a.(type) {
	case upgrade.SetPartition:
		s, err := st.clusterSet(a.Workload, cfg)
		if err != nil {
			return change{}, err
		}
		if s == nil {
			return change{}, fmt.Errorf("statefulset %q: %w", a.Workload, ErrWorkloadNotFound)
		}
		obj, patch, err := setPartitionPatch(s, a.Partition)
		switch {
		case err != nil:
			return change{}, err
		case obj == nil && s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType:
			return change{Op: opNone, Reason: "statefulset uses OnDelete: its controller restarts nothing whatever the partition"}, nil
		case obj == nil:
			return change{Op: opNone, Reason: "partition already set"}, nil
		}
		return change{Op: opPatch, Object: obj, Patch: patch}, nil
	case upgrade.UpdateTemplate:
		s, err := st.clusterSet(a.Workload, cfg)
		if err != nil {
			return change{}, err
		}
		if s == nil {
			return change{}, fmt.Errorf("statefulset %q: %w", a.Workload, ErrWorkloadNotFound)
		}
		obj, patch, err := updateTemplatePatch(s, a.Image, a.Version, cfg)
		if err != nil {
			return change{}, err
		}
		if obj == nil {
			return change{Op: opNone, Reason: "template already at image and version"}, nil
		}
		return change{Op: opPatch, Object: obj, Patch: patch}, nil
	case upgrade.DeletePod:
		return planDeletePod(a, st.pod(a.Member), cfg)
	case upgrade.CreateRevision:
		if st.set(a.Workload) != nil {
			return change{Op: opNone, Reason: "statefulset already exists"}, nil
		}
		src, err := sourceWorkload(st, a.Workload, cfg)
		if err != nil {
			return change{}, err
		}
		green, err := greenStatefulSet(src, a, cfg)
		if err != nil {
			return change{}, err
		}
		return change{Op: opCreate, Object: green}, nil
	case upgrade.DeleteRevision:
		if a.Workload == "" {
			return change{}, fmt.Errorf("delete revision with empty workload: %w", ErrInvalidAction)
		}
		s, err := st.clusterSet(a.Workload, cfg)
		switch {
		case err != nil:
			return change{}, err
		case s == nil:
			return change{Op: opNone, Reason: "statefulset already deleted"}, nil
		case s.DeletionTimestamp != nil:
			return change{Op: opNone, Reason: "statefulset already being deleted"}, nil
		}
		obj := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, UID: s.UID}}
		opts := &client.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}
		if s.UID != "" {
			opts.Preconditions = &metav1.Preconditions{UID: ptr.To(s.UID)}
		}
		return change{Op: opDelete, Object: obj, Delete: opts}, nil
	case upgrade.SwitchService:
		if st.Service == nil || (a.Service != "" && st.Service.Name != a.Service) {
			return change{}, fmt.Errorf("service %q: %w", a.Service, ErrServiceNotFound)
		}
		target, err := st.clusterSet(a.Workload, cfg)
		if err != nil {
			return change{}, err
		}
		if target == nil {
			return change{}, fmt.Errorf("statefulset %q: %w", a.Workload, ErrWorkloadNotFound)
		}
		obj, patch := switchServicePatch(st.Service, target, cfg)
		if obj == nil {
			return change{Op: opNone, Reason: "service already selects the workload"}, nil
		}
		return change{Op: opPatch, Object: obj, Patch: patch}, nil
	case upgrade.AcquireLock:
		return planAcquire(a, st.Lease, cfg, now)
	case upgrade.ReleaseLock:
		return planRelease(a, st.Lease, cfg)
	case nil:
		return change{}, fmt.Errorf("nil action: %w", ErrInvalidAction)
	default:
		return change{}, fmt.Errorf("%s: %w", a, ErrNotKubernetesAction)
	}
}

// patchFor returns the object and patch that carry out a, for actions whose
// change is a patch (SetPartition, UpdateTemplate, SwitchService, and
// AcquireLock / ReleaseLock on an existing Lease). Other changes return
// ErrNotPatch; use Plan for them.
func patchFor(a upgrade.Action, st state, cfg Config, now time.Time) (client.Object, client.Patch, error) {
	ch, err := plan(a, st, cfg, now)
	if err != nil {
		return nil, nil, err
	}
	if ch.Op != opPatch {
		return nil, nil, fmt.Errorf("%s needs %s: %w", a, ch.Op, ErrNotPatch)
	}
	return ch.Object, ch.Patch, nil
}

// mergeFrom returns a JSON merge patch against original, with original's
// resourceVersion as an optimistic-lock precondition when it has one.
func mergeFrom(original client.Object) client.Patch {
	if original.GetResourceVersion() != "" {
		return client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})
	}
	return client.MergeFrom(original)
}

// setPartitionPatch returns a copy of s with spec.updateStrategy.
// rollingUpdate.partition set, and the merge patch (with s's resourceVersion
// as precondition) that makes the change. It returns a nil object (nothing
// to do) when the partition is already set, and for an OnDelete StatefulSet
// whatever the partition: OnDelete has no partition (the API server rejects
// one) and its controller restarts no pod on its own, so every partition
// already holds; the patch never switches the update strategy. It returns
// ErrInvalidAction for a negative partition and
// ErrUnsupportedUpdateStrategy for a strategy type Kubernetes does not know.
func setPartitionPatch(s *appsv1.StatefulSet, partition int32) (*appsv1.StatefulSet, client.Patch, error) {
	if partition < 0 {
		return nil, nil, fmt.Errorf("partition %d of %s: %w", partition, s.Name, ErrInvalidAction)
	}
	switch t := s.Spec.UpdateStrategy.Type; t {
	case "", appsv1.RollingUpdateStatefulSetStrategyType:
	case appsv1.OnDeleteStatefulSetStrategyType:
		return nil, nil, nil
	default:
		return nil, nil, fmt.Errorf("statefulset %s uses update strategy %q: %w", s.Name, t, ErrUnsupportedUpdateStrategy)
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition == partition {
		return nil, nil, nil
	}
	obj := s.DeepCopy()
	obj.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
	if obj.Spec.UpdateStrategy.RollingUpdate == nil {
		obj.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
	}
	obj.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(partition)
	return obj, mergeFrom(s), nil
}

// updateTemplatePatch returns a copy of s whose pod template runs image in
// the configured container and declares version in the configured version
// label and annotation, and the strategic merge patch (with s's
// resourceVersion as precondition) that makes the change: only that
// container's image and those metadata keys change. It returns a nil object
// when the template is already there.
//
// The partition is not checked. On a RollingUpdate StatefulSet the rolling
// strategy changes the template only behind a partition that holds every
// pod (upgrade.Safety refuses it otherwise); on an OnDelete StatefulSet the
// controller restarts nothing on a template change, so it is allowed
// whatever the partition and the pods move only when DeletePod deletes them.
func updateTemplatePatch(s *appsv1.StatefulSet, image, version string, cfg Config) (*appsv1.StatefulSet, client.Patch, error) {
	if image == "" {
		return nil, nil, fmt.Errorf("update template of %s with empty image: %w", s.Name, ErrInvalidAction)
	}
	obj := s.DeepCopy()
	if err := setTemplate(&obj.Spec.Template, image, version, cfg); err != nil {
		return nil, nil, fmt.Errorf("statefulset %s: %w", s.Name, err)
	}
	curImage, _ := templateVersion(&s.Spec.Template, cfg)
	if curImage == image && maps.Equal(obj.Spec.Template.Labels, s.Spec.Template.Labels) &&
		maps.Equal(obj.Spec.Template.Annotations, s.Spec.Template.Annotations) {
		return nil, nil, nil
	}
	var patch client.Patch
	if s.GetResourceVersion() != "" {
		patch = client.StrategicMergeFrom(s, client.MergeFromWithOptimisticLock{})
	} else {
		patch = client.StrategicMergeFrom(s)
	}
	return obj, patch, nil
}

// setTemplate writes image and version into a pod template.
func setTemplate(t *corev1.PodTemplateSpec, image, version string, cfg Config) error {
	i := containerIndex(t.Spec.Containers, cfg.Container)
	if i < 0 {
		return fmt.Errorf("container %q: %w", cfg.Container, ErrContainerNotFound)
	}
	t.Spec.Containers[i].Image = image
	if version == "" {
		return nil
	}
	if cfg.VersionLabel != "" {
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		t.Labels[cfg.VersionLabel] = version
	}
	if cfg.VersionAnnotation != "" {
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		t.Annotations[cfg.VersionAnnotation] = version
	}
	return nil
}

func planDeletePod(a upgrade.DeletePod, p *corev1.Pod, cfg Config) (change, error) {
	if a.Member == "" || a.UID == "" {
		return change{}, fmt.Errorf("%s: pod name and uid precondition are required: %w", a, ErrInvalidAction)
	}
	switch {
	case p == nil:
		return change{Op: opNone, Reason: "pod already deleted"}, nil
	case p.UID != "" && string(p.UID) != a.UID:
		return change{Op: opNone, Reason: "pod already recreated under another uid"}, nil
	case p.DeletionTimestamp != nil:
		return change{Op: opNone, Reason: "pod already terminating"}, nil
	}
	obj := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: types.UID(a.UID)}}
	return change{Op: opDelete, Object: obj, Delete: deletePodOptions(a)}, nil
}

// deletePodOptions returns the delete options of a DeletePod action: a UID
// precondition, so a pod already recreated under another UID is left alone
// (the API server answers Conflict, which the Executor counts as done).
func deletePodOptions(a upgrade.DeletePod) *client.DeleteOptions {
	return &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID(a.UID))}}
}

// sourceWorkload picks the StatefulSet CreateRevision clones: the one the
// Service targets, or else the only other StatefulSet of the cluster.
func sourceWorkload(st state, newName string, cfg Config) (*appsv1.StatefulSet, error) {
	var candidates []appsv1.StatefulSet
	for _, s := range st.StatefulSets {
		if s.Name != newName && s.DeletionTimestamp == nil && labelsMatch(cfg.Selector, s.Labels) {
			candidates = append(candidates, s)
		}
	}
	if st.Service != nil {
		if name := resolveServiceWorkload(st.Service.Spec.Selector, candidates); name != "" {
			for i := range candidates {
				if candidates[i].Name == name {
					return &candidates[i], nil
				}
			}
		}
	}
	if len(candidates) == 1 {
		return &candidates[0], nil
	}
	return nil, fmt.Errorf("create %s: %d candidate statefulsets and none targeted by the service: %w", newName, len(candidates), ErrNoSourceWorkload)
}

// greenStatefulSet clones src into the new workload of a CreateRevision: name
// a.Workload, src's labels, annotations (minus kubectl's last-applied),
// owner references, serviceName, volume claim templates and pod template,
// with cfg.RevisionLabel set to the new name on the StatefulSet, its
// selector and its pod template, the configured container's image and
// version label / annotation set and a.Replicas replicas. A RollingUpdate
// source (or one without a type) gives a RollingUpdate clone with partition
// 0 and the source's maxUnavailable; an OnDelete source gives an OnDelete
// clone (the controller creates the missing pods at the new template
// either way, and a later rolling upgrade of the clone keeps the exact
// control the source had). Status and server-set metadata are dropped.
func greenStatefulSet(src *appsv1.StatefulSet, a upgrade.CreateRevision, cfg Config) (*appsv1.StatefulSet, error) {
	cfg = cfg.WithDefaults()
	switch {
	case a.Workload == "":
		return nil, fmt.Errorf("create revision with empty workload: %w", ErrInvalidAction)
	case a.Image == "":
		return nil, fmt.Errorf("create %s with empty image: %w", a.Workload, ErrInvalidAction)
	case a.Replicas < 0:
		return nil, fmt.Errorf("create %s with %d replicas: %w", a.Workload, a.Replicas, ErrInvalidAction)
	}
	c := src.DeepCopy()
	g := &appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            a.Workload,
			Namespace:       src.Namespace,
			Labels:          c.Labels,
			Annotations:     c.Annotations,
			OwnerReferences: c.OwnerReferences,
		},
		Spec: c.Spec,
	}
	delete(g.Annotations, LastAppliedAnnotation)
	if len(g.Annotations) == 0 {
		g.Annotations = nil
	}
	if g.Labels == nil {
		g.Labels = map[string]string{}
	}
	g.Labels[cfg.RevisionLabel] = a.Workload
	if g.Spec.Selector == nil {
		g.Spec.Selector = &metav1.LabelSelector{}
	}
	if g.Spec.Selector.MatchLabels == nil {
		g.Spec.Selector.MatchLabels = map[string]string{}
	}
	g.Spec.Selector.MatchLabels[cfg.RevisionLabel] = a.Workload
	if g.Spec.Template.Labels == nil {
		g.Spec.Template.Labels = map[string]string{}
	}
	g.Spec.Template.Labels[cfg.RevisionLabel] = a.Workload
	if err := setTemplate(&g.Spec.Template, a.Image, a.Version, cfg); err != nil {
		return nil, fmt.Errorf("clone %s: %w", src.Name, err)
	}
	g.Spec.Replicas = ptr.To(a.Replicas)
	if c.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		g.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	} else {
		g.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{
			Type:          appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0))},
		}
		if ru := c.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
			g.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ru.MaxUnavailable
		}
	}
	for i := range g.Spec.VolumeClaimTemplates {
		g.Spec.VolumeClaimTemplates[i].Status = corev1.PersistentVolumeClaimStatus{}
	}
	return g, nil
}

// switchServicePatch returns a copy of svc whose selector targets the
// workload target, and the merge patch (with svc's resourceVersion as
// precondition) that makes the change. The new selector is target's
// spec.selector.matchLabels plus cfg.RevisionLabel from target's pod
// template when it has one; keys of the old selector not in it are
// removed. It returns a nil object when the selector is already that.
func switchServicePatch(svc *corev1.Service, target *appsv1.StatefulSet, cfg Config) (*corev1.Service, client.Patch) {
	cfg = cfg.WithDefaults()
	sel := map[string]string{}
	if target.Spec.Selector != nil {
		maps.Copy(sel, target.Spec.Selector.MatchLabels)
	}
	if v, ok := target.Spec.Template.Labels[cfg.RevisionLabel]; ok {
		sel[cfg.RevisionLabel] = v
	}
	if maps.Equal(sel, svc.Spec.Selector) {
		return nil, nil
	}
	obj := svc.DeepCopy()
	obj.Spec.Selector = sel
	return obj, mergeFrom(svc)
}

func planAcquire(a upgrade.AcquireLock, l *coordinationv1.Lease, cfg Config, now time.Time) (change, error) {
	if a.Holder == "" {
		return change{}, fmt.Errorf("acquire lock with empty holder: %w", ErrInvalidAction)
	}
	at := metav1.NewMicroTime(now.UTC().Truncate(time.Microsecond))
	if l == nil {
		obj := &coordinationv1.Lease{
			TypeMeta:   metav1.TypeMeta{APIVersion: "coordination.k8s.io/v1", Kind: "Lease"},
			ObjectMeta: metav1.ObjectMeta{Name: cfg.LockName, Namespace: cfg.Namespace},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(a.Holder), AcquireTime: &at},
		}
		return change{Op: opCreate, Object: obj}, nil
	}
	switch holder := ptr.Deref(l.Spec.HolderIdentity, ""); holder {
	case a.Holder:
		return change{Op: opNone, Reason: "lock already held by the holder"}, nil
	case "":
		obj := l.DeepCopy()
		obj.Spec.HolderIdentity = ptr.To(a.Holder)
		obj.Spec.AcquireTime = &at
		return change{Op: opPatch, Object: obj, Patch: mergeFrom(l)}, nil
	default:
		return change{}, &LockHeldError{Lease: l.Name, Holder: holder, Requester: a.Holder}
	}
}

func planRelease(a upgrade.ReleaseLock, l *coordinationv1.Lease, cfg Config) (change, error) {
	if a.Holder == "" {
		return change{}, fmt.Errorf("release lock with empty holder: %w", ErrInvalidAction)
	}
	if l == nil {
		return change{Op: opNone, Reason: "lock lease absent"}, nil
	}
	switch holder := ptr.Deref(l.Spec.HolderIdentity, ""); holder {
	case "":
		return change{Op: opNone, Reason: "lock already free"}, nil
	case a.Holder:
		obj := l.DeepCopy()
		obj.Spec.HolderIdentity = nil
		obj.Spec.AcquireTime = nil
		return change{Op: opPatch, Object: obj, Patch: mergeFrom(l)}, nil
	default:
		return change{}, &LockHeldError{Lease: l.Name, Holder: holder, Requester: a.Holder}
	}
}
