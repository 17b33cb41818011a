package policy_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/policy"
)

var versionSeeds = []string{
	"2.4.0", "v2.4.0", "2.4.0-rc1", "2.4.0-beta.10", "2.4.0+build.1", "v1.2.3-rc.1+sha.5114f85",
	"", "2.4", "2.4.x", " 1.2.3", "1.2.3 ", "01.2.3", "vv1.2.3", "1.2.3-", "1.2.3+", "1.2.3-01",
	"99999999999999999999.0.0", "0.0.0", "1.2.3-" + strings.Repeat("a", 200), "v", "\x00", "1.2.3-\xff",
	"1.2.3.4", "1.2.", ".1.2", "1..2", "0.0.00", "10.20.30", "1.2.3.",
}

// FuzzParseVersion checks that ParseVersion never panics, that every
// accepted input respects the length bound and round-trips through
// Original and String, and that every refusal is an InvalidVersion
// violation.
func FuzzParseVersion(f *testing.F) {
	for _, s := range versionSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := policy.ParseVersion(s)
		if err != nil {
			var pv *policy.Violation
			if !errors.As(err, &pv) || pv.Reason != policy.ReasonInvalidVersion || !errors.Is(err, policy.ErrPolicy) {
				t.Fatalf("ParseVersion(%q) = %v, want an InvalidVersion violation", s, err)
			}
			if v != nil {
				t.Fatalf("ParseVersion(%q) returned a version with an error", s)
			}
			_ = err.Error()
			if c := policy.Canonical(s); c != s {
				t.Fatalf("Canonical(%q) = %q, want a version that does not parse unchanged", s, c)
			}
			return
		}
		if len(s) > policy.MaxVersionLength {
			t.Fatalf("ParseVersion accepted %d characters, bound is %d", len(s), policy.MaxVersionLength)
		}
		if strings.TrimSpace(s) != s || strings.HasPrefix(s, "vv") {
			t.Fatalf("ParseVersion accepted %q", s)
		}
		for _, again := range []string{v.Original(), v.String(), "v" + v.Original()} {
			w, err := policy.ParseVersion(again)
			if err != nil {
				t.Fatalf("ParseVersion(%q) accepted, but its rendering %q is refused: %v", s, again, err)
			}
			if !w.Equal(v) || w.Metadata() != v.Metadata() {
				t.Fatalf("ParseVersion(%q) = %v, re-parsed %q = %v", s, v, again, w)
			}
		}
		if c, err := policy.Compare(s, v.String()); err != nil || c != 0 {
			t.Fatalf("Compare(%q, %q) = %d, %v; want 0", s, v.String(), c, err)
		}
		// One canonical spelling: idempotent, without a leading "v", and
		// the same version as every spelling of it.
		canon := policy.Canonical(s)
		if canon != v.String() {
			t.Fatalf("Canonical(%q) = %q, want %q", s, canon, v.String())
		}
		if policy.Canonical(canon) != canon || strings.HasPrefix(canon, "v") {
			t.Fatalf("Canonical(%q) = %q is not canonical", s, canon)
		}
		for _, spelling := range []string{s, canon, "v" + canon, v.Original()} {
			if !policy.SameVersion(s, spelling) || !policy.SameVersion(spelling, s) {
				t.Fatalf("SameVersion(%q, %q) = false", s, spelling)
			}
		}
	})
}

// FuzzEvaluate checks that Evaluate never panics, is deterministic, returns
// only policy violations, and agrees with Compare on downgrades.
func FuzzEvaluate(f *testing.F) {
	f.Add("2.3.1", "2.4.0", "openbao/openbao:2.4.0", false, false, false, false)
	f.Add("2.4.0", "2.4.0-rc1", "", false, false, false, false)
	f.Add("2.4.0", "2.4.0-rc1", "", true, false, false, true)
	f.Add("2.3.1", "2.5.0", "registry:5000/openbao/openbao", false, true, false, false)
	f.Add("2.9.0", "3.0.0", "openbao/openbao:latest", false, false, true, false)
	f.Add("", "2.4.0-beta.10", "openbao/openbao:v2.4.0-beta.10@sha256:abc", false, false, false, true)
	f.Add("x", "2.4", " ", false, false, false, false)
	f.Add("2.4.0+b", "2.4.0+c", "repo:2.4.0+c", false, false, false, false)
	f.Fuzz(func(t *testing.T, from, to, image string, down, skip, major, rejectPre bool) {
		in := policy.Input{From: from, To: to, Image: image}
		rules := policy.Rules{AllowDowngrade: down, AllowSkipMinor: skip, AllowMajor: major, RejectPrerelease: rejectPre}
		err1 := policy.Evaluate(in, rules)
		err2 := policy.Evaluate(in, rules)
		if !reflect.DeepEqual(err1, err2) {
			t.Fatalf("Evaluate not deterministic: %v vs %v", err1, err2)
		}
		if err1 == nil {
			if _, err := policy.ParseVersion(to); err != nil {
				t.Fatalf("Evaluate accepted invalid target %q", to)
			}
			if from != "" && !down {
				if c, err := policy.Compare(from, to); err != nil || c > 0 {
					t.Fatalf("Evaluate accepted %q -> %q without AllowDowngrade (compare %d, %v)", from, to, c, err)
				}
			}
			if image != "" {
				if err := policy.CheckImage(image, to); err != nil {
					t.Fatalf("Evaluate accepted image %q that CheckImage refuses: %v", image, err)
				}
			}
			return
		}
		var v *policy.Violation
		if !errors.As(err1, &v) || !errors.Is(err1, policy.ErrPolicy) || v.Reason == "" || v.Gate == "" {
			t.Fatalf("Evaluate returned %T %v, want a *policy.Violation", err1, err1)
		}
		if err1.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}
