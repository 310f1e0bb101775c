// Package kernels holds inferd's operator registry and its CPU kernels, one
// file per op family (elementwise.go, conv.go, reduce.go, …).
//
// A kernel is built once per node at compile time by the Factory registered
// for its (domain, op type) and the node's opset version, then run many
// times, possibly from several goroutines at once: a Kernel must not keep
// per-run state in itself. Faster kernels for the same op register with a
// higher Priority and decline (ErrDecline) the nodes they do not handle, so
// callers never change when one is added.
package kernels
