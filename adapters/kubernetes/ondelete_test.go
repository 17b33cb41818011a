package kubernetes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raftshift/raftshift/upgrade"
)

// onDelete gives a StatefulSet the OnDelete update strategy, as the API
// server stores it: no rollingUpdate block.
func onDelete(s *appsv1.StatefulSet) {
	s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
}

// clusterWith returns cluster() with the StatefulSet mutated.
func clusterWith(mutate func(*appsv1.StatefulSet)) []client.Object {
	objs := cluster()
	if mutate != nil {
		mutate(objs[0].(*appsv1.StatefulSet))
	}
	return objs
}

// writeCounter counts the executor's writes (patch, create, delete,
// update) on a fake client.
func writeCounter(writes *int) interceptor.Funcs {
	return interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			*writes++
			return c.Patch(ctx, obj, p, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			*writes++
			return c.Create(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			*writes++
			return c.Delete(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			*writes++
			return c.Update(ctx, obj, opts...)
		},
	}
}

func getPod(t *testing.T, c client.Client, name string) (*corev1.Pod, bool) {
	t.Helper()
	var p corev1.Pod
	err := c.Get(context.Background(), client.ObjectKey{Namespace: testNS, Name: name}, &p)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return &p, true
}

// TestExecutorUpdateStrategies runs each workload action against
// StatefulSets of both update strategies (and the edge cases around them)
// and checks the outcome, the number of writes and that the update
// strategy itself is never switched.
func TestExecutorUpdateStrategies(t *testing.T) {
	stray := func(s *appsv1.StatefulSet) { // impossible on a real API server, possible in a fake or a host
		onDelete(s)
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0))}
	}
	newTemplate := upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"}
	cases := []struct {
		name     string
		mutate   func(*appsv1.StatefulSet)
		action   upgrade.Action
		wantErr  error
		writes   int
		strategy appsv1.StatefulSetUpdateStrategy // the strategy after the action
		check    func(t *testing.T, c client.Client)
	}{
		{
			name: "OnDelete/SetPartition to replicas is a no-op", mutate: onDelete,
			action:   upgrade.SetPartition{Workload: "bao", Partition: 3},
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		},
		{
			name: "OnDelete/SetPartition to 0 is a no-op", mutate: onDelete,
			action:   upgrade.SetPartition{Workload: "bao", Partition: 0},
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			check: func(t *testing.T, c client.Client) {
				for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
					if p, ok := getPod(t, c, name); !ok || p.UID != types.UID("uid-"+name) {
						t.Errorf("%s touched", name)
					}
				}
			},
		},
		{
			name: "OnDelete/SetPartition negative is invalid", mutate: onDelete,
			action: upgrade.SetPartition{Workload: "bao", Partition: -1}, wantErr: ErrInvalidAction,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		},
		{
			name: "OnDelete/SetPartition of a missing workload", mutate: onDelete,
			action: upgrade.SetPartition{Workload: "nope", Partition: 3}, wantErr: ErrWorkloadNotFound,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		},
		{
			name: "OnDelete/SetPartition of a foreign workload",
			mutate: func(s *appsv1.StatefulSet) {
				onDelete(s)
				s.Labels = map[string]string{"app": "other"}
			},
			action: upgrade.SetPartition{Workload: "bao", Partition: 3}, wantErr: ErrForeignWorkload,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		},
		{
			name: "OnDelete/UpdateTemplate changes the template only", mutate: onDelete,
			action: newTemplate, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			check: func(t *testing.T, c client.Client) {
				tpl := getSTS(t, c, "bao").Spec.Template
				if tpl.Spec.Containers[0].Image != "openbao/openbao:2.4.0" || tpl.Spec.Containers[1].Image != "busybox:1.36" ||
					tpl.Labels["app.kubernetes.io/version"] != "2.4.0" || tpl.Annotations["raftshift.io/version"] != "2.4.0" {
					t.Errorf("template = %+v", tpl)
				}
				if p, ok := getPod(t, c, "bao-2"); !ok || p.Spec.Containers[0].Image != "openbao/openbao:2.3.1" {
					t.Error("a template change must not touch the pods")
				}
			},
		},
		{
			name: "OnDelete/UpdateTemplate whatever a stray partition says", mutate: stray,
			action: newTemplate, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0))}},
		},
		{
			name: "OnDelete/SetPartition leaves a stray partition alone", mutate: stray,
			action: upgrade.SetPartition{Workload: "bao", Partition: 3},
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(0))}},
		},
		{
			name: "OnDelete/UpdateTemplate already there", mutate: func(s *appsv1.StatefulSet) {
				onDelete(s)
				s.Spec.Template.Spec.Containers[0].Image = "openbao/openbao:2.4.0"
				s.Spec.Template.Labels["app.kubernetes.io/version"] = "2.4.0"
				s.Spec.Template.Annotations = map[string]string{"raftshift.io/version": "2.4.0"}
			},
			action:   newTemplate,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		},
		{
			name: "OnDelete/DeletePod with the uid", mutate: onDelete,
			action: upgrade.DeletePod{Member: "bao-1", UID: "uid-bao-1"}, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			check: func(t *testing.T, c client.Client) {
				if _, ok := getPod(t, c, "bao-1"); ok {
					t.Error("bao-1 not deleted")
				}
				for _, name := range []string{"bao-0", "bao-2"} {
					if _, ok := getPod(t, c, name); !ok {
						t.Errorf("%s deleted", name)
					}
				}
			},
		},
		{
			name: "OnDelete/DeletePod of another incarnation", mutate: onDelete,
			action:   upgrade.DeletePod{Member: "bao-1", UID: "uid-old"},
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			check: func(t *testing.T, c client.Client) {
				if _, ok := getPod(t, c, "bao-1"); !ok {
					t.Error("bao-1 deleted under another uid")
				}
			},
		},
		{
			name: "OnDelete/DeletePod without uid is invalid", mutate: onDelete,
			action: upgrade.DeletePod{Member: "bao-1"}, wantErr: ErrInvalidAction,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		},
		{
			name:   "RollingUpdate/SetPartition patches the partition",
			action: upgrade.SetPartition{Workload: "bao", Partition: 1}, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(1))}},
		},
		{
			name:   "RollingUpdate/SetPartition already set",
			action: upgrade.SetPartition{Workload: "bao", Partition: 3},
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(3))}},
		},
		{
			name:   "RollingUpdate/UpdateTemplate",
			action: newTemplate, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(3))}},
		},
		{
			name:   "RollingUpdate/DeletePod",
			action: upgrade.DeletePod{Member: "bao-2", UID: "uid-bao-2"}, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(3))}},
		},
		{
			name:   "Defaulted/SetPartition writes the RollingUpdate type",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{} },
			action: upgrade.SetPartition{Workload: "bao", Partition: 2}, writes: 1,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(2))}},
		},
		{
			name: "Unknown/SetPartition is refused",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: "Surprise"}
			},
			action: upgrade.SetPartition{Workload: "bao", Partition: 2}, wantErr: ErrUnsupportedUpdateStrategy,
			strategy: appsv1.StatefulSetUpdateStrategy{Type: "Surprise"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writes := 0
			c := fake.NewClientBuilder().WithObjects(clusterWith(tc.mutate)...).WithInterceptorFuncs(writeCounter(&writes)).Build()
			err := newExecutor(c).Execute(context.Background(), nil, tc.action)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			case err != nil && (strings.Contains(err.Error(), "\n") || unicode.IsUpper([]rune(err.Error())[0])):
				t.Errorf("error %q is not one lowercase line", err)
			}
			if writes != tc.writes {
				t.Errorf("writes = %d, want %d", writes, tc.writes)
			}
			if d := cmp.Diff(tc.strategy, getSTS(t, c, "bao").Spec.UpdateStrategy); d != "" {
				t.Errorf("update strategy (-want +got):\n%s", d)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestExecutorOnDeleteUpgrade applies the Decisions of a delete-driven
// rolling upgrade (lock, a partition a host composed by hand, the
// template, then one pod at a time with the leader bao-1 last, unlock) to
// an OnDelete StatefulSet, each twice: the repeat writes nothing and
// changes nothing.
func TestExecutorOnDeleteUpgrade(t *testing.T) {
	writes := 0
	c := fake.NewClientBuilder().WithObjects(clusterWith(onDelete)...).WithInterceptorFuncs(writeCounter(&writes)).Build()
	e := newExecutor(c)
	ctx := context.Background()
	decisions := []upgrade.Decision{
		{Actions: []upgrade.Action{
			upgrade.AcquireLock{Holder: "upgrade-1"},
			upgrade.SetPartition{Workload: "bao", Partition: 3}, // harmless on OnDelete
			upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
		}},
		{Actions: []upgrade.Action{upgrade.DeletePod{Member: "bao-2", UID: "uid-bao-2"}}},
		{Actions: []upgrade.Action{upgrade.DeletePod{Member: "bao-0", UID: "uid-bao-0"}}},
		{Actions: []upgrade.Action{
			upgrade.TransferLeadership{From: "bao-1", To: "bao-2"}, // routed to the raft executor
			upgrade.DeletePod{Member: "bao-1", UID: "uid-bao-1"},
		}},
		{Actions: []upgrade.Action{upgrade.ReleaseLock{Holder: "upgrade-1"}}},
	}
	exec := CompositeExecutor{Kubernetes: e, Raft: &recordingRaft{}}
	total := 0
	for i, d := range decisions {
		writes = 0
		if err := exec.Apply(ctx, nil, d); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		total += writes
		// A host that crashed after the actions repeats the Decision: it
		// writes nothing and changes nothing.
		after := dump(t, c)
		writes = 0
		if err := exec.Apply(ctx, nil, d); err != nil {
			t.Fatalf("decision %d again: %v", i, err)
		}
		if writes != 0 {
			t.Errorf("decision %d again: %d writes, want 0", i, writes)
		}
		if d := cmp.Diff(after, dump(t, c)); d != "" {
			t.Errorf("decision %d again changed objects:\n%s", i, d)
		}
	}
	// lock create, template patch, three deletes, lock release.
	if total != 6 {
		t.Fatalf("writes = %d, want 6", total)
	}
	s := getSTS(t, c, "bao")
	if d := cmp.Diff(appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}, s.Spec.UpdateStrategy); d != "" {
		t.Fatalf("update strategy (-want +got):\n%s", d)
	}
	if img := s.Spec.Template.Spec.Containers[0].Image; img != "openbao/openbao:2.4.0" {
		t.Fatalf("template image = %s", img)
	}
	for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
		if _, ok := getPod(t, c, name); ok {
			t.Errorf("%s not deleted", name)
		}
	}
}

func TestPlanSetPartitionOnDelete(t *testing.T) {
	s := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	onDelete(&s)
	st := state{StatefulSets: []appsv1.StatefulSet{s}}
	ch, err := plan(upgrade.SetPartition{Workload: "bao", Partition: 0}, st, testConfig(), t0)
	if err != nil || ch.Op != opNone || !strings.Contains(ch.Reason, "OnDelete") {
		t.Fatalf("plan = %+v, %v; want OpNone naming OnDelete", ch, err)
	}
	if _, _, err := patchFor(upgrade.SetPartition{Workload: "bao", Partition: 0}, st, testConfig(), t0); !errors.Is(err, ErrNotPatch) {
		t.Fatalf("PatchFor: err = %v, want ErrNotPatch", err)
	}
	obj, _, err := patchFor(upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:2.4.0", Version: "2.4.0"}, st, testConfig(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*appsv1.StatefulSet).Spec.UpdateStrategy; got.Type != appsv1.OnDeleteStatefulSetStrategyType || got.RollingUpdate != nil {
		t.Fatalf("template patch changed the strategy: %+v", got)
	}
}

func TestObserveUpdateStrategy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		strategy  appsv1.StatefulSetUpdateStrategy
		want      upgrade.UpdateStrategy
		partition int32
	}{
		{"RollingUpdate", appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(int32(2))}}, upgrade.UpdateRollingUpdate, 2},
		{"RollingUpdate without a partition", appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			upgrade.UpdateRollingUpdate, 0},
		{"empty type defaults to RollingUpdate", appsv1.StatefulSetUpdateStrategy{}, upgrade.UpdateRollingUpdate, 0},
		{"OnDelete", appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}, upgrade.UpdateOnDelete, 0},
		{"unknown type passed on", appsv1.StatefulSetUpdateStrategy{Type: "Surprise"}, "Surprise", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
			s.Spec.UpdateStrategy = tc.strategy
			obs := buildObservation(t0, []appsv1.StatefulSet{s}, nil, nil, testConfig())
			if len(obs.Workloads) != 1 {
				t.Fatalf("workloads = %+v", obs.Workloads)
			}
			if w := obs.Workloads[0]; w.UpdateStrategy != tc.want || w.Partition != tc.partition {
				t.Fatalf("update strategy %q partition %d, want %q %d", w.UpdateStrategy, w.Partition, tc.want, tc.partition)
			}
		})
	}
	// Through the Observer, from a client.
	c := fake.NewClientBuilder().WithObjects(clusterWith(onDelete)...).Build()
	obs, err := (&Observer{Reader: c, Config: testConfig()}).Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.Workloads) != 1 || obs.Workloads[0].UpdateStrategy != upgrade.UpdateOnDelete || len(obs.Members) != 3 {
		t.Fatalf("observer: workloads %+v, %d members", obs.Workloads, len(obs.Members))
	}
}

func TestGreenStatefulSetKeepsOnDelete(t *testing.T) {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	onDelete(&blue)
	a := upgrade.CreateRevision{Workload: "bao-green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3}
	g, err := greenStatefulSet(&blue, a, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}, g.Spec.UpdateStrategy); d != "" {
		t.Fatalf("green update strategy (-want +got):\n%s", d)
	}
	if g.Spec.Template.Spec.Containers[0].Image != "openbao/openbao:2.4.0" || *g.Spec.Replicas != 3 {
		t.Fatalf("green spec = %+v", g.Spec)
	}
}
