package kubernetes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raftshift/raftshift/upgrade"
)

// cluster returns the objects of a 3-pod blue cluster.
func cluster() []client.Object {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	objs := []client.Object{&blue, service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"})}
	for i := 0; i < 3; i++ {
		p := pod("bao", i, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1")
		objs = append(objs, &p)
	}
	return objs
}

func newExecutor(c client.Client) *Executor {
	return &Executor{Client: c, Config: testConfig(), Clock: func() time.Time { return t0 },
		Backoff: &wait.Backoff{Steps: 5, Duration: time.Millisecond, Factor: 1}}
}

func getSTS(t *testing.T, c client.Client, name string) *appsv1.StatefulSet {
	t.Helper()
	var s appsv1.StatefulSet
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: name}, &s); err != nil {
		t.Fatalf("get statefulset %s: %v", name, err)
	}
	return &s
}

// dump lists every object kind the executor touches, for before/after
// comparisons.
func dump(t fataler, c client.Client) []any {
	t.Helper()
	ctx := context.Background()
	var sets appsv1.StatefulSetList
	var pods corev1.PodList
	var svcs corev1.ServiceList
	var leases coordinationv1.LeaseList
	for _, l := range []client.ObjectList{&sets, &pods, &svcs, &leases} {
		if err := c.List(ctx, l); err != nil {
			t.Fatalf("list: %v", err)
		}
	}
	return []any{sets.Items, pods.Items, svcs.Items, leases.Items}
}

// rollingDecision is the shape of a rolling step: lock, partition, template,
// partition down, delete a pod, event.
func rollingDecision() upgrade.Decision {
	return upgrade.Decision{Actions: []upgrade.Action{
		upgrade.AcquireLock{Holder: "upgrade-1"},
		upgrade.SetPartition{Workload: "bao", Partition: 3},
		upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.SetPartition{Workload: "bao", Partition: 2},
		upgrade.DeletePod{Member: "bao-2", UID: "uid-bao-2"},
	}, Events: []upgrade.Event{{Type: upgrade.EventNormal, Reason: "MemberUpgrading", Message: "bao-2 to 2.4.0"}}}
}

// blueGreenDecision creates green, switches the service, deletes blue and
// releases the lock.
func blueGreenDecision() upgrade.Decision {
	return upgrade.Decision{Actions: []upgrade.Action{
		upgrade.AcquireLock{Holder: "upgrade-1"},
		upgrade.CreateRevision{Workload: "bao-green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3},
		upgrade.SwitchService{Service: "bao", Workload: "bao-green"},
		upgrade.DeleteRevision{Workload: "bao"},
		upgrade.ReleaseLock{Holder: "upgrade-1"},
	}}
}

func TestExecutorRollingDecision(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
	rec := events.NewFakeRecorder(10)
	e := newExecutor(c)
	e.Recorder = rec
	ctx := context.Background()
	if err := e.Apply(ctx, nil, rollingDecision()); err != nil {
		t.Fatal(err)
	}
	s := getSTS(t, c, "bao")
	if p := *s.Spec.UpdateStrategy.RollingUpdate.Partition; p != 2 {
		t.Errorf("partition = %d, want 2", p)
	}
	tpl := s.Spec.Template
	if tpl.Spec.Containers[0].Image != "openbao/openbao:2.4.0" || tpl.Spec.Containers[1].Image != "busybox:1.36" ||
		tpl.Labels["app.kubernetes.io/version"] != "2.4.0" || tpl.Annotations["raftshift.io/version"] != "2.4.0" {
		t.Errorf("template = %+v", tpl)
	}
	if tpl.Labels["app"] != "bao" || tpl.Labels[DefaultRevisionLabel] != "bao" {
		t.Errorf("template labels lost: %v", tpl.Labels)
	}
	var p corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao-2"}, &p); !apierrors.IsNotFound(err) {
		t.Errorf("bao-2: err = %v, want NotFound", err)
	}
	var l coordinationv1.Lease
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao" + DefaultLockSuffix}, &l); err != nil {
		t.Fatal(err)
	}
	if got := lockFromLease(&l); got.Holder != "upgrade-1" || !got.Since.Equal(t0) {
		t.Errorf("lock = %+v", got)
	}
	select {
	case ev := <-rec.Events:
		if ev != "Normal MemberUpgrading bao-2 to 2.4.0" {
			t.Errorf("event = %q", ev)
		}
	default:
		t.Error("no event recorded")
	}
}

func TestExecutorBlueGreenDecision(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
	e := newExecutor(c)
	ctx := context.Background()
	d := blueGreenDecision()
	// Execute up to the switch, check green and the selector.
	if err := e.Apply(ctx, nil, upgrade.Decision{Actions: d.Actions[:3]}); err != nil {
		t.Fatal(err)
	}
	g := getSTS(t, c, "bao-green")
	want, err := greenStatefulSet(getSTS(t, c, "bao"), d.Actions[1].(upgrade.CreateRevision), testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Spec, g.Spec); d != "" {
		t.Errorf("green spec (-want +got):\n%s", d)
	}
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao"}, &svc); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"app": "bao", DefaultRevisionLabel: "bao-green"}, svc.Spec.Selector); d != "" {
		t.Errorf("selector (-want +got):\n%s", d)
	}
	obs := buildObservation(t0, []appsv1.StatefulSet{*getSTS(t, c, "bao"), *g}, nil, &svc, testConfig())
	if obs.Service.Workload != "bao-green" {
		t.Errorf("service resolves to %q, want bao-green", obs.Service.Workload)
	}
	// Rest of the decision: blue deleted, lock released.
	if err := e.Apply(ctx, nil, d); err != nil {
		t.Fatal(err)
	}
	var s appsv1.StatefulSet
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao"}, &s); !apierrors.IsNotFound(err) {
		t.Errorf("blue: err = %v, want NotFound", err)
	}
	var l coordinationv1.Lease
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao" + DefaultLockSuffix}, &l); err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != nil {
		t.Errorf("lock still held by %q", *l.Spec.HolderIdentity)
	}
}

// TestExecutorIdempotent executes each decision twice: the second run
// returns no error and leaves every object as the first run left it. (A
// decision that lowers a partition it raised earlier re-does both writes, so
// resourceVersions may move; the contents may not.)
func TestExecutorIdempotent(t *testing.T) {
	for name, d := range map[string]upgrade.Decision{"rolling": rollingDecision(), "bluegreen": blueGreenDecision()} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
			e := newExecutor(c)
			ctx := context.Background()
			if err := e.Apply(ctx, nil, d); err != nil {
				t.Fatal(err)
			}
			after := dump(t, c)
			if err := e.Apply(ctx, nil, d); err != nil {
				t.Fatalf("second run: %v", err)
			}
			ignoreRV := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ResourceVersion" }, cmp.Ignore())
			if diff := cmp.Diff(after, dump(t, c), ignoreRV); diff != "" {
				t.Fatalf("second run changed objects (-first +second):\n%s", diff)
			}
		})
	}
}

// TestExecutorSecondRunWritesNothing: for a decision whose actions do not
// undo each other, the second run issues no write at all.
func TestExecutorSecondRunWritesNothing(t *testing.T) {
	writes := 0
	count := interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			writes++
			return c.Patch(ctx, obj, p, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			writes++
			return c.Create(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			writes++
			return c.Delete(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			writes++
			return c.Update(ctx, obj, opts...)
		},
	}
	old := sts("bao-old", "openbao/openbao:2.2.0", "2.2.0", 0, 0)
	c := fake.NewClientBuilder().WithObjects(append(cluster(), &old)...).WithInterceptorFuncs(count).Build()
	d := upgrade.Decision{Actions: []upgrade.Action{
		upgrade.AcquireLock{Holder: "upgrade-1"},
		upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		upgrade.SetPartition{Workload: "bao", Partition: 2},
		upgrade.DeletePod{Member: "bao-2", UID: "uid-bao-2"},
		upgrade.CreateRevision{Workload: "bao-green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3},
		upgrade.SwitchService{Service: "bao", Workload: "bao-green"},
		upgrade.DeleteRevision{Workload: "bao-old"},
	}}
	e := newExecutor(c)
	ctx := context.Background()
	if err := e.Apply(ctx, nil, d); err != nil {
		t.Fatal(err)
	}
	if writes != len(d.Actions) {
		t.Fatalf("first run: %d writes, want %d", writes, len(d.Actions))
	}
	after := dump(t, c)
	writes = 0
	if err := e.Apply(ctx, nil, d); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if writes != 0 {
		t.Fatalf("second run: %d writes, want 0", writes)
	}
	if diff := cmp.Diff(after, dump(t, c)); diff != "" {
		t.Fatalf("second run changed objects:\n%s", diff)
	}
}

// TestExecutorRetriesConflicts makes another writer change the StatefulSet
// between the executor's read and its patch: the optimistic lock makes the
// patch conflict, the executor re-reads and re-plans, and both writes
// survive.
func TestExecutorRetriesConflicts(t *testing.T) {
	var patches, interfered int
	c := fake.NewClientBuilder().WithObjects(cluster()...).WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			patches++
			if _, ok := obj.(*appsv1.StatefulSet); ok && interfered < 2 {
				interfered++
				var s appsv1.StatefulSet
				if err := c.Get(ctx, client.ObjectKeyFromObject(obj), &s); err != nil {
					return err
				}
				s.Annotations["other-writer"] = "x"
				if err := c.Update(ctx, &s); err != nil {
					return err
				}
			}
			return c.Patch(ctx, obj, p, opts...)
		},
	}).Build()
	e := newExecutor(c)
	if err := e.Execute(context.Background(), nil, upgrade.SetPartition{Workload: "bao", Partition: 1}); err != nil {
		t.Fatal(err)
	}
	s := getSTS(t, c, "bao")
	if *s.Spec.UpdateStrategy.RollingUpdate.Partition != 1 || s.Annotations["other-writer"] != "x" {
		t.Fatalf("partition = %d annotations = %v", *s.Spec.UpdateStrategy.RollingUpdate.Partition, s.Annotations)
	}
	if patches != 3 {
		t.Fatalf("patches = %d, want 3 (two conflicts, one success)", patches)
	}

	// A writer that never stops conflicting exhausts the backoff: the
	// conflict is returned, wrapped.
	c2 := fake.NewClientBuilder().WithObjects(cluster()...).WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			return apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, obj.GetName(), errors.New("busy"))
		},
	}).Build()
	err := newExecutor(c2).Apply(context.Background(), nil, upgrade.Decision{Actions: []upgrade.Action{upgrade.SetPartition{Workload: "bao", Partition: 1}}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("err = %v, want a conflict", err)
	}
}

// TestExecutorDeletePodUIDPrecondition emulates the API server's UID
// precondition (the fake client only checks resourceVersion preconditions):
// a pod recreated under a new UID between read and delete is left alone and
// the action counts as done.
func TestExecutorDeletePodUIDPrecondition(t *testing.T) {
	var sent []types.UID
	recreate := true
	c := fake.NewClientBuilder().WithObjects(cluster()...).WithInterceptorFuncs(interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			var do client.DeleteOptions
			do.ApplyOptions(opts)
			if do.Preconditions == nil || do.Preconditions.UID == nil {
				return errors.New("delete without uid precondition")
			}
			sent = append(sent, *do.Preconditions.UID)
			if recreate { // the controller recreated the pod meanwhile
				recreate = false
				var p corev1.Pod
				if err := c.Get(ctx, client.ObjectKeyFromObject(obj), &p); err != nil {
					return err
				}
				if err := c.Delete(ctx, &p); err != nil {
					return err
				}
				p.ResourceVersion, p.UID = "", "uid-new"
				if err := c.Create(ctx, &p); err != nil {
					return err
				}
			}
			var cur corev1.Pod
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), &cur); err != nil {
				return err
			}
			if cur.UID != *do.Preconditions.UID {
				return apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, obj.GetName(),
					errors.New("precondition failed: UID in precondition does not match UID in object"))
			}
			return c.Delete(ctx, obj, opts...)
		},
	}).Build()
	e := newExecutor(c)
	ctx := context.Background()
	if err := e.Execute(ctx, nil, upgrade.DeletePod{Member: "bao-1", UID: "uid-bao-1"}); err != nil {
		t.Fatalf("conflict on the uid precondition must count as done: %v", err)
	}
	var p corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao-1"}, &p); err != nil || p.UID != "uid-new" {
		t.Fatalf("recreated pod must survive: uid %q err %v", p.UID, err)
	}
	// The same action again: the pod's UID differs, nothing is deleted.
	if err := e.Execute(ctx, nil, upgrade.DeletePod{Member: "bao-1", UID: "uid-bao-1"}); err != nil {
		t.Fatal(err)
	}
	// Deleting the new incarnation by its UID works.
	if err := e.Execute(ctx, nil, upgrade.DeletePod{Member: "bao-1", UID: "uid-new"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao-1"}, &p); !apierrors.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound", err)
	}
	if d := cmp.Diff([]types.UID{"uid-bao-1", "uid-new"}, sent); d != "" {
		t.Fatalf("uid preconditions sent (-want +got):\n%s", d)
	}
}

func TestExecutorStopsAtFirstError(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
	e := newExecutor(c)
	d := upgrade.Decision{Actions: []upgrade.Action{
		upgrade.SetPartition{Workload: "bao", Partition: 2},
		upgrade.SetPartition{Workload: "missing", Partition: 0},
		upgrade.SetPartition{Workload: "bao", Partition: 0},
	}}
	err := e.Apply(context.Background(), nil, d)
	var ae *ActionError
	if !errors.As(err, &ae) || ae.Index != 1 || ae.Action != d.Actions[1] {
		t.Fatalf("err = %#v, want ActionError for action 1", err)
	}
	if !errors.Is(err, ErrWorkloadNotFound) {
		t.Fatalf("err = %v, want ErrWorkloadNotFound", err)
	}
	if !strings.Contains(err.Error(), "set partition of missing to 0") {
		t.Fatalf("message %q does not name the action", err)
	}
	if p := *getSTS(t, c, "bao").Spec.UpdateStrategy.RollingUpdate.Partition; p != 2 {
		t.Fatalf("partition = %d: actions after the failure must not run", p)
	}
}

func TestExecutorLock(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
	e := newExecutor(c)
	ctx := context.Background()
	step := func(a upgrade.Action) error { return e.Execute(ctx, nil, a) }
	holder := func() string {
		var l coordinationv1.Lease
		if err := c.Get(ctx, client.ObjectKey{Namespace: testNS, Name: "bao" + DefaultLockSuffix}, &l); err != nil {
			t.Fatal(err)
		}
		return ptr.Deref(l.Spec.HolderIdentity, "")
	}
	if err := step(upgrade.ReleaseLock{Holder: "a"}); err != nil {
		t.Fatalf("releasing an absent lock: %v", err)
	}
	if err := step(upgrade.AcquireLock{Holder: "a"}); err != nil || holder() != "a" {
		t.Fatalf("acquire: %v, holder %q", err, holder())
	}
	if err := step(upgrade.AcquireLock{Holder: "a"}); err != nil {
		t.Fatalf("re-acquire by the holder: %v", err)
	}
	err := step(upgrade.AcquireLock{Holder: "b"})
	var lh *LockHeldError
	if !errors.Is(err, ErrLockHeld) || !errors.As(err, &lh) || lh.Holder != "a" || lh.Requester != "b" {
		t.Fatalf("acquire by another: err = %v", err)
	}
	if err := step(upgrade.ReleaseLock{Holder: "b"}); !errors.Is(err, ErrLockHeld) || holder() != "a" {
		t.Fatalf("release by another: err = %v, holder %q", err, holder())
	}
	if err := step(upgrade.ReleaseLock{Holder: "a"}); err != nil || holder() != "" {
		t.Fatalf("release: %v, holder %q", err, holder())
	}
	if err := step(upgrade.ReleaseLock{Holder: "a"}); err != nil {
		t.Fatalf("release twice: %v", err)
	}
	if err := step(upgrade.AcquireLock{Holder: "b"}); err != nil || holder() != "b" {
		t.Fatalf("acquire after release: %v, holder %q", err, holder())
	}

	// Two executors racing for a free lock: the loser's patch conflicts, it
	// re-reads and sees the winner's hold.
	c2 := fake.NewClientBuilder().WithObjects(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "bao" + DefaultLockSuffix, Namespace: testNS}}).Build()
	raced := false
	c3 := interceptor.NewClient(c2, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if !raced {
				raced = true
				if err := newExecutor(c).Execute(ctx, nil, upgrade.AcquireLock{Holder: "winner"}); err != nil {
					return err
				}
			}
			return c.Patch(ctx, obj, p, opts...)
		},
	})
	err = newExecutor(c3).Execute(ctx, nil, upgrade.AcquireLock{Holder: "loser"})
	if !errors.As(err, &lh) || lh.Holder != "winner" {
		t.Fatalf("race: err = %v, want lock held by winner", err)
	}
}

type recordingRaft struct{ got []upgrade.Action }

func (r *recordingRaft) Execute(_ context.Context, _ *upgrade.Observation, a upgrade.Action) error {
	if _, ok := a.(upgrade.RemovePeer); ok {
		return errors.New("raft unavailable")
	}
	r.got = append(r.got, a)
	return nil
}

func TestCompositeExecutor(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
	ctx := context.Background()
	d := upgrade.Decision{Actions: []upgrade.Action{
		upgrade.TransferLeadership{From: "bao-2", To: "bao-0"},
		upgrade.SetPartition{Workload: "bao", Partition: 2},
		upgrade.StepDown{Member: "bao-0"},
	}}
	if err := newExecutor(c).Apply(ctx, nil, d); !errors.Is(err, ErrNotKubernetesAction) {
		t.Fatalf("kubernetes executor alone: err = %v, want ErrNotKubernetesAction", err)
	}
	raft := &recordingRaft{}
	comp := CompositeExecutor{Kubernetes: newExecutor(c), Raft: raft}
	if err := comp.Apply(ctx, nil, d); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]upgrade.Action{d.Actions[0], d.Actions[2]}, raft.got); d != "" {
		t.Fatalf("raft actions (-want +got):\n%s", d)
	}
	if p := *getSTS(t, c, "bao").Spec.UpdateStrategy.RollingUpdate.Partition; p != 2 {
		t.Fatalf("partition = %d", p)
	}
	err := comp.Apply(ctx, nil, upgrade.Decision{Actions: []upgrade.Action{upgrade.RemovePeer{Member: "bao-1"}}})
	var ae *ActionError
	if !errors.As(err, &ae) || ae.Index != 0 || err.Error() != "action 0 (remove bao-1 from the raft configuration): raft unavailable" {
		t.Fatalf("err = %v", err)
	}
	if err := (CompositeExecutor{Kubernetes: newExecutor(c)}).Execute(ctx, nil, upgrade.Promote{Member: "x"}); !errors.Is(err, ErrNotKubernetesAction) {
		t.Fatalf("no raft executor: err = %v", err)
	}
}

func TestExecutorEventsAndConfig(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(cluster()...).Build()
	ctx := context.Background()
	ev := []upgrade.Event{{Type: upgrade.EventWarning, Reason: "Held", Message: "quorum"}}
	// No recorder: dropped, no error.
	if err := newExecutor(c).Apply(ctx, nil, upgrade.Decision{Events: ev}); err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(2)
	e := newExecutor(c)
	e.Recorder = rec
	e.EventObject = getSTS(t, c, "bao")
	if err := e.Apply(ctx, nil, upgrade.Decision{Events: ev}); err != nil {
		t.Fatal(err)
	}
	if got := <-rec.Events; got != "Warning Held quorum" {
		t.Fatalf("event = %q", got)
	}
	// A failed action still emits the events: they describe the persisted
	// decision, and event writes never hold actions back.
	failing := upgrade.Decision{Actions: []upgrade.Action{upgrade.Promote{Member: "x"}}, Events: ev}
	if err := (CompositeExecutor{Kubernetes: e}).Apply(ctx, nil, failing); !errors.Is(err, ErrNotKubernetesAction) {
		t.Fatalf("no raft executor: err = %v", err)
	}
	if got := <-rec.Events; got != "Warning Held quorum" {
		t.Fatalf("event after a failed action = %q", got)
	}
	e.Config.Namespace = ""
	if err := e.Execute(ctx, nil, upgrade.SetPartition{Workload: "bao"}); !errors.Is(err, ErrInvalidAction) {
		t.Fatalf("no namespace: err = %v", err)
	}
	if err := newExecutor(c).Execute(ctx, nil, nil); !errors.Is(err, ErrInvalidAction) {
		t.Fatalf("nil action: err = %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := newExecutor(c).Apply(canceled, nil, rollingDecision()); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: err = %v", err)
	}
}
