package contract

import (
	"slices"

	"github.com/raftshift/raftshift/upgrade"
)

// sameStatus reports whether a and b are equal but for their conditions
// (Unchanged compares those itself). It is reflect.DeepEqual written out
// for upgrade.Status: Unchanged runs in every waiting Step, and DeepEqual
// was an eighth of a soak's time. A nil and an empty slice count as equal
// (both encode alike). TestSameStatusSeesEveryField fails when a field is
// added to the status types and not compared here.
func sameStatus(a, b *upgrade.Status) bool {
	return a.CurrentVersion == b.CurrentVersion && a.CurrentImage == b.CurrentImage &&
		a.Handled == b.Handled && a.ObservedTerm == b.ObservedTerm && a.LastStepTime == b.LastStepTime &&
		samePtr(a.LastResult, b.LastResult, sameValue) &&
		samePtr(a.BreakGlass, b.BreakGlass, sameBreakGlass) &&
		samePtr(a.Expected, b.Expected, sameExpected) &&
		samePtr(a.Upgrade, b.Upgrade, sameUpgrade)
}

// samePtr compares two pointers by what they point to, with eq.
func samePtr[T any](x, y *T, eq func(x, y *T) bool) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x == y || eq(x, y)
}

func sameValue[T comparable](x, y *T) bool { return *x == *y }

func sameBreakGlass(x, y *upgrade.BreakGlass) bool {
	return x.Nonce == y.Nonce && x.Reason == y.Reason && x.Message == y.Message &&
		slices.Equal(x.RecoverySteps, y.RecoverySteps) && x.EnteredAt == y.EnteredAt
}

func sameExpected(x, y *upgrade.Expectations) bool {
	return slices.Equal(x.Items, y.Items) && x.Since == y.Since
}

func sameUpgrade(a, b *upgrade.UpgradeStatus) bool {
	if !samePtr(a.Paused, b.Paused, sameValue) || !samePtr(a.Held, b.Held, sameValue) ||
		!samePtr(a.BlueGreen, b.BlueGreen, sameValue) || !samePtr(a.Rolling, b.Rolling, sameRolling) {
		return false
	}
	x, y := *a, *b // every other field is comparable
	x.Paused, x.Held, x.BlueGreen, x.Rolling = nil, nil, nil, nil
	y.Paused, y.Held, y.BlueGreen, y.Rolling = nil, nil, nil, nil
	return x == y
}

func sameRolling(x, y *upgrade.RollingProgress) bool {
	return x.Workload == y.Workload && x.Replicas == y.Replicas && x.Ordering == y.Ordering &&
		x.WorkloadUID == y.WorkloadUID && x.WorkloadGeneration == y.WorkloadGeneration &&
		x.Ordinal == y.Ordinal && x.RestartedUID == y.RestartedUID && x.DeletedUID == y.DeletedUID &&
		x.HealthySince == y.HealthySince && x.TransferTarget == y.TransferTarget &&
		x.LeaderMoves == y.LeaderMoves && x.Retargets == y.Retargets && x.Snapshot == y.Snapshot &&
		slices.Equal(x.Updated, y.Updated) && slices.Equal(x.Nonvoters, y.Nonvoters) &&
		slices.Equal(x.UnexpectedVoters, y.UnexpectedVoters)
}
