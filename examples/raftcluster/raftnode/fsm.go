package raftnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
)

// ErrBadCommand is returned (wrapped) for a log entry that is not a valid
// "set key value" command.
var ErrBadCommand = errors.New("bad command")

// SetCommand encodes the command "set key value". Neither key nor value may
// be empty or contain white space.
func SetCommand(key, value string) ([]byte, error) {
	if err := checkWord(key); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if err := checkWord(value); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return []byte("set " + key + " " + value), nil
}

// ParseCommand decodes a command made by SetCommand.
func ParseCommand(b []byte) (key, value string, err error) {
	f := strings.Fields(string(b))
	if len(f) != 3 || f[0] != "set" {
		return "", "", fmt.Errorf("%w: %q", ErrBadCommand, b)
	}
	return f[1], f[2], nil
}

func checkWord(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%w: %q is empty or contains white space", ErrBadCommand, s)
	}
	return nil
}

// FSM is a key/value state machine driven by "set key value" log entries.
// It is safe for concurrent use: raft applies entries while clients read.
type FSM struct {
	mu      sync.RWMutex
	data    map[string]string
	applied uint64
}

// NewFSM returns an empty state machine.
func NewFSM() *FSM { return &FSM{data: map[string]string{}} }

// Apply implements raft.FSM. It returns nil on success and an error wrapping
// ErrBadCommand for a malformed command (the entry is then ignored).
func (f *FSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = l.Index
	if l.Type != raft.LogCommand {
		return nil
	}
	k, v, err := ParseCommand(l.Data)
	if err != nil {
		return err
	}
	f.data[k] = v
	return nil
}

// Get returns the value of key.
func (f *FSM) Get(key string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.data[key]
	return v, ok
}

// Len returns the number of keys.
func (f *FSM) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.data)
}

// Data returns a copy of the whole state.
func (f *FSM) Data() map[string]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.data)
}

// AppliedIndex returns the index of the last entry applied to this FSM
// (restored snapshots included).
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// Snapshot implements raft.FSM.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &snapshot{data: maps.Clone(f.data), applied: f.applied}, nil
}

// Restore implements raft.FSM: it replaces the state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s snapshotFile
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = s.Data
	f.applied = s.Applied
	return nil
}

type snapshotFile struct {
	Applied uint64            `json:"applied"`
	Data    map[string]string `json:"data"`
}

type snapshot struct {
	data    map[string]string
	applied uint64
}

// Persist implements raft.FSMSnapshot.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(snapshotFile{Applied: s.applied, Data: s.data}); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("close snapshot: %w", err)
	}
	return nil
}

// Release implements raft.FSMSnapshot.
func (s *snapshot) Release() {}
