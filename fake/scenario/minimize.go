package scenario

// Minimize shrinks a failing scenario to a smallest schedule that still
// breaks the same rule: it drops events one at a time while the run still
// fails that way, then shortens the event phase. A scenario that does not
// fail is returned unchanged.
func Minimize(sc Scenario) Scenario {
	res := Run(sc)
	if res.Violation == nil {
		return sc
	}
	rule := res.Violation.Rule
	fails := func(c Scenario) bool {
		r := Run(c)
		return r.Violation != nil && r.Violation.Rule == rule
	}
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(sc.Events); i++ {
			c := sc
			c.Events = append(append([]Event(nil), sc.Events[:i]...), sc.Events[i+1:]...)
			if fails(c) {
				sc, changed = c, true
				i--
			}
		}
	}
	last := 0
	for _, e := range sc.Events {
		last = max(last, e.At+1+e.N)
	}
	for steps := last; steps < sc.Steps; steps++ {
		c := sc
		c.Steps = steps
		if fails(c) {
			sc = c
			break
		}
	}
	return sc
}
