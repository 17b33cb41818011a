package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

// The example operator's shipped manifests and the RaftUpgrade sample,
// relative to the e2e module's root.
const (
	operatorRBACFile    = "../examples/operator/config/rbac.yaml"
	operatorManagerFile = "../examples/operator/config/manager.yaml"
	sampleFile          = "../adapters/kubernetes/config/samples/raftupgrade.yaml"
	// operatorLeaderElectionID is the example operator's LeaderElectionID.
	operatorLeaderElectionID = "raftshift-operator.raftshift.io"
)

// TestOperatorRBAC proves that the example operator's shipped RBAC
// suffices: on a kube-apiserver that authorizes with RBAC, the ClusterRole
// of examples/operator/config/rbac.yaml is bound to the operator's
// ServiceAccount exactly as examples/operator/config/manager.yaml binds it
// (its Namespace, ServiceAccount and ClusterRoleBinding are applied; the
// Deployment names the ServiceAccount and its namespace), and the reusable
// reconciler runs in a controller-runtime manager configured as the
// operator configures its own (every namespace cached, leader election in
// the operator's namespace) whose rest config impersonates that
// ServiceAccount. The CRD and the sample RaftUpgrade (its cluster's
// namespace, selector and container adapted, faster catch-up settings) are
// applied as an administrator would, and the RaftUpgrade must reach its
// target through that manager alone.
func TestOperatorRBAC(t *testing.T) {
	cp := cluster.Start(t, cluster.WithRBAC())
	t.Logf("control plane (RBAC) started in %s", cp.StartupTime.Round(time.Millisecond))
	admin := newAPIClient(t, cp)
	installCRD(t, admin)
	sa := applyOperatorManifests(t, admin)
	user := "system:serviceaccount:" + sa.Namespace + ":" + sa.Name
	t.Logf("operator runs as %s", user)

	t.Run("Permissions", func(t *testing.T) { testOperatorPermissions(t, cp, sa, user) })
	if t.Failed() {
		t.FailNow()
	}
	t.Run("SampleUpgrade", func(t *testing.T) { testOperatorSample(t, cp, admin, sa, user) })
}

// applyOperatorManifests applies the operator's ClusterRole and, from its
// manager manifest, everything but the Deployment (no kubelet runs it): the
// Namespace, the ServiceAccount and the ClusterRoleBinding. It returns the
// ServiceAccount the Deployment runs as, checking that the binding's subject
// is that ServiceAccount and its role the shipped ClusterRole.
func applyOperatorManifests(t *testing.T, c client.Client) types.NamespacedName {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var objs []*unstructured.Unstructured
	for _, f := range []string{operatorRBACFile, operatorManagerFile} {
		objs = append(objs, readManifests(t, f)...)
	}
	var role rbacv1.ClusterRole
	var binding rbacv1.ClusterRoleBinding
	var deploy appsv1.Deployment
	for _, u := range objs {
		var into any
		switch u.GetKind() {
		case "ClusterRole":
			into = &role
		case "ClusterRoleBinding":
			into = &binding
		case "Deployment":
			into = &deploy
		}
		if into != nil {
			if err := runtimeFromUnstructured(u, into); err != nil {
				t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
			}
		}
		if u.GetKind() == "Deployment" {
			continue
		}
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		t.Logf("applied %s %s", u.GetKind(), strings.TrimPrefix(client.ObjectKeyFromObject(u).String(), "/"))
	}
	sa := types.NamespacedName{Namespace: deploy.Namespace, Name: deploy.Spec.Template.Spec.ServiceAccountName}
	if sa.Name == "" || sa.Namespace == "" {
		t.Fatalf("deployment %s/%s names no service account", deploy.Namespace, deploy.Name)
	}
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != role.Name || role.Name == "" {
		t.Fatalf("binding %s refers to %s %s, want the shipped ClusterRole %q", binding.Name, binding.RoleRef.Kind, binding.RoleRef.Name, role.Name)
	}
	if !slices.ContainsFunc(binding.Subjects, func(s rbacv1.Subject) bool {
		return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.Name && s.Namespace == sa.Namespace
	}) {
		t.Fatalf("binding %s subjects %+v do not include the deployment's service account %s/%s", binding.Name, binding.Subjects, sa.Namespace, sa.Name)
	}
	return sa
}

// readManifests decodes the YAML documents of file.
func readManifests(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode %s: %v", file, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func runtimeFromUnstructured(u *unstructured.Unstructured, into any) error {
	b, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, into)
}

// operatorConfig is a rest config impersonating user (the operator's
// ServiceAccount), JSON for custom resources (see restConfig).
func operatorConfig(cp *cluster.ControlPlane, user string) *rest.Config {
	cfg := restConfig(cp)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return cfg
}

// operatorNeeds lists what the reconciler does with the cluster's objects
// — reads through its cache in every namespace, the writes of the actions,
// the lock, events, the token Secret (in the RaftUpgrade's namespace ns)
// and leader election (in the operator's namespace own) — each must be
// allowed for the operator's ServiceAccount.
func operatorNeeds(ns, own string) []authorizationv1.ResourceAttributes {
	return []authorizationv1.ResourceAttributes{
		{Group: "raftshift.io", Resource: "raftupgrades", Verb: "list"},
		{Group: "raftshift.io", Resource: "raftupgrades", Verb: "watch"},
		{Group: "raftshift.io", Resource: "raftupgrades", Verb: "get", Namespace: ns},
		{Group: "raftshift.io", Resource: "raftupgrades", Subresource: "status", Verb: "update", Namespace: ns},
		{Group: "apps", Resource: "statefulsets", Verb: "list"},
		{Group: "apps", Resource: "statefulsets", Verb: "watch"},
		{Group: "apps", Resource: "statefulsets", Verb: "patch", Namespace: ns},
		{Group: "apps", Resource: "statefulsets", Verb: "create", Namespace: ns},
		{Group: "apps", Resource: "statefulsets", Verb: "delete", Namespace: ns},
		{Resource: "pods", Verb: "list"},
		{Resource: "pods", Verb: "watch"},
		{Resource: "pods", Verb: "delete", Namespace: ns},
		{Resource: "services", Verb: "list"},
		{Resource: "services", Verb: "watch"},
		{Resource: "services", Verb: "patch", Namespace: ns},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "list"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "watch"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "create", Namespace: ns},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "patch", Namespace: ns},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "get", Namespace: own},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "create", Namespace: own},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: own},
		{Resource: "secrets", Verb: "get", Namespace: ns},
		{Group: "events.k8s.io", Resource: "events", Verb: "create", Namespace: ns},
		{Group: "events.k8s.io", Resource: "events", Verb: "patch", Namespace: ns},
		{Resource: "events", Verb: "create", Namespace: own},
		{Resource: "events", Verb: "patch", Namespace: own},
		// -disruption-budgets (kubernetes.SyncDisruptionBudgets).
		{Group: "policy", Resource: "poddisruptionbudgets", Verb: "list"},
		{Group: "policy", Resource: "poddisruptionbudgets", Verb: "watch"},
		{Group: "policy", Resource: "poddisruptionbudgets", Verb: "create", Namespace: ns},
		{Group: "policy", Resource: "poddisruptionbudgets", Verb: "patch", Namespace: ns},
		{Group: "policy", Resource: "poddisruptionbudgets", Verb: "delete", Namespace: ns},
	}
}

// operatorDenied lists what the operator's ServiceAccount must not be
// allowed: proof that RBAC, not AlwaysAllow, judges its requests, and that
// the ClusterRole grants no more than its comments say.
func operatorDenied(ns string) []authorizationv1.ResourceAttributes {
	return []authorizationv1.ResourceAttributes{
		{Resource: "secrets", Verb: "list"},
		{Resource: "secrets", Verb: "watch"},
		{Resource: "configmaps", Verb: "create", Namespace: ns},
		{Resource: "services", Verb: "delete", Namespace: ns},
		{Group: "apps", Resource: "statefulsets", Verb: "update", Namespace: ns},
		{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "create"},
	}
}

// testOperatorPermissions asks the apiserver (SubjectAccessReview, as the
// administrator) whether the operator's ServiceAccount may do each thing
// the reconciler does, naming exactly any missing permission, and checks
// the denials; then one impersonated request of each kind confirms that
// the impersonation is held to them.
func testOperatorPermissions(t *testing.T, cp *cluster.ControlPlane, sa types.NamespacedName, user string) {
	ctx, cancel := context.WithTimeout(cp.Context(), 30*time.Second)
	defer cancel()
	cs := cp.Client
	// The groups the apiserver gives an impersonated service account.
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"}
	allowed := func(ra authorizationv1.ResourceAttributes) bool {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: &ra}}
		got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("subject access review: %v", err)
		}
		return got.Status.Allowed
	}
	describe := func(ra authorizationv1.ResourceAttributes) string {
		res := ra.Resource
		if ra.Subresource != "" {
			res += "/" + ra.Subresource
		}
		where := "cluster-wide"
		if ra.Namespace != "" {
			where = "in namespace " + ra.Namespace
		}
		return fmt.Sprintf("%s %s (group %q) %s", ra.Verb, res, ra.Group, where)
	}
	const ns = "vault" // any namespace: the ClusterRoleBinding grants them all
	// The apiserver's RBAC authorizer reads roles and bindings through
	// informers: right after the manifests are applied it may not judge by
	// them yet. Wait until every need is allowed (at most 10 s; the loop
	// below then names what is still missing).
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		for _, ra := range operatorNeeds(ns, sa.Namespace) {
			if !allowed(ra) {
				return false, nil
			}
		}
		return true, nil
	})
	for _, ra := range operatorNeeds(ns, sa.Namespace) {
		if !allowed(ra) {
			t.Errorf("the shipped RBAC does not allow the operator to %s", describe(ra))
		}
	}
	for _, ra := range operatorDenied(ns) {
		if allowed(ra) {
			t.Errorf("the operator may %s: RBAC grants more than the manifests say, or does not judge", describe(ra))
		}
	}

	// The impersonated client itself: allowed to list pods everywhere,
	// forbidden to list secrets or create a config map.
	imp, err := kubernetes.NewForConfig(operatorConfig(cp, user))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imp.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("impersonated list pods: %v", err)
	}
	if _, err := imp.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("impersonated list secrets: %v, want Forbidden", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}
	if _, err := imp.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("impersonated create configmap: %v, want Forbidden", err)
	}
}

// testOperatorSample runs the sample RaftUpgrade through a manager
// impersonating the operator's ServiceAccount.
func testOperatorSample(t *testing.T, cp *cluster.ControlPlane, admin client.Client, sa types.NamespacedName, user string) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(cp.Context(), 150*time.Second)
	defer cancel()

	// The sample, as shipped, decoded strictly.
	raw, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var sample v1alpha1.RaftUpgrade
	if err := yaml.UnmarshalStrict(raw, &sample); err != nil {
		t.Fatalf("decode %s: %v", sampleFile, err)
	}
	if sample.Spec.Rolling == nil || sample.Spec.OpenBao.TokenSecretRef == nil {
		t.Fatalf("sample spec %+v: want rolling options and a token secret", sample.Spec)
	}
	// Its cluster: the StatefulSet and Service it names, one minor version
	// below its target (the policy refuses skipping a minor).
	from, err := minorBelow(sample.Spec.Version)
	if err != nil {
		t.Fatal(err)
	}
	fromImage := strings.TrimSuffix(sample.Spec.Image, sample.Spec.Version) + from
	rs := cp.NewRaftSet(t, cluster.SetSpec{Name: sample.Spec.StatefulSet, Image: fromImage, Version: from, InitialLeader: 0, TargetedTransfer: true})
	if sample.Spec.Service != rs.Spec.Name {
		t.Fatalf("sample service %q, harness client service %q", sample.Spec.Service, rs.Spec.Name)
	}
	before, err := rs.WaitReady(ctx, rs.Spec.Name, 3, fromImage, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	oldUIDs := uids(before)
	mark := rs.Recorder.Mark()
	// The token Secret the sample refers to.
	ref := sample.Spec.OpenBao.TokenSecretRef
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: rs.Namespace}, Data: map[string][]byte{ref.Key: []byte("s.e2e")}}
	if err := admin.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}

	log := &opLog{rs: rs}
	logs := &syncBuffer{}
	mgr := startOperatorManager(t, cp, rs, log, logs, sa, user)

	// Adapted to the harness's cluster: namespace, pod selector and
	// container; the catch-up window shortened (the sample keeps the
	// defaults: 10s stabilization per pod). Everything else as shipped.
	ru := sample.DeepCopy()
	ru.Name, ru.Namespace = upgradeName, rs.Namespace
	ru.Spec.Selector = map[string]string{cluster.LabelApp: rs.Spec.Name}
	ru.Spec.Container = cluster.ContainerName
	ru.Spec.VersionLabel = cluster.LabelVersion
	ru.Spec.Rolling.CatchUp = upgrade.CatchUp{Stabilization: metav1.Duration{Duration: 500 * time.Millisecond}}
	ru.Spec.Rolling.PollInterval = metav1.Duration{Duration: 100 * time.Millisecond}
	ru.Spec.Rolling.RetryInterval = metav1.Duration{Duration: time.Second}
	if err := admin.Create(ctx, ru, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
		t.Fatalf("create RaftUpgrade: %v", err)
	}

	done := waitUpgrade(t, ctx, admin, rs, log, "sample upgrade done", 90*time.Second, func(ru *v1alpha1.RaftUpgrade) bool {
		st := ru.Status
		ready := meta.FindStatusCondition(st.Conditions, upgrade.ConditionReady)
		return st.Idle() && st.CurrentVersion == sample.Spec.Version && ready != nil && ready.Status == metav1.ConditionTrue
	})
	t.Logf("sample upgrade %s -> %s took %s", from, sample.Spec.Version, time.Since(begin).Round(time.Millisecond))
	pods, err := rs.WaitReady(ctx, rs.Spec.Name, 3, sample.Spec.Image, 10*time.Second)
	if err != nil {
		t.Error(err)
	}
	events := rs.Recorder.Since(mark)
	t.Logf("writes:\n%s", log)
	t.Logf("pod events:\n%s", cluster.FormatEvents(events))
	t.Logf("raft (seed %d):\n%s", rs.Raft.Seed(), rs.Raft.FormatHistory())

	st := done.Status
	if st.CurrentImage != sample.Spec.Image || st.LastResult == nil || st.LastResult.Outcome != upgrade.OutcomeSucceeded ||
		st.LastResult.FromVersion != from {
		t.Errorf("final status: image %s, result %+v, want Succeeded from %s at %s", st.CurrentImage, st.LastResult, from, sample.Spec.Image)
	}
	checkNoFailedWrites(t, log)
	checkRollingRecreations(t, rs, mark, events, log.ok(), oldUIDs, rs.PodName(0), sample.Spec.Image)
	if v := rs.Raft.Violations(); len(v) != 0 {
		t.Errorf("raft safety violations:\n%s", strings.Join(v, "\n"))
	}
	if got := rs.Raft.MaxVotersDown(); got != 1 {
		t.Errorf("max voters down at once = %d, want 1", got)
	}
	checkCatchUps(t, rs, 3)
	checkElections(t, rs)
	checkPodsAt(t, pods, 3, sample.Spec.Image, sample.Spec.Version)
	checkLockReleased(t, ctx, rs)
	// Events written as the operator (events.k8s.io), and the leader
	// election Lease it holds in its own namespace.
	checkEvents(t, ctx, admin, rs, []string{string(upgrade.ReasonStarted)}, []string{string(upgrade.ReasonSucceeded)})
	var lease coordinationv1.Lease
	if err := admin.Get(ctx, client.ObjectKey{Namespace: sa.Namespace, Name: operatorLeaderElectionID}, &lease); err != nil {
		t.Errorf("leader election lease: %v", err)
	} else if h := lease.Spec.HolderIdentity; h == nil || *h == "" {
		t.Errorf("leader election lease %s/%s has no holder", sa.Namespace, operatorLeaderElectionID)
	}
	mgr.stop(t)
	// Nothing the operator asked for was refused.
	if l := logs.String(); strings.Contains(strings.ToLower(l), "forbidden") {
		t.Errorf("the operator's requests were refused:\n%s", l)
	}
	checkManagersWrote(t, log, 1)
}

// minorBelow returns "X.(Y-1).0" for a version "X.Y.Z" with Y > 0.
func minorBelow(v string) (string, error) {
	var major, minor, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch); err != nil || minor == 0 {
		return "", fmt.Errorf("sample version %q: want X.Y.Z with Y > 0", v)
	}
	return fmt.Sprintf("%d.%d.0", major, minor-1), nil
}

// startOperatorManager starts a manager configured as the example operator
// configures its own (every namespace cached, leader election in the
// operator's namespace under its ID), on a rest config impersonating the
// operator's ServiceAccount, running a new Reconciler whose RaftProvider
// reads the RaftUpgrade's token Secret through the manager's uncached
// reader (as the operator's OpenBao provider does) and returns the
// simulated Raft.
func startOperatorManager(t *testing.T, cp *cluster.ControlPlane, rs *cluster.RaftSet, log *opLog, logs *syncBuffer, sa types.NamespacedName, user string) *manager {
	t.Helper()
	logger := funcr.New(func(prefix, args string) { logs.line(prefix, args) }, funcr.Options{})
	skipNameValidation := true
	shutdown := 15 * time.Second
	mgr, err := ctrl.NewManager(operatorConfig(cp, user), ctrl.Options{
		Scheme:                  newScheme(t),
		Logger:                  logger,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        operatorLeaderElectionID,
		LeaderElectionNamespace: sa.Namespace,
		GracefulShutdownTimeout: &shutdown,
		Controller:              ctrlconfig.Controller{SkipNameValidation: &skipNameValidation},
	})
	if err != nil {
		t.Fatalf("operator manager: %v", err)
	}
	metrics, err := controller.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	log.setManager(1)
	secrets := mgr.GetAPIReader()
	r := &controller.Reconciler{
		Client: loggingClient{Client: mgr.GetClient(), log: log},
		Raft: func(ctx context.Context, ru *v1alpha1.RaftUpgrade) (controller.RaftCluster, error) {
			if ru.Namespace != rs.Namespace {
				return nil, fmt.Errorf("RaftUpgrade %s/%s is not in %s", ru.Namespace, ru.Name, rs.Namespace)
			}
			if ref := ru.Spec.OpenBao.TokenSecretRef; ref != nil {
				var s corev1.Secret
				if err := secrets.Get(ctx, client.ObjectKey{Namespace: ru.Namespace, Name: ref.Name}, &s); err != nil {
					return nil, fmt.Errorf("token secret %s: %w", ref.Name, err)
				}
				if len(s.Data[ref.Key]) == 0 {
					return nil, fmt.Errorf("token secret %s: key %s missing", ref.Name, ref.Key)
				}
			}
			return simRaft{rs: rs, log: log}, nil
		},
		Recorder: mgr.GetEventRecorder("raftshift-operator"),
		Metrics:  metrics,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("operator manager: setup reconciler: %v", err)
	}
	ctx, cancel := context.WithCancel(cp.Context())
	m := &manager{n: 1, metrics: metrics, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { m.done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		m.stop(t)
		if t.Failed() {
			t.Logf("operator manager log:\n%s", logs)
		}
	})
	return m
}
