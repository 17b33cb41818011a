package e2e_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
)

// crdFile is the controller-gen CRD of RaftUpgrade, relative to this
// package's directory (the e2e module's root).
const crdFile = "../adapters/kubernetes/config/crd/raftshift.io_raftupgrades.yaml"

// upgradeName is the name of every RaftUpgrade of these tests (each lives
// in its RaftSet's namespace).
const upgradeName = "upgrade"

// TestReconciler runs raftshift's reusable reconciler
// (adapters/kubernetes/controller) inside real controller-runtime managers
// against the real kube-apiserver and StatefulSet controller: the generated
// RaftUpgrade CRD is installed and must be closed and validating, then
// rolling and blue-green upgrades are driven end to end by RaftUpgrade
// objects alone, once with one manager and once with the manager stopped
// mid-upgrade and replaced by a new one (new Reconciler, new Metrics).
func TestReconciler(t *testing.T) {
	cp := cluster.Start(t)
	t.Logf("control plane started in %s", cp.StartupTime.Round(time.Millisecond))
	c := newAPIClient(t, cp)
	installCRD(t, c)

	t.Run("CRD", func(t *testing.T) { testCRDValidation(t, cp, c) })
	// The upgrades wait on wall-clock windows most of the time: run them
	// side by side, each with its own namespace and manager (whose cache
	// sees only that namespace).
	t.Run("Upgrades", func(t *testing.T) {
		t.Run("Rolling", func(t *testing.T) {
			t.Parallel()
			testReconcilerRolling(t, cp, c, false)
		})
		t.Run("BlueGreen", func(t *testing.T) {
			t.Parallel()
			testReconcilerBlueGreen(t, cp, c, false)
		})
		t.Run("Rolling/ManagerRestart", func(t *testing.T) {
			t.Parallel()
			testReconcilerRolling(t, cp, c, true)
		})
		t.Run("BlueGreen/ManagerRestart", func(t *testing.T) {
			t.Parallel()
			testReconcilerBlueGreen(t, cp, c, true)
		})
	})
}

// newAPIClient returns an uncached controller-runtime client that knows
// the built-in types, raftshift.io/v1alpha1 and apiextensions.k8s.io/v1.
func newAPIClient(t *testing.T, cp *cluster.ControlPlane) client.Client {
	t.Helper()
	s := newScheme(t)
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(restConfig(cp), client.Options{Scheme: s})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// restConfig is the control plane's rest config for controller-runtime
// clients of RaftUpgrades. The test apiserver's config asks for protobuf
// (ContentType), which a custom resource cannot be encoded to; with no
// ContentType controller-runtime picks protobuf for built-in types only
// and JSON for the others.
func restConfig(cp *cluster.ControlPlane) *rest.Config {
	cfg := rest.CopyConfig(cp.Config)
	cfg.ContentType = ""
	return cfg
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := controller.NewScheme()
	if err != nil {
		t.Fatalf("scheme: %v", err)
	}
	return s
}

// installCRD creates the generated RaftUpgrade CRD and waits until it is
// Established (the in-process kube-apiserver is the full server chain:
// apiextensions-apiserver, kube-apiserver and aggregator).
func installCRD(t *testing.T, c client.Client) {
	t.Helper()
	begin := time.Now()
	raw, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		t.Fatalf("decode %s: %v", crdFile, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Create(ctx, &crd); err != nil {
		t.Fatalf("create CRD %s: %v", crd.Name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var got apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, &got); err != nil {
			return false, err
		}
		established, accepted := false, false
		for _, cond := range got.Status.Conditions {
			switch cond.Type {
			case apiextensionsv1.Established:
				established = cond.Status == apiextensionsv1.ConditionTrue
			case apiextensionsv1.NamesAccepted:
				accepted = cond.Status == apiextensionsv1.ConditionTrue
			}
		}
		if !established || !accepted {
			return false, nil
		}
		// Established means the handler serves; make sure a list works.
		var list v1alpha1.RaftUpgradeList
		return c.List(ctx, &list) == nil, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", crd.Name, err)
	}
	t.Logf("CRD %s established in %s", crd.Name, time.Since(begin).Round(time.Millisecond))
}

// testCRDValidation checks that the installed schema is closed and
// validates: an unknown field is rejected under strict field validation
// (and pruned without it), a version that is not semver and a strategy
// outside the enum are rejected, and a valid object is accepted.
func testCRDValidation(t *testing.T, cp *cluster.ControlPlane, c client.Client) {
	ctx, cancel := context.WithTimeout(cp.Context(), 30*time.Second)
	defer cancel()
	ns := "crd-validation"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	// obj returns a valid RaftUpgrade as unstructured content, so that
	// fields unknown to the Go types can be sent.
	obj := func(name string, mutate func(spec map[string]any)) *unstructured.Unstructured {
		spec := map[string]any{
			"strategy":    "Rolling",
			"version":     newVersion,
			"image":       newImage,
			"statefulSet": "bao",
			"rolling":     map[string]any{"stepTimeout": "1m"},
		}
		if mutate != nil {
			mutate(spec)
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.GroupVersion.String(),
			"kind":       "RaftUpgrade",
			"metadata":   map[string]any{"name": name, "namespace": ns},
			"spec":       spec,
		}}
		return u
	}
	typo := func(spec map[string]any) { spec["rolling"].(map[string]any)["stepTimout"] = "5m" }

	// Positive control: the valid object is accepted (dry run).
	if err := c.Create(ctx, obj("valid", nil), client.FieldValidation(metav1.FieldValidationStrict), client.DryRunAll); err != nil {
		t.Fatalf("valid RaftUpgrade rejected: %v", err)
	}

	// Unknown field + Strict: rejected, naming the field.
	err := c.Create(ctx, obj("typo-strict", typo), client.FieldValidation(metav1.FieldValidationStrict))
	switch {
	case err == nil:
		t.Error("spec.rolling.stepTimout accepted with fieldValidation=Strict")
	case !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "stepTimout"):
		t.Errorf("spec.rolling.stepTimout with fieldValidation=Strict: got %v, want a BadRequest naming the field", err)
	default:
		t.Logf("strict: %v", err)
	}

	// Unknown field + Ignore: accepted but pruned (the schema is closed).
	u := obj("typo-ignore", typo)
	if err := c.Create(ctx, u, client.FieldValidation(metav1.FieldValidationIgnore)); err != nil {
		t.Fatalf("create with fieldValidation=Ignore: %v", err)
	}
	var stored unstructured.Unstructured
	stored.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("RaftUpgrade"))
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "typo-ignore"}, &stored); err != nil {
		t.Fatal(err)
	}
	rollingSpec, _, _ := unstructured.NestedMap(stored.Object, "spec", "rolling")
	if _, kept := rollingSpec["stepTimout"]; kept || rollingSpec["stepTimeout"] != "1m" {
		t.Errorf("stored spec.rolling = %v, want the unknown field pruned and stepTimeout kept", rollingSpec)
	}
	// The typed client decodes it too.
	var typed v1alpha1.RaftUpgrade
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "typo-ignore"}, &typed); err != nil {
		t.Fatalf("typed get: %v", err)
	}
	if typed.Spec.Rolling == nil || typed.Spec.Rolling.StepTimeout.Duration != time.Minute {
		t.Errorf("typed spec.rolling = %+v, want stepTimeout 1m", typed.Spec.Rolling)
	}

	// Schema validation (independent of field validation).
	for _, tc := range []struct {
		name, field string
		mutate      func(spec map[string]any)
	}{
		{name: "bad-version", field: "spec.version", mutate: func(spec map[string]any) { spec["version"] = "2.4" }},
		{name: "bad-version-text", field: "spec.version", mutate: func(spec map[string]any) { spec["version"] = "latest" }},
		{name: "bad-strategy", field: "spec.strategy", mutate: func(spec map[string]any) { spec["strategy"] = "Canary" }},
		{name: "bad-ordering", field: "spec.rolling.ordering", mutate: func(spec map[string]any) {
			spec["rolling"].(map[string]any)["ordering"] = "Random"
		}},
		{name: "bad-duration-type", field: "spec.rolling.stepTimeout", mutate: func(spec map[string]any) {
			spec["rolling"].(map[string]any)["stepTimeout"] = int64(60)
		}},
		{name: "missing-image", field: "spec.image", mutate: func(spec map[string]any) { delete(spec, "image") }},
	} {
		err := c.Create(ctx, obj(tc.name, tc.mutate), client.FieldValidation(metav1.FieldValidationStrict))
		switch {
		case err == nil:
			t.Errorf("%s: accepted, want %s rejected", tc.name, tc.field)
		case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field):
			t.Errorf("%s: got %v, want Invalid naming %s", tc.name, err, tc.field)
		default:
			t.Logf("%s: %v", tc.name, err)
		}
	}
}
