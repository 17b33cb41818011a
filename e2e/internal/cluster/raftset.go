package cluster

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// Labels put on the objects of a RaftSet.
const (
	// LabelApp selects every object of one Raft cluster (all its
	// StatefulSets, blue and green); its value is SetSpec.Name.
	LabelApp = "app.kubernetes.io/name"
	// LabelVersion carries the workload version on the pod template.
	LabelVersion = "app.kubernetes.io/version"
	// LabelRevision tells blue and green workloads apart; the first
	// StatefulSet's pods carry its own name (the raftshift Kubernetes
	// adapter's default revision label).
	LabelRevision = "raftshift.io/revision"
	// ContainerName is the Raft server's container.
	ContainerName = "server"
)

// SetSpec describes the Raft cluster a RaftSet creates.
type SetSpec struct {
	// Name of the StatefulSet and of the client Service (default "bao").
	Name string
	// Replicas of the StatefulSet (default 3).
	Replicas int32
	// Image of the server container (any string: nothing pulls it).
	Image string
	// Version is put in the LabelVersion pod-template label.
	Version string
	// UpdateStrategy is the StatefulSet's update strategy type (default
	// RollingUpdate). OnDelete sets no rollingUpdate block (the API server
	// rejects one) and Partition is ignored.
	UpdateStrategy appsv1.StatefulSetUpdateStrategyType
	// Partition is the initial RollingUpdate partition.
	Partition int32
	// PodManagementPolicy defaults to Parallel (as the OpenBao chart).
	PodManagementPolicy appsv1.PodManagementPolicyType
	// ReadyDelay is how long a new pod stays unready (its "boot time",
	// default 300ms).
	ReadyDelay time.Duration
	// InitialLeader is the ordinal of the Raft leader elected when the
	// cluster first forms.
	InitialLeader int32
	// TargetedTransfer sets Capabilities.TargetedTransfer of the simulated
	// Raft (TransferLeadership available); false offers only StepDown.
	TargetedTransfer bool
	// TerminationDelay is how long a deleted pod stays Terminating before
	// the kubelet stand-in removes it (its server's shutdown, default
	// 300ms, well inside the template's TerminationGracePeriod).
	TerminationDelay time.Duration
	// CatchUpLag: a server that comes back (restarted pod) or joins the
	// configuration catches up with the leader's log for a seeded random
	// lag in [CatchUpLag, 2*CatchUpLag) before it is healthy (default
	// 800ms, longer than the strategies' other waits after a
	// restart, so that their catch-up gates are what holds them; negative:
	// at once).
	CatchUpLag time.Duration
	// ElectionTimeout: an election (the leader stepped down, went down or
	// lost its quorum) is decided after a seeded random delay in
	// [ElectionTimeout, 2*ElectionTimeout) (default 150ms; negative: at
	// once).
	ElectionTimeout time.Duration
	// Seed seeds the simulated Raft (catch-up lags, election delays and
	// winners). 0: derived from the namespace and E2E_SEED (default 1).
	Seed uint64
}

// TerminationGracePeriod is the pods' terminationGracePeriodSeconds: a
// deletion marks a pod Terminating for up to this long; the kubelet
// stand-in removes it after SetSpec.TerminationDelay.
const TerminationGracePeriod = 30 * time.Second

// NodeName is the node the scheduler stand-in binds every pod to (no Node
// object exists: nothing needs one).
const NodeName = "e2e-node"

func (s SetSpec) withDefaults() SetSpec {
	if s.Name == "" {
		s.Name = "bao"
	}
	if s.Replicas == 0 {
		s.Replicas = 3
	}
	if s.Image == "" {
		s.Image = "example.com/openbao/openbao:2.3.1"
	}
	if s.Version == "" {
		s.Version = "2.3.1"
	}
	if s.UpdateStrategy == "" {
		s.UpdateStrategy = appsv1.RollingUpdateStatefulSetStrategyType
	}
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = appsv1.ParallelPodManagement
	}
	if s.ReadyDelay == 0 {
		s.ReadyDelay = 300 * time.Millisecond
	}
	if s.TerminationDelay == 0 {
		s.TerminationDelay = 300 * time.Millisecond
	}
	if s.CatchUpLag == 0 {
		s.CatchUpLag = 800 * time.Millisecond
	}
	if s.ElectionTimeout == 0 {
		s.ElectionTimeout = 150 * time.Millisecond
	}
	return s
}

// RaftSet is one simulated Raft cluster on the control plane: a namespace
// with a StatefulSet, a headless governing Service, a client Service, a
// scheduler and a kubelet stand-in (binding, readiness, graceful
// termination), a watch recorder of pods and StatefulSets and a simulated
// Raft kept in step with the pods.
type RaftSet struct {
	// CP is the control plane.
	CP *ControlPlane
	// Spec is the spec with defaults applied.
	Spec SetSpec
	// Namespace holds the objects.
	Namespace string
	// Raft is the simulated Raft cluster of the namespace's pods.
	Raft *Raft
	// Recorder records the namespace's pod watch events.
	Recorder *Recorder

	ctx         context.Context
	mu          sync.Mutex
	binding     map[types.UID]bool
	booting     map[types.UID]bool
	terminating map[types.UID]bool
	hold        map[string]bool
}

// seedFor derives the simulated Raft's seed of a namespace: SetSpec.Seed,
// else E2E_SEED (default 1) mixed with the namespace name.
func seedFor(spec SetSpec, ns string) uint64 {
	if spec.Seed != 0 {
		return spec.Seed
	}
	base := uint64(1)
	if v, err := strconv.ParseUint(os.Getenv("E2E_SEED"), 10, 64); err == nil {
		base = v
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(ns))
	return base ^ h.Sum64()
}

// NewRaftSet creates a namespace, the StatefulSet (RollingUpdate with
// spec.Partition, or OnDelete), its headless Service and the client
// Service, and starts the scheduler and kubelet stand-ins, the recorder and
// the simulated Raft.
func (cp *ControlPlane) NewRaftSet(t *testing.T, spec SetSpec) *RaftSet {
	t.Helper()
	spec = spec.withDefaults()
	// The RaftSet's loops stop with this context, cancelled by its own
	// cleanup (which runs before the control plane's).
	ctx, cancel := context.WithCancel(cp.ctx)
	t.Cleanup(cancel)
	ns := "e2e-" + strconv.Itoa(int(cp.sets.Add(1)))
	if _, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	rs := &RaftSet{
		CP:          cp,
		Spec:        spec,
		Namespace:   ns,
		Recorder:    &Recorder{},
		Raft:        newRaft(ctx, spec, seedFor(spec, ns)),
		ctx:         ctx,
		binding:     map[types.UID]bool{},
		booting:     map[types.UID]bool{},
		terminating: map[types.UID]bool{},
		hold:        map[string]bool{},
	}

	factory := informers.NewSharedInformerFactoryWithOptions(cp.Client, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rs.onPod(EventAdded, obj) },
		UpdateFunc: func(_, obj any) { rs.onPod(EventModified, obj) },
		DeleteFunc: func(obj any) { rs.onPod(EventDeleted, obj) },
	}); err != nil {
		t.Fatalf("pod event handler: %v", err)
	}
	sets := factory.Apps().V1().StatefulSets().Informer()
	if _, err := sets.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rs.onSet(EventAdded, obj) },
		UpdateFunc: func(_, obj any) { rs.onSet(EventModified, obj) },
		DeleteFunc: func(obj any) { rs.onSet(EventDeleted, obj) },
	}); err != nil {
		t.Fatalf("statefulset event handler: %v", err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced, sets.HasSynced) {
		t.Fatal("pod informer did not sync")
	}

	for _, svc := range []*corev1.Service{rs.headlessService(), rs.clientService()} {
		if _, err := cp.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create service %s: %v", svc.Name, err)
		}
	}
	if _, err := cp.Client.AppsV1().StatefulSets(ns).Create(ctx, rs.statefulSet(), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create statefulset: %v", err)
	}
	return rs
}

// onSet is the StatefulSet informer's handler: it records the event and
// reaps the pods of a deleted StatefulSet.
func (rs *RaftSet) onSet(typ EventType, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	set, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return
	}
	rs.Recorder.recordSet(typ, set)
	if typ == EventDeleted {
		rs.reap(set)
	}
}

// reap stands in for the garbage collector, which does not run: when a
// StatefulSet is deleted it deletes the pods it controlled (gracefully:
// they terminate as any deleted pod).
func (rs *RaftSet) reap(set *appsv1.StatefulSet) {
	ctx := rs.ctx
	pods, err := rs.CP.Client.CoreV1().Pods(rs.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == set.UID {
			uid := p.UID
			_ = rs.CP.Client.CoreV1().Pods(rs.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		}
	}
}

// HeadlessServiceName is the governing Service of the StatefulSet.
func (rs *RaftSet) HeadlessServiceName() string { return rs.Spec.Name + "-internal" }

// PodName returns the name of the pod with the given ordinal.
func (rs *RaftSet) PodName(ordinal int32) string {
	return rs.Spec.Name + "-" + strconv.Itoa(int(ordinal))
}

func (rs *RaftSet) headlessService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: rs.HeadlessServiceName(), Labels: map[string]string{LabelApp: rs.Spec.Name}},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 map[string]string{LabelApp: rs.Spec.Name},
			Ports:                    []corev1.ServicePort{{Name: "cluster", Port: 8201}},
		},
	}
}

func (rs *RaftSet) clientService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: rs.Spec.Name, Labels: map[string]string{LabelApp: rs.Spec.Name}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{LabelApp: rs.Spec.Name, LabelRevision: rs.Spec.Name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8200}},
		},
	}
}

func (rs *RaftSet) statefulSet() *appsv1.StatefulSet {
	s := rs.Spec
	replicas, partition := s.Replicas, s.Partition
	grace := int64(TerminationGracePeriod / time.Second)
	podLabels := map[string]string{LabelApp: s.Name, LabelRevision: s.Name, LabelVersion: s.Version}
	strategy := appsv1.StatefulSetUpdateStrategy{Type: s.UpdateStrategy}
	if s.UpdateStrategy == appsv1.RollingUpdateStatefulSetStrategyType {
		strategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &partition}
	}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Labels: map[string]string{LabelApp: s.Name}},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         rs.HeadlessServiceName(),
			PodManagementPolicy: s.PodManagementPolicy,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: s.Name, LabelRevision: s.Name}},
			UpdateStrategy:      strategy,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name:  ContainerName,
						Image: s.Image,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8200}, {Name: "cluster", ContainerPort: 8201}},
					}},
				},
			},
		},
	}
}

// Pods lists the namespace's pods of the named StatefulSet (all of the
// cluster's pods when set is empty), by name.
func (rs *RaftSet) Pods(ctx context.Context, set string) ([]corev1.Pod, error) {
	sel := LabelApp + "=" + rs.Spec.Name
	if set != "" {
		sel += "," + LabelRevision + "=" + set
	}
	list, err := rs.CP.Client.CoreV1().Pods(rs.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return list.Items, nil
}

// StatefulSet gets the RaftSet's StatefulSet.
func (rs *RaftSet) StatefulSet(ctx context.Context) (*appsv1.StatefulSet, error) {
	return rs.CP.Client.AppsV1().StatefulSets(rs.Namespace).Get(ctx, rs.Spec.Name, metav1.GetOptions{})
}

// UpdateStatefulSet applies mutate to the StatefulSet, retrying conflicts.
func (rs *RaftSet) UpdateStatefulSet(ctx context.Context, mutate func(*appsv1.StatefulSet)) (*appsv1.StatefulSet, error) {
	var out *appsv1.StatefulSet
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := rs.StatefulSet(ctx)
		if err != nil {
			return err
		}
		mutate(s)
		out, err = rs.CP.Client.AppsV1().StatefulSets(rs.Namespace).Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update statefulset: %w", err)
	}
	return out, nil
}

// SetPartition sets the RollingUpdate partition (and the RollingUpdate
// type, when the StatefulSet used OnDelete).
func (rs *RaftSet) SetPartition(ctx context.Context, partition int32) error {
	_, err := rs.UpdateStatefulSet(ctx, func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.Spec.UpdateStrategy.RollingUpdate == nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		s.Spec.UpdateStrategy.RollingUpdate.Partition = &partition
	})
	return err
}

// SetTemplate changes the server container's image and the version label.
func (rs *RaftSet) SetTemplate(ctx context.Context, image, version string) error {
	_, err := rs.UpdateStatefulSet(ctx, func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = image
		s.Spec.Template.Labels[LabelVersion] = version
	})
	return err
}

// WaitFor polls cond every 50ms until it returns true, an error, or
// timeout passes.
func (rs *RaftSet) WaitFor(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, cond)
}

// WaitReady waits until the StatefulSet named set has n pods, all ready,
// not terminating, (when image is not empty) running image, and the pod
// watch, hence the simulated Raft, has seen them so.
func (rs *RaftSet) WaitReady(ctx context.Context, set string, n int, image string, timeout time.Duration) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	err := rs.WaitFor(ctx, timeout, func(ctx context.Context) (bool, error) {
		ps, err := rs.Pods(ctx, set)
		if err != nil {
			return false, err
		}
		if len(ps) != n {
			return false, nil
		}
		for i := range ps {
			p := &ps[i]
			if !PodReady(p) || p.DeletionTimestamp != nil {
				return false, nil
			}
			if image != "" && p.Spec.Containers[0].Image != image {
				return false, nil
			}
			// The watch (and so the simulated Raft) must have caught up.
			if e, ok := rs.Recorder.Last(p.Name); !ok || e.UID != p.UID || !e.Ready || e.Type == EventDeleted {
				return false, nil
			}
		}
		pods = ps
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for %d ready pods of %q: %w", n, set, err)
	}
	return pods, nil
}
