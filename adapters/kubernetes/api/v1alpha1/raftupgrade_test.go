package v1alpha1_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
)

const (
	crdFile    = "../../config/crd/raftshift.io_raftupgrades.yaml"
	sampleFile = "../../config/samples/raftupgrade.yaml"
)

func fullRaftUpgrade() *v1alpha1.RaftUpgrade {
	return &v1alpha1.RaftUpgrade{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns", Labels: map[string]string{"team": "storage"}},
		Spec: v1alpha1.RaftUpgradeSpec{
			Strategy: upgrade.StrategyRolling, Version: "2.5.0", Image: "openbao/openbao:2.5.0", StatefulSet: "bao",
			Selector: map[string]string{"app": "bao"},
			Rolling: &rolling.Spec{Prerequisites: policy.Prerequisites{Workloads: []string{"bao"}},
				StepTimeout: metav1.Duration{Duration: time.Minute}},
			BlueGreen: &bluegreen.Spec{AutoPromote: true, Prerequisites: policy.Prerequisites{Workloads: []string{"bao"}}},
			OpenBao: v1alpha1.OpenBaoSpec{TokenSecretRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "tok"}, Key: "token"}},
		},
		Status: upgrade.Status{
			CurrentVersion: "2.4.1",
			Conditions:     []metav1.Condition{{Type: upgrade.ConditionReady, Status: metav1.ConditionFalse, Reason: "Upgrading"}},
			Upgrade: &upgrade.UpgradeStatus{Strategy: upgrade.StrategyRolling, Phase: "Rolling", TargetVersion: "2.5.0",
				Rolling: &upgrade.RollingProgress{Workload: "bao", Replicas: 3, Ordinal: 1, Updated: []string{"bao-2"}}},
			BreakGlass:   &upgrade.BreakGlass{Nonce: "n", RecoverySteps: []string{"a"}},
			ObservedTerm: 1 << 40,
		},
	}
}

func TestDeepCopyIsDeep(t *testing.T) {
	orig, want := fullRaftUpgrade(), fullRaftUpgrade()
	cp := orig.DeepCopyObject().(*v1alpha1.RaftUpgrade)
	if !reflect.DeepEqual(cp, orig) {
		t.Fatalf("copy differs:\n%+v\n%+v", cp, orig)
	}
	// Mutate every reference of the copy; the original must not move.
	cp.Labels["team"] = "x"
	cp.Spec.Selector["app"] = "x"
	cp.Spec.Rolling.Prerequisites.Workloads[0] = "x"
	cp.Spec.Rolling.StepTimeout.Duration = 0
	cp.Spec.BlueGreen.Prerequisites.Workloads[0] = "x"
	cp.Spec.OpenBao.TokenSecretRef.Key = "x"
	cp.Status.Conditions[0].Reason = "x"
	cp.Status.Upgrade.Rolling.Updated[0] = "x"
	cp.Status.Upgrade.Phase = "x"
	cp.Status.BreakGlass.RecoverySteps[0] = "x"
	if !reflect.DeepEqual(orig, want) {
		t.Fatalf("mutating the copy changed the original:\n%+v", orig)
	}
	list := &v1alpha1.RaftUpgradeList{Items: []v1alpha1.RaftUpgrade{*fullRaftUpgrade()}}
	lc := list.DeepCopyObject().(*v1alpha1.RaftUpgradeList)
	lc.Items[0].Spec.Selector["app"] = "x"
	if list.Items[0].Spec.Selector["app"] != "bao" {
		t.Fatal("list copy shares items")
	}
}

func TestSchemeKnowsRaftUpgrade(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for obj, kind := range map[runtime.Object]string{&v1alpha1.RaftUpgrade{}: "RaftUpgrade", &v1alpha1.RaftUpgradeList{}: "RaftUpgradeList"} {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil || len(gvks) != 1 || gvks[0] != v1alpha1.GroupVersion.WithKind(kind) {
			t.Fatalf("%T: kinds %v, err %v", obj, gvks, err)
		}
	}
}

// schema is the part of an OpenAPI v3 schema the tests read.
type schema struct {
	Type       string            `json:"type"`
	Format     string            `json:"format"`
	Pattern    string            `json:"pattern"`
	Enum       []string          `json:"enum"`
	Minimum    *float64          `json:"minimum"`
	Maximum    *float64          `json:"maximum"`
	Required   []string          `json:"required"`
	Preserve   bool              `json:"x-kubernetes-preserve-unknown-fields"`
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
}

type crdDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Group string `json:"group"`
		Scope string `json:"scope"`
		Names struct {
			Kind       string   `json:"kind"`
			ListKind   string   `json:"listKind"`
			Plural     string   `json:"plural"`
			ShortNames []string `json:"shortNames"`
		} `json:"names"`
		Versions []struct {
			Name         string `json:"name"`
			Served       bool   `json:"served"`
			Storage      bool   `json:"storage"`
			Subresources struct {
				Status *map[string]any `json:"status"`
			} `json:"subresources"`
			Columns []struct {
				Name     string `json:"name"`
				JSONPath string `json:"jsonPath"`
			} `json:"additionalPrinterColumns"`
			Schema struct {
				OpenAPIV3Schema schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

func readCRD(t *testing.T) crdDoc {
	t.Helper()
	raw, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	var crd crdDoc
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

// walk calls f on every schema reachable from s, with its path.
func walk(s schema, path string, f func(string, schema)) {
	f(path, s)
	for name, p := range s.Properties {
		walk(p, path+"."+name, f)
	}
	if s.Items != nil {
		walk(*s.Items, path+"[]", f)
	}
}

// TestGeneratedCRD checks the controller-gen CRD: identity, printer
// columns, a closed schema (no preserve-unknown-fields anywhere, so the API
// server prunes or, with strict field validation, rejects a typo such as
// stepTimout), durations as strings, and the validation markers.
func TestGeneratedCRD(t *testing.T) {
	crd := readCRD(t)
	sp := crd.Spec
	gv := v1alpha1.GroupVersion
	if crd.APIVersion != "apiextensions.k8s.io/v1" || crd.Kind != "CustomResourceDefinition" ||
		crd.Metadata.Name != sp.Names.Plural+"."+gv.Group || sp.Group != gv.Group || sp.Scope != "Namespaced" ||
		sp.Names.Kind != "RaftUpgrade" || sp.Names.ListKind != "RaftUpgradeList" || !reflect.DeepEqual(sp.Names.ShortNames, []string{"rup"}) {
		t.Fatalf("CRD identity: %+v", crd)
	}
	if len(sp.Versions) != 1 {
		t.Fatalf("%d versions", len(sp.Versions))
	}
	v := sp.Versions[0]
	if v.Name != gv.Version || !v.Served || !v.Storage || v.Subresources.Status == nil {
		t.Fatalf("version %+v", v)
	}
	var cols []string
	for _, c := range v.Columns {
		cols = append(cols, c.Name)
	}
	for _, want := range []string{"Phase", "Current", "Target", "Gate", "Age"} {
		if !strings.Contains(strings.Join(cols, ","), want) {
			t.Errorf("printer column %s missing from %v", want, cols)
		}
	}
	root := v.Schema.OpenAPIV3Schema
	walk(root, "", func(path string, s schema) {
		if s.Preserve {
			t.Errorf("%s keeps unknown fields", path)
		}
	})
	spec := root.Properties["spec"]
	rs := spec.Properties["rolling"]
	if _, ok := rs.Properties["stepTimeout"]; !ok {
		t.Fatalf("rolling has no stepTimeout: %v", rs.Properties)
	}
	if _, ok := rs.Properties["stepTimout"]; ok {
		t.Fatal("typo accepted")
	}
	for path, s := range map[string]schema{
		"rolling.stepTimeout":         rs.Properties["stepTimeout"],
		"rolling.catchUp.maxContact":  rs.Properties["catchUp"].Properties["maxContact"],
		"blueGreen.timeouts.sync":     spec.Properties["blueGreen"].Properties["timeouts"].Properties["sync"],
		"blueGreen.minSyncDuration":   spec.Properties["blueGreen"].Properties["minSyncDuration"],
		"rolling.prerequisites.maxBA": rs.Properties["prerequisites"].Properties["maxBackupAge"],
	} {
		if s.Type != "string" {
			t.Errorf("%s: type %q, want a duration string", path, s.Type)
		}
	}
	if p := spec.Properties["version"].Pattern; p == "" || !strings.HasPrefix(p, "^v?") {
		t.Errorf("version pattern %q", p)
	}
	if e := spec.Properties["strategy"].Enum; !reflect.DeepEqual(e, []string{"Rolling", "BlueGreen"}) {
		t.Errorf("strategy enum %v", e)
	}
	if e := rs.Properties["ordering"].Enum; !reflect.DeepEqual(e, []string{"Partition", "OnDelete"}) {
		t.Errorf("ordering enum %v", e)
	}
	port := spec.Properties["blueGreen"].Properties["raftPort"]
	if port.Minimum == nil || port.Maximum == nil || *port.Maximum != 65535 {
		t.Errorf("raftPort bounds %+v", port)
	}
	if r := spec.Properties["blueGreen"].Properties["replicas"]; r.Maximum == nil || *r.Maximum != bluegreen.MaxReplicas {
		t.Errorf("replicas bounds %+v", r)
	}
	if !reflect.DeepEqual(spec.Required, []string{"image", "statefulSet", "version"}) {
		t.Errorf("spec required %v", spec.Required)
	}
}

// TestSampleDecodes checks that the sample decodes into the Go types with
// every field known.
func TestSampleDecodes(t *testing.T) {
	raw, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var ru v1alpha1.RaftUpgrade
	if err := yaml.UnmarshalStrict(raw, &ru); err != nil {
		t.Fatal(err)
	}
	if ru.GroupVersionKind() != v1alpha1.GroupVersion.WithKind("RaftUpgrade") {
		t.Fatalf("kind %v", ru.GroupVersionKind())
	}
	rs := ru.Spec.RollingSpec()
	if rs.Version != "2.5.0" || rs.Workload != "bao" || rs.StepTimeout.Duration != 15*time.Minute || !rs.Rules.RejectPrerelease {
		t.Fatalf("rolling spec %+v", rs)
	}
	if ru.Spec.OpenBao.TokenSecretRef == nil || ru.Spec.OpenBao.TokenSecretRef.Name != "raftshift-token" {
		t.Fatalf("openbao %+v", ru.Spec.OpenBao)
	}
}

// TestJSONRoundTrip: spec and status survive the API server's JSON.
func TestJSONRoundTrip(t *testing.T) {
	ru := fullRaftUpgrade()
	raw, err := yaml.Marshal(ru)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "stepTimeout: 1m0s") {
		t.Errorf("durations are not strings:\n%s", raw)
	}
	var back v1alpha1.RaftUpgrade
	if err := yaml.UnmarshalStrict(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Status, ru.Status) || !reflect.DeepEqual(back.Spec, ru.Spec) {
		t.Fatalf("round trip:\n%+v\n%+v", back, ru)
	}
}
