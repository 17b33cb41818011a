package bluegreen

import (
	"slices"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/raftshift/raftshift/fake"
)

// healAll ends every fault, including bad versions and failing hooks.
func healAll(c *fake.Cluster) {
	c.HealAll()
	cfg := c.Config()
	for _, v := range slices.Clone(cfg.BadVersions) {
		c.SetBadVersion(v, false)
	}
	for h := range cfg.HookFailures {
		c.SetHookFailure(h, false)
	}
}

// actions are the random host and fault actions of the property tests.
func (s *sim) actions() map[string]func(*rapid.T) {
	c := s.c
	members := func() []string {
		var out []string
		for _, m := range c.Truth().Members {
			out = append(out, m.Name)
		}
		return out
	}
	return map[string]func(*rapid.T){
		"reconcile": func(t *rapid.T) {
			for range rapid.IntRange(1, 40).Draw(t, "n") {
				s.reconcile()
				s.tick()
			}
		},
		"hostLag": func(t *rapid.T) {
			for range rapid.IntRange(1, 5).Draw(t, "ticks") {
				s.tick()
			}
		},
		"restart": func(t *rapid.T) { s.restart() },
		"executorFails": func(t *rapid.T) {
			s.truncate = rapid.IntRange(0, 2).Draw(t, "prefix")
			s.reconcile()
			s.tick()
		},
		"stale": func(t *rapid.T) {
			c.StaleNext(rapid.IntRange(1, 5).Draw(t, "ago"))
			s.stale = true
		},
		// Observation faults as real adapters show them, at the weight of
		// the pod and leader faults.
		"observeFault": func(t *rapid.T) {
			kind := rapid.SampledFrom(fake.ObservationFaultKinds()).Draw(t, "observationFault")
			f := fake.ObservationFault{Kind: kind, TicksAgo: rapid.IntRange(1, 8).Draw(t, "cacheAge")}
			if ms := members(); len(ms) > 0 {
				f.Member = rapid.SampledFrom(ms).Draw(t, "member")
			}
			if err := c.FaultNextObservation(f); err != nil {
				t.Fatal(err)
			}
			if kind == fake.FaultStaleCache {
				s.stale = true
			}
		},
		"killPod": func(t *rapid.T) {
			if s.noKill {
				t.Skip("no disruptive faults in this run")
			}
			ms := members()
			if len(ms) == 0 {
				t.Skip("no members")
			}
			if c.KillPod(rapid.SampledFrom(ms).Draw(t, "victim")) == nil {
				s.disrupt = true
			}
		},
		"killLeader": func(t *rapid.T) {
			if s.noKill {
				t.Skip("no disruptive faults in this run")
			}
			if c.KillLeader() == nil {
				s.disrupt = true
			}
		},
		"isolate": func(t *rapid.T) {
			if s.noKill {
				t.Skip("no disruptive faults in this run")
			}
			ms := members()
			if len(ms) == 0 {
				t.Skip("no members")
			}
			if c.Isolate(rapid.SampledFrom(ms).Draw(t, "victim")) == nil {
				s.disrupt = true
			}
		},
		"slow": func(t *rapid.T) {
			ms := members()
			if len(ms) == 0 {
				t.Skip("no members")
			}
			_ = c.SlowCatchUp(rapid.SampledFrom(ms).Draw(t, "victim"), uint64(rapid.IntRange(0, 50).Draw(t, "rate")))
		},
		"badVersion": func(t *rapid.T) {
			if s.noKill {
				t.Skip("no disruptive faults in this run")
			}
			c.SetBadVersion(rapid.SampledFrom([]string{fromV, toV}).Draw(t, "version"), true)
			s.disrupt = true
		},
		"hookFailure": func(t *rapid.T) {
			c.SetHookFailure(rapid.SampledFrom([]string{"pre", "post"}).Draw(t, "hook"), rapid.Bool().Draw(t, "fail"))
		},
		"heal": func(t *rapid.T) { healAll(c); s.stale = false },
		"requestRollback": func(t *rapid.T) {
			s.spec.RollbackNonce = s.nextNonce("rollback")
		},
		"requestPromotion": func(t *rapid.T) {
			s.spec.PromoteNonce = s.nextNonce("promote")
		},
		"ackBreakGlass": func(t *rapid.T) {
			b := s.status.BreakGlass
			switch k := rapid.IntRange(0, 6).Draw(t, "ack"); {
			case b == nil || k == 0:
				s.spec.BreakGlassAck = s.nextNonce("bogus")
			case k == 1:
				s.spec.BreakGlassAck = b.Nonce
			default:
				// a near miss of the real nonce (issue 13): none resumes
				s.spec.BreakGlassAck = []string{b.Nonce[:len(b.Nonce)-1], b.Nonce[:1], strings.ToUpper(b.Nonce),
					" " + b.Nonce, b.Nonce + " "}[k-2]
			}
		},
		"changeTarget": func(t *rapid.T) {
			switch rapid.IntRange(0, 3).Draw(t, "to") {
			case 0:
				s.spec.Version, s.spec.Image = fromV, fromImg
			case 1:
				s.spec.Version, s.spec.Image = "2.4.1", "openbao/openbao:2.4.1"
			default:
				s.spec.Version, s.spec.Image = toV, toImg
			}
		},
	}
}

// drawSim draws a cluster and a spec: size from sizes, transfer capability,
// promotion mode, hooks, sync and stabilization windows, and (with faults)
// failing hooks and a bad green version.
// drawSim draws a cluster and a spec: size from sizes, transfer capability,
// promotion mode, hooks, sync and stabilization windows, and (with faults)
// failing hooks and a bad green version.
func drawSim(rt *rapid.T, sizes []int, faults bool) (*sim, int) {
	replicas := rapid.SampledFrom(sizes).Draw(rt, "replicas")
	targeted := rapid.Bool().Draw(rt, "targeted")
	spec := testSpec()
	spec.AutoPromote = rapid.Bool().Draw(rt, "autoPromote")
	if rapid.Bool().Draw(rt, "preHook") {
		spec.PrePromotionHook = "pre"
	}
	if rapid.Bool().Draw(rt, "postHook") {
		spec.PostPromotionHook = "post"
	}
	spec.MinSyncDuration.Duration = time.Duration(rapid.IntRange(0, 20).Draw(rt, "minSync")) * time.Second
	spec.StabilizationWindow.Duration = time.Duration(rapid.IntRange(0, 20).Draw(rt, "stabilize")) * time.Second
	hookFail := map[string]bool{}
	if faults && rapid.IntRange(0, 9).Draw(rt, "preFails") == 0 {
		hookFail["pre"] = true
	}
	if faults && rapid.IntRange(0, 9).Draw(rt, "postFails") == 0 {
		hookFail["post"] = true
	}
	var bad []string
	if faults && rapid.IntRange(0, 14).Draw(rt, "badGreen") == 0 {
		bad = append(bad, toV)
	}
	// Autopilot promoting non-voters on its own skips phases the rollback
	// property aims at: only the upgrade property draws it.
	autoPromote := 0
	if faults {
		autoPromote = rapid.SampledFrom([]int{0, 0, 12}).Draw(rt, "autoPromoteTicks")
	}
	c := fake.New(fake.Config{
		Seed: rapid.Uint64().Draw(rt, "seed"), Replicas: replicas, Version: fromV, Image: fromImg,
		Workload: "bao", Service: "bao", TargetedTransfer: targeted, HookFailures: hookFail, BadVersions: bad,
		AutopilotQuirks:      rapid.Bool().Draw(rt, "autopilotQuirks"),
		Readiness:            fake.Readiness(rapid.IntRange(0, 1).Draw(rt, "readiness")),
		AutoPromoteTicks:     autoPromote,
		MembershipDelayTicks: rapid.SampledFrom([]int{0, 0, 10}).Draw(rt, "membershipDelayTicks"),
	})
	s := &sim{t: rt, c: c, spec: spec, blueVer: fromV, noKill: rapid.Bool().Draw(rt, "noKill"), truncate: -1}
	return s, replicas
}
