package controller

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/raftshift/raftshift/upgrade"
)

// Metrics are the reconciler's Prometheus metrics. NewMetrics registers
// them with a registerer; a Reconciler without Metrics uses DefaultMetrics,
// registered once with controller-runtime's registry (served by the
// manager's metrics endpoint).
//
//   - raftshift_upgrade_phase{namespace,name,strategy,phase}: 1 for the
//     phase a RaftUpgrade is in ("Idle" when none is in flight).
//   - raftshift_gate_held_seconds_total{namespace,name,gate,reason}: time
//     a gate held progress, counted between consecutive reconciles.
//   - raftshift_leadership_moves_total{namespace,name,kind}: leadership
//     moves executed (TransferLeadership, StepDown).
//   - raftshift_upgrades_total{namespace,name,strategy,outcome}: finished
//     upgrades by outcome.
//   - raftshift_step_duration_seconds: latency of Step (the pure decision).
type Metrics struct {
	Phase       *prometheus.GaugeVec
	GateHeld    *prometheus.CounterVec
	LeaderMoves *prometheus.CounterVec
	Upgrades    *prometheus.CounterVec
	StepLatency prometheus.Histogram
	mu          sync.Mutex
	lastGate    map[string]gateSeen
	lastPhase   map[string][]string
}

type gateSeen struct {
	gate, reason string
	at           time.Time
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "raftshift_upgrade_phase",
			Help: "1 for the phase a RaftUpgrade is in (Idle when no upgrade is in flight).",
		}, []string{"namespace", "name", "strategy", "phase"}),
		GateHeld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftshift_gate_held_seconds_total",
			Help: "Seconds a gate held an upgrade's progress, counted between reconciles.",
		}, []string{"namespace", "name", "gate", "reason"}),
		LeaderMoves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftshift_leadership_moves_total",
			Help: "Leadership moves executed (TransferLeadership or StepDown).",
		}, []string{"namespace", "name", "kind"}),
		Upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftshift_upgrades_total",
			Help: "Finished upgrades by strategy and outcome.",
		}, []string{"namespace", "name", "strategy", "outcome"}),
		StepLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "raftshift_step_duration_seconds",
			Help:    "Latency of one strategy Step (the pure decision, without I/O).",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}),
		lastGate:  map[string]gateSeen{},
		lastPhase: map[string][]string{},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Phase, m.GateHeld, m.LeaderMoves, m.Upgrades, m.StepLatency} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

var (
	defaultOnce    sync.Once
	defaultMetrics *Metrics
)

// DefaultMetrics returns the metrics registered with controller-runtime's
// registry (created on first use).
func DefaultMetrics() *Metrics {
	defaultOnce.Do(func() {
		m, err := NewMetrics(metrics.Registry)
		if err != nil {
			m, _ = NewMetrics(nil) // already registered elsewhere: keep counting, unexported
		}
		defaultMetrics = m
	})
	return defaultMetrics
}

// observeStep records what one reconcile of namespace/name decided, from
// the persisted status prev to the persisted status st: the phase, the
// time the previous gate held, and the upgrade's outcome in the one
// reconcile that finished it.
func (m *Metrics) observeStep(ns, name string, now time.Time, prev, st *upgrade.Status, gate *upgrade.Gate) {
	if m == nil {
		return
	}
	key := ns + "/" + name
	m.mu.Lock()
	defer m.mu.Unlock()
	strategy, phase := "", "Idle"
	if u := st.Upgrade; u != nil {
		strategy, phase = string(u.Strategy), u.Phase
	}
	if prev, ok := m.lastPhase[key]; ok && (prev[0] != strategy || prev[1] != phase) {
		m.Phase.DeleteLabelValues(ns, name, prev[0], prev[1])
	}
	m.lastPhase[key] = []string{strategy, phase}
	m.Phase.WithLabelValues(ns, name, strategy, phase).Set(1)

	if prev, ok := m.lastGate[key]; ok && prev.gate != "" && now.After(prev.at) {
		m.GateHeld.WithLabelValues(ns, name, prev.gate, prev.reason).Add(now.Sub(prev.at).Seconds())
	}
	if gate != nil {
		m.lastGate[key] = gateSeen{gate: string(gate.Name), reason: string(gate.Reason), at: now}
	} else {
		delete(m.lastGate, key)
	}

	if r := st.LastResult; r != nil && prev.Upgrade != nil && st.Upgrade == nil {
		m.Upgrades.WithLabelValues(ns, name, string(prev.Upgrade.Strategy), string(r.Outcome)).Inc()
	}
}

// observeActions counts the leadership moves among executed actions.
func (m *Metrics) observeActions(ns, name string, executed []upgrade.Action) {
	if m == nil {
		return
	}
	for _, a := range executed {
		switch a.(type) {
		case upgrade.TransferLeadership, upgrade.StepDown:
			m.LeaderMoves.WithLabelValues(ns, name, string(a.Kind())).Inc()
		}
	}
}

// forget drops the series of a deleted RaftUpgrade.
func (m *Metrics) forget(ns, name string) {
	if m == nil {
		return
	}
	key := ns + "/" + name
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.lastPhase[key]; ok {
		m.Phase.DeleteLabelValues(ns, name, prev[0], prev[1])
	}
	delete(m.lastPhase, key)
	delete(m.lastGate, key)
}
