// Package raftnode runs real hashicorp/raft servers in one process for the
// raftcluster example: a key/value FSM driven by "set key value" commands,
// nodes with durable bolt log/stable stores, a file snapshot store and a TCP
// transport on 127.0.0.1, and a client that writes continuously to the
// leader and records every acknowledged write.
//
// A node restarted with the same data directory keeps its log, term, vote
// and snapshots; an AddressBook shared by the nodes resolves peers that
// came back on another port.
//
// # Usage
//
//	n, err := raftnode.Start(raftnode.Config{ID: "n0", Dir: dir, Version: "1.0.0"})
//	if err != nil { ... }
//	defer n.Shutdown()
//	_ = n.Bootstrap([]raft.Server{n.Server()})
//
//	w := raftnode.NewWriter(func() *raftnode.Node { return n }, raftnode.WriterConfig{MaxWrites: 100})
//	_ = w.Run(ctx) // stops by itself
//	lost := raftnode.Verify(n.FSM, w.Acks())
package raftnode
