package harness

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/raftshift/raftshift/adapters/etcd"
	"github.com/raftshift/raftshift/upgrade"
)

// Host is what an operator for etcd would be: it observes the pods (the
// Cluster, standing in for the Kubernetes adapter) and the Raft state
// (the etcd adapter, over the real members), and executes a Decision's
// actions in order, stopping at the first failure: Raft actions through
// the etcd adapter, the others on the Cluster.
type Host struct {
	// Cluster is the emulated workload.
	Cluster *Cluster
	// Adapter is the etcd adapter over Cluster.Admin.
	Adapter *etcd.Adapter
	// ActionTimeout bounds each action (default 15s).
	ActionTimeout time.Duration
	// Logf, when set, receives every executed action and emitted event.
	Logf func(format string, args ...any)
}

// NewHost returns the host of a cluster: the etcd adapter reads through
// Cluster.Admin, pairs members with pods by peer URL, and sends MoveLeader
// through a client of the leader's endpoint.
func NewHost(c *Cluster) *Host {
	return &Host{Cluster: c, Adapter: &etcd.Adapter{
		Client:      c.Admin,
		Dial:        etcd.DialConfig(clientv3.Config{DialTimeout: 2 * time.Second, Logger: zap.NewNop()}),
		Match:       etcd.MatchPeerURL,
		PeerURL:     c.PeerURL,
		ReadTimeout: 500 * time.Millisecond,
		Snapshots: func(context.Context, upgrade.TakeSnapshot) (io.WriteCloser, error) {
			return nopWriteCloser{io.Discard}, nil
		},
	}}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// Observe builds the observation at now: pods and workloads from the
// Cluster, then the Raft parts from the etcd adapter. An unknown or
// partial view is returned as such (the strategies then wait) together
// with the adapter's error.
func (h *Host) Observe(ctx context.Context, now time.Time) (upgrade.Observation, error) {
	return h.Adapter.Observe(ctx, h.Cluster.Pods(now))
}

// Pods is the pod and workload part of an observation at now.
func (c *Cluster) Pods(now time.Time) upgrade.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	obs := upgrade.Observation{Now: now}
	for _, w := range c.workloads {
		t := w.revisions[w.update]
		ow := upgrade.Workload{Name: w.name, UpdateStrategy: w.strategy, Replicas: w.replicas, Partition: w.partition,
			CurrentRevision: w.current, UpdateRevision: w.update, Generation: w.generation, ObservedGeneration: w.generation,
			Image: t.image, Version: t.version}
		for _, p := range c.pods {
			if p.workload != w.name || p.state == podAbsent || p.ordinal >= w.replicas {
				continue
			}
			if p.state == podReady {
				ow.ReadyReplicas++
			}
			if p.revision == w.update {
				ow.UpdatedReplicas++
			}
		}
		obs.Workloads = append(obs.Workloads, ow)
	}
	obs.Service = upgrade.Service{Name: c.opts.Workload, Selector: map[string]string{SelectorKey: c.service}}
	if c.findWorkload(c.service) != nil {
		obs.Service.Workload = c.service
	}
	for _, p := range c.pods {
		m := upgrade.Member{Name: p.name, Workload: p.workload, Ordinal: p.ordinal}
		if p.state != podAbsent {
			m.Revision, m.Version, m.Image = p.revision, p.version, p.image
			m.Pod = upgrade.PodStatus{Exists: true, UID: p.uid, StartedAt: p.startedAt, ReadySince: p.readySince, Restarts: p.restarts}
			switch p.state {
			case podPending:
				m.Pod.Phase = upgrade.PodPending
			case podWaiting, podStarting:
				m.Pod.Phase, m.Pod.Running = upgrade.PodRunning, true
			case podReady:
				m.Pod.Phase, m.Pod.Running, m.Pod.Ready = upgrade.PodRunning, true, true
			case podTerminating:
				m.Pod.Phase, m.Pod.Terminating = upgrade.PodRunning, true
			case podStopped:
				m.Pod.Phase = upgrade.PodFailed
			}
		}
		obs.Members = append(obs.Members, m)
	}
	obs.Backup, obs.Lock, obs.Hooks = c.backup, c.lock, slices.Clone(c.hooks)
	return obs
}

// Execute carries out actions in order and stops at the first failure,
// returning how many succeeded. Raft actions go to the etcd adapter. etcd
// cannot demote a voter (etcd.ErrDemoteUnsupported): a Demote is executed
// as the removal etcd.DemoteAsRemove returns, which takes the member out
// of the voter set as the demotion would, and the removed member's etcd
// is stopped, as for RemovePeer.
func (h *Host) Execute(ctx context.Context, obs *upgrade.Observation, actions []upgrade.Action) (int, error) {
	timeout := h.ActionTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	for i, act := range actions {
		if d, ok := act.(upgrade.Demote); ok {
			act = etcd.DemoteAsRemove(d)
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		var err error
		switch {
		case etcd.Handles(act.Kind()):
			err = h.Adapter.Execute(actx, obs, act)
			switch x := act.(type) {
			case upgrade.RemovePeer:
				if err == nil {
					h.Cluster.StopRemoved(x.Member)
				}
			case upgrade.TakeSnapshot:
				if err == nil {
					h.Cluster.SnapshotTaken()
				}
			}
		default:
			err = h.Cluster.Apply(act)
		}
		cancel()
		if err != nil {
			h.logf("  FAILED %s: %v", actions[i], err)
			return i, fmt.Errorf("harness: action %d (%s): %w", i, act.Kind(), err)
		}
		if act != actions[i] {
			h.logf("  %s (as %s: etcd cannot demote)", actions[i], act)
		} else {
			h.logf("  %s", act)
		}
	}
	return len(actions), nil
}

// Emit logs a Decision's events; events are best-effort.
func (h *Host) Emit(events []upgrade.Event) {
	for _, ev := range events {
		h.logf("  %s", ev)
	}
}

func (h *Host) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
	}
}
