package bluegreen

import (
	"strings"

	"github.com/raftshift/raftshift/upgrade"
)

// ReasonStrayGreen: idle, the strategy deletes a green workload that no
// upgrade owns and that holds no Raft member.
const ReasonStrayGreen upgrade.Reason = "StrayGreenDeleted"

// greenBase is the base of green workload names (GreenName): the spec's
// workload, else its service, else the observed service, else blue.
func (r *run) greenBase(blue string) string {
	for _, b := range []string{r.spec.Workload, r.spec.Service, r.obs.Service.Name} {
		if b != "" {
			return b
		}
	}
	return blue
}

// stray returns a green workload left by a start whose status was never
// persisted (the host created it, then crashed, and the spec changed
// before the next Step): named like a green workload of this cluster
// (GreenName's "<base>-<8 hex digits>"), neither serving nor the green of
// the spec's target (a start takes that one over), holding no member of
// the Raft configuration, with the Raft view known and complete (unknown
// is not absent). Nothing else deletes it: the upgrade that created it
// was never recorded. ok is false when there is none.
func (r *run) stray() (name string, ok bool) {
	if r.st.BreakGlass != nil {
		return "", false
	}
	blue := r.obs.Service.Workload
	base := r.greenBase(blue)
	if len(base) > 54 {
		base = base[:54]
	}
	target := ""
	for i := range r.obs.Workloads {
		w := r.obs.Workloads[i].Name
		if w == blue || !greenLike(w, base) {
			continue
		}
		if target == "" {
			target = GreenName(base, r.spec.Version, r.spec.Image)
		}
		if w == target {
			continue
		}
		if upgrade.CheckView(&r.obs) != nil {
			return "", false
		}
		member := false
		for _, m := range r.members(w) {
			member = member || m.Raft.Present
		}
		if !member {
			return w, true
		}
	}
	return "", false
}

// greenLike reports whether name is base followed by "-" and 8 lowercase
// hex digits, the form of GreenName.
func greenLike(name, base string) bool {
	h, ok := strings.CutPrefix(name, base+"-")
	if !ok || len(h) != 8 {
		return false
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
