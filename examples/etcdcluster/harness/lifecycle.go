package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// incarnate creates a new incarnation of p from w's revisions (StatefulSet
// semantics: under RollingUpdate ordinals at or above the partition get the
// update revision, under OnDelete every new pod does) and starts its life
// cycle; c.mu must be held.
func (c *Cluster) incarnate(p *pod, w *workload) {
	rev := w.current
	if p.ordinal >= w.partition || w.strategy == upgrade.UpdateOnDelete {
		rev = w.update
	}
	c.incarnateAt(p, rev, w.revisions[rev])
}

func (c *Cluster) incarnateAt(p *pod, rev string, t template) {
	c.uidSeq++
	p.uid = fmt.Sprintf("uid-%d", c.uidSeq)
	p.revision, p.version, p.image = rev, t.version, t.image
	p.recreate, p.restarts = false, 0
	c.event("pod %s created (%s, %s)", p.name, p.uid, p.version)
	c.launch(p)
}

// launch starts the container of p: Pending for StartDelay, then etcd;
// c.mu must be held.
func (c *Cluster) launch(p *pod) {
	p.gen++
	p.state, p.startedAt, p.readySince = podPending, time.Now(), time.Time{}
	gen := p.gen
	c.wg.Go(func() { c.lifecycle(p, gen) })
}

// current reports whether incarnation gen of p is still the live one;
// c.mu must be held.
func (c *Cluster) current(p *pod, gen int) bool { return !c.closed && p.gen == gen }

// lifecycle runs one incarnation of p: the start delay, for a member with
// no data the wait until it is added to the cluster, etcd's start, and the
// watch for it stopping by itself.
func (c *Cluster) lifecycle(p *pod, gen int) {
	if !c.sleep(c.opts.StartDelay) {
		return
	}
	c.mu.Lock()
	if !c.current(p, gen) {
		c.mu.Unlock()
		return
	}
	cfg := NodeConfig{Name: p.name, Dir: p.dir, PeerURL: p.peerURL, ClientURL: p.clientURL, Token: "raftshift",
		MaxLearners: c.opts.MaxLearners, TickMs: c.opts.TickMs, ElectionMs: c.opts.ElectionMs, NoFsync: c.opts.NoFsync,
		Logger: c.opts.Logger, InitialCluster: p.initial, Existing: !p.founder}
	join := !p.founder && !hasData(p.dir)
	if join {
		p.state = podWaiting
	}
	c.mu.Unlock()
	if join {
		// A new member: it starts once it is in the member list (the
		// strategy adds it as a learner), with the whole membership as
		// its initial cluster.
		initial, ok := c.awaitMembership(p, gen)
		if !ok {
			return
		}
		cfg.InitialCluster = initial
		c.mu.Lock()
		p.initial = initial
		c.mu.Unlock()
	}
	n, err := StartNode(cfg)
	c.mu.Lock()
	ok := c.current(p, gen)
	switch {
	case err != nil && ok:
		// A container that fails to start is restarted.
		p.restarts++
		c.event("pod %s failed to start (restart %d): %v", p.name, p.restarts, err)
		c.launch(p)
	case err == nil && ok:
		p.node, p.state = n, podStarting
	}
	c.mu.Unlock()
	if err != nil {
		return
	}
	if !ok {
		n.Close()
		return
	}
	rctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	err = n.WaitReady(rctx)
	cancel()
	c.mu.Lock()
	if c.current(p, gen) && err == nil && p.state == podStarting {
		p.state, p.readySince = podReady, time.Now()
		c.event("pod %s ready (member %x, %s)", p.name, n.ID(), p.version)
	} else if err != nil && c.current(p, gen) {
		c.event("pod %s: %v", p.name, err)
	}
	c.mu.Unlock()
	c.syncEndpoints()
	select {
	case <-n.Stopped():
	case <-c.ctx.Done():
		return
	}
	c.mu.Lock()
	if c.current(p, gen) && (p.state == podReady || p.state == podStarting) {
		// etcd exited by itself: a member removed from the cluster stops.
		p.state, p.node = podStopped, nil
		c.event("pod %s: etcd exited", p.name)
	}
	c.mu.Unlock()
	c.syncEndpoints()
}

// awaitMembership waits until p's peer URL is in the member list and
// returns the initial cluster to start it with.
func (c *Cluster) awaitMembership(p *pod, gen int) (string, bool) {
	for {
		c.mu.Lock()
		ok := c.current(p, gen)
		c.mu.Unlock()
		if !ok {
			return "", false
		}
		ctx, cancel := context.WithTimeout(c.ctx, time.Second)
		r, err := c.Admin.MemberList(ctx)
		cancel()
		if err == nil {
			var parts []string
			found := false
			c.mu.Lock()
			for _, m := range r.Members {
				name := m.Name
				for _, q := range c.pods {
					if len(m.PeerURLs) > 0 && q.peerURL == m.PeerURLs[0] {
						name = q.name
					}
				}
				for _, u := range m.PeerURLs {
					parts = append(parts, name+"="+u)
					found = found || u == p.peerURL
				}
			}
			c.mu.Unlock()
			if found {
				return strings.Join(parts, ","), true
			}
		}
		if !c.sleep(50 * time.Millisecond) {
			return "", false
		}
	}
}

func hasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "member"))
	return err == nil
}

// sleep waits d; false when the cluster closed meanwhile.
func (c *Cluster) sleep(d time.Duration) bool {
	if d <= 0 {
		return c.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// stopPod deletes p's pod gracefully: it leaves the clients' endpoints,
// keeps serving for DrainDelay, then etcd stops (handing leadership over if
// it leads, as etcd does on SIGTERM). The pod is then absent, or
// recreated by the controller when recreate is set.
func (c *Cluster) stopPod(p *pod, recreate bool) {
	c.mu.Lock()
	p.gen++
	p.state, p.recreate = podTerminating, recreate
	n := p.node
	c.mu.Unlock()
	c.syncEndpoints()
	if n != nil {
		c.sleep(c.opts.DrainDelay)
		n.Close()
	}
	c.mu.Lock()
	p.node, p.state, p.uid = nil, podAbsent, ""
	if recreate {
		c.restarted = append(c.restarted, p.name)
	}
	c.event("pod %s deleted", p.name)
	c.mu.Unlock()
}
