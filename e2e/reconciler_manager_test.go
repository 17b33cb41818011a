package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/raftshift/raftshift/adapters/kubernetes/api/v1alpha1"
	"github.com/raftshift/raftshift/adapters/kubernetes/controller"
	"github.com/raftshift/raftshift/e2e/internal/cluster"
	"github.com/raftshift/raftshift/upgrade"
)

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
// Raft as its RaftProvider, changed by configure. It is stopped by stop or
// by t.Cleanup.
func startManager(t *testing.T, cp *cluster.ControlPlane, rs *cluster.RaftSet, log *opLog, n int, configure ...func(*controller.Reconciler)) *manager {
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
	for _, f := range configure {
		f(r)
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
