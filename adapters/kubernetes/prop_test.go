package kubernetes

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"pgregory.net/rapid"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raftshift/raftshift/upgrade"
)

// genCluster draws a small cluster: up to three StatefulSets from a fixed
// name pool (with prefix collisions), and pods whose names, owners, labels,
// namespaces and states vary, duplicates included.
func genCluster(t *rapid.T) ([]appsv1.StatefulSet, []corev1.Pod, *corev1.Service) {
	names := []string{"bao", "bao-green", "bao-1", "x"}
	setNames := rapid.SliceOfNDistinct(rapid.SampledFrom(names), 0, 3, func(s string) string { return s }).Draw(t, "sets")
	var sets []appsv1.StatefulSet
	for _, n := range setNames {
		s := sts(n, "openbao/openbao:2.3.1", "2.3.1", rapid.Int32Range(0, 4).Draw(t, "replicas"), rapid.Int32Range(0, 4).Draw(t, "partition"))
		if rapid.Bool().Draw(t, "startOrdinal") {
			s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 2}
		}
		sets = append(sets, s)
	}
	var pods []corev1.Pod
	for i, n := 0, rapid.IntRange(0, 8).Draw(t, "pods"); i < n; i++ {
		set := rapid.SampledFrom(names).Draw(t, "podSet")
		p := pod(set, rapid.IntRange(0, 5).Draw(t, "ordinal"), rapid.SampledFrom([]string{"a", "b"}).Draw(t, "rev"), "openbao/openbao:2.4.0", "2.4.0")
		switch rapid.IntRange(0, 5).Draw(t, "variant") {
		case 1:
			p.OwnerReferences = nil // orphan
		case 2:
			p.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
		case 3:
			p = waiting(p, rapid.SampledFrom(append(DefaultCrashLoopReasons, "ContainerCreating")).Draw(t, "reason"))
		case 4:
			p.UID = types.UID(fmt.Sprint("dup-", i)) // a second incarnation of the name
		case 5:
			p.Namespace = "elsewhere"
		}
		pods = append(pods, p)
	}
	var svc *corev1.Service
	if rapid.Bool().Draw(t, "service") {
		svc = service(map[string]string{"app": "bao", DefaultRevisionLabel: rapid.SampledFrom(names).Draw(t, "target")})
	}
	return sets, pods, svc
}

// TestBuildObservationProperties: the observation is well-formed, every
// desired ordinal has exactly one member, and any permutation of the inputs
// gives the same observation.
func TestBuildObservationProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sets, pods, svc := genCluster(t)
		cfg := testConfig()
		obs := buildObservation(t0, sets, pods, svc, cfg)
		checkWellFormed(t, obs)
		for _, s := range sets {
			start, n := ordinalRange(&s)
			for ord := start; ord < start+n; ord++ {
				if _, ok := obs.Member(fmt.Sprintf("%s-%d", s.Name, ord)); !ok {
					t.Fatalf("no member for %s ordinal %d", s.Name, ord)
				}
			}
		}
		seen := map[string]bool{}
		for _, m := range obs.Members {
			if seen[m.Name] {
				t.Fatalf("duplicate member %s", m.Name)
			}
			seen[m.Name] = true
		}
		ps := rapid.Permutation(pods).Draw(t, "podOrder")
		ss := rapid.Permutation(sets).Draw(t, "setOrder")
		sameObservation(t, obs, buildObservation(t0, ss, ps, svc, cfg))
	})
}

// TestExecutorIdempotentProperty executes a random sequence of Kubernetes
// actions, then the same sequence again: the second run never fails where the
// first succeeded and ends on the same object contents.
func TestExecutorIdempotentProperty(t *testing.T) {
	checked, total := 0, 0
	defer func() {
		// Not vacuous: most drawn sequences succeed the first time.
		if !t.Failed() && checked*2 < total {
			t.Fatalf("only %d of %d sequences reached the second run", checked, total)
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		total++
		genAction := rapid.Custom(func(t *rapid.T) upgrade.Action {
			switch rapid.IntRange(0, 6).Draw(t, "kind") {
			case 0:
				return upgrade.SetPartition{Workload: "bao", Partition: rapid.Int32Range(0, 3).Draw(t, "p")}
			case 1:
				v := rapid.SampledFrom([]string{"2.3.1", "2.4.0"}).Draw(t, "v")
				return upgrade.UpdateTemplate{Workload: "bao", Image: "openbao/openbao:" + v, Version: v}
			case 2:
				o := rapid.IntRange(0, 2).Draw(t, "o")
				return upgrade.DeletePod{Member: fmt.Sprint("bao-", o), UID: fmt.Sprint("uid-bao-", o)}
			case 3:
				return upgrade.CreateRevision{Workload: "bao-green", Image: "openbao/openbao:2.4.0", Version: "2.4.0", Replicas: 3}
			case 4:
				return upgrade.SwitchService{Service: "bao", Workload: rapid.SampledFrom([]string{"bao", "bao-green"}).Draw(t, "w")}
			case 5:
				return upgrade.AcquireLock{Holder: "up"}
			default:
				return upgrade.ReleaseLock{Holder: "up"}
			}
		})
		actions := rapid.SliceOfN(genAction, 1, 6).Draw(t, "actions")
		// A plain object tracker (no managed fields) keeps each check cheap;
		// merge and strategic merge patches behave the same.
		tracker := clienttesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())
		c := fake.NewClientBuilder().WithObjectTracker(tracker).WithObjects(cluster()...).Build()
		e := newExecutor(c)
		ctx := context.Background()
		d := upgrade.Decision{Actions: actions}
		first := e.Apply(ctx, nil, d)
		if first != nil {
			return // e.g. switching to a green that does not exist yet
		}
		checked++
		after := dump(t, c)
		if err := e.Apply(ctx, nil, d); err != nil {
			t.Fatalf("second run of %s: %v", upgrade.FormatActions(actions), err)
		}
		ignoreRV := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ResourceVersion" }, cmp.Ignore())
		if diff := cmp.Diff(after, dump(t, c), ignoreRV); diff != "" {
			t.Fatalf("second run of %s changed objects:\n%s", upgrade.FormatActions(actions), diff)
		}
	})
}

func BenchmarkBuildObservation(b *testing.B) {
	sets := []appsv1.StatefulSet{sts("bao", "openbao/openbao:2.3.1", "2.3.1", 5, 5)}
	var pods []corev1.Pod
	for i := 0; i < 5; i++ {
		pods = append(pods, pod("bao", i, "r", "openbao/openbao:2.3.1", "2.3.1"))
	}
	svc := service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"})
	cfg := testConfig()
	b.ReportAllocs()
	for b.Loop() {
		_ = buildObservation(t0, sets, pods, svc, cfg)
	}
}

func BenchmarkPlanSetPartition(b *testing.B) {
	s := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 5, 5)
	s.ResourceVersion = "7"
	st := state{StatefulSets: []appsv1.StatefulSet{s}}
	cfg := testConfig()
	a := upgrade.SetPartition{Workload: "bao", Partition: 4}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plan(a, st, cfg, t0); err != nil {
			b.Fatal(err)
		}
	}
}
