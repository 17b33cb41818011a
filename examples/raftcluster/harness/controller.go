package harness

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
	"github.com/raftshift/raftshift/upgrade"
)

func (a *Adapter) controller(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(a.opts.ControllerInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.reconcile()
		}
	}
}

// reconcile is one pass of the emulated StatefulSet controllers: pods being
// deleted are stopped, deleted pods are recreated (from the revision their
// ordinal gets under the partition, or the update revision under
// OnDelete), and a partitioned rolling update (RollingUpdate only) deletes
// the highest outdated ordinal at or above the partition once every pod is
// ready — one pod at a time.
func (a *Adapter) reconcile() {
	a.mu.Lock()
	for _, w := range a.workloads {
		w.observed = w.generation
	}
	var stop []*pod
	type start struct {
		p   *pod
		uid string
		cfg raftnode.Config
	}
	var starts []start
	for _, p := range slices.Clone(a.pods) {
		w := a.findWorkload(p.workload)
		switch {
		case p.state == podTerminating && p.recreate:
			stop = append(stop, p)
		case p.state == podAbsent && p.recreate:
			if w == nil || p.ordinal >= w.replicas {
				continue
			}
			cfg := a.incarnate(p, w)
			p.inflight = true
			starts = append(starts, start{p: p, uid: p.uid, cfg: cfg})
		case p.state == podStarting && p.node == nil && p.failures > 0 && !p.inflight && w != nil:
			// Retry a failed start with the same incarnation.
			p.inflight = true
			starts = append(starts, start{p: p, uid: p.uid, cfg: a.sameIncarnation(p)})
		}
	}
	for _, w := range a.workloads {
		if v := a.victim(w); v != nil {
			v.state, v.recreate = podTerminating, true
			a.event("controller %s deletes %s (%s) for update to %s", w.name, v.name, v.version, w.revisions[w.update].version)
			stop = append(stop, v)
		}
		updated := int32(0)
		for _, p := range a.pods {
			if p.workload == w.name && p.state != podAbsent && p.revision == w.update && p.ordinal < w.replicas {
				updated++
			}
		}
		if updated == w.replicas && w.current != w.update {
			w.current = w.update
			a.event("workload %s: current revision is now %s", w.name, w.update)
		}
	}
	a.mu.Unlock()

	for _, p := range stop {
		a.stopPod(p, podAbsent)
	}
	for _, s := range starts {
		// Pods start in parallel, like a StatefulSet with the Parallel
		// pod management policy; the rolling update still restarts one
		// pod at a time because it waits for every pod to be ready.
		a.starts.Add(1)
		go func() {
			defer a.starts.Done()
			a.startPod(s.p, s.uid, s.cfg)
		}()
	}
}

// startPod starts the node of incarnation uid of p after the start delay.
func (a *Adapter) startPod(p *pod, uid string, cfg raftnode.Config) {
	if !a.delay() {
		a.mu.Lock()
		if p.uid == uid {
			p.inflight = false
		}
		a.mu.Unlock()
		return
	}
	n, err := a.startNode(cfg)
	a.mu.Lock()
	if p.uid == uid {
		p.inflight = false
	}
	switch {
	case a.closed || a.findPod(p.name) != p || p.uid != uid || p.state != podStarting:
		// Deleted while starting.
		a.mu.Unlock()
		if n != nil {
			_ = n.Shutdown()
		}
		return
	case err != nil:
		p.failures++
		a.event("pod %s failed to start: %v", p.name, err)
	default:
		a.running(p, n)
	}
	a.mu.Unlock()
}

// startNode starts a node, or fails like a crashing container when its
// version is one of Options.BadVersions.
func (a *Adapter) startNode(cfg raftnode.Config) (*raftnode.Node, error) {
	if slices.Contains(a.opts.BadVersions, cfg.Version) {
		return nil, fmt.Errorf("version %s crashes on start", cfg.Version)
	}
	return raftnode.Start(cfg)
}

// delay waits StartDelay; false when the adapter closed meanwhile.
func (a *Adapter) delay() bool {
	if a.opts.StartDelay <= 0 {
		return true
	}
	t := time.NewTimer(a.opts.StartDelay)
	defer t.Stop()
	select {
	case <-a.stopped:
		return false
	case <-t.C:
		return true
	}
}

// victim returns the pod a rolling update of w deletes now (never one
// under OnDelete); a.mu must be held.
func (a *Adapter) victim(w *workload) *pod {
	if w.strategy == upgrade.UpdateOnDelete {
		return nil
	}
	var v *pod
	ready := int32(0)
	for _, p := range a.pods {
		if p.workload != w.name || p.ordinal >= w.replicas {
			continue
		}
		if p.state == podRunning {
			ready++
		}
		if p.state != podAbsent && p.revision != w.update && p.ordinal >= w.partition && p.state == podRunning {
			v = p // sorted by ordinal: the highest wins
		}
	}
	if ready < w.replicas {
		return nil
	}
	return v
}

// stopPod shuts p's node down and leaves p in state to. Every caller
// deletes the pod gracefully (DeletePod, the controller's rolling update,
// RestartNow, RemovePeer, DeleteRevision): with Options.HandoffOnShutdown a
// leading node first hands leadership over, as OpenBao does on SIGTERM.
// Close is the only stop without a hand-over.
func (a *Adapter) stopPod(p *pod, to podState) { a.stopNode(p, to, a.opts.HandoffOnShutdown) }

// stopNode shuts p's node down (after a hand-over when handoff is set and it
// leads) and leaves the pod in state to.
func (a *Adapter) stopNode(p *pod, to podState, handoff bool) {
	a.mu.Lock()
	n := p.node
	a.mu.Unlock()
	if n != nil {
		if handoff && n.IsLeader() {
			a.handoff(p, n)
		}
		if err := n.Shutdown(); err != nil {
			a.mu.Lock()
			a.event("pod %s: %v", p.name, err)
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.node == n {
		p.node = nil
	}
	p.state = to
	p.downSince = time.Now()
	p.healthy = false // StableSince restarts when it is seen healthy again
	if to == podAbsent {
		p.uid = ""
	}
	a.event("pod %s stopped", p.name)
}

// handoff is a leading node's graceful shutdown hook: an untargeted
// LeadershipTransfer (hashicorp/raft picks the most up-to-date voter and
// sends it TimeoutNow), which returns once this node stepped down or the
// transfer failed. OpenBao does the same on SIGTERM: its HA lock's Unlock is
// raft.LeadershipTransfer (physical/raft RaftLock.Unlock), called when the
// active node stops active duty before the storage shuts down.
func (a *Adapter) handoff(p *pod, n *raftnode.Node) {
	start := time.Now()
	err := n.Raft.LeadershipTransfer().Error()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.event("pod %s: leadership hand-over on shutdown failed after %s: %v", p.name, time.Since(start).Round(time.Millisecond), err)
		return
	}
	a.event("pod %s handed leadership over on shutdown in %s", p.name, time.Since(start).Round(time.Millisecond))
}

// RestartNow restarts the named member synchronously at version (which
// becomes the workload's update revision when it differs from the
// template), bypassing the controller, and returns once the new node runs.
// It is the naive baseline's restart: no leadership or catch-up checks.
func (a *Adapter) RestartNow(name, version string) error {
	a.mu.Lock()
	p := a.findPod(name)
	if p == nil || p.state == podAbsent {
		a.mu.Unlock()
		return fmt.Errorf("harness: restart %s: %w: no such pod", name, ErrPrecondition)
	}
	w := a.findWorkload(p.workload)
	if w == nil {
		a.mu.Unlock()
		return fmt.Errorf("harness: restart %s: %w: its workload is gone", name, ErrPrecondition)
	}
	p.state, p.recreate = podTerminating, false
	a.mu.Unlock()
	a.stopPod(p, podAbsent)

	a.mu.Lock()
	rev := revisionName(w.name, Image(version), version)
	if _, ok := w.revisions[rev]; !ok {
		w.revisions[rev] = template{image: Image(version), version: version}
		w.update = rev
		w.generation++
	}
	cfg := a.incarnateAt(p, rev, w.revisions[rev])
	a.mu.Unlock()
	if !a.delay() {
		return fmt.Errorf("harness: restart %s: %w: adapter closed", name, ErrRejected)
	}
	n, err := a.startNode(cfg)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		p.failures++
		return fmt.Errorf("harness: restart %s: %w", name, err)
	}
	a.running(p, n)
	return nil
}
