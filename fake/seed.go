package fake

import (
	"fmt"
	"time"

	"github.com/raftshift/raftshift/upgrade"
)

// FromObservation returns a simulated cluster that starts where obs says a
// real one is: the workload the Service targets (or the only one), with its
// replicas, update strategy, partition and pod template; each member's pod
// (absent, starting, running) at its observed revision, version and image;
// its Raft suffrage and presence; how far its log trails the leader's; the
// leader; the operation lock, the backup view and the workload's
// leadership capabilities. cfg supplies what an observation cannot say (the
// seed, pod start-up time, replication and election timing, autopilot
// quirks); its Replicas, Version, Image, Workload, Service, Start,
// TargetedTransfer, HandoffOnShutdown, UpdateStrategy, LockHolder and
// Backup are taken from obs.
//
// What the observation leaves unknown is assumed and listed in the returned
// notes, one line each: a member whose Raft state is unknown is taken to be
// a healthy, caught-up voter; a crash-looping pod makes its version crash
// on every pod; a leaderless cluster elects one at its first ticks. Only one
// workload is simulated: a blue-green upgrade in flight (voters in two
// workloads) is refused.
func FromObservation(obs upgrade.Observation, cfg Config) (*Cluster, []string, error) {
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	name := obs.Service.Workload
	if name == "" && len(obs.Workloads) == 1 {
		name = obs.Workloads[0].Name
	}
	w, ok := obs.Workload(name)
	if !ok {
		return nil, nil, fmt.Errorf("fake: observation has no workload the service targets (%d workloads)", len(obs.Workloads))
	}
	for _, m := range obs.Members {
		if m.Workload != w.Name && m.IsVoter() {
			return nil, nil, fmt.Errorf("fake: voter %s belongs to workload %s, not %s: a blue-green upgrade in flight cannot be seeded", m.Name, m.Workload, w.Name)
		}
	}
	members := obs.WorkloadMembers(w.Name)
	if w.Replicas <= 0 || len(members) == 0 {
		return nil, nil, fmt.Errorf("fake: workload %s has %d replicas and %d members", w.Name, w.Replicas, len(members))
	}
	for i, m := range members {
		if int(m.Ordinal) != i {
			return nil, nil, fmt.Errorf("fake: members of %s are not ordinals 0..%d (found %s)", w.Name, len(members)-1, m.Name)
		}
	}
	if obs.Now.IsZero() {
		return nil, nil, fmt.Errorf("fake: observation has no time")
	}
	cfg.Replicas, cfg.Workload = len(members), w.Name
	cfg.Version, cfg.Image = w.Version, w.Image
	if cfg.Version == "" {
		cfg.Version = members[0].Version
	}
	if cfg.Image == "" {
		cfg.Image = members[0].Image
	}
	cfg.Service = obs.Service.Name
	cfg.Start = obs.Now.Truncate(time.Second)
	cfg.TargetedTransfer = obs.Capabilities.TargetedTransfer
	cfg.HandoffOnShutdown = obs.Capabilities.HandoffOnShutdown
	cfg.UpdateStrategy = w.UpdateStrategy
	cfg.LockHolder = obs.Lock.Holder
	cfg.Backup = obs.Backup
	c := New(cfg)
	fw := c.findWorkload(w.Name)
	fw.partition = int(w.Partition)

	leader, hasLeader := obs.Leader()
	// Lags are applied once the observed leader leads: electing it needs
	// its whole log on the simulated leader, and a follower trailing the
	// real leader may be the simulated cluster's first leader.
	lags := map[*member]uint64{}
	for _, om := range members {
		m := c.byName[om.Name]
		if m == nil {
			return nil, nil, fmt.Errorf("fake: member %s is not ordinal %d of %s", om.Name, om.Ordinal, w.Name)
		}
		// The pod's template: a member at another version than the
		// workload's template runs the current (old) revision.
		if om.Version != "" && (om.Version != cfg.Version || (om.Image != "" && om.Image != cfg.Image)) {
			image := om.Image
			if image == "" {
				image = cfg.Image
			}
			rev := revisionName(w.Name, image, om.Version)
			fw.revisions[rev] = template{image: image, version: om.Version}
			fw.current = rev
			m.revision, m.image, m.version = rev, image, om.Version
		}
		switch p := om.Pod; {
		case !p.Exists:
			c.deletePod(m, "absent when observed", true)
			continue
		case p.CrashLooping:
			c.bad[m.version] = true
			m.phase, m.since = podCrashing, 0
			note("%s crash-loops: version %s is taken to crash on every pod", m.name, m.version)
		case !p.Ready:
			m.phase, m.since = podStarting, 0
		}
		r := om.Raft
		if r.Unknown {
			note("the raft state of %s is unknown: taken to be a healthy, caught-up voter", m.name)
			continue
		}
		m.present = r.Present
		m.voter = r.Present && r.Suffrage != upgrade.Nonvoter
		if hasLeader && !leader.Raft.Unknown && r.LastIndex > 0 && leader.Raft.LastIndex > r.LastIndex {
			lag := leader.Raft.LastIndex - r.LastIndex
			if lag >= InitialIndex {
				lag = InitialIndex - 1
			}
			lags[m] = lag
			note("%s trails the leader by %d entries", m.name, lag)
		}
	}
	switch {
	case !hasLeader || leader.Workload != w.Name:
		if c.leader != nil {
			c.loseLeader("no leader when observed")
		}
		note("no leader was observed: the simulated cluster elects one")
	default:
		if err := c.ElectLeader(leader.Name); err != nil {
			return nil, nil, fmt.Errorf("fake: observed leader %s: %w", leader.Name, err)
		}
	}
	for _, m := range c.members {
		if lag, ok := lags[m]; ok && m != c.leader {
			m.log = raftLog{{term: 1, last: InitialIndex - lag}}
		}
	}
	c.refresh()
	c.fill(&c.ring[0])
	c.pending = Record{} // the seeding is the starting point, not history
	return c, notes, nil
}
