package kubernetes

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/raftshift/raftshift/upgrade"
)

func running(set string, ord int32, rev, image, version string) upgrade.Member {
	name := set + "-" + string(rune('0'+ord))
	return upgrade.Member{
		Name: name, Workload: set, Ordinal: ord, Revision: rev, Version: version, Image: image,
		Pod: upgrade.PodStatus{
			Exists: true, UID: "uid-" + name, Phase: upgrade.PodRunning, Running: true, Ready: true,
			Restarts: 3, StartedAt: roundUp(t0.Add(-55 * time.Minute)), ReadySince: roundUp(t0.Add(-50 * time.Minute)),
		},
	}
}

func TestBuildObservation(t *testing.T) {
	cfg := testConfig()
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	blueUpdating := blue
	blueUpdating.Spec = *blue.Spec.DeepCopy()
	blueUpdating.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(int32(2))
	blueUpdating.Spec.Template.Spec.Containers[0].Image = "openbao/openbao:2.4.0"
	blueUpdating.Spec.Template.Labels = map[string]string{"app": "bao", DefaultRevisionLabel: "bao", "app.kubernetes.io/version": "2.4.0"}
	blueUpdating.Generation = 4
	blueUpdating.Status.UpdateRevision = "bao-bbb"
	blueUpdating.Status.UpdatedReplicas = 1
	blueUpdating.Status.ReadyReplicas = 2
	green := sts("bao-green", "openbao/openbao:2.4.0", "2.4.0", 3, 0)

	bluePods := []corev1.Pod{
		pod("bao", 0, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1"),
		pod("bao", 1, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1"),
		pod("bao", 2, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1"),
	}
	blueMembers := []upgrade.Member{
		running("bao", 0, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1"),
		running("bao", 1, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1"),
		running("bao", 2, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1"),
	}
	blueWorkload := upgrade.Workload{
		Name: "bao", UID: "uid-bao", UpdateStrategy: upgrade.UpdateRollingUpdate, Replicas: 3, Partition: 3, CurrentRevision: "bao-aaa", UpdateRevision: "bao-aaa",
		Generation: 3, ObservedGeneration: 3, Image: "openbao/openbao:2.3.1", Version: "2.3.1",
		ReadyReplicas: 3, UpdatedReplicas: 3,
	}
	blueSvc := service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"})

	type tc struct {
		name  string
		sets  []appsv1.StatefulSet
		pods  []corev1.Pod
		svc   *corev1.Service
		cfg   Config
		check func(t *testing.T, obs upgrade.Observation)
	}
	tests := []tc{
		{
			name: "steady blue cluster",
			sets: []appsv1.StatefulSet{blue},
			pods: bluePods,
			svc:  blueSvc,
			check: func(t *testing.T, obs upgrade.Observation) {
				want := upgrade.Observation{
					Now:       t0,
					Workloads: []upgrade.Workload{blueWorkload},
					Members:   blueMembers,
					Service: upgrade.Service{Name: "bao", Workload: "bao",
						Selector: map[string]string{"app": "bao", DefaultRevisionLabel: "bao"}},
				}
				if d := cmp.Diff(want, obs); d != "" {
					t.Fatalf("observation (-want +got):\n%s", d)
				}
			},
		},
		{
			name: "rolling update in progress: partition, revisions, generation",
			sets: []appsv1.StatefulSet{blueUpdating},
			pods: []corev1.Pod{
				bluePods[0], bluePods[1],
				pod("bao", 2, "bao-bbb", "openbao/openbao:2.4.0", "2.4.0"),
			},
			svc: blueSvc,
			check: func(t *testing.T, obs upgrade.Observation) {
				want := upgrade.Workload{
					Name: "bao", UID: "uid-bao", UpdateStrategy: upgrade.UpdateRollingUpdate, Replicas: 3, Partition: 2, CurrentRevision: "bao-aaa", UpdateRevision: "bao-bbb",
					Generation: 4, ObservedGeneration: 3, Image: "openbao/openbao:2.4.0", Version: "2.4.0",
					ReadyReplicas: 2, UpdatedReplicas: 1,
				}
				if d := cmp.Diff([]upgrade.Workload{want}, obs.Workloads); d != "" {
					t.Fatalf("workloads (-want +got):\n%s", d)
				}
				if obs.Workloads[0].Settled() {
					t.Fatal("generation 4 observed 3 must not be settled")
				}
				m := obs.Members[2]
				if m.Revision != "bao-bbb" || m.Version != "2.4.0" || m.Image != "openbao/openbao:2.4.0" {
					t.Fatalf("updated member = %+v", m)
				}
				if obs.Members[0].Revision != "bao-aaa" || obs.Members[0].Version != "2.3.1" {
					t.Fatalf("old member = %+v", obs.Members[0])
				}
			},
		},
		{
			name: "crash-loop reasons, terminating, not ready, pending, missing pod",
			sets: []appsv1.StatefulSet{sts("bao", "openbao/openbao:2.3.1", "2.3.1", 7, 0)},
			pods: func() []corev1.Pod {
				p0 := waiting(pod("bao", 0, "r", "i:1", "1"), "CrashLoopBackOff")
				p1 := waiting(pod("bao", 1, "r", "i:1", "1"), "ImagePullBackOff")
				p2 := waiting(pod("bao", 2, "r", "i:1", "1"), "ErrImagePull")
				p3 := waiting(pod("bao", 3, "r", "i:1", "1"), "CreateContainerConfigError")
				p4 := waiting(pod("bao", 4, "r", "i:1", "1"), "ContainerCreating") // transient: not a crash loop
				p4.Status.Phase = ""
				p4.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
				p5 := pod("bao", 5, "r", "i:1", "1")
				p5.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
				p5.Finalizers = []string{"x"}
				// ordinal 6 has no pod
				return []corev1.Pod{p5, p3, p1, p4, p0, p2}
			}(),
			check: func(t *testing.T, obs upgrade.Observation) {
				var got []upgrade.PodStatus
				for _, m := range obs.Members {
					got = append(got, m.Pod)
				}
				if len(got) != 7 {
					t.Fatalf("members = %d, want 7", len(obs.Members))
				}
				for i := 0; i < 4; i++ {
					if !got[i].CrashLooping || !got[i].Exists {
						t.Errorf("bao-%d: CrashLooping = false, want true (%+v)", i, got[i])
					}
				}
				if got[4].CrashLooping || got[4].Ready || got[4].Phase != upgrade.PodPending {
					t.Errorf("bao-4 = %+v, want pending, not ready, not crash-looping", got[4])
				}
				if !got[5].Terminating || got[5].CrashLooping {
					t.Errorf("bao-5 = %+v, want terminating", got[5])
				}
				want6 := upgrade.Member{Name: "bao-6", Workload: "bao", Ordinal: 6}
				if d := cmp.Diff(want6, obs.Members[6]); d != "" {
					t.Errorf("absent member (-want +got):\n%s", d)
				}
				if obs.Service.Name != "" || obs.Service.Selector != nil {
					t.Errorf("service = %+v, want zero without a Service", obs.Service)
				}
			},
		},
		{
			name: "init container crash loop and custom reasons",
			sets: []appsv1.StatefulSet{sts("bao", "i:1", "1", 2, 0)},
			pods: func() []corev1.Pod {
				p0 := pod("bao", 0, "r", "i:1", "1")
				p0.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
				p1 := waiting(pod("bao", 1, "r", "i:1", "1"), "RunContainerError")
				return []corev1.Pod{p0, p1}
			}(),
			cfg: func() Config { c := testConfig(); c.CrashLoopReasons = []string{"RunContainerError"}; return c }(),
			check: func(t *testing.T, obs upgrade.Observation) {
				if obs.Members[0].Pod.CrashLooping {
					t.Error("custom reasons replace the defaults: CrashLoopBackOff must not count")
				}
				if !obs.Members[1].Pod.CrashLooping {
					t.Error("RunContainerError is configured as a crash loop")
				}
			},
		},
		{
			name: "blue-green: two workloads, service resolution, foreign and orphan pods",
			sets: []appsv1.StatefulSet{green, blue, func() appsv1.StatefulSet {
				s := sts("other", "x:1", "1", 1, 0)
				s.Labels = map[string]string{"app": "other"}
				return s
			}()},
			pods: func() []corev1.Pod {
				g1 := pod("bao-green", 1, "g", "openbao/openbao:2.4.0", "2.4.0")
				g0 := pod("bao-green", 0, "g", "openbao/openbao:2.4.0", "2.4.0")
				orphan := pod("bao", 2, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1")
				orphan.OwnerReferences = nil
				foreign := pod("bao", 7, "x", "x", "x")
				foreign.OwnerReferences[0].Kind = "ReplicaSet"
				staleUID := pod("bao-green", 2, "g", "x", "x")
				staleUID.OwnerReferences[0].UID = "old"
				badName := pod("bao", 1, "x", "x", "x")
				badName.Name = "bao-01"
				otherNS := pod("bao", 1, "x", "x", "x")
				otherNS.Namespace = "elsewhere"
				return []corev1.Pod{g1, bluePods[0], orphan, foreign, staleUID, g0, badName, otherNS, bluePods[1]}
			}(),
			svc: service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao-green"}),
			check: func(t *testing.T, obs upgrade.Observation) {
				var names []string
				for _, w := range obs.Workloads {
					names = append(names, w.Name)
				}
				if d := cmp.Diff([]string{"bao", "bao-green"}, names); d != "" {
					t.Fatalf("workloads (-want +got):\n%s", d)
				}
				var members []string
				for _, m := range obs.Members {
					tag := "+"
					if !m.Pod.Exists {
						tag = "-"
					}
					members = append(members, tag+m.Name)
				}
				want := []string{"+bao-0", "+bao-1", "+bao-2", "+bao-green-0", "+bao-green-1", "-bao-green-2"}
				if d := cmp.Diff(want, members); d != "" {
					t.Fatalf("members (-want +got):\n%s", d)
				}
				if obs.Service.Workload != "bao-green" {
					t.Fatalf("service workload = %q, want bao-green", obs.Service.Workload)
				}
			},
		},
		{
			name: "service selector matching both workloads resolves to none",
			sets: []appsv1.StatefulSet{green, blue},
			svc:  service(map[string]string{"app": "bao"}),
			check: func(t *testing.T, obs upgrade.Observation) {
				if obs.Service.Workload != "" || obs.Service.Name != "bao" {
					t.Fatalf("service = %+v, want unresolved", obs.Service)
				}
			},
		},
		{
			name: "version precedence: annotation, label, image tag; start ordinal; default replicas",
			sets: func() []appsv1.StatefulSet {
				s := sts("bao", "reg:5000/openbao:2.3.1@sha256:abc", "2.3.0", 1, 0)
				s.Spec.Replicas = nil
				s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
				s.Spec.Template.Annotations = map[string]string{"raftshift.io/version": "2.3.2"}
				return []appsv1.StatefulSet{s}
			}(),
			pods: func() []corev1.Pod {
				p := pod("bao", 6, "r", "reg:5000/openbao:2.3.1", "")
				delete(p.Labels, "app.kubernetes.io/version")
				return []corev1.Pod{p}
			}(),
			check: func(t *testing.T, obs upgrade.Observation) {
				w := obs.Workloads[0]
				if w.Replicas != 1 || w.Version != "2.3.2" || w.Image != "reg:5000/openbao:2.3.1@sha256:abc" {
					t.Fatalf("workload = %+v", w)
				}
				if len(obs.Members) != 2 || obs.Members[0].Name != "bao-5" || obs.Members[0].Pod.Exists ||
					obs.Members[1].Name != "bao-6" || obs.Members[1].Version != "2.3.1" {
					t.Fatalf("members = %+v", obs.Members)
				}
			},
		},
		{
			name: "no label config: version is the image tag; unnamed container needs a single container",
			sets: []appsv1.StatefulSet{sts("bao", "openbao/openbao:2.3.1", "9.9.9", 1, 0)},
			cfg:  Config{Namespace: testNS},
			check: func(t *testing.T, obs upgrade.Observation) {
				// Two containers and no Container name: image unknown, no tag.
				if w := obs.Workloads[0]; w.Image != "" || w.Version != "" {
					t.Fatalf("workload = %+v, want no image/version", w)
				}
			},
		},
		{
			name: "namespace and selector filter the sets",
			sets: func() []appsv1.StatefulSet {
				a := sts("bao", "i:1", "1", 1, 0)
				a.Namespace = "elsewhere"
				b := sts("zzz", "i:1", "1", 1, 0)
				b.Labels = nil
				return []appsv1.StatefulSet{a, b}
			}(),
			check: func(t *testing.T, obs upgrade.Observation) {
				if len(obs.Workloads) != 0 || len(obs.Members) != 0 {
					t.Fatalf("obs = %+v, want empty", obs)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			if tt.cfg.Namespace != "" {
				cfg = tt.cfg
			}
			before := deepCopyInputs(tt.sets, tt.pods)
			obs := buildObservation(t0, tt.sets, tt.pods, tt.svc, cfg)
			tt.check(t, obs)
			if d := cmp.Diff(before, deepCopyInputs(tt.sets, tt.pods)); d != "" {
				t.Fatalf("inputs mutated:\n%s", d)
			}
			// Order independence: reversed inputs give the same observation.
			sets, pods := slices.Clone(tt.sets), slices.Clone(tt.pods)
			slices.Reverse(sets)
			slices.Reverse(pods)
			if d := cmp.Diff(obs, buildObservation(t0, sets, pods, tt.svc, cfg)); d != "" {
				t.Fatalf("observation depends on input order:\n%s", d)
			}
		})
	}
}

func deepCopyInputs(sets []appsv1.StatefulSet, pods []corev1.Pod) []any {
	var out []any
	for i := range sets {
		out = append(out, sets[i].DeepCopy())
	}
	for i := range pods {
		out = append(out, pods[i].DeepCopy())
	}
	return out
}

func TestBuildObservationDuplicatesAreDeterministic(t *testing.T) {
	a := pod("bao", 0, "r1", "i:1", "1")
	b := pod("bao", 0, "r2", "i:2", "2")
	b.UID = "uid-z"
	s1 := sts("bao", "i:1", "1", 1, 0)
	s2 := sts("bao", "i:2", "2", 1, 0)
	s2.UID = "uid-bao" // same UID: ties broken by content
	cfg := testConfig()
	x := buildObservation(t0, []appsv1.StatefulSet{s1, s2}, []corev1.Pod{a, b}, nil, cfg)
	y := buildObservation(t0, []appsv1.StatefulSet{s2, s1}, []corev1.Pod{b, a}, nil, cfg)
	if d := cmp.Diff(x, y); d != "" {
		t.Fatalf("duplicate resolution depends on order:\n%s", d)
	}
	if len(x.Workloads) != 1 || len(x.Members) != 1 || x.Members[0].Revision != "r1" {
		t.Fatalf("obs = %+v", x)
	}
}

func TestBuildObservationOrdinalBounds(t *testing.T) {
	s := sts("bao", "i:1", "1", 1<<31-1, 0)
	s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1<<31 - 48}
	obs := buildObservation(t0, []appsv1.StatefulSet{s}, nil, nil, testConfig())
	if n := len(obs.Members); n != 48 {
		t.Fatalf("members = %d, want the 48 ordinals up to MaxInt32", n)
	}
	if last := obs.Members[47]; last.Ordinal != 1<<31-1 || last.Name != "bao-2147483647" {
		t.Fatalf("last member = %+v", last)
	}
	s = sts("bao", "i:1", "1", 1<<31-1, 0)
	if n := len(buildObservation(t0, []appsv1.StatefulSet{s}, nil, nil, testConfig()).Members); n != maxOrdinalRange {
		t.Fatalf("members = %d, want the cap %d", n, maxOrdinalRange)
	}
}
