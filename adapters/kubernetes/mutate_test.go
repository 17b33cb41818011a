package kubernetes

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raftshift/raftshift/upgrade"
)

var intstrOne = intstr.FromInt32(1)

func withRV[T client.Object](o T, rv string) T {
	o.SetResourceVersion(rv)
	return o
}

func patchData(t *testing.T, obj client.Object, p client.Patch) string {
	t.Helper()
	data, err := p.Data(obj)
	if err != nil {
		t.Fatalf("patch data: %v", err)
	}
	return string(data)
}

// TestPatchFor pins the exact patch each patch-type action produces.
func TestPatchFor(t *testing.T) {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	blue.ResourceVersion = "7"
	green := sts("bao-green", "openbao/openbao:2.4.0", "2.4.0", 3, 0)
	svc := withRV(service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"}), "5")
	free := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "bao" + DefaultLockSuffix, Namespace: testNS, ResourceVersion: "3"}}
	held := free.DeepCopy()
	held.Spec.HolderIdentity = ptr.To("up-1")
	held.Spec.AcquireTime = ptr.To(metav1.NewMicroTime(t0))
	st := state{StatefulSets: []appsv1.StatefulSet{blue, green}, Service: svc}

	tests := []struct {
		name   string
		action upgrade.Action
		lease  *coordinationv1.Lease
		kind   string
		patch  types.PatchType
		data   string
	}{
		{
			name:   "SetPartition",
			action: upgrade.SetPartition{Workload: "bao", Partition: 2},
			kind:   "StatefulSet", patch: types.MergePatchType,
			data: `{"metadata":{"resourceVersion":"7"},"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}`,
		},
		{
			name:   "UpdateTemplate",
			action: upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
			kind:   "StatefulSet", patch: types.StrategicMergePatchType,
			data: `{"metadata":{"resourceVersion":"7"},"spec":{"template":{"metadata":{"annotations":{"raftshift.io/version":"2.4.0"},` +
				`"labels":{"app.kubernetes.io/version":"2.4.0"}},"spec":{"$setElementOrder/containers":[{"name":"openbao"},{"name":"sidecar"}],` +
				`"containers":[{"image":"openbao/openbao:2.4.0","name":"openbao"}]}}}}`,
		},
		{
			name:   "SwitchService",
			action: upgrade.SwitchService{Service: "bao", Workload: "bao-green"},
			kind:   "Service", patch: types.MergePatchType,
			data: `{"metadata":{"resourceVersion":"5"},"spec":{"selector":{"raftshift.io/revision":"bao-green"}}}`,
		},
		{
			name:   "AcquireLock on a free Lease",
			action: upgrade.AcquireLock{Holder: "up-2"},
			lease:  free,
			kind:   "Lease", patch: types.MergePatchType,
			data: `{"metadata":{"resourceVersion":"3"},"spec":{"acquireTime":"2026-11-25T08:00:00.000000Z","holderIdentity":"up-2"}}`,
		},
		{
			name:   "ReleaseLock by the holder",
			action: upgrade.ReleaseLock{Holder: "up-1"},
			lease:  held,
			kind:   "Lease", patch: types.MergePatchType,
			data: `{"metadata":{"resourceVersion":"3"},"spec":{"acquireTime":null,"holderIdentity":null}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := st
			s.Lease = tt.lease
			obj, p, err := patchFor(tt.action, s, testConfig(), t0)
			if err != nil {
				t.Fatal(err)
			}
			if p.Type() != tt.patch {
				t.Errorf("patch type = %s, want %s", p.Type(), tt.patch)
			}
			var kind string
			switch obj.(type) {
			case *appsv1.StatefulSet:
				kind = "StatefulSet"
			case *corev1.Service:
				kind = "Service"
			case *coordinationv1.Lease:
				kind = "Lease"
			}
			if kind != tt.kind {
				t.Errorf("object is %T, want %s", obj, tt.kind)
			}
			if got := patchData(t, obj, p); got != tt.data {
				t.Errorf("patch =\n%s\nwant\n%s", got, tt.data)
			}
		})
	}
	// The inputs were not mutated.
	if *st.StatefulSets[0].Spec.UpdateStrategy.RollingUpdate.Partition != 3 ||
		st.StatefulSets[0].Spec.Template.Spec.Containers[0].Image != "openbao/openbao:2.3.1" ||
		st.Service.Spec.Selector[DefaultRevisionLabel] != "bao" || held.Spec.HolderIdentity == nil {
		t.Fatal("PatchFor mutated its inputs")
	}
}

func TestPatchWithoutResourceVersionHasNoPrecondition(t *testing.T) {
	s := sts("bao", "i:1", "1", 3, 3)
	obj, p, err := setPartitionPatch(&s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := patchData(t, obj, p), `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}`; got != want {
		t.Fatalf("patch = %s, want %s", got, want)
	}
}

func TestSetPartitionPatchEdgeCases(t *testing.T) {
	s := sts("bao", "i:1", "1", 3, 3)
	if obj, p, err := setPartitionPatch(&s, 3); obj != nil || p != nil || err != nil {
		t.Fatalf("same partition: got %v %v %v, want no change", obj, p, err)
	}
	if _, _, err := setPartitionPatch(&s, -1); !errors.Is(err, ErrInvalidAction) {
		t.Fatalf("negative partition: err = %v", err)
	}
	// OnDelete has no partition and restarts nothing on its own: nothing
	// to do, whatever the partition; a negative one is still invalid.
	od := s.DeepCopy()
	od.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	for _, p := range []int32{0, 1, 3, 7} {
		if obj, patch, err := setPartitionPatch(od, p); obj != nil || patch != nil || err != nil {
			t.Fatalf("OnDelete partition %d: got %v %v %v, want no change", p, obj, patch, err)
		}
	}
	if _, _, err := setPartitionPatch(od, -1); !errors.Is(err, ErrInvalidAction) {
		t.Fatalf("OnDelete negative partition: err = %v", err)
	}
	// A type Kubernetes does not know is neither guessed nor switched.
	odd := s.DeepCopy()
	odd.Spec.UpdateStrategy.Type = "Surprise"
	if _, _, err := setPartitionPatch(odd, 1); !errors.Is(err, ErrUnsupportedUpdateStrategy) || err.Error() != `statefulset bao uses update strategy "Surprise": unsupported update strategy` {
		t.Fatalf("unknown strategy: err = %v", err)
	}
	// Defaulted strategy (no rollingUpdate block): the patch creates it.
	bare := s.DeepCopy()
	bare.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{}
	obj, p, err := setPartitionPatch(bare, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1},"type":"RollingUpdate"}}}`
	if got := patchData(t, obj, p); got != want {
		t.Fatalf("patch = %s, want %s", got, want)
	}
}

func TestUpdateTemplatePatchEdgeCases(t *testing.T) {
	cfg := testConfig()
	s := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	s.Spec.Template.Annotations = map[string]string{"raftshift.io/version": "2.3.1"}
	if obj, _, err := updateTemplatePatch(&s, "openbao/openbao:2.3.1", "2.3.1", cfg); obj != nil || err != nil {
		t.Fatalf("already there: obj = %v, err = %v", obj, err)
	}
	cfg.Container = "missing"
	if _, _, err := updateTemplatePatch(&s, "x:2", "2", cfg); !errors.Is(err, ErrContainerNotFound) {
		t.Fatalf("missing container: err = %v", err)
	}
	cfg.Container = "" // two containers, no name: ambiguous
	if _, _, err := updateTemplatePatch(&s, "x:2", "2", cfg); !errors.Is(err, ErrContainerNotFound) {
		t.Fatalf("ambiguous container: err = %v", err)
	}
	if _, _, err := updateTemplatePatch(&s, "", "2", testConfig()); !errors.Is(err, ErrInvalidAction) {
		t.Fatalf("empty image: err = %v", err)
	}
	// Only the named container changes; the sidecar keeps its image.
	obj, _, err := updateTemplatePatch(&s, "openbao/openbao:2.4.0", "2.4.0", testConfig())
	if err != nil {
		t.Fatal(err)
	}
	cs := obj.Spec.Template.Spec.Containers
	if cs[0].Image != "openbao/openbao:2.4.0" || cs[1].Image != "busybox:1.36" {
		t.Fatalf("containers = %+v", cs)
	}
}

func TestGreenStatefulSet(t *testing.T) {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	blue.ResourceVersion = "9"
	blue.OwnerReferences = []metav1.OwnerReference{{APIVersion: "x/v1", Kind: "OpenBao", Name: "bao", UID: "o", Controller: ptr.To(true)}}
	blue.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstrOne)
	a := upgrade.CreateRevision{Workload: "bao-green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 5}
	g, err := greenStatefulSet(&blue, a, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := blue.DeepCopy()
	want.ObjectMeta = metav1.ObjectMeta{
		Name: "bao-green", Namespace: testNS,
		Labels:          map[string]string{"app": "bao", DefaultRevisionLabel: "bao-green"},
		Annotations:     map[string]string{"team": "storage"},
		OwnerReferences: blue.OwnerReferences,
	}
	want.Status = appsv1.StatefulSetStatus{}
	want.Spec.Replicas = ptr.To(int32(5))
	want.Spec.Selector.MatchLabels[DefaultRevisionLabel] = "bao-green"
	want.Spec.Template.Labels = map[string]string{"app": "bao", DefaultRevisionLabel: "bao-green", "app.kubernetes.io/version": "2.4.0"}
	want.Spec.Template.Annotations = map[string]string{"raftshift.io/version": "2.4.0"}
	want.Spec.Template.Spec.Containers[0].Image = "openbao/openbao:2.4.0"
	want.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(int32(0))
	if d := cmp.Diff(want, g); d != "" {
		t.Fatalf("green (-want +got):\n%s", d)
	}
	if blue.Labels[DefaultRevisionLabel] != "" || blue.Spec.Selector.MatchLabels[DefaultRevisionLabel] != "bao" ||
		blue.Annotations[LastAppliedAnnotation] == "" {
		t.Fatal("GreenStatefulSet mutated its source")
	}
	// ServiceName and volume claim templates carried over.
	if g.Spec.ServiceName != "bao-internal" || len(g.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("green spec = %+v", g.Spec)
	}
	for _, bad := range []upgrade.CreateRevision{
		{Image: "i:1", Replicas: 1}, {Workload: "g", Replicas: 1}, {Workload: "g", Image: "i:1", Replicas: -1},
	} {
		if _, err := greenStatefulSet(&blue, bad, testConfig()); !errors.Is(err, ErrInvalidAction) {
			t.Errorf("%+v: err = %v, want ErrInvalidAction", bad, err)
		}
	}
}

func TestPlan(t *testing.T) {
	cfg := testConfig()
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	green := sts("bao-green", "openbao/openbao:2.4.0", "2.4.0", 3, 0)
	p0 := pod("bao", 0, "r", "i", "1")
	term := pod("bao", 1, "r", "i", "1")
	term.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	svcBlue := service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"})
	held := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("other")}}
	base := state{StatefulSets: []appsv1.StatefulSet{blue}, Pods: []corev1.Pod{p0, term}, Service: svcBlue}

	tests := []struct {
		name   string
		action upgrade.Action
		state  func(state) state
		op     changeOp
		err    error
		check  func(t *testing.T, ch change)
	}{
		{name: "partition already set", action: upgrade.SetPartition{Workload: "bao", Partition: 3}, op: opNone},
		{name: "partition of missing workload", action: upgrade.SetPartition{Workload: "nope", Partition: 3}, err: ErrWorkloadNotFound},
		{name: "template of missing workload", action: upgrade.UpdateTemplate{Workload: "nope", Image: "i"}, err: ErrWorkloadNotFound},
		{
			name: "delete pod with uid precondition", action: upgrade.DeletePod{Member: "bao-0", UID: "uid-bao-0"}, op: opDelete,
			check: func(t *testing.T, ch change) {
				if ch.Object.GetName() != "bao-0" || ch.Object.GetNamespace() != testNS {
					t.Fatalf("object = %s/%s", ch.Object.GetNamespace(), ch.Object.GetName())
				}
				if ch.Delete.Preconditions == nil || *ch.Delete.Preconditions.UID != "uid-bao-0" {
					t.Fatalf("preconditions = %+v", ch.Delete.Preconditions)
				}
			},
		},
		{name: "delete pod recreated under another uid", action: upgrade.DeletePod{Member: "bao-0", UID: "old"}, op: opNone},
		{name: "delete pod already gone", action: upgrade.DeletePod{Member: "bao-9", UID: "u"}, op: opNone},
		{name: "delete pod already terminating", action: upgrade.DeletePod{Member: "bao-1", UID: "uid-bao-1"}, op: opNone},
		{name: "delete pod without uid", action: upgrade.DeletePod{Member: "bao-0"}, err: ErrInvalidAction},
		{
			name: "create green from the service's workload", action: upgrade.CreateRevision{Workload: "bao-green", Image: "i:2", Replicas: 3},
			state: func(s state) state {
				other := sts("bao-old", "i:0", "0", 3, 0)
				s.StatefulSets = append(s.StatefulSets, other)
				return s
			},
			op: opCreate,
			check: func(t *testing.T, ch change) {
				g := ch.Object.(*appsv1.StatefulSet)
				if g.Name != "bao-green" || g.Spec.Template.Spec.Containers[0].Image != "i:2" || *g.Spec.Replicas != 3 {
					t.Fatalf("green = %+v", g)
				}
			},
		},
		{
			name: "create green with two candidates and no service", action: upgrade.CreateRevision{Workload: "g", Image: "i:2", Replicas: 3},
			state: func(s state) state {
				s.StatefulSets = append(s.StatefulSets, green)
				s.Service = nil
				return s
			},
			err: ErrNoSourceWorkload,
		},
		{
			name: "create green that exists", action: upgrade.CreateRevision{Workload: "bao-green", Image: "i:2", Replicas: 3},
			state: func(s state) state { s.StatefulSets = append(s.StatefulSets, green); return s },
			op:    opNone,
		},
		{
			name: "delete revision", action: upgrade.DeleteRevision{Workload: "bao"}, op: opDelete,
			check: func(t *testing.T, ch change) {
				if ch.Object.GetName() != "bao" || *ch.Delete.PropagationPolicy != metav1.DeletePropagationBackground ||
					*ch.Delete.Preconditions.UID != "uid-bao" {
					t.Fatalf("change = %+v", ch)
				}
			},
		},
		{
			name: "delete a statefulset outside the cluster selector", action: upgrade.DeleteRevision{Workload: "db"},
			state: func(s state) state {
				db := sts("db", "postgres:16", "16", 1, 0)
				db.Labels = map[string]string{"app": "db"}
				s.StatefulSets = append(s.StatefulSets, db)
				return s
			},
			err: ErrForeignWorkload,
		},
		{name: "delete missing revision", action: upgrade.DeleteRevision{Workload: "gone"}, op: opNone},
		{name: "switch to the current workload", action: upgrade.SwitchService{Service: "bao", Workload: "bao"}, op: opNone},
		{name: "switch missing service", action: upgrade.SwitchService{Service: "x", Workload: "bao"}, err: ErrServiceNotFound},
		{name: "switch to missing workload", action: upgrade.SwitchService{Service: "bao", Workload: "x"}, err: ErrWorkloadNotFound},
		{
			name: "acquire absent lock creates the lease", action: upgrade.AcquireLock{Holder: "up-1"}, op: opCreate,
			check: func(t *testing.T, ch change) {
				l := ch.Object.(*coordinationv1.Lease)
				if l.Name != "bao"+DefaultLockSuffix || l.Namespace != testNS || *l.Spec.HolderIdentity != "up-1" ||
					!l.Spec.AcquireTime.Equal(ptr.To(metav1.NewMicroTime(t0))) {
					t.Fatalf("lease = %+v", l)
				}
			},
		},
		{
			name: "acquire lock held by another", action: upgrade.AcquireLock{Holder: "up-1"},
			state: func(s state) state { s.Lease = held; return s }, err: ErrLockHeld,
		},
		{
			name: "acquire lock held by self", action: upgrade.AcquireLock{Holder: "other"},
			state: func(s state) state { s.Lease = held; return s }, op: opNone,
		},
		{
			name: "release lock held by another", action: upgrade.ReleaseLock{Holder: "up-1"},
			state: func(s state) state { s.Lease = held; return s }, err: ErrLockHeld,
		},
		{name: "release absent lock", action: upgrade.ReleaseLock{Holder: "up-1"}, op: opNone},
		{name: "acquire with empty holder", action: upgrade.AcquireLock{}, err: ErrInvalidAction},
		{name: "nil action", action: nil, err: ErrInvalidAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := base
			if tt.state != nil {
				st = tt.state(base)
			}
			ch, err := plan(tt.action, st, cfg, t0)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Op != tt.op {
				t.Fatalf("op = %s, want %s (reason %q)", ch.Op, tt.op, ch.Reason)
			}
			if tt.check != nil {
				tt.check(t, ch)
			}
		})
	}
}

func TestLockHeldError(t *testing.T) {
	held := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("backup-3")}}
	_, err := plan(upgrade.AcquireLock{Holder: "upgrade-1"}, state{Lease: held}, testConfig(), t0)
	var lh *LockHeldError
	if !errors.As(err, &lh) || lh.Holder != "backup-3" || lh.Requester != "upgrade-1" || lh.Lease != "l" {
		t.Fatalf("err = %#v", err)
	}
	if got := err.Error(); got != `lease l is held by "backup-3", not "upgrade-1"` {
		t.Fatalf("message = %q", got)
	}
}

func TestRaftActionsAreNotKubernetesActions(t *testing.T) {
	raft := []upgrade.Action{
		upgrade.StepDown{Member: "bao-0"}, upgrade.TransferLeadership{From: "bao-0", To: "bao-1"},
		upgrade.JoinNonvoter{Member: "g-0"}, upgrade.Promote{Member: "g-0"}, upgrade.Demote{Member: "bao-0"},
		upgrade.RemovePeer{Member: "bao-0"}, upgrade.TakeSnapshot{Name: "s"}, upgrade.RunHook{Hook: "h"},
	}
	seen := map[upgrade.ActionKind]bool{}
	for _, a := range raft {
		seen[a.Kind()] = true
		if IsKubernetesAction(a) {
			t.Errorf("%s: IsKubernetesAction = true", a.Kind())
		}
		if _, err := plan(a, state{}, testConfig(), t0); !errors.Is(err, ErrNotKubernetesAction) {
			t.Errorf("%s: Plan err = %v, want ErrNotKubernetesAction", a.Kind(), err)
		}
	}
	// Every other kind is a Kubernetes action: the two sets partition AllKinds.
	k8s := []upgrade.Action{
		upgrade.SetPartition{}, upgrade.UpdateTemplate{}, upgrade.DeletePod{}, upgrade.CreateRevision{},
		upgrade.DeleteRevision{}, upgrade.SwitchService{}, upgrade.AcquireLock{}, upgrade.ReleaseLock{},
	}
	for _, a := range k8s {
		seen[a.Kind()] = true
		if !IsKubernetesAction(a) {
			t.Errorf("%s: IsKubernetesAction = false", a.Kind())
		}
	}
	if len(seen) != len(upgrade.AllKinds()) {
		t.Fatalf("classified %d kinds, upgrade has %d", len(seen), len(upgrade.AllKinds()))
	}
}

func TestPatchForRejectsNonPatchChanges(t *testing.T) {
	st := state{Pods: []corev1.Pod{pod("bao", 0, "r", "i", "1")}}
	if _, _, err := patchFor(upgrade.DeletePod{Member: "bao-0", UID: "uid-bao-0"}, st, testConfig(), t0); !errors.Is(err, ErrNotPatch) {
		t.Fatalf("err = %v, want ErrNotPatch", err)
	}
}
