package harness

import (
	"fmt"
	"slices"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// controller is the emulated StatefulSet controller, every 20ms.
func (c *Cluster) controller() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			if v := c.reconcile(); v != nil {
				c.stopPod(v, true)
			}
		}
	}
}

// reconcile recreates deleted pods and, for a RollingUpdate workload whose
// pods all serve, returns the highest outdated pod at or above the
// partition for deletion (one pod at a time).
func (c *Cluster) reconcile() *pod {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	for _, p := range c.pods {
		if w := c.findWorkload(p.workload); p.state == podAbsent && p.recreate && w != nil && p.ordinal < w.replicas {
			c.incarnate(p, w)
		}
	}
	var victim *pod
	for _, w := range c.workloads {
		updated, ready := int32(0), int32(0)
		var v *pod
		for _, p := range c.pods {
			if p.workload != w.name || p.ordinal >= w.replicas {
				continue
			}
			if p.state == podReady {
				ready++
			}
			if p.state != podAbsent && p.revision == w.update {
				updated++
			}
			if p.state == podReady && p.revision != w.update && p.ordinal >= w.partition {
				v = p // sorted by ordinal: the highest wins
			}
		}
		if updated == w.replicas && w.current != w.update {
			w.current = w.update
			c.event("workload %s: current revision is now %s", w.name, w.update)
		}
		if w.strategy == upgrade.UpdateRollingUpdate && ready == w.replicas && v != nil && victim == nil {
			victim = v
			v.state = podTerminating
			c.event("controller %s deletes %s (%s) for update to %s", w.name, v.name, v.version, w.revisions[w.update].version)
		}
	}
	return victim
}

func precondition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPrecondition, fmt.Sprintf(format, args...))
}

// Apply carries out an action on the emulated workloads: pods, workloads,
// the service, the lock, hooks. Raft actions are not its business (the
// etcd adapter executes them); RemovePeer's pod side is StopRemoved.
func (c *Cluster) Apply(act upgrade.Action) error {
	switch act := act.(type) {
	case upgrade.DeletePod:
		c.mu.Lock()
		p := c.findPod(act.Member)
		switch {
		case p == nil || p.state == podAbsent:
			c.mu.Unlock()
			return precondition("pod %s does not exist", act.Member)
		case p.uid != act.UID:
			c.mu.Unlock()
			return precondition("pod %s has uid %q, not %q", act.Member, p.uid, act.UID)
		case p.state == podTerminating:
			c.mu.Unlock()
			return nil
		}
		if c.leaderPod() == p {
			c.leaderDeletes = append(c.leaderDeletes, p.name)
			c.event("pod %s deleted while it leads", p.name)
		}
		p.state = podTerminating
		c.mu.Unlock()
		c.wg.Go(func() { c.stopPod(p, true) })
		return nil
	case upgrade.DeleteRevision:
		return c.deleteRevision(act.Workload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch act := act.(type) {
	case upgrade.AcquireLock:
		switch {
		case act.Holder == "":
			return fmt.Errorf("%w: empty lock holder", ErrRejected)
		case c.lock.Holder == "":
			c.lock = upgrade.LockView{Holder: act.Holder, Since: time.Now()}
		case c.lock.Holder != act.Holder:
			return fmt.Errorf("%w: operation lock held by %q", ErrRejected, c.lock.Holder)
		}
	case upgrade.ReleaseLock:
		if c.lock.Holder == act.Holder {
			c.lock = upgrade.LockView{}
		}
	case upgrade.SetPartition:
		w := c.findWorkload(act.Workload)
		if w == nil || act.Partition < 0 {
			return precondition("no workload %q or a negative partition", act.Workload)
		}
		if act.Partition != w.partition {
			w.partition, w.generation = act.Partition, w.generation+1
		}
	case upgrade.UpdateTemplate:
		w := c.findWorkload(act.Workload)
		if w == nil || act.Image == "" || act.Version == "" {
			return precondition("no workload %q, or no image and version", act.Workload)
		}
		if rev := revisionName(w.name, act.Image, act.Version); rev != w.update {
			w.revisions[rev] = template{image: act.Image, version: act.Version}
			w.update, w.generation = rev, w.generation+1
		}
	case upgrade.CreateRevision:
		if c.findWorkload(act.Workload) != nil {
			return precondition("workload %s already exists", act.Workload)
		}
		if act.Replicas <= 0 || act.Image == "" || act.Version == "" {
			return precondition("workload %q needs replicas, an image and a version", act.Workload)
		}
		w := c.newWorkload(act.Workload, act.Image, act.Version, act.Replicas)
		for i := range w.replicas {
			p, err := c.newPod(w, i)
			if err != nil {
				return err
			}
			if p.state == podAbsent {
				p.recreate = true // the controller creates it
			}
		}
	case upgrade.SwitchService:
		if c.findWorkload(act.Workload) == nil {
			return precondition("no workload %q", act.Workload)
		}
		c.service = act.Workload
	case upgrade.RunHook:
		for _, h := range c.hooks {
			if h.Hook == act.Hook && h.Phase == act.Phase && h.Attempt == act.Attempt {
				return nil
			}
		}
		c.hooks = append(c.hooks, upgrade.HookStatus{Hook: act.Hook, Phase: act.Phase, Attempt: act.Attempt,
			Done: true, Succeeded: true, Message: "hook " + act.Hook + " succeeded"})
	default:
		return fmt.Errorf("%w: the cluster does not execute %s", ErrRejected, act.Kind())
	}
	return nil
}

// deleteRevision deletes a workload and its pods.
func (c *Cluster) deleteRevision(name string) error {
	c.mu.Lock()
	w := c.findWorkload(name)
	if w == nil {
		c.mu.Unlock()
		return precondition("no workload %q", name)
	}
	c.workloads = slices.DeleteFunc(c.workloads, func(x *workload) bool { return x == w })
	var gone []*pod
	for _, p := range c.pods {
		if p.workload == name {
			gone = append(gone, p)
		}
	}
	c.mu.Unlock()
	for _, p := range gone {
		c.stopPod(p, false)
	}
	c.mu.Lock()
	c.pods = slices.DeleteFunc(c.pods, func(p *pod) bool { return slices.Contains(gone, p) })
	c.mu.Unlock()
	return nil
}

// StopRemoved stops the etcd of a member removed from the cluster (etcd
// stops a removed member by itself, this makes it prompt); its pod stays,
// not ready, until its workload is deleted.
func (c *Cluster) StopRemoved(name string) {
	c.mu.Lock()
	p := c.findPod(name)
	if p == nil || p.node == nil {
		c.mu.Unlock()
		return
	}
	p.gen++
	n := p.node
	p.node, p.state = nil, podStopped
	c.event("pod %s: member removed, etcd stopped", p.name)
	c.mu.Unlock()
	c.syncEndpoints()
	c.wg.Go(n.Close)
}

// SnapshotTaken records a successful snapshot in the backup view.
func (c *Cluster) SnapshotTaken() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.backup.LastSuccess = time.Now()
}

// KillLeader crashes the leading member (no leadership hand-over) and
// restarts its container after StartDelay on the same data, as the
// kubelet restarts a crashed container. It returns the member's name.
func (c *Cluster) KillLeader() (string, error) {
	c.mu.Lock()
	p := c.leaderPod()
	c.mu.Unlock()
	if p == nil {
		return "", fmt.Errorf("%w: no leader to kill", ErrRejected)
	}
	if err := c.crash(p, "leader", true); err != nil {
		return "", err
	}
	return p.name, nil
}

// Crash stops the named member at once, without handing leadership over,
// and leaves its container stopped (the pod exists, not running) until
// Revive: a member unreachable for as long as a test wants.
func (c *Cluster) Crash(name string) error {
	c.mu.Lock()
	p := c.findPod(name)
	c.mu.Unlock()
	if p == nil {
		return precondition("no pod %s", name)
	}
	return c.crash(p, "crashed", false)
}

// Revive starts the container of a member stopped by Crash again, on the
// same data.
func (c *Cluster) Revive(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.findPod(name)
	if p == nil || p.state != podStopped {
		return precondition("pod %s is not stopped", name)
	}
	c.event("pod %s: container restarted", p.name)
	c.launch(p)
	return nil
}

// crash kills p's etcd and, with restart, restarts its container after
// StartDelay.
func (c *Cluster) crash(p *pod, why string, restart bool) error {
	c.mu.Lock()
	n := p.node
	if n == nil {
		c.mu.Unlock()
		return precondition("pod %s runs no etcd", p.name)
	}
	p.gen++
	p.node, p.state = nil, podStopped
	p.restarts++
	c.event("pod %s: etcd killed (%s)", p.name, why)
	c.mu.Unlock()
	c.syncEndpoints()
	n.Kill()
	if restart {
		c.mu.Lock()
		c.launch(p)
		c.mu.Unlock()
	}
	return nil
}

// LeaderDeletes returns the pods deleted (DeletePod) while their member
// led: what S3 forbids a strategy without handoff on shutdown.
func (c *Cluster) LeaderDeletes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.leaderDeletes)
}

// Restarts returns the pods deleted and recreated so far, in order (the
// pods an upgrade restarted; a crashed container restarting is not one).
func (c *Cluster) Restarts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.restarted)
}

// RestartNow deletes the named pod and recreates it at version at once
// (the workload's update revision becomes version), returning when its
// etcd runs again (it listens; it may not have rejoined the cluster yet):
// the naive baseline's restart, as a readiness probe on the client port
// sees it.
func (c *Cluster) RestartNow(name, version string) error {
	c.mu.Lock()
	p := c.findPod(name)
	var w *workload
	if p != nil {
		w = c.findWorkload(p.workload)
	}
	if p == nil || w == nil || p.state == podAbsent {
		c.mu.Unlock()
		return precondition("no pod %s", name)
	}
	c.mu.Unlock()
	c.stopPod(p, false)
	c.mu.Lock()
	c.restarted = append(c.restarted, p.name)
	rev := revisionName(w.name, Image(version), version)
	if _, ok := w.revisions[rev]; !ok {
		w.revisions[rev] = template{image: Image(version), version: version}
		w.update, w.generation = rev, w.generation+1
	}
	c.incarnateAt(p, rev, w.revisions[rev])
	c.mu.Unlock()
	for {
		c.mu.Lock()
		runs := p.state == podStarting || p.state == podReady
		c.mu.Unlock()
		if runs {
			return nil
		}
		if !c.sleep(10 * time.Millisecond) {
			return fmt.Errorf("harness: restart %s: %w: cluster closed", name, ErrRejected)
		}
	}
}

// leaderPod returns the pod whose member leads at the highest term; c.mu
// must be held.
func (c *Cluster) leaderPod() *pod {
	var best *pod
	var bestTerm uint64
	for _, p := range c.pods {
		if p.node == nil {
			continue
		}
		if leads, term := p.node.Leads(); leads && (best == nil || term > bestTerm) {
			best, bestTerm = p, term
		}
	}
	return best
}

// Leader returns the leading member's name and term.
func (c *Cluster) Leader() (string, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.leaderPod()
	if p == nil {
		return "", 0, false
	}
	_, term := p.node.Leads()
	return p.name, term, true
}
