package kubernetes

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

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
		Name: "bao", UpdateStrategy: upgrade.UpdateRollingUpdate, Replicas: 3, Partition: 3, CurrentRevision: "bao-aaa", UpdateRevision: "bao-aaa",
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
					Name: "bao", UpdateStrategy: upgrade.UpdateRollingUpdate, Replicas: 3, Partition: 2, CurrentRevision: "bao-aaa", UpdateRevision: "bao-bbb",
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

func TestParseOrdinal(t *testing.T) {
	tests := []struct {
		set, pod string
		want     int32
		ok       bool
	}{
		{"bao", "bao-0", 0, true},
		{"bao", "bao-12", 12, true},
		{"bao", "bao-green-1", 0, false},
		{"bao-green", "bao-green-1", 1, true},
		{"bao", "bao-01", 0, false},
		{"bao", "bao--1", 0, false},
		{"bao", "bao-", 0, false},
		{"bao", "bao-2147483648", 0, false},
		{"bao", "bao-2147483647", 2147483647, true},
		{"", "-1", 0, false},
		{"bao", "other-1", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseOrdinal(tt.set, tt.pod)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseOrdinal(%q, %q) = %d, %v; want %d, %v", tt.set, tt.pod, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLockFromLease(t *testing.T) {
	at := metav1.NewMicroTime(t0)
	tests := []struct {
		name  string
		lease *coordinationv1.Lease
		want  upgrade.LockView
	}{
		{"absent", nil, upgrade.LockView{}},
		{"free", &coordinationv1.Lease{}, upgrade.LockView{}},
		{"empty holder", &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("")}}, upgrade.LockView{}},
		{"held", &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("upgrade-1"), AcquireTime: &at}},
			upgrade.LockView{Holder: "upgrade-1", Since: t0}},
	}
	for _, tt := range tests {
		if got := lockFromLease(tt.lease); !got.Since.Equal(tt.want.Since) || got.Holder != tt.want.Holder {
			t.Errorf("%s: LockFromLease = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestObserver(t *testing.T) {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 3)
	other := sts("other", "x:1", "1", 1, 0)
	other.Labels = map[string]string{"app": "other"}
	otherPod := pod("other", 0, "o", "x:1", "1")
	otherPod.Labels = map[string]string{"app": "other", DefaultRevisionLabel: "other"}
	objs := []client.Object{&blue, &other, &otherPod, service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"}),
		&coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: "bao" + DefaultLockSuffix, Namespace: testNS},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("upgrade-7"), AcquireTime: ptr.To(metav1.NewMicroTime(t0))},
		}}
	for i := 0; i < 2; i++ { // bao-2 is missing
		p := pod("bao", i, "bao-aaa", "openbao/openbao:2.3.1", "2.3.1")
		objs = append(objs, &p)
	}
	c := fake.NewClientBuilder().WithObjects(objs...).Build()
	o := &Observer{Reader: c, Config: testConfig(), Clock: func() time.Time { return t0 }}
	obs, err := o.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !obs.Now.Equal(t0) || len(obs.Workloads) != 1 || obs.Workloads[0].Name != "bao" {
		t.Fatalf("obs = %+v", obs)
	}
	var names []string
	for _, m := range obs.Members {
		names = append(names, m.Name)
	}
	if d := cmp.Diff([]string{"bao-0", "bao-1", "bao-2"}, names); d != "" {
		t.Fatalf("members (-want +got):\n%s", d)
	}
	if obs.Members[2].Pod.Exists || !obs.Members[1].Pod.Ready {
		t.Fatalf("members = %+v", obs.Members)
	}
	if obs.Service.Workload != "bao" || obs.Lock.Holder != "upgrade-7" || !obs.Lock.Since.Equal(t0) {
		t.Fatalf("service = %+v lock = %+v", obs.Service, obs.Lock)
	}
	if obs.Raft != (upgrade.RaftView{}) {
		t.Fatalf("raft view must be left to the raft adapter, got %+v", obs.Raft)
	}

	// No service, no lease: both zero, no error.
	o.Config.ServiceName = "missing"
	obs, err = o.Observe(context.Background())
	if err != nil || obs.Service.Name != "" || obs.Lock.Holder != "" {
		t.Fatalf("obs = %+v, err = %v", obs, err)
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

func TestRevisionVersions(t *testing.T) {
	revs := []appsv1.ControllerRevision{
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-aaa"}, Revision: 1, Data: runtime.RawExtension{Raw: []byte(
			`{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app.kubernetes.io/version":"2.3.1"}},` +
				`"spec":{"containers":[{"name":"openbao","image":"openbao/openbao:2.3.1"},{"name":"sidecar","image":"busybox:1.36"}]}}}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-bbb"}, Revision: 2, Data: runtime.RawExtension{Raw: []byte(
			`{"spec":{"template":{"$patch":"replace","spec":{"containers":[{"name":"openbao","image":"openbao/openbao:2.4.0"}]}}}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-bad"}, Data: runtime.RawExtension{Raw: []byte(`{"spec":`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bao-empty"}},
	}
	got, err := revisionVersions(revs, testConfig())
	if err == nil || !strings.Contains(err.Error(), "bao-bad") {
		t.Fatalf("err = %v, want a decode error naming bao-bad", err)
	}
	want := map[string]revisionInfo{
		"bao-aaa": {Image: "openbao/openbao:2.3.1", Version: "2.3.1"},
		"bao-bbb": {Image: "openbao/openbao:2.4.0", Version: "2.4.0"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("revisions (-want +got):\n%s", d)
	}
}

func TestPodStatusOf(t *testing.T) {
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	running := func(d time.Duration) corev1.ContainerState {
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(d)}}
	}
	base := upgrade.PodStatus{
		Exists: true, UID: "uid-bao-0", Phase: upgrade.PodRunning, Running: true, Ready: true,
		Restarts: 3, StartedAt: t0.Add(-55 * time.Minute), ReadySince: t0.Add(-50 * time.Minute),
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   func(s *upgrade.PodStatus)
	}{
		{"running and ready", func(*corev1.Pod) {}, func(*upgrade.PodStatus) {}},
		{"not ready: no ReadySince", func(p *corev1.Pod) {
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, func(s *upgrade.PodStatus) { s.Ready, s.ReadySince = false, time.Time{} }},
		{"no Ready condition", func(p *corev1.Pod) {
			p.Status.Conditions = nil
		}, func(s *upgrade.PodStatus) { s.Ready, s.ReadySince = false, time.Time{} }},
		{"ready again after a flap: the last transition", func(p *corev1.Pod) {
			p.Status.Conditions[0].LastTransitionTime = at(-30 * time.Second)
		}, func(s *upgrade.PodStatus) { s.ReadySince = t0.Add(-30 * time.Second) }},
		{"container restarted inside the pod restarts the window", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = running(-2 * time.Minute)
			p.Status.ContainerStatuses[0].RestartCount = 2
			p.Status.Conditions[0].LastTransitionTime = at(-time.Minute)
		}, func(s *upgrade.PodStatus) {
			s.StartedAt, s.ReadySince, s.Restarts = t0.Add(-2*time.Minute), t0.Add(-time.Minute), 4
		}},
		{"a sidecar started last", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[1].State = running(-10 * time.Minute)
		}, func(s *upgrade.PodStatus) { s.StartedAt = t0.Add(-10 * time.Minute) }},
		{"pending, containers creating: startTime, not running", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = nil
			for i := range p.Status.ContainerStatuses {
				p.Status.ContainerStatuses[i].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
				p.Status.ContainerStatuses[i].Started = ptr.To(false)
			}
		}, func(s *upgrade.PodStatus) {
			*s = upgrade.PodStatus{Exists: true, UID: "uid-bao-0", Phase: upgrade.PodPending, Restarts: 3, StartedAt: t0.Add(-time.Hour)}
		}},
		{"just scheduled: nothing known", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodPending}
		}, func(s *upgrade.PodStatus) {
			*s = upgrade.PodStatus{Exists: true, UID: "uid-bao-0", Phase: upgrade.PodPending}
		}},
		{"one container crash-looping", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			p.Status.ContainerStatuses[0].Started = ptr.To(false)
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, func(s *upgrade.PodStatus) {
			s.Running, s.Ready, s.ReadySince, s.CrashLooping = false, false, time.Time{}, true
			s.StartedAt = t0.Add(-59 * time.Minute) // the sidecar still runs
		}},
		{"startup probe not passed yet", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].Started = ptr.To(false)
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, func(s *upgrade.PodStatus) { s.Running, s.Ready, s.ReadySince = false, false, time.Time{} }},
		{"started unset: running", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].Started = nil
		}, func(*upgrade.PodStatus) {}},
		{"a spec container without status", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = p.Status.ContainerStatuses[:1]
		}, func(s *upgrade.PodStatus) { s.Running, s.Restarts = false, 1 }},
		{"a container terminated", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[1].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
		}, func(s *upgrade.PodStatus) { s.Running = false }},
		{"statuses only, no spec", func(p *corev1.Pod) {
			p.Spec.Containers = nil
		}, func(*upgrade.PodStatus) {}},
		{"terminating still runs", func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr.To(at(-time.Second))
		}, func(s *upgrade.PodStatus) { s.Terminating = true }},
		{"phase not running", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
		}, func(s *upgrade.PodStatus) { s.Phase, s.Running = upgrade.PodFailed, false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pod("bao", 0, "r", "openbao/openbao:2.6.2", "2.6.2")
			p = *p.DeepCopy()
			tc.mutate(&p)
			before := p.DeepCopy()
			want := base
			tc.want(&want)
			// Kubernetes' one-second times are reported rounded up.
			want.StartedAt, want.ReadySince = roundUp(want.StartedAt), roundUp(want.ReadySince)
			got := podStatusOf(&p, testConfig())
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("PodStatusOf (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, &p); d != "" {
				t.Errorf("PodStatusOf mutated its input:\n%s", d)
			}
		})
	}
}

// TestPodTimesRoundedUp: Kubernetes stores pod times truncated to the
// second; PodStatusOf reports the latest instant they may stand for, so a
// stabilization window counted from them never ends early.
func TestPodTimesRoundedUp(t *testing.T) {
	p := pod("bao", 0, "r", "openbao/openbao:2.6.2", "2.6.2")
	ready := metav1.NewTime(t0.Add(-3 * time.Second))
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			p.Status.Conditions[i].LastTransitionTime = ready
		}
	}
	st := podStatusOf(&p, testConfig())
	if want := t0.Add(-2 * time.Second); !st.ReadySince.Equal(want) {
		t.Fatalf("ReadySince %s, want %s (stored %s rounded up)", st.ReadySince, want, ready.Time)
	}
	if st.StartedAt.IsZero() || st.StartedAt.Sub(st.StartedAt.Truncate(time.Second)) != 0 {
		t.Fatalf("StartedAt %s", st.StartedAt)
	}
	if !roundUp(time.Time{}).IsZero() {
		t.Fatal("zero must stay zero")
	}
}
