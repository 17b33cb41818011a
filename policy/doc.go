// Package policy decides whether a version change may start at all, before
// any orchestration: strict semantic-version rules (invalid input,
// downgrades, skipped minors, major jumps, prerelease ordering, image tag vs
// version conflicts) and preflight prerequisites (members ready, autopilot
// healthy, failure tolerance, backup readiness, the operation lock).
//
// Every refusal is a *Violation carrying a named gate and a machine-readable
// reason, so hosts can surface it in a condition. The package is pure: the
// only time it knows is Observation.Now.
//
// # Usage
//
//	err := policy.Evaluate(policy.Input{From: "2.3.1", To: "2.4.0", Image: "openbao/openbao:2.4.0"}, policy.Rules{})
//	var v *policy.Violation
//	if errors.As(err, &v) {
//		fmt.Println(v.Gate, v.Reason) // e.g. Policy Downgrade
//	}
//	if err := policy.CheckPrerequisites(&obs, policy.Prerequisites{RequireBackup: true, MaxBackupAge: metav1.Duration{Duration: 24 * time.Hour}}); err != nil {
//		// hold: errors.As(err, &v) and v.AsGate() say why
//	}
//
// Versions are stored as strings everywhere in raftshift and parsed with
// semver.StrictNewVersion (one optional leading "v" is accepted); semver's
// loose JSON decoding is never used.
package policy

//go:generate go tool controller-gen object paths=.
