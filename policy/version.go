package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/raftshift/raftshift/upgrade"
)

// MaxVersionLength bounds version strings; longer input is rejected unparsed.
const MaxVersionLength = 128

// ErrPolicy is wrapped by every Violation; test with errors.Is.
var ErrPolicy = errors.New("upgrade policy violation")

// Reasons for version policy violations.
const (
	ReasonInvalidVersion  upgrade.Reason = "InvalidVersion"
	ReasonDowngrade       upgrade.Reason = "Downgrade"
	ReasonSkipMinor       upgrade.Reason = "SkipMinor"
	ReasonMajorJump       upgrade.Reason = "MajorJump"
	ReasonPrerelease      upgrade.Reason = "PrereleaseNotAllowed"
	ReasonImageConflict   upgrade.Reason = "ImageVersionConflict"
	ReasonInvalidImage    upgrade.Reason = "InvalidImage"
	ReasonMutableImageTag upgrade.Reason = "MutableImageTag"
)

// Violation is a refusal by policy: a named gate and a typed reason.
type Violation struct {
	// Gate is upgrade.GatePolicy for version rules, upgrade.GatePrerequisites
	// or upgrade.GateLock for preflight checks.
	Gate upgrade.GateName
	// Reason is machine-readable.
	Reason upgrade.Reason
	// Field names the offending input ("from", "to", "image"), if any.
	Field string
	// Message is for humans.
	Message string
	// Err is the underlying parse error, if any.
	Err error
}

// Error implements error.
func (v *Violation) Error() string {
	reason := "policy violation"
	if v.Reason != "" {
		reason = strings.ToLower(string(v.Reason[:1])) + string(v.Reason[1:])
	}
	if v.Field != "" {
		return fmt.Sprintf("%s: %s: %s", reason, v.Field, v.Message)
	}
	return fmt.Sprintf("%s: %s", reason, v.Message)
}

// Unwrap returns ErrPolicy and the underlying cause.
func (v *Violation) Unwrap() []error {
	if v.Err != nil {
		return []error{ErrPolicy, v.Err}
	}
	return []error{ErrPolicy}
}

// AsGate converts the violation into the gate a Decision reports.
func (v *Violation) AsGate() *upgrade.Gate {
	return &upgrade.Gate{Name: v.Gate, Reason: v.Reason, Message: v.Message}
}

// ParseVersion parses a version strictly: MAJOR.MINOR.PATCH with optional
// prerelease and build metadata, one optional leading "v", no surrounding
// space, at most MaxVersionLength characters. Errors are *Violation with
// ReasonInvalidVersion.
func ParseVersion(s string) (*semver.Version, error) {
	bad := func(msg string, err error) error {
		return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonInvalidVersion, Message: msg, Err: err}
	}
	switch {
	case s == "":
		return nil, bad("version is empty", nil)
	case len(s) > MaxVersionLength:
		return nil, bad(fmt.Sprintf("version is %d characters long, at most %d allowed", len(s), MaxVersionLength), nil)
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil, bad(fmt.Sprintf("%q is not a strict semantic version (MAJOR.MINOR.PATCH)", s), err)
	}
	return v, nil
}

// Canonical returns the one spelling raftshift stores for a version: the
// strict semantic version without a leading "v" ("v2.4.0" -> "2.4.0";
// prerelease and build metadata kept). A string that is not a strict
// semantic version is returned unchanged: policy refuses it where it
// matters.
func Canonical(s string) string {
	if plainRelease(s) {
		return s // already canonical: the common case, without parsing
	}
	v, err := ParseVersion(s)
	if err != nil {
		return s
	}
	return v.String()
}

// plainRelease reports whether s is MAJOR.MINOR.PATCH in decimal without
// leading zeros, prefix or suffix: a version already in canonical form.
func plainRelease(s string) bool {
	parts := 0
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || (s[i] == '0' && j-i > 1) {
			return false
		}
		parts++
		if j == len(s) {
			break
		}
		if s[j] != '.' || parts == 3 {
			return false
		}
		i = j + 1
		if i == len(s) {
			return false
		}
	}
	return parts == 3
}

// SameVersion reports whether a and b name the same version, whatever their
// spelling ("v2.4.0" and "2.4.0"). Build metadata counts: 2.4.0+a and
// 2.4.0+b are different builds. Strings that do not parse are compared as
// they are.
func SameVersion(a, b string) bool { return a == b || Canonical(a) == Canonical(b) }

// Compare parses both versions strictly and compares them by semver
// precedence (prerelease identifiers compare numerically: beta.2 < beta.10;
// a prerelease precedes its release: 2.4.0-rc1 < 2.4.0).
func Compare(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// Rules configures version policy. The zero value is the conservative
// default: no downgrades, no skipped minor versions, no major jumps,
// prereleases allowed.
//
// +kubebuilder:object:generate=true
type Rules struct {
	// AllowDowngrade permits moving to a lower version.
	AllowDowngrade bool `json:"allowDowngrade,omitempty"`
	// AllowSkipMinor permits skipping minor versions (2.3.x -> 2.5.0).
	AllowSkipMinor bool `json:"allowSkipMinor,omitempty"`
	// AllowMajor permits changing the major version.
	AllowMajor bool `json:"allowMajor,omitempty"`
	// RejectPrerelease refuses prerelease targets (2.4.0-rc1).
	RejectPrerelease bool `json:"rejectPrerelease,omitempty"`
}

// Input is a proposed version change.
type Input struct {
	// From is the version the cluster runs ("" when unknown: only To and
	// Image are checked).
	From string
	// To is the target version.
	To string
	// Image is the target image reference ("" to skip the image check).
	Image string
}

// Evaluate checks a proposed version change against rules. It returns nil
// when the change may proceed (including From == To), or a *Violation.
func Evaluate(in Input, rules Rules) error {
	to, err := ParseVersion(in.To)
	if err != nil {
		return withField(err, "to")
	}
	if in.Image != "" {
		if err := CheckImage(in.Image, in.To); err != nil {
			return err
		}
	}
	if rules.RejectPrerelease && to.Prerelease() != "" {
		return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonPrerelease, Field: "to",
			Message: fmt.Sprintf("target %s is a prerelease and prereleases are not allowed", in.To)}
	}
	if in.From == "" {
		return nil
	}
	from, err := ParseVersion(in.From)
	if err != nil {
		return withField(err, "from")
	}
	switch c := to.Compare(from); {
	case c == 0:
		return nil
	case c < 0:
		if !rules.AllowDowngrade {
			return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonDowngrade, Field: "to",
				Message: fmt.Sprintf("%s -> %s is a downgrade; set allowDowngrade to permit it", in.From, in.To)}
		}
		return nil
	}
	if to.Major() != from.Major() {
		if !rules.AllowMajor {
			return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonMajorJump, Field: "to",
				Message: fmt.Sprintf("%s -> %s changes the major version; set allowMajor to permit it", in.From, in.To)}
		}
		return nil
	}
	if to.Minor() > from.Minor()+1 && !rules.AllowSkipMinor {
		return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonSkipMinor, Field: "to",
			Message: fmt.Sprintf("%s -> %s skips %d minor version(s); upgrade through each minor or set allowSkipMinor",
				in.From, in.To, to.Minor()-from.Minor()-1)}
	}
	return nil
}

func withField(err error, field string) error {
	var v *Violation
	if errors.As(err, &v) {
		c := *v
		c.Field = field
		return &c
	}
	return err
}

// ImageTag splits an image reference into its tag and digest
// ("repo/name:tag@sha256:..." -> "tag", "sha256:..."). Registry ports
// ("host:5000/name") are not mistaken for tags.
func ImageTag(image string) (tag, digest string) {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image, digest = image[:i], image[i+1:]
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		tag = image[i+1:]
	}
	return tag, digest
}

// CheckImage reports a conflict between an image reference and the version
// it claims to run: a tag that is a semantic version must equal version
// (ignoring a leading "v"); "latest" is refused as mutable; an untagged
// digest reference and other tags are accepted (they cannot be checked).
func CheckImage(image, version string) error {
	if image == "" || len(image) > 512 || strings.TrimSpace(image) != image || strings.ContainsAny(image, " \t\n") {
		return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonInvalidImage, Field: "image",
			Message: fmt.Sprintf("image reference %.64q is not valid", image)}
	}
	tag, _ := ImageTag(image)
	switch {
	case tag == "":
		return nil
	case tag == "latest":
		return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonMutableImageTag, Field: "image",
			Message: fmt.Sprintf("image %s uses the mutable tag latest; pin a version tag or digest", image)}
	}
	tv, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	if err != nil {
		return nil
	}
	vv, err := ParseVersion(version)
	if err != nil {
		return withField(err, "to")
	}
	if !tv.Equal(vv) || tv.Metadata() != vv.Metadata() {
		return &Violation{Gate: upgrade.GatePolicy, Reason: ReasonImageConflict, Field: "image",
			Message: fmt.Sprintf("image tag %s does not match version %s", tag, version)}
	}
	return nil
}
