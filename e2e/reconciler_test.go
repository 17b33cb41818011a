package e2e_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/bluegreen"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/rolling"
	"github.com/raftshift/raftshift/upgrade"
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

// opEntry is one write the reconciler made to the cluster (through its
// client) or one Raft action it executed (through the RaftCluster).
type opEntry struct {
	// Mark is the recorder's mark before the write: every watch event it
	// caused has a sequence number >= Mark.
	Mark int
	// At is when the write was made.
	At time.Time
	// Leader is the simulated Raft leader when the write was made.
	Leader string
	// Manager numbers the manager that made it (1, then 2 after a
	// restart).
	Manager int
	// Verb is create, update, patch, delete (Kubernetes) or raft.
	Verb string
	// Kind and Name identify the Kubernetes object.
	Kind, Name string
	// UID is a delete's UID precondition.
	UID types.UID
	// Partition is the StatefulSet's partition after a patch that set it
	// (-1 otherwise).
	Partition int32
	// Selects is the revision a Service selects after a patch.
	Selects string
	// Action is the Raft action (Verb raft).
	Action upgrade.Action
	Err    error
}

func (e opEntry) String() string {
	s := fmt.Sprintf("mgr %d mark #%-3d leader %-22s ", e.Manager, e.Mark, e.Leader)
	if e.Verb == "raft" {
		s += "raft " + e.Action.String()
	} else {
		s += e.Verb + " " + e.Kind + "/" + e.Name
		if e.Partition >= 0 {
			s += " partition=" + strconv.Itoa(int(e.Partition))
		}
		if e.Selects != "" {
			s += " selects=" + e.Selects
		}
	}
	if e.Err != nil {
		s += " -> error: " + e.Err.Error()
	}
	return s
}

// opLog is the ordered log of a scenario's writes, shared by its managers.
type opLog struct {
	mu      sync.Mutex
	rs      *cluster.RaftSet
	manager int
	entries []opEntry
}

func (l *opLog) begin() opEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return opEntry{Mark: l.rs.Recorder.Mark(), At: time.Now(), Leader: l.rs.Raft.Leader(), Manager: l.manager, Partition: -1}
}

func (l *opLog) add(e opEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
}

func (l *opLog) setManager(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.manager = n
}

// ok returns the successful entries.
func (l *opLog) ok() []opEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []opEntry
	for _, e := range l.entries {
		if e.Err == nil {
			out = append(out, e)
		}
	}
	return out
}

func (l *opLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i, e := range l.entries {
		fmt.Fprintf(&b, "%3d %s\n", i, e)
	}
	return b.String()
}

// loggingClient is the reconciler's client (the manager's cached client)
// with its writes to the cluster logged. Status writes of the RaftUpgrade
// go through Status() and are not logged.
type loggingClient struct {
	client.Client
	log *opLog
}

func kindOf(obj client.Object) string {
	k := fmt.Sprintf("%T", obj)
	return k[strings.LastIndex(k, ".")+1:]
}

func (c loggingClient) note(e opEntry, verb string, obj client.Object, err error) {
	e.Verb, e.Kind, e.Name, e.Err = verb, kindOf(obj), obj.GetName(), err
	c.log.add(e)
}

func (c loggingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	e := c.log.begin()
	err := c.Client.Create(ctx, obj, opts...)
	c.note(e, "create", obj, err)
	return err
}

func (c loggingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	e := c.log.begin()
	err := c.Client.Update(ctx, obj, opts...)
	c.note(e, "update", obj, err)
	return err
}

func (c loggingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	e := c.log.begin()
	if o := (&client.DeleteOptions{}).ApplyOptions(opts); o.Preconditions != nil && o.Preconditions.UID != nil {
		e.UID = *o.Preconditions.UID
	}
	err := c.Client.Delete(ctx, obj, opts...)
	c.note(e, "delete", obj, err)
	return err
}

func (c loggingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	e := c.log.begin()
	data, _ := patch.Data(obj)
	err := c.Client.Patch(ctx, obj, patch, opts...)
	if err == nil {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && strings.Contains(string(data), `"partition"`) {
				e.Partition = *ru.Partition
			}
		case *corev1.Service:
			e.Selects = o.Spec.Selector[cluster.LabelRevision]
		}
	}
	c.note(e, "patch", obj, err)
	return err
}

// simRaft is the controller.RaftCluster of a RaftSet: the simulated Raft
// fills the observation and executes the Raft actions, which are logged.
type simRaft struct {
	rs  *cluster.RaftSet
	log *opLog
}

var _ controller.RaftCluster = simRaft{}

func (s simRaft) Observe(_ context.Context, obs upgrade.Observation) (upgrade.Observation, error) {
	obs.Members = slices.Clone(obs.Members) // a copy, as the interface says
	s.rs.Raft.Fill(&obs)
	return obs, nil
}

func (s simRaft) Execute(ctx context.Context, obs *upgrade.Observation, a upgrade.Action) error {
	e := s.log.begin()
	err := s.rs.Raft.Execute(ctx, obs, a)
	e.Verb, e.Action, e.Err = "raft", a, err
	s.log.add(e)
	return err
}

// manager is one running controller-runtime manager with a Reconciler.
type manager struct {
	n       int
	metrics *controller.Metrics
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	logs    *syncBuffer
}

// syncBuffer collects a manager's log lines, shown when the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) line(prefix, args string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(&b.b, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startManager starts manager n for rs: a controller-runtime manager on
// the control plane's rest config (metrics server and probes off, no
// leader election, a cache of rs's namespace only) running a new
// controller.Reconciler with fresh, unregistered Metrics and the simulated
// Raft as its RaftProvider. It is stopped by stop or by t.Cleanup.
func startManager(t *testing.T, cp *cluster.ControlPlane, rs *cluster.RaftSet, log *opLog, n int) *manager {
	t.Helper()
	logs := &syncBuffer{}
	logger := funcr.New(func(prefix, args string) { logs.line(prefix, args) }, funcr.Options{})
	skipNameValidation := true // one controller "raftupgrade" per manager, several managers per process
	shutdown := 15 * time.Second
	mgr, err := ctrl.NewManager(restConfig(cp), ctrl.Options{
		Scheme:                  newScheme(t),
		Logger:                  logger,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          false,
		GracefulShutdownTimeout: &shutdown,
		Cache:                   cache.Options{DefaultNamespaces: map[string]cache.Config{rs.Namespace: {}}},
		Controller:              ctrlconfig.Controller{SkipNameValidation: &skipNameValidation},
	})
	if err != nil {
		t.Fatalf("manager %d: %v", n, err)
	}
	metrics, err := controller.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	log.setManager(n)
	r := &controller.Reconciler{
		Client: loggingClient{Client: mgr.GetClient(), log: log},
		Raft: func(_ context.Context, ru *v1alpha1.RaftUpgrade) (controller.RaftCluster, error) {
			if ru.Namespace != rs.Namespace {
				return nil, fmt.Errorf("RaftUpgrade %s/%s is not in %s", ru.Namespace, ru.Name, rs.Namespace)
			}
			return simRaft{rs: rs, log: log}, nil
		},
		Recorder: mgr.GetEventRecorder("raftshift-e2e"),
		Metrics:  metrics,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("manager %d: setup reconciler: %v", n, err)
	}
	ctx, cancel := context.WithCancel(cp.Context())
	m := &manager{n: n, metrics: metrics, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { m.done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		m.stop(t)
		if t.Failed() {
			t.Logf("manager %d log:\n%s", n, logs)
		}
	})
	return m
}

// stop cancels the manager's context and waits for Start to return.
func (m *manager) stop(t *testing.T) {
	t.Helper()
	if m.stopped {
		return
	}
	m.stopped = true
	begin := time.Now()
	m.cancel()
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("manager %d: Start returned %v", m.n, err)
		}
		t.Logf("manager %d stopped in %s", m.n, time.Since(begin).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Errorf("manager %d did not stop within 30s", m.n)
	}
}

// baseSpec is the part of a RaftUpgradeSpec shared by both strategies.
func baseSpec(rs *cluster.RaftSet, strategy upgrade.Strategy) v1alpha1.RaftUpgradeSpec {
	return v1alpha1.RaftUpgradeSpec{
		Strategy:     strategy,
		Version:      newVersion,
		Image:        newImage,
		StatefulSet:  rs.Spec.Name,
		Service:      rs.Spec.Name,
		Selector:     map[string]string{cluster.LabelApp: rs.Spec.Name},
		Container:    cluster.ContainerName,
		VersionLabel: cluster.LabelVersion,
	}
}

// getUpgrade reads the RaftUpgrade (uncached).
func getUpgrade(ctx context.Context, c client.Client, rs *cluster.RaftSet) (*v1alpha1.RaftUpgrade, error) {
	var ru v1alpha1.RaftUpgrade
	err := c.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: upgradeName}, &ru)
	return &ru, err
}

// waitUpgrade polls the RaftUpgrade until cond holds; it fails the test
// with the scenario's state on timeout.
func waitUpgrade(t *testing.T, ctx context.Context, c client.Client, rs *cluster.RaftSet, log *opLog, what string, timeout time.Duration, cond func(*v1alpha1.RaftUpgrade) bool) *v1alpha1.RaftUpgrade {
	t.Helper()
	var last *v1alpha1.RaftUpgrade
	err := rs.WaitFor(ctx, timeout, func(ctx context.Context) (bool, error) {
		ru, err := getUpgrade(ctx, c, rs)
		if err != nil {
			return false, nil //nolint:nilerr // retried until the timeout
		}
		last = ru
		return cond(ru), nil
	})
	if err != nil {
		var st upgrade.Status
		if last != nil {
			st = last.Status
		}
		t.Fatalf("%s: not reached within %s (%v); phase %s, current %s, conditions %s\nwrites:\n%s\npod events:\n%s\nraft:\n%s",
			what, timeout, err, phaseOf(st), st.CurrentVersion, conditions(st), log, cluster.FormatEvents(rs.Recorder.Events()), rs.Raft.FormatHistory())
	}
	return last
}

// upgraded reports whether the RaftUpgrade is idle at the target with
// Ready True.
func upgraded(ru *v1alpha1.RaftUpgrade) bool {
	st := ru.Status
	ready := meta.FindStatusCondition(st.Conditions, upgrade.ConditionReady)
	return st.Idle() && st.CurrentVersion == newVersion && ready != nil && ready.Status == metav1.ConditionTrue
}

// createUpgrade creates the RaftUpgrade with strict field validation.
func createUpgrade(t *testing.T, ctx context.Context, c client.Client, rs *cluster.RaftSet, spec v1alpha1.RaftUpgradeSpec) {
	t.Helper()
	ru := &v1alpha1.RaftUpgrade{ObjectMeta: metav1.ObjectMeta{Name: upgradeName, Namespace: rs.Namespace}, Spec: spec}
	if err := c.Create(ctx, ru, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
		t.Fatalf("create RaftUpgrade: %v", err)
	}
}

// checkFinalStatus asserts the RaftUpgrade's final status.
func checkFinalStatus(t *testing.T, ru *v1alpha1.RaftUpgrade) {
	t.Helper()
	st := ru.Status
	if !st.Idle() || st.CurrentVersion != newVersion || st.CurrentImage != newImage {
		t.Errorf("final status: idle=%t version=%s image=%s, want idle at %s (%s)", st.Idle(), st.CurrentVersion, st.CurrentImage, newVersion, newImage)
	}
	if st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded || st.LastResult.FromVersion != oldVersion ||
		st.LastResult.TargetVersion != newVersion {
		t.Fatalf("last result = %+v, want Succeeded from %s to %s", st.LastResult, oldVersion, newVersion)
	}
	if c := meta.FindStatusCondition(st.Conditions, upgrade.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready condition = %+v, want True", c)
	}
	t.Logf("final status: current %s, result %s (%s), conditions %s", st.CurrentVersion, st.LastResult.Outcome, st.LastResult.Message, conditions(st))
}

// checkEvents waits until the events.k8s.io Events regarding the
// RaftUpgrade include, for each group, one of its reasons, and returns the
// reasons seen in order of creation.
func checkEvents(t *testing.T, ctx context.Context, c client.Client, rs *cluster.RaftSet, groups ...[]string) []string {
	t.Helper()
	var reasons []string
	hasAll := func() bool {
		for _, g := range groups {
			if !slices.ContainsFunc(g, func(r string) bool { return slices.Contains(reasons, r) }) {
				return false
			}
		}
		return true
	}
	err := rs.WaitFor(ctx, 15*time.Second, func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := c.List(ctx, &list, client.InNamespace(rs.Namespace)); err != nil {
			return false, nil //nolint:nilerr // retried until the timeout
		}
		slices.SortStableFunc(list.Items, func(a, b eventsv1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
		reasons = reasons[:0]
		for _, e := range list.Items {
			if e.Regarding.Kind == "RaftUpgrade" && e.Regarding.Name == upgradeName && e.Regarding.Namespace == rs.Namespace {
				reasons = append(reasons, e.Reason)
			}
		}
		return hasAll(), nil
	})
	if err != nil {
		t.Errorf("events regarding RaftUpgrade %s/%s: reasons %v, want one of each of %v", rs.Namespace, upgradeName, reasons, groups)
	}
	t.Logf("event reasons regarding the RaftUpgrade: %v", reasons)
	return reasons
}

// series returns the series of a metric vector: its labels as
// "name=value" pairs sorted by name and joined by "," -> value (counter
// or gauge).
func series(c prometheus.Collector) map[string]float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	out := map[string]float64{}
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		out[labelKey(labels)] = d.GetCounter().GetValue() + d.GetGauge().GetValue()
	}
	return out
}

// labelKey renders a label set as series does.
func labelKey(labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// checkMetrics asserts that, over the scenario's managers (each with its
// own Metrics), exactly one upgrade finished, Succeeded with strategy,
// counted by the last manager, that the managers stopped mid-upgrade
// counted none, and that the last manager's phase gauge is Idle.
func checkMetrics(t *testing.T, rs *cluster.RaftSet, strategy upgrade.Strategy, mgrs ...*manager) {
	t.Helper()
	id := map[string]string{"namespace": rs.Namespace, "name": upgradeName}
	with := func(kv ...string) string {
		labels := map[string]string{}
		for k, v := range id {
			labels[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			labels[kv[i]] = kv[i+1]
		}
		return labelKey(labels)
	}
	succeeded := with("strategy", string(strategy), "outcome", string(upgrade.OutcomeSucceeded))
	idle := with("strategy", "", "phase", "Idle")
	for i, m := range mgrs {
		ups, phase := series(m.metrics.Upgrades), series(m.metrics.Phase)
		t.Logf("manager %d metrics: upgrades %v, leadership moves %v, phase %v, gates held (s) %v",
			m.n, ups, series(m.metrics.LeaderMoves), phase, series(m.metrics.GateHeld))
		if i < len(mgrs)-1 {
			if len(ups) != 0 {
				t.Errorf("manager %d (stopped mid-upgrade): raftshift_upgrades_total = %v, want none", m.n, ups)
			}
			continue
		}
		if len(ups) != 1 || ups[succeeded] != 1 {
			t.Errorf("manager %d: raftshift_upgrades_total = %v, want only {%s} = 1", m.n, ups, succeeded)
		}
		if len(phase) != 1 || phase[idle] != 1 {
			t.Errorf("manager %d: raftshift_upgrade_phase = %v, want only {%s} = 1", m.n, phase, idle)
		}
	}
}

// checkManagersWrote asserts that each of the n managers made at least one
// successful write: after a restart, the upgrade was really carried on by
// both.
func checkManagersWrote(t *testing.T, log *opLog, n int) {
	t.Helper()
	writes := make([]int, n+1)
	for _, x := range log.ok() {
		writes[x.Manager]++
	}
	for m := 1; m <= n; m++ {
		if writes[m] == 0 {
			t.Errorf("manager %d made no write", m)
		}
	}
	t.Logf("successful writes per manager: %v", writes[1:])
}

// testReconcilerRolling: a rolling upgrade of a 3-replica StatefulSet by
// a RaftUpgrade, optionally with the manager replaced mid-upgrade.
func testReconcilerRolling(t *testing.T, cp *cluster.ControlPlane, c client.Client, restart bool) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(cp.Context(), 150*time.Second)
	defer cancel()
	// Without restart: the leader at ordinal 0, the last rolled, moved by
	// a targeted transfer before bao-0 goes. With restart: the leader at
	// ordinal 2, the first rolled, with step-down only (OpenBao), so the
	// first pod replaced is the initial leader's.
	leader, targeted := int32(0), true
	if restart {
		leader, targeted = 2, false
	}
	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: leader, TargetedTransfer: targeted})
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	initialLeader := rs.PodName(leader)
	if got := rs.Raft.Leader(); got != initialLeader {
		t.Fatalf("leader = %s, want %s", got, initialLeader)
	}
	oldUIDs := uids(before)
	mark := rs.Recorder.Mark()
	log := &opLog{rs: rs}

	mgrs := []*manager{startManager(t, cp, rs, log, 1)}
	spec := baseSpec(rs, upgrade.StrategyRolling)
	spec.Rolling = &rolling.Spec{
		CatchUp:      upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		PollInterval: metav1.Duration{Duration: 100 * time.Millisecond},
		StepTimeout:  metav1.Duration{Duration: 2 * time.Minute},
	}
	createUpgrade(t, ctx, c, rs, spec)

	if restart {
		// In flight with at least one pod replaced (and the start event
		// written, so that the event check does not depend on the first
		// manager's event broadcaster flushing while it stops).
		ru := waitUpgrade(t, ctx, c, rs, log, "rolling upgrade in flight with a pod replaced", 60*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
			return ru.Status.Upgrade != nil && ru.Status.Upgrade.Phase != "" && len(cluster.Recreations(rs.Recorder.Since(mark))) >= 1
		})
		checkEvents(t, ctx, c, rs, []string{string(upgrade.ReasonStarted)})
		mgrs[0].stop(t)
		ru, err = getUpgrade(ctx, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("manager 1 stopped in phase %s after %d recreations; %d writes so far", phaseOf(ru.Status),
			len(cluster.Recreations(rs.Recorder.Since(mark))), len(log.ok()))
		if ru.Status.Idle() {
			t.Fatal("upgrade finished before manager 1 was stopped")
		}
		mgrs = append(mgrs, startManager(t, cp, rs, log, 2))
	}

	ru := waitUpgrade(t, ctx, c, rs, log, "rolling upgrade done", 90*time.Second, upgraded)
	t.Logf("upgrade took %s", time.Since(begin).Round(time.Millisecond))
	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	events := rs.Recorder.Since(mark)
	t.Logf("writes:\n%s", log)
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	checkFinalStatus(t, ru)
	checkNoFailedWrites(t, log)
	checkRollingRecreations(t, rs, mark, events, log.ok(), oldUIDs, initialLeader, newImage)

	// Raft safety held throughout (a voter catching up counts as down);
	// every restarted server caught up after the lag, every election won
	// after its delay.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	if got := rs.Raft.MaxVotersDown(); got != 1 {
		t.Errorf("max voters down at once = %d, want 1", got)
	}
	for _, name := range []string{"bao-0", "bao-1", "bao-2"} {
		if n := rs.Raft.Restarts(name); n != 1 {
			t.Errorf("raft server %s restarted %d times, want 1", name, n)
		}
	}
	checkCatchUps(t, rs, 3)
	checkElections(t, rs)

	// Objects at the target, partition back to 0, lock released.
	checkPodsAt(t, pods, 3, newImage, newVersion)
	set, err := rs.StatefulSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru == nil || ru.Partition == nil || *ru.Partition != 0 {
		t.Errorf("partition after the upgrade = %+v, want 0", ru)
	}
	checkLockReleased(t, ctx, rs)

	checkEvents(t, ctx, c, rs, []string{string(upgrade.ReasonStarted)}, []string{string(upgrade.ReasonSucceeded)})
	checkMetrics(t, rs, upgrade.StrategyRolling, mgrs...)
	checkManagersWrote(t, log, len(mgrs))
	var moves float64
	for _, m := range mgrs {
		for _, v := range series(m.metrics.LeaderMoves) {
			moves += v
		}
	}
	if moves < 1 {
		t.Errorf("raftshift_leadership_moves_total summed over the managers = %v, want >= 1", moves)
	}
}

// checkRollingRecreations asserts that the pods were recreated exactly
// once each, highest ordinal first, one at a time, each terminated by the
// partition in force (from the StatefulSet's watch) that the reconciler's
// partition writes set, each write made after the previous replacement was
// ready and caught up and never while the pod led; that every partition
// change the watch showed was such a write; and that leadership moved away
// from the initial leader before its pod went.
func checkRollingRecreations(t *testing.T, rs *cluster.RaftSet, mark int, events []cluster.PodEvent, ops []opEntry, oldUIDs map[string]types.UID, initialLeader, image string) {
	t.Helper()
	recs := cluster.Recreations(events)
	var order []string
	for _, r := range recs {
		order = append(order, r.Pod)
	}
	if want := []string{"bao-2", "bao-1", "bao-0"}; !slices.Equal(order, want) {
		t.Fatalf("recreation order = %v, want %v", order, want)
	}
	if del := cluster.DeletedPods(events); len(del) != 3 {
		t.Errorf("deleted pods = %v, want the three recreations only", del)
	}
	for _, r := range recs {
		if r.OldUID != oldUIDs[r.Pod] || r.NewUID == "" || r.Ready < 0 || r.Image != image {
			t.Errorf("recreation %v: want old uid %s replaced by a ready pod at %s", r, oldUIDs[r.Pod], image)
		}
	}
	sets := rs.Recorder.SetEvents()
	allow := opAllowances(ops)
	changes := checkPartitionWatch(t, sets, mark, allow)
	t.Logf("partition changes (statefulset watch):\n%s", cluster.FormatSetEvents(changes))
	by := checkDisruptions(t, events, sets, allow)
	for _, r := range recs {
		if d, ok := by[r.OldUID]; ok {
			t.Logf("%s terminated at #%d: %s, allowed by %s", r.Pod, r.Terminating, d.Why, d.By)
			if d.By.Partition < 0 {
				t.Errorf("%s released by %s, want a partition write (Partition ordering)", r.Pod, d.By)
			}
		}
	}
	checkOneAtATime(t, rs, recs, by)

	var leaderRec cluster.Recreation
	for _, r := range recs {
		if r.Pod == initialLeader {
			leaderRec = r
		}
	}
	moved := false
	for _, x := range ops {
		if x.Verb != "raft" || x.Mark > leaderRec.Terminating {
			continue
		}
		switch a := x.Action.(type) {
		case upgrade.StepDown:
			moved = moved || a.ID == initialLeader
		case upgrade.TransferLeadership:
			moved = moved || a.FromID == initialLeader
		}
	}
	if !moved {
		t.Errorf("no leadership move away from %s before it was recreated", initialLeader)
	}
}

// checkNoFailedWrites asserts that none of the reconcilers' logged writes
// and Raft actions failed (none is expected).
func checkNoFailedWrites(t *testing.T, log *opLog) {
	t.Helper()
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, e := range log.entries {
		if e.Err != nil {
			t.Errorf("failed write: %s", e)
		}
	}
}

// testReconcilerBlueGreen: a blue-green upgrade by a RaftUpgrade,
// optionally with the manager replaced mid-upgrade (after a green member
// joined the Raft configuration).
func testReconcilerBlueGreen(t *testing.T, cp *cluster.ControlPlane, c client.Client, restart bool) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(cp.Context(), 150*time.Second)
	defer cancel()
	// Green servers catch up for longer than the sync window and the
	// validation take without the lag: the catch-up gate (Syncing) is
	// what holds the promotions.
	rs := cp.NewRaftSet(t, cluster.SetSpec{Image: oldImage, Version: oldVersion, InitialLeader: 1, TargetedTransfer: true,
		CatchUpLag: blueGreenCatchUpLag})
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, oldImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	blueUIDs := uids(before)
	mark := rs.Recorder.Mark()
	log := &opLog{rs: rs}

	mgrs := []*manager{startManager(t, cp, rs, log, 1)}
	spec := baseSpec(rs, upgrade.StrategyBlueGreen)
	spec.BlueGreen = &bluegreen.Spec{
		PeerDomain:          rs.HeadlessServiceName(),
		AutoPromote:         true,
		PrePromotionHook:    "smoke",
		CatchUp:             upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}},
		MinSyncDuration:     metav1.Duration{Duration: 500 * time.Millisecond},
		StabilizationWindow: metav1.Duration{Duration: time.Second},
		RetryAfter:          metav1.Duration{Duration: 3 * time.Second},
		RequeueAfter:        metav1.Duration{Duration: 100 * time.Millisecond},
	}
	createUpgrade(t, ctx, c, rs, spec)
	green := bluegreen.GreenName(rs.Spec.Name, newVersion, newImage)
	isGreen := func(name string) bool { return strings.HasPrefix(name, green+"-") }

	if restart {
		// In flight, mid-membership: a green member already joined.
		ru := waitUpgrade(t, ctx, c, rs, log, "blue-green upgrade in flight with a green member joined", 60*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
			return ru.Status.Upgrade != nil && ru.Status.Upgrade.Phase != "" && slices.ContainsFunc(log.ok(), func(x opEntry) bool {
				return x.Verb == "raft" && x.Action.Kind() == upgrade.KindJoinNonvoter
			})
		})
		checkEvents(t, ctx, c, rs, []string{string(upgrade.ReasonStarted)})
		mgrs[0].stop(t)
		ru, err = getUpgrade(ctx, c, rs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("manager 1 stopped in phase %s; %d writes so far", phaseOf(ru.Status), len(log.ok()))
		if ru.Status.Idle() {
			t.Fatal("upgrade finished before manager 1 was stopped")
		}
		mgrs = append(mgrs, startManager(t, cp, rs, log, 2))
	}

	ru := waitUpgrade(t, ctx, c, rs, log, "blue-green upgrade done", 100*time.Second, upgraded)
	t.Logf("upgrade took %s", time.Since(begin).Round(time.Millisecond))
	greenPods, err := rs.WaitReady(ctx, green, 3, newImage, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	if _, err := rs.WaitReady(ctx, rs.Spec.Name, 0, "", 10*time.Second); err != nil {
		t.Errorf("blue pods not reaped: %v", err)
	}
	events := rs.Recorder.Since(mark)
	sets := rs.Recorder.SetEvents()
	ops := log.ok()
	t.Logf("writes:\n%s", log)
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	checkFinalStatus(t, ru)
	checkNoFailedWrites(t, log)

	// Raft: no voter ever down (nor catching up); votes and leadership all
	// green; every green server caught up after the lag before it was
	// promoted.
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	if got := rs.Raft.MaxVotersDown(); got != 0 {
		t.Errorf("max voters down at once = %d, want 0 (blue-green restarts no voter)", got)
	}
	wantVoters := []string{green + "-0", green + "-1", green + "-2"}
	if got := rs.Raft.Voters(); !slices.Equal(got, wantVoters) {
		t.Errorf("voters = %v, want %v", got, wantVoters)
	}
	if l := rs.Raft.Leader(); !isGreen(l) {
		t.Errorf("leader = %q, want a green member", l)
	}
	for name := range blueUIDs {
		if n := rs.Raft.Restarts(name); n != 0 {
			t.Errorf("blue server %s restarted %d times, want 0", name, n)
		}
	}
	checkCatchUps(t, rs, 3)
	checkElections(t, rs)
	var promotions []allowance
	for _, x := range ops {
		if a, ok := x.Action.(upgrade.Promote); ok && x.Verb == "raft" {
			promotions = append(promotions, allowance{At: x.At, Pod: a.Member, What: x.Action.String()})
		}
	}
	checkPromotedCaughtUp(t, rs, promotions)

	// No pod recreated; only the blue pods deleted, each through the
	// deletion of the blue StatefulSet written before it (its deletion
	// shown by the watch before the pod's); no partition changed.
	if recs := cluster.Recreations(events); len(recs) != 0 {
		t.Errorf("pods recreated during blue-green: %v", recs)
	}
	for _, e := range cluster.Terminations(events) {
		if uid, blue := blueUIDs[e.Pod]; !blue || e.UID != uid {
			t.Errorf("unexpected pod deletion %v", e)
		}
	}
	if n := len(cluster.Deletions(events)); n != len(blueUIDs) {
		t.Errorf("%d pod deletions, want the %d blue pods", n, len(blueUIDs))
	}
	allow := opAllowances(ops)
	if changes := checkPartitionWatch(t, sets, mark, allow); len(changes) != 0 {
		t.Errorf("partition changed during blue-green:\n%s", cluster.FormatSetEvents(changes))
	}
	for uid, d := range checkDisruptions(t, events, sets, allow) {
		if d.Why != "DeleteRevision" || d.By.Set != rs.Spec.Name {
			t.Errorf("%s (uid %s) terminated by %s (%s), want the blue StatefulSet's deletion", d.Event.Pod, uid, d.By, d.Why)
		}
	}

	// Write order: every join before any promotion, promotions before the
	// leadership move to green, the move before any demotion, every blue
	// voter demoted before any removal, blue removed before the Service
	// switch, blue deleted last.
	index := func(last bool, pred func(opEntry) bool) int {
		i := -1
		for j, x := range ops {
			if pred(x) {
				i = j
				if !last {
					break
				}
			}
		}
		return i
	}
	raftKind := func(k upgrade.ActionKind) func(opEntry) bool {
		return func(x opEntry) bool { return x.Verb == "raft" && x.Action.Kind() == k }
	}
	createGreen := index(false, func(x opEntry) bool { return x.Verb == "create" && x.Kind == "StatefulSet" && x.Name == green })
	lastJoin, firstPromote := index(true, raftKind(upgrade.KindJoinNonvoter)), index(false, raftKind(upgrade.KindPromote))
	lastPromote := index(true, raftKind(upgrade.KindPromote))
	move := index(false, func(x opEntry) bool {
		a, ok := x.Action.(upgrade.TransferLeadership)
		return x.Verb == "raft" && ok && isGreen(a.ToID)
	})
	firstDemote, lastDemote := index(false, raftKind(upgrade.KindDemote)), index(true, raftKind(upgrade.KindDemote))
	firstRemove, lastRemove := index(false, raftKind(upgrade.KindRemovePeer)), index(true, raftKind(upgrade.KindRemovePeer))
	switchSvc := index(false, func(x opEntry) bool { return x.Verb == "patch" && x.Kind == "Service" && x.Selects == green })
	deleteBlue := index(false, func(x opEntry) bool { return x.Verb == "delete" && x.Kind == "StatefulSet" && x.Name == rs.Spec.Name })
	t.Logf("write indexes: create green %d, last join %d, first promote %d, last promote %d, leader move %d, first demote %d, last demote %d, first remove %d, last remove %d, switch %d, delete blue %d",
		createGreen, lastJoin, firstPromote, lastPromote, move, firstDemote, lastDemote, firstRemove, lastRemove, switchSvc, deleteBlue)
	if !(createGreen >= 0 && createGreen < lastJoin && lastJoin < firstPromote && lastPromote < move && move < firstDemote &&
		lastDemote < firstRemove && lastRemove < switchSvc && switchSvc < deleteBlue) {
		t.Errorf("writes out of the blue-green order")
	}
	var joined, demoted, removed []string
	for _, x := range ops {
		switch a := x.Action.(type) {
		case upgrade.JoinNonvoter:
			if !slices.Contains(joined, a.Member) {
				joined = append(joined, a.Member)
			}
		case upgrade.Demote:
			if !slices.Contains(demoted, a.Member) {
				demoted = append(demoted, a.Member)
			}
		case upgrade.RemovePeer:
			if !slices.Contains(removed, a.Member) {
				removed = append(removed, a.Member)
			}
		}
	}
	slices.Sort(joined)
	slices.Sort(demoted)
	slices.Sort(removed)
	if !slices.Equal(joined, wantVoters) {
		t.Errorf("joined %v, want %v", joined, wantVoters)
	}
	if want := []string{"bao-0", "bao-1", "bao-2"}; !slices.Equal(demoted, want) {
		t.Errorf("demoted %v, want %v", demoted, want)
	}
	if want := []string{"bao-0", "bao-1", "bao-2"}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}

	// Kubernetes objects: the Service selects green, blue is gone.
	if _, err := rs.StatefulSet(ctx); !apierrors.IsNotFound(err) {
		t.Errorf("blue statefulset still there (err %v)", err)
	}
	svc, err := rs.CP.Client.CoreV1().Services(rs.Namespace).Get(ctx, rs.Spec.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Spec.Selector[cluster.LabelRevision]; got != green {
		t.Errorf("service selects revision %q, want %q", got, green)
	}
	checkPodsAt(t, greenPods, 3, newImage, newVersion)
	checkLockReleased(t, ctx, rs)

	// Both strategies report a start and an outcome with the shared
	// reasons (UpgradeStarted, UpgradeSucceeded).
	checkEvents(t, ctx, c, rs,
		[]string{string(upgrade.ReasonStarted)},
		[]string{string(upgrade.ReasonSucceeded)})
	checkMetrics(t, rs, upgrade.StrategyBlueGreen, mgrs...)
	checkManagersWrote(t, log, len(mgrs))
}
