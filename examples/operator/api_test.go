package main

import (
	"os"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

func fullRaftUpgrade() *RaftUpgrade {
	ru := raftUpgrade("x", "2.5.0", upgrade.StrategyRolling)
	ru.Labels = map[string]string{"team": "storage"}
	ru.Spec.Rolling = &rolling.Spec{Prerequisites: policy.Prerequisites{Workloads: []string{"bao"}}, StepTimeout: time.Minute}
	ru.Spec.BlueGreen = &bluegreen.Spec{AutoPromote: true, Prerequisites: policy.Prerequisites{Workloads: []string{"bao"}}}
	ru.Spec.OpenBao.TokenSecretRef = &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "tok"}, Key: "token"}
	ru.Status = upgrade.Status{
		CurrentVersion: "2.4.1",
		Conditions:     []metav1.Condition{{Type: upgrade.ConditionReady, Status: metav1.ConditionFalse, Reason: "Upgrading"}},
		Upgrade: &upgrade.UpgradeStatus{Strategy: upgrade.StrategyRolling, Phase: "Rolling", TargetVersion: "2.5.0",
			Rolling: &upgrade.RollingProgress{Workload: "bao", Replicas: 3, Ordinal: 1, Updated: []string{"bao-2"}}},
		BreakGlass:   &upgrade.BreakGlass{Nonce: "n", RecoverySteps: []string{"a"}},
		ObservedTerm: 1 << 40,
	}
	return ru
}

func TestDeepCopyIsDeep(t *testing.T) {
	orig := fullRaftUpgrade()
	want := fullRaftUpgrade()
	cp := orig.DeepCopyObject().(*RaftUpgrade)
	if !reflect.DeepEqual(cp, orig) {
		t.Fatalf("copy differs:\n%+v\n%+v", cp, orig)
	}
	// Mutate every reference of the copy; the original must not move.
	cp.Labels["team"] = "x"
	cp.Spec.Selector["app"] = "x"
	cp.Spec.Rolling.Prerequisites.Workloads[0] = "x"
	cp.Spec.Rolling.StepTimeout = 0
	cp.Spec.BlueGreen.Prerequisites.Workloads[0] = "x"
	cp.Spec.OpenBao.TokenSecretRef.Key = "x"
	cp.Status.Conditions[0].Reason = "x"
	cp.Status.Upgrade.Rolling.Updated[0] = "x"
	cp.Status.Upgrade.Phase = "x"
	cp.Status.BreakGlass.RecoverySteps[0] = "x"
	if !reflect.DeepEqual(orig, want) {
		t.Fatalf("mutating the copy changed the original:\n%+v", orig)
	}

	list := &RaftUpgradeList{Items: []RaftUpgrade{*fullRaftUpgrade()}}
	lc := list.DeepCopyObject().(*RaftUpgradeList)
	lc.Items[0].Spec.Selector["app"] = "x"
	if list.Items[0].Spec.Selector["app"] != "bao" {
		t.Fatal("list copy shares items")
	}
}

func TestSchemeKnowsRaftUpgrade(t *testing.T) {
	s, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	for obj, kind := range map[runtime.Object]string{&RaftUpgrade{}: "RaftUpgrade", &RaftUpgradeList{}: "RaftUpgradeList"} {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil || len(gvks) != 1 || gvks[0] != GroupVersion.WithKind(kind) {
			t.Fatalf("%T: kinds %v, err %v", obj, gvks, err)
		}
	}
}

// TestCRDManifest checks the hand-written CRD against the Go types.
func TestCRDManifest(t *testing.T) {
	raw, err := os.ReadFile("config/crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Group string `json:"group"`
			Scope string `json:"scope"`
			Names struct {
				Kind     string `json:"kind"`
				ListKind string `json:"listKind"`
				Plural   string `json:"plural"`
			} `json:"names"`
			Versions []struct {
				Name         string `json:"name"`
				Served       bool   `json:"served"`
				Storage      bool   `json:"storage"`
				Subresources struct {
					Status *map[string]any `json:"status"`
				} `json:"subresources"`
				Schema struct {
					OpenAPIV3Schema struct {
						Properties map[string]struct {
							Type     string `json:"type"`
							Preserve bool   `json:"x-kubernetes-preserve-unknown-fields"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	// Lenient decode: the test models only the fields that matter.
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	sp := crd.Spec
	if crd.APIVersion != "apiextensions.k8s.io/v1" || crd.Kind != "CustomResourceDefinition" ||
		crd.Metadata.Name != sp.Names.Plural+"."+GroupVersion.Group || sp.Group != GroupVersion.Group ||
		sp.Scope != "Namespaced" || sp.Names.Kind != "RaftUpgrade" || sp.Names.ListKind != "RaftUpgradeList" {
		t.Fatalf("CRD identity: %+v", crd)
	}
	if len(sp.Versions) != 1 {
		t.Fatalf("%d versions", len(sp.Versions))
	}
	v := sp.Versions[0]
	if v.Name != GroupVersion.Version || !v.Served || !v.Storage || v.Subresources.Status == nil {
		t.Fatalf("version %+v", v)
	}
	for _, f := range []string{"spec", "status"} {
		p, ok := v.Schema.OpenAPIV3Schema.Properties[f]
		if !ok || p.Type != "object" || !p.Preserve {
			t.Fatalf("schema of %s: %+v", f, p)
		}
	}
}

// TestSampleDecodes checks that config/sample.yaml decodes into the Go
// types with every field known.
func TestSampleDecodes(t *testing.T) {
	raw, err := os.ReadFile("config/sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ru RaftUpgrade
	if err := yaml.UnmarshalStrict(raw, &ru); err != nil {
		t.Fatal(err)
	}
	if ru.GroupVersionKind() != GroupVersion.WithKind("RaftUpgrade") {
		t.Fatalf("kind %v", ru.GroupVersionKind())
	}
	rs := ru.Spec.RollingSpec()
	if rs.Version != "2.5.0" || rs.Workload != "bao" || rs.StepTimeout != 15*time.Minute || !rs.Rules.RejectPrerelease {
		t.Fatalf("rolling spec %+v", rs)
	}
	if ru.Spec.OpenBao.TokenSecretRef == nil || ru.Spec.OpenBao.TokenSecretRef.Name != "raftshift-token" {
		t.Fatalf("openbao %+v", ru.Spec.OpenBao)
	}
}

// TestStatusJSONRoundTrip: the status survives the API server's JSON.
func TestStatusJSONRoundTrip(t *testing.T) {
	ru := fullRaftUpgrade()
	raw, err := yaml.Marshal(ru)
	if err != nil {
		t.Fatal(err)
	}
	var back RaftUpgrade
	if err := yaml.UnmarshalStrict(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Status, ru.Status) || !reflect.DeepEqual(back.Spec, ru.Spec) {
		t.Fatalf("round trip:\n%+v\n%+v", back, ru)
	}
}
