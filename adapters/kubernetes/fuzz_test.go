package kubernetes

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/raftshift/raftshift/upgrade"
)

type fuzzInput struct {
	Sets    []appsv1.StatefulSet `json:"sets"`
	Pods    []corev1.Pod         `json:"pods"`
	Service *corev1.Service      `json:"service"`
}

func fuzzSeeds(t testing.TB) [][]byte {
	blue := sts("bao", "openbao/openbao:2.3.1", "2.3.1", 3, 1)
	green := sts("bao-green", "openbao/openbao:2.4.0", "2.4.0", 3, 0)
	term := pod("bao", 1, "r", "openbao/openbao:2.3.1", "2.3.1")
	term.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	inputs := []fuzzInput{
		{
			Sets:    []appsv1.StatefulSet{blue, green},
			Pods:    []corev1.Pod{pod("bao", 0, "r", "i:1", "1"), term, waiting(pod("bao-green", 0, "g", "i:2", "2"), "CrashLoopBackOff")},
			Service: service(map[string]string{"app": "bao", DefaultRevisionLabel: "bao"}),
		},
		{Sets: []appsv1.StatefulSet{{}}, Pods: []corev1.Pod{{}}, Service: &corev1.Service{}},
	}
	var out [][]byte
	for _, in := range inputs {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out,
		[]byte(`{"sets":[{"metadata":{"name":"a","labels":{"app":"bao"}},"spec":{"replicas":2147483647,"ordinals":{"start":2147483600}}}],"pods":[{"metadata":{"name":"a-2147483647"}}]}`),
		[]byte(`{"sets":[{"metadata":{"name":"a","labels":{"app":"bao"}},"spec":{"replicas":-5,"selector":{"matchLabels":{"x":"y"}}}}],"pods":[{"metadata":{"name":"a-0","labels":{"x":"y"}},"status":{"containerStatuses":[{"restartCount":2147483647},{"restartCount":5}]}}]}`),
		[]byte(`{"sets":[{"metadata":{"name":"a","labels":{"app":"bao"}}},{"metadata":{"name":"a-1","labels":{"app":"bao"}}}],"pods":[{"metadata":{"name":"a-1-0","ownerReferences":[{"kind":"StatefulSet","name":"a-1","controller":true}]}},{"metadata":{"name":"a-1"}}]}`),
	)
}

// FuzzBuildObservation decodes StatefulSets, pods and a service from JSON and
// checks BuildObservation never panics and always returns a well-formed,
// order-independent observation.
func FuzzBuildObservation(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(fuzzFunc())
}

func fuzzFunc() func(t *testing.T, data []byte) {
	return func(t *testing.T, data []byte) {
		var in fuzzInput
		if err := json.Unmarshal(data, &in); err != nil {
			return
		}
		for _, cfg := range []Config{testConfig(), {}} {
			obs := buildObservation(t0, in.Sets, in.Pods, in.Service, cfg)
			checkWellFormed(t, obs)
			sets, pods := slices.Clone(in.Sets), slices.Clone(in.Pods)
			slices.Reverse(sets)
			slices.Reverse(pods)
			sameObservation(t, obs, buildObservation(t0, sets, pods, in.Service, cfg))
		}
	}
}

// sameObservation fails when two observations differ (reflect.DeepEqual
// first: cmp.Diff is slow on thousands of members).
func sameObservation(t fataler, a, b upgrade.Observation) {
	t.Helper()
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("observation depends on input order:\n%s", cmp.Diff(a, b))
	}
}

// fataler is the part of testing.T and rapid.T the checks use.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func checkWellFormed(t fataler, obs upgrade.Observation) {
	t.Helper()
	workloads := map[string]bool{}
	for i, w := range obs.Workloads {
		if i > 0 && obs.Workloads[i-1].Name >= w.Name {
			t.Fatalf("workloads not sorted and unique: %q then %q", obs.Workloads[i-1].Name, w.Name)
		}
		workloads[w.Name] = true
	}
	names := map[string]bool{}
	for i, m := range obs.Members {
		if names[m.Name] {
			t.Fatalf("duplicate member %q", m.Name)
		}
		names[m.Name] = true
		if !workloads[m.Workload] {
			t.Fatalf("member %q of unknown workload %q", m.Name, m.Workload)
		}
		if i > 0 {
			p := obs.Members[i-1]
			if p.Workload > m.Workload || (p.Workload == m.Workload && p.Ordinal > m.Ordinal) {
				t.Fatalf("members not sorted: %q then %q", p.Name, m.Name)
			}
		}
		if m.Pod.Restarts < 0 {
			t.Fatalf("member %q has negative restarts", m.Name)
		}
	}
	if obs.Service.Workload != "" && !workloads[obs.Service.Workload] {
		t.Fatalf("service targets unknown workload %q", obs.Service.Workload)
	}
}
