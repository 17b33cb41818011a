package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/raftshift/raftshift/policy"
	"github.com/raftshift/raftshift/upgrade"
)

// violation asserts err is a *policy.Violation wrapping policy.ErrPolicy
// with the given gate and reason, and returns it.
func violation(t *testing.T, err error, gate upgrade.GateName, reason upgrade.Reason) *policy.Violation {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil, want violation %s/%s", gate, reason)
	}
	var v *policy.Violation
	if !errors.As(err, &v) {
		t.Fatalf("got %T %v, want *policy.Violation", err, err)
	}
	if !errors.Is(err, policy.ErrPolicy) {
		t.Errorf("errors.Is(%v, ErrPolicy) = false", err)
	}
	if v.Gate != gate || v.Reason != reason {
		t.Errorf("got %s/%s (%v), want %s/%s", v.Gate, v.Reason, err, gate, reason)
	}
	if msg := err.Error(); msg == "" || msg[:1] != strings.ToLower(msg[:1]) {
		t.Errorf("error message %q must be non-empty and lowercase", msg)
	}
	if g := v.AsGate(); g.Name != v.Gate || g.Reason != v.Reason || g.Message != v.Message {
		t.Errorf("AsGate() = %+v, does not match %+v", g, v)
	}
	return v
}

func TestParseVersionAccepts(t *testing.T) {
	tests := []struct {
		in                  string
		major, minor, patch uint64
		pre, meta           string
	}{
		{"2.4.0", 2, 4, 0, "", ""},
		{"v2.4.0", 2, 4, 0, "", ""},
		{"2.4.0-rc1", 2, 4, 0, "rc1", ""},
		{"2.4.0-beta.10", 2, 4, 0, "beta.10", ""},
		{"2.4.0+build.1", 2, 4, 0, "", "build.1"},
		{"v10.20.30-rc.1+sha.abc", 10, 20, 30, "rc.1", "sha.abc"},
		{"0.0.0", 0, 0, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := policy.ParseVersion(tt.in)
			if err != nil {
				t.Fatalf("ParseVersion(%q) = %v", tt.in, err)
			}
			if v.Major() != tt.major || v.Minor() != tt.minor || v.Patch() != tt.patch ||
				v.Prerelease() != tt.pre || v.Metadata() != tt.meta {
				t.Errorf("ParseVersion(%q) = %d.%d.%d-%s+%s", tt.in, v.Major(), v.Minor(), v.Patch(), v.Prerelease(), v.Metadata())
			}
		})
	}
	// The length bound is inclusive.
	long := "1.2.3-" + strings.Repeat("a", policy.MaxVersionLength-len("1.2.3-"))
	if len(long) != policy.MaxVersionLength {
		t.Fatalf("test setup: len = %d", len(long))
	}
	if _, err := policy.ParseVersion(long); err != nil {
		t.Errorf("ParseVersion(%d chars) = %v, want accepted", len(long), err)
	}
}

func TestParseVersionRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"two parts", "2.4"},
		{"wildcard", "2.4.x"},
		{"leading space", " 1.2.3"},
		{"trailing space", "1.2.3 "},
		{"trailing newline", "1.2.3\n"},
		{"leading zero", "01.2.3"},
		{"leading zero prerelease", "1.2.3-01"},
		{"300 chars", "1.2.3-" + strings.Repeat("a", 294)},
		{"one over bound", "1.2.3-" + strings.Repeat("a", policy.MaxVersionLength-len("1.2.3-")+1)},
		{"double v", "vv1.2.3"},
		{"capital V", "V1.2.3"},
		{"only v", "v"},
		{"empty prerelease", "1.2.3-"},
		{"empty metadata", "1.2.3+"},
		{"four parts", "1.2.3.4"},
		{"negative", "-1.2.3"},
		{"overflow", "99999999999999999999.0.0"},
		{"latest", "latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := policy.ParseVersion(tt.in)
			if v != nil {
				t.Errorf("ParseVersion(%q) returned a version %v with the error", tt.in, v)
			}
			violation(t, err, upgrade.GatePolicy, policy.ReasonInvalidVersion)
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2.4.0", "2.4.0", 0},
		{"v2.4.0", "2.4.0", 0},
		{"2.4.0+build.1", "2.4.0", 0},
		{"2.4.0-rc1", "2.4.0", -1},
		{"2.4.0", "2.4.0-rc1", 1},
		{"2.4.0-beta.2", "2.4.0-beta.10", -1},
		{"2.4.0-alpha", "2.4.0-alpha.1", -1},
		{"2.4.0-beta", "2.4.0-alpha", 1},
		{"2.10.0", "2.9.0", 1},
		{"1.99.99", "2.0.0", -1},
	}
	for _, tt := range tests {
		got, err := policy.Compare(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := policy.Compare("bad", "1.0.0"); err == nil {
		t.Error("Compare(bad, 1.0.0) succeeded")
	}
	if _, err := policy.Compare("1.0.0", "bad"); err == nil {
		t.Error("Compare(1.0.0, bad) succeeded")
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		in     policy.Input
		rules  policy.Rules
		reason upgrade.Reason // "" when allowed
		field  string
	}{
		{"patch upgrade", policy.Input{From: "2.4.0", To: "2.4.1"}, policy.Rules{}, "", ""},
		{"minor upgrade", policy.Input{From: "2.3.1", To: "2.4.0"}, policy.Rules{}, "", ""},
		{"rc to release is an upgrade", policy.Input{From: "2.4.0-rc1", To: "2.4.0"}, policy.Rules{}, "", ""},
		{"release to rc is a downgrade", policy.Input{From: "2.4.0", To: "2.4.0-rc1"}, policy.Rules{}, policy.ReasonDowngrade, "to"},
		{"release to rc with AllowDowngrade", policy.Input{From: "2.4.0", To: "2.4.0-rc1"}, policy.Rules{AllowDowngrade: true}, "", ""},
		{"beta.2 to beta.10 is an upgrade", policy.Input{From: "2.4.0-beta.2", To: "2.4.0-beta.10"}, policy.Rules{}, "", ""},
		{"beta.10 to beta.2 is a downgrade", policy.Input{From: "2.4.0-beta.10", To: "2.4.0-beta.2"}, policy.Rules{}, policy.ReasonDowngrade, "to"},
		{"patch downgrade", policy.Input{From: "2.4.1", To: "2.4.0"}, policy.Rules{}, policy.ReasonDowngrade, "to"},
		{"major downgrade is a downgrade", policy.Input{From: "3.0.0", To: "2.9.0"}, policy.Rules{AllowMajor: true}, policy.ReasonDowngrade, "to"},
		{"skip minor", policy.Input{From: "2.3.1", To: "2.5.0"}, policy.Rules{}, policy.ReasonSkipMinor, "to"},
		{"skip minor allowed", policy.Input{From: "2.3.1", To: "2.5.0"}, policy.Rules{AllowSkipMinor: true}, "", ""},
		{"skip minor from prerelease", policy.Input{From: "2.3.0-rc1", To: "2.5.0"}, policy.Rules{}, policy.ReasonSkipMinor, "to"},
		{"major jump", policy.Input{From: "2.9.0", To: "3.0.0"}, policy.Rules{}, policy.ReasonMajorJump, "to"},
		{"major jump with AllowSkipMinor", policy.Input{From: "2.9.0", To: "3.0.0"}, policy.Rules{AllowSkipMinor: true}, policy.ReasonMajorJump, "to"},
		{"major jump allowed", policy.Input{From: "2.9.0", To: "3.0.0"}, policy.Rules{AllowMajor: true}, "", ""},
		{"major jump allowed skips minors freely", policy.Input{From: "2.1.0", To: "3.4.0"}, policy.Rules{AllowMajor: true}, "", ""},
		{"prerelease allowed by default", policy.Input{From: "2.3.0", To: "2.4.0-rc1"}, policy.Rules{}, "", ""},
		{"prerelease rejected", policy.Input{From: "2.3.0", To: "2.4.0-rc1"}, policy.Rules{RejectPrerelease: true}, policy.ReasonPrerelease, "to"},
		{"prerelease rejected without from", policy.Input{To: "2.4.0-rc1"}, policy.Rules{RejectPrerelease: true}, policy.ReasonPrerelease, "to"},
		{"prerelease from is fine with RejectPrerelease", policy.Input{From: "2.4.0-rc1", To: "2.4.0"}, policy.Rules{RejectPrerelease: true}, "", ""},
		{"same version", policy.Input{From: "2.4.0", To: "2.4.0"}, policy.Rules{}, "", ""},
		{"same version with v", policy.Input{From: "v2.4.0", To: "2.4.0"}, policy.Rules{}, "", ""},
		{"same version different build", policy.Input{From: "2.4.0+a", To: "2.4.0+b"}, policy.Rules{}, "", ""},
		{"from empty only checks to", policy.Input{To: "9.0.0"}, policy.Rules{}, "", ""},
		{"from empty invalid to", policy.Input{To: "9.0"}, policy.Rules{}, policy.ReasonInvalidVersion, "to"},
		{"invalid to", policy.Input{From: "2.4.0", To: "2.5"}, policy.Rules{}, policy.ReasonInvalidVersion, "to"},
		{"invalid from", policy.Input{From: "2.4", To: "2.5.0"}, policy.Rules{}, policy.ReasonInvalidVersion, "from"},
		{"empty to", policy.Input{From: "2.4.0"}, policy.Rules{AllowDowngrade: true}, policy.ReasonInvalidVersion, "to"},
		{"image matches", policy.Input{From: "2.3.0", To: "2.4.0", Image: "openbao/openbao:2.4.0"}, policy.Rules{}, "", ""},
		{"image conflicts", policy.Input{From: "2.3.0", To: "2.4.0", Image: "openbao/openbao:2.4.1"}, policy.Rules{}, policy.ReasonImageConflict, "image"},
		{"image latest", policy.Input{From: "2.3.0", To: "2.4.0", Image: "openbao/openbao:latest"}, policy.Rules{}, policy.ReasonMutableImageTag, "image"},
		{"image invalid", policy.Input{From: "2.3.0", To: "2.4.0", Image: " openbao"}, policy.Rules{}, policy.ReasonInvalidImage, "image"},
		{"image checked before downgrade", policy.Input{From: "2.5.0", To: "2.4.0", Image: "openbao/openbao:2.4.1"}, policy.Rules{}, policy.ReasonImageConflict, "image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.Evaluate(tt.in, tt.rules)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Evaluate(%+v, %+v) = %v, want allowed", tt.in, tt.rules, err)
				}
				return
			}
			v := violation(t, err, upgrade.GatePolicy, tt.reason)
			if v.Field != tt.field {
				t.Errorf("Field = %q, want %q", v.Field, tt.field)
			}
		})
	}
}

func TestEvaluateDoesNotMutateParseErrors(t *testing.T) {
	// withField copies the violation: the field is set on the returned error
	// only, and repeated calls are independent.
	e1 := policy.Evaluate(policy.Input{From: "x", To: "1.0.0"}, policy.Rules{})
	e2 := policy.Evaluate(policy.Input{From: "1.0.0", To: "x"}, policy.Rules{})
	var v1, v2 *policy.Violation
	if !errors.As(e1, &v1) || !errors.As(e2, &v2) {
		t.Fatalf("got %v, %v", e1, e2)
	}
	if v1.Field != "from" || v2.Field != "to" {
		t.Errorf("fields = %q, %q; want from, to", v1.Field, v2.Field)
	}
}

func TestImageTag(t *testing.T) {
	tests := []struct{ image, tag, digest string }{
		{"openbao/openbao:2.4.0", "2.4.0", ""},
		{"openbao/openbao", "", ""},
		{"registry:5000/openbao/openbao", "", ""},
		{"registry:5000/openbao/openbao:2.4.0", "2.4.0", ""},
		{"openbao/openbao@sha256:abc", "", "sha256:abc"},
		{"openbao/openbao:2.4.0@sha256:abc", "2.4.0", "sha256:abc"},
		{"registry:5000/openbao@sha256:abc", "", "sha256:abc"},
		{"openbao:latest", "latest", ""},
	}
	for _, tt := range tests {
		tag, digest := policy.ImageTag(tt.image)
		if tag != tt.tag || digest != tt.digest {
			t.Errorf("ImageTag(%q) = %q, %q; want %q, %q", tt.image, tag, digest, tt.tag, tt.digest)
		}
	}
}

func TestCheckImage(t *testing.T) {
	tests := []struct {
		name, image, version string
		reason               upgrade.Reason // "" when accepted
	}{
		{"tag equals version", "openbao/openbao:2.4.0", "2.4.0", ""},
		{"v tag equals version", "openbao/openbao:v2.4.0", "2.4.0", ""},
		{"tag equals v version", "openbao/openbao:2.4.0", "v2.4.0", ""},
		{"prerelease tag", "openbao/openbao:2.4.0-rc1", "2.4.0-rc1", ""},
		{"tag conflicts", "openbao/openbao:2.4.1", "2.4.0", policy.ReasonImageConflict},
		{"prerelease tag conflicts with release", "openbao/openbao:2.4.0-rc1", "2.4.0", policy.ReasonImageConflict},
		{"release tag conflicts with prerelease", "openbao/openbao:2.4.0", "2.4.0-rc1", policy.ReasonImageConflict},
		{"latest", "openbao/openbao:latest", "2.4.0", policy.ReasonMutableImageTag},
		{"registry port is not a tag", "registry:5000/openbao/openbao", "2.4.0", ""},
		{"registry port with conflicting tag", "registry:5000/openbao/openbao:2.3.0", "2.4.0", policy.ReasonImageConflict},
		{"digest only", "openbao/openbao@sha256:abc", "2.4.0", ""},
		{"tag and digest checks the tag", "openbao/openbao:2.4.0@sha256:abc", "2.4.0", ""},
		{"tag and digest conflicting tag", "openbao/openbao:2.4.1@sha256:abc", "2.4.0", policy.ReasonImageConflict},
		{"non-semver tag cannot be checked", "openbao/openbao:stable-2024", "2.4.0", ""},
		{"untagged", "openbao/openbao", "2.4.0", ""},
		{"empty", "", "2.4.0", policy.ReasonInvalidImage},
		{"whitespace only", "   ", "2.4.0", policy.ReasonInvalidImage},
		{"leading space", " openbao/openbao:2.4.0", "2.4.0", policy.ReasonInvalidImage},
		{"trailing newline", "openbao/openbao:2.4.0\n", "2.4.0", policy.ReasonInvalidImage},
		{"inner space", "openbao/ openbao:2.4.0", "2.4.0", policy.ReasonInvalidImage},
		{"too long", strings.Repeat("a", 513), "2.4.0", policy.ReasonInvalidImage},
		{"semver tag with invalid version", "openbao/openbao:2.4.0", "2.4", policy.ReasonInvalidVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.CheckImage(tt.image, tt.version)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckImage(%q, %q) = %v, want nil", tt.image, tt.version, err)
				}
				return
			}
			v := violation(t, err, upgrade.GatePolicy, tt.reason)
			want := "image"
			if tt.reason == policy.ReasonInvalidVersion {
				want = "to"
			}
			if v.Field != want {
				t.Errorf("Field = %q, want %q", v.Field, want)
			}
		})
	}
}

func TestViolationError(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		v    policy.Violation
		want string
	}{
		{policy.Violation{Reason: policy.ReasonDowngrade, Field: "to", Message: "m"}, "downgrade: to: m"},
		{policy.Violation{Reason: policy.ReasonNoLeader, Message: "m"}, "noLeader: m"},
		{policy.Violation{Message: "m"}, "policy violation: m"}, // zero reason must not panic
	}
	for _, tt := range tests {
		if got := tt.v.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	v := &policy.Violation{Reason: policy.ReasonInvalidVersion, Err: cause}
	if !errors.Is(v, cause) || !errors.Is(v, policy.ErrPolicy) {
		t.Errorf("Violation with Err must wrap both ErrPolicy and its cause")
	}
	if errors.Is(&policy.Violation{Reason: policy.ReasonDowngrade}, cause) {
		t.Errorf("Violation without Err wraps an unrelated cause")
	}
}

func TestCanonicalAndSameVersion(t *testing.T) {
	for _, tt := range []struct {
		in, canon string
	}{
		{"2.4.0", "2.4.0"}, {"v2.4.0", "2.4.0"}, {"v2.4.0-rc.1+build.7", "2.4.0-rc.1+build.7"},
		{"2.4", "2.4"}, {"vv2.4.0", "vv2.4.0"}, {"", ""}, {" 2.4.0", " 2.4.0"},
	} {
		if got := policy.Canonical(tt.in); got != tt.canon {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.canon)
		}
	}
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"2.4.0", "v2.4.0", true}, {"v2.4.0", "2.4.0", true}, {"2.4.0", "2.4.0", true},
		{"2.4.0", "2.4.1", false}, {"2.4.0+a", "2.4.0+b", false}, {"2.4.0-rc.1", "v2.4.0-rc.1", true},
		{"2.4.0", "2.4.0-rc.1", false}, {"2.4", "v2.4", false}, {"2.4", "2.4", true}, {"", "", true},
	} {
		if got := policy.SameVersion(tt.a, tt.b); got != tt.same {
			t.Errorf("SameVersion(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}
