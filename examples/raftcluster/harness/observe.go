package harness

import (
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftshift/raftshift/upgrade"
)

type raftView struct {
	running   bool
	state     raft.RaftState
	term      uint64
	lastIndex uint64
	lastTerm  uint64
	commit    uint64
	contact   time.Duration
	cfgIndex  uint64
	cfg       raft.Configuration
}

func parseUint(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}

func parseContact(s string) time.Duration {
	switch s {
	case "0":
		return 0
	case "never", "":
		return time.Hour
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Hour
	}
	return d
}

// Observe builds the observation of the cluster at now (the host's clock).
// Pod state comes from the node processes, Raft state from each node's
// Stats, LastIndex and configuration; Healthy is running, in the leader's
// configuration, recently contacted and at most MaxLag entries behind;
// StableSince is when a member last became healthy, tracked here.
func (a *Adapter) Observe(now time.Time) upgrade.Observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	views := make([]raftView, len(a.pods))
	leader := -1
	for i, p := range a.pods {
		if p.node == nil || p.state != podRunning {
			continue
		}
		r := p.node.Raft
		st := r.Stats()
		v := raftView{running: true, state: r.State(), term: parseUint(st["term"]), lastIndex: r.LastIndex(),
			lastTerm: parseUint(st["last_log_term"]), commit: parseUint(st["commit_index"]), contact: parseContact(st["last_contact"])}
		cf := r.GetConfiguration()
		if cf.Error() == nil {
			v.cfg, v.cfgIndex = cf.Configuration(), cf.Index()
		}
		if v.state == raft.Leader {
			v.contact = 0
			if leader < 0 || v.term > views[leader].term {
				leader = i
			}
		}
		views[i] = v
	}
	// The configuration: the leader's, else the newest one a node knows.
	var conf raft.Configuration
	if leader >= 0 {
		conf = views[leader].cfg
	} else {
		var best uint64
		for _, v := range views {
			if v.running && v.cfgIndex >= best && len(v.cfg.Servers) > 0 {
				conf, best = v.cfg, v.cfgIndex
			}
		}
	}
	inConf := map[raft.ServerID]raft.Server{}
	for _, s := range conf.Servers {
		inConf[s.ID] = s
	}

	obs := upgrade.Observation{Now: now}
	for _, w := range a.workloads {
		t := w.revisions[w.update]
		ow := upgrade.Workload{Name: w.name, UpdateStrategy: w.strategy, Replicas: w.replicas, Partition: w.partition, CurrentRevision: w.current,
			UpdateRevision: w.update, Generation: w.generation, ObservedGeneration: w.observed, Image: t.image, Version: t.version}
		for _, p := range a.pods {
			if p.workload != w.name || p.state == podAbsent || p.ordinal >= w.replicas {
				continue
			}
			if p.state == podRunning {
				ow.ReadyReplicas++
			}
			if p.revision == w.update {
				ow.UpdatedReplicas++
			}
		}
		obs.Workloads = append(obs.Workloads, ow)
	}
	obs.Service = upgrade.Service{Name: a.opts.Service, Selector: map[string]string{SelectorKey: a.service}}
	if a.findWorkload(a.service) != nil {
		obs.Service.Workload = a.service
	}

	voters, healthyVoters := 0, 0
	var leaderLast uint64
	if leader >= 0 {
		leaderLast = views[leader].lastIndex
	}
	for i, p := range a.pods {
		v := views[i]
		srv, present := inConf[p.id]
		m := upgrade.Member{Name: p.name, Workload: p.workload, Ordinal: p.ordinal}
		m.Raft = upgrade.MemberRaft{ID: string(p.id), Address: p.bind, Present: present, Leader: i == leader,
			LastIndex: v.lastIndex, LastTerm: v.lastTerm, LastContact: v.contact}
		if present {
			m.Raft.Address = string(srv.Address)
			m.Raft.Suffrage = upgrade.Nonvoter
			if srv.Suffrage == raft.Voter {
				m.Raft.Suffrage = upgrade.Voter
			}
		}
		if !v.running {
			m.Raft.LastContact = time.Hour
			if !p.downSince.IsZero() {
				m.Raft.LastContact = now.Sub(p.downSince)
			}
		}
		healthy := v.running && present && v.contact <= a.opts.HealthyContact
		if healthy && leader >= 0 && i != leader && leaderLast > v.lastIndex && leaderLast-v.lastIndex > a.opts.MaxLag {
			healthy = false
		}
		if healthy && !p.healthy {
			p.stableSince = now
		}
		p.healthy = healthy
		m.Raft.Healthy = healthy
		m.Raft.StableSince = p.stableSince
		if p.state != podAbsent {
			m.Revision, m.Version, m.Image = p.revision, p.version, p.image
			m.Pod = upgrade.PodStatus{Exists: true, UID: p.uid, StartedAt: p.startedAt}
			switch p.state {
			case podStarting:
				m.Pod.Phase = upgrade.PodPending
				m.Pod.CrashLooping = p.failures >= 3
				m.Pod.Restarts = p.failures
			case podRunning:
				m.Pod.Phase, m.Pod.Ready = upgrade.PodRunning, true
			case podTerminating:
				m.Pod.Phase, m.Pod.Terminating = upgrade.PodRunning, true
			case podStopped:
				m.Pod.Phase = upgrade.PodSucceeded
			}
		}
		if m.IsVoter() {
			voters++
			if healthy {
				healthyVoters++
			}
		}
		obs.Members = append(obs.Members, m)
	}
	if leader >= 0 {
		l := views[leader]
		a.term = max(a.term, l.term)
		obs.Raft = upgrade.RaftView{Known: true, LeaderID: string(a.pods[leader].id), Term: a.term, CommitIndex: l.commit,
			FailureTolerance: int32(max(0, healthyVoters-upgrade.Quorum(voters))), AutopilotHealthy: voters > 0 && healthyVoters == voters}
	}
	obs.Backup = a.backup
	obs.Lock = a.lock
	obs.Capabilities = upgrade.Capabilities{TargetedTransfer: !a.opts.NoTargetedTransfer, NonVoters: true, Snapshots: true,
		HandoffOnShutdown: a.opts.HandoffOnShutdown}
	obs.Hooks = slices.Clone(a.hooks)
	return obs
}

// timeNow is the adapter's clock (the host may read the clock; the core
// never does).
func timeNow() time.Time { return time.Now() }
