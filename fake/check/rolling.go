package check

import (
	"fmt"

	"github.com/raftshift/raftshift/upgrade"
)

// RollingTransition judges S5 as the rolling strategy keeps it, stricter
// than Transition: while an upgrade is in flight the current version and
// image stay exactly those it started from; an upgrade ends only with a
// result and with the current version and image set to its target (a
// retarget to the origin makes the origin the target); while idle the
// current version changes only by adoption from an empty status.
func RollingTransition(prev upgrade.Status, d upgrade.Decision) error {
	next := d.Status
	fail := func(format string, args ...any) error {
		return &Violation{Rule: "S5", Step: -1, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case next.Upgrade != nil:
		if next.CurrentVersion != next.Upgrade.FromVersion || next.CurrentImage != next.Upgrade.FromImage {
			return fail("current %s/%s differs from the upgrade's origin %s/%s mid-upgrade",
				next.CurrentVersion, next.CurrentImage, next.Upgrade.FromVersion, next.Upgrade.FromImage)
		}
	case prev.Upgrade != nil:
		if next.CurrentVersion != prev.Upgrade.TargetVersion || next.CurrentImage != prev.Upgrade.TargetImage {
			return fail("upgrade to %s ended with current %s", prev.Upgrade.TargetVersion, next.CurrentVersion)
		}
		if next.LastResult == nil {
			return fail("upgrade ended without a result")
		}
	default:
		if next.CurrentVersion != prev.CurrentVersion && prev.CurrentVersion != "" {
			return fail("current version changed from %s to %s while idle", prev.CurrentVersion, next.CurrentVersion)
		}
	}
	return nil
}
