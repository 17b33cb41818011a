package fake

// seg is a run of log entries written in one term: the entries after the
// previous segment's last index, up to and including last, have term term.
type seg struct {
	term uint64
	last uint64
}

// raftLog is a Raft log compressed to one segment per term. Terms are
// non-decreasing along the log and an (index, term) pair identifies an entry
// uniquely (one leader per term), so two logs that agree on an index's term
// agree on every entry before it (Raft's Log Matching property).
type raftLog []seg

func (l raftLog) lastIndex() uint64 {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1].last
}

func (l raftLog) lastTerm() uint64 {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1].term
}

// find returns the position of the segment holding index i (0 < i <= last),
// or -1.
func (l raftLog) find(i uint64) int {
	if i == 0 || i > l.lastIndex() {
		return -1
	}
	lo, hi := 0, len(l)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if l[mid].last >= i {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// termAt returns the term of entry i, 0 when absent.
func (l raftLog) termAt(i uint64) uint64 {
	if k := l.find(i); k >= 0 {
		return l[k].term
	}
	return 0
}

// segStart returns the first index of segment k.
func (l raftLog) segStart(k int) uint64 {
	if k == 0 {
		return 1
	}
	return l[k-1].last + 1
}

// add appends n entries of term t.
func (l *raftLog) add(t, n uint64) {
	if n == 0 {
		return
	}
	s := *l
	if len(s) > 0 && s[len(s)-1].term == t {
		s[len(s)-1].last += n
		return
	}
	*l = append(s, seg{term: t, last: s.lastIndex() + n})
}

// truncate drops every entry after index i.
func (l *raftLog) truncate(i uint64) {
	s := *l
	for len(s) > 0 && s.segStart(len(s)-1) > i {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1].last > i {
		s[len(s)-1].last = i
	}
	*l = s
}

// matchIndex returns the last index on which a and b agree.
func matchIndex(a, b raftLog) uint64 {
	i := min(a.lastIndex(), b.lastIndex())
	for i > 0 {
		ka, kb := a.find(i), b.find(i)
		ta, tb := a[ka].term, b[kb].term
		switch {
		case ta == tb:
			return i
		case ta > tb:
			i = a.segStart(ka) - 1
		default:
			i = b.segStart(kb) - 1
		}
	}
	return 0
}

// copyFrom makes f agree with leader up to at most n entries past their
// match point: a conflicting suffix of f is dropped first, as an
// AppendEntries consistency check would. It returns the new match index.
func (f *raftLog) copyFrom(leader raftLog, n uint64) uint64 {
	m := matchIndex(*f, leader)
	if f.lastIndex() > m {
		f.truncate(m)
	}
	target := leader.lastIndex()
	if target-m > n {
		target = m + n
	}
	for i := m; i < target; {
		k := leader.find(i + 1)
		end := min(leader[k].last, target)
		f.add(leader[k].term, end-i)
		i = end
	}
	return target
}

func (l raftLog) clone() raftLog { return append(raftLog(nil), l...) }
