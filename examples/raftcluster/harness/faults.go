package harness

import (
	"fmt"

	"github.com/raftshift/raftshift/examples/raftcluster/raftnode"
)

// sameIncarnation is the node configuration that restarts p's current
// incarnation (same data directory, version and address); a.mu must be held.
func (a *Adapter) sameIncarnation(p *pod) raftnode.Config {
	return raftnode.Config{ID: string(p.id), Dir: p.dir, Version: p.version, Bind: p.bind, Book: a.book,
		Timing: a.opts.Timing, Logger: a.opts.Logger, NoSync: a.opts.NoSync}
}

// Suspend crashes the named member's Raft node, as a killed process or a
// node cut off the network would look: no hand-over even with
// Options.HandoffOnShutdown, and the pod stays down (the controller does not
// restart it) until Resume. Observations show the pod not running and the
// member unhealthy.
func (a *Adapter) Suspend(name string) error {
	a.mu.Lock()
	p := a.findPod(name)
	if p == nil || p.state != podRunning {
		a.mu.Unlock()
		return fmt.Errorf("harness: suspend %s: %w: no running pod", name, ErrPrecondition)
	}
	p.recreate = false
	a.mu.Unlock()
	a.stopNode(p, podStopped, false)
	return nil
}

// Resume restarts a member Suspend stopped, with the same incarnation (pod
// UID, data directory and version), and returns once its node runs.
func (a *Adapter) Resume(name string) error {
	a.mu.Lock()
	p := a.findPod(name)
	if p == nil || p.state != podStopped || p.node != nil || p.uid == "" {
		a.mu.Unlock()
		return fmt.Errorf("harness: resume %s: %w: not suspended", name, ErrPrecondition)
	}
	p.state, p.inflight = podStarting, true
	uid, cfg := p.uid, a.sameIncarnation(p)
	a.mu.Unlock()
	a.startPod(p, uid, cfg)
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.state != podRunning {
		return fmt.Errorf("harness: resume %s: %w: its node did not start", name, ErrRejected)
	}
	return nil
}
