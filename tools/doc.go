// Package tools pins the code generators raftshift runs (controller-gen)
// through tool directives in its own module, so that no library module
// requires them. Run them from the repository root, where go.work makes the
// library packages visible:
//
//	go generate ./... ./adapters/kubernetes/...
package tools
