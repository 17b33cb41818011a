package main

// mutant is one small, realistic bug: Old (which must occur exactly once in
// File) is replaced by New. Packages are the test targets that must kill it.
type mutant struct {
	Name     string
	File     string
	Old, New string
	Packages []string
}

var (
	core      = []string{"./upgrade", "./rolling", "./bluegreen", "./fake/..."}
	rollingT  = []string{"./rolling", "./fake/scenario"}
	blueGreen = []string{"./bluegreen", "./fake/scenario"}
	policyT   = []string{"./policy", "./rolling", "./bluegreen"}
)

// mutants is the fixed list the harness applies, one at a time.
var mutants = []mutant{
	// upgrade: the safety rules.
	{"no disruption check after a leadership move", "upgrade/safety.go",
		"\tif sim.moving {\n\t\treturn \"S3\", gate(GateLeaderTransfer", "\tif false && sim.moving {\n\t\treturn \"S3\", gate(GateLeaderTransfer", core},
	{"last voter may be demoted", "upgrade/safety.go", "if shrink && voters <= 1 {", "if shrink && voters < 1 {", core},
	{"leadership may move after a disruption", "upgrade/safety.go", "\t\t\tif sim.voterHits > 0 {\n\t\t\t\t// The election", "\t\t\tif false && sim.voterHits > 0 {\n\t\t\t\t// The election", core},
	{"any down voter restarts freely", "upgrade/safety.go", "if m.m.Pod.Exists && m.m.Pod.CrashLooping && !m.up && !shrink {", "if m.m.Pod.Exists && !m.up && !shrink {", core},
	{"catch-up term comparison flipped", "upgrade/safety.go", "if m.Raft.LastTerm < leader.Raft.LastTerm {", "if m.Raft.LastTerm > leader.Raft.LastTerm {", core},
	{"unknown member counts as caught up", "upgrade/safety.go", "case !obs.Raft.Known || obs.Raft.LeaderUnknown || m.Raft.Unknown:", "case !obs.Raft.Known:", core},
	{"partial view not detected", "upgrade/safety.go", "\t\tif m := &obs.Members[i]; m.Raft.Unknown {", "\t\tif m := &obs.Members[i]; false && m.Raft.Unknown {", core},
	{"promote not counted as a voter disruption", "upgrade/safety.go", "\t\t\tsim.voterHits++\n\t\t\tm.voter = true", "\t\t\tm.voter = true", core},
	{"failure tolerance off by one", "upgrade/safety.go", "if m.up && healthy-Quorum(voters) < 1 {", "if m.up && healthy-Quorum(voters) < 0 {", core},
	{"step down with no one to take over", "upgrade/safety.go", "\t\t\t\tif others == 0 {", "\t\t\t\tif others < 0 {", core},
	{"handoff without the others caught up", "upgrade/safety.go", "if o.voter && (o.workload != l.workload || !o.up || o.disrupt) {", "if o.voter && o.workload != l.workload {", core},
	{"stabilization from autopilot's stable_since", "upgrade/safety.go", "if start := stableStart(m); !start.IsZero()", "if start := m.Raft.StableSince; !start.IsZero()", core},
	{"completion without every member caught up", "upgrade/safety.go", "\t\tif g := CaughtUp(obs, *m, c); g != nil {\n\t\t\tg.Message = \"the upgrade completes", "\t\tif g := CaughtUp(obs, *m, c); false && g != nil {\n\t\t\tg.Message = \"the upgrade completes", core},
	{"partition expectation ignores the generation", "upgrade/expect.go", "return ok && int64(w.Partition) == e.Number && w.Generation > e.Generation", "return ok && int64(w.Partition) == e.Number", core},
	{"term regression accepted", "internal/contract/step.go", "if obs.Raft.Known && obs.Raft.Term < status.ObservedTerm {", "if false && obs.Raft.Known && obs.Raft.Term < status.ObservedTerm {", []string{"./internal/contract", "./rolling", "./bluegreen", "./fake/..."}},

	// policy.
	{"downgrades allowed", "policy/version.go", "\t\tif !rules.AllowDowngrade {", "\t\tif false && !rules.AllowDowngrade {", policyT},
	{"skip-minor off by one", "policy/version.go", "if to.Minor() > from.Minor()+1 && !rules.AllowSkipMinor {", "if to.Minor() > from.Minor()+2 && !rules.AllowSkipMinor {", policyT},
	{"image tag conflict ignored", "policy/version.go", "if !tv.Equal(vv) || tv.Metadata() != vv.Metadata() {", "if _, _ = tv, vv; false {", policyT},
	{"canonical spelling keeps the v", "policy/version.go", "\treturn v.String()\n}", "\t_ = v\n\treturn s\n}", policyT},

	// rolling.
	{"rolling finalizes without the completion gate", "rolling/restart.go", "if g := upgrade.CompletionGate(s.obs, s.w.Name, int(s.w.Replicas), s.spec.CatchUp); g != nil {", "if g := upgrade.CompletionGate(s.obs, s.w.Name, int(s.w.Replicas), s.spec.CatchUp); false && g != nil {", rollingT},
	{"rolling restarts without the others caught up", "rolling/restart.go", "!(s.safety.AllowDowntime && !m.Up()) && !s.othersCaughtUp(m) {", "!(s.safety.AllowDowntime && !m.Up()) && false {", rollingT},
	{"transfer prefers the old version", "rolling/restart.go", "a, t, ok := contract.LeaderMove(s.obs, s.safety, *m, u.TargetVersion, contract.FailbackExclude(s.obs, u, *m))", "a, t, ok := contract.LeaderMove(s.obs, s.safety, *m, u.FromVersion, contract.FailbackExclude(s.obs, u, *m))", rollingT},
	{"OnDelete picks the leader like a follower", "rolling/ondelete.go", "\t\tif s.obs.IsLeader(m.Name) {\n\t\t\tcontinue\n\t\t}", "", rollingT},
	{"verification window from the cluster's clock", "rolling/restart.go", "if g := upgrade.CaughtUpAfterRestart(s.obs, *m, s.spec.CatchUp, r.HealthySince.Time); g != nil {", "if g := upgrade.CaughtUp(s.obs, *m, s.spec.CatchUp); g != nil {", rollingT},
	{"rolling blind to unknown views", "rolling/restart.go", "\tif g := upgrade.CheckView(s.obs); g != nil {\n\t\ts.gate = g\n\t\treturn true", "\tif g := upgrade.CheckView(s.obs); false && g != nil {\n\t\ts.gate = g\n\t\treturn true", rollingT},
	{"crash loop never pauses", "rolling/step.go", "if m.Pod.Exists && m.Pod.CrashLooping && m.Revision == s.w.UpdateRevision {", "if false {", rollingT},

	// bluegreen.
	{"blue demoted while green does not lead", "bluegreen/phases.go", "\tif leader.Workload != r.bg.Green {\n\t\tif leader.Workload == r.bg.Blue {", "\tif false && leader.Workload != r.bg.Green {\n\t\tif leader.Workload == r.bg.Blue {", blueGreen},
	{"blue-green completes with a member down", "bluegreen/phases.go", "\tif g := upgrade.CompletionGate(&r.obs, r.bg.Green, int(r.bg.GreenReplicas), r.spec.CatchUp); g != nil {", "\tif g := upgrade.CompletionGate(&r.obs, r.bg.Green, int(r.bg.GreenReplicas), r.spec.CatchUp); false && g != nil {", blueGreen},
	{"break-glass accepts a prefix of the nonce", "bluegreen/step.go", "if r.spec.BreakGlassAck != \"\" && r.spec.BreakGlassAck == bgs.Nonce {", "if r.spec.BreakGlassAck != \"\" && strings.HasPrefix(bgs.Nonce, r.spec.BreakGlassAck) {", blueGreen},
	{"cleanup switches the service with blue peers left", "bluegreen/phases.go", "\tfor _, m := range r.members(r.bg.Blue) {\n\t\tif !m.Raft.Present {\n\t\t\tcontinue\n\t\t}\n\t\tif _, ok := r.leader(); !ok {", "\tfor _, m := range r.members(r.bg.Blue)[:0] {\n\t\tif !m.Raft.Present {\n\t\t\tcontinue\n\t\t}\n\t\tif _, ok := r.leader(); !ok {", blueGreen},
	{"promotion without the voters healthy", "bluegreen/phases.go", "\t\tif !r.votersHealthy() {\n\t\t\treturn \"\"\n\t\t}\n\t\tif g := r.caughtUp(m); g != nil {\n\t\t\tr.holdGate(g)\n\t\t\treturn \"\"\n\t\t}\n\t\tif r.issue(\"Promote:\"", "\t\tif r.issue(\"Promote:\"", blueGreen},
	{"unexpected promotion never reported", "bluegreen/step.go", "\tif len(voting) == 0 {\n\t\treturn\n\t}", "\tif true {\n\t\treturn\n\t}", blueGreen},
	{"blue-green blind to partial views", "bluegreen/step.go", "\t\tif g := upgrade.CheckView(&r.obs); g != nil {\n\t\t\tr.holdGate(g)\n\t\t\treturn true\n\t\t}", "\t\tif g := upgrade.CheckView(&r.obs); false && g != nil {\n\t\t\tr.holdGate(g)\n\t\t\treturn true\n\t\t}", blueGreen},
	// S8: no failback to an older version (issue 15).
	{"regressed leader never corrected", "rolling/placement.go", "_, regressed := upgrade.RegressedLeader(u, s.obs)", "_, regressed := upgrade.RegressedLeader(u, s.obs)\n\tregressed = false", rollingT},
	{"step-down lets an older voter win", "internal/contract/contract.go", "if !s.AllowFailback && !upgrade.StepDownAllowed(obs, leader) {", "if false && !s.AllowFailback && !upgrade.StepDownAllowed(obs, leader) {", []string{"./rolling", "./bluegreen", "./fake/scenario"}},
	{"regressed leader is silent", "internal/contract/failback.go", "upgrade.SetCondition(&st.Conditions, upgrade.ConditionLeaderVersion,", "upgrade.SetCondition(&[]metav1.Condition{}, upgrade.ConditionLeaderVersion,", []string{"./rolling", "./bluegreen", "./fake/..."}},
	// Stale caches and lost starts (issue 9, issue 14).
	{"stale workload generation accepted", "rolling/step.go", "g = contract.CheckGeneration(&s.w, u.Rolling.WorkloadGeneration)", "g = contract.CheckGeneration(&s.w, 0)", []string{"./rolling", "./fake/scenario", "./examples/soak"}},
	{"stray green never deleted", "bluegreen/phases.go", "if w, ok := r.stray(); ok {", "if w, ok := r.stray(); ok && w == \"\" {", blueGreen},

	// rolling: outcome of an upgrade back at its from-version.
	{"a convergence ends as a rollback", "rolling/restart.go", "\t\tif u.Rolling.Retargets > 0 {", "\t\tif true {", rollingT},
	{"a revert ends as a success", "rolling/restart.go", "\t\tif u.Rolling.Retargets > 0 {", "\t\tif false {", rollingT},
	{"a retarget not counted", "rolling/step.go", "\tr.Retargets++\n", "", rollingT},
}
