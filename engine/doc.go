// Package engine compiles an ir.Model into a Session and runs it: one
// kernel per node chosen from the kernel registry, values kept in slots
// released after their last use, and an intra-op thread pool. A Session is
// safe for concurrent Run calls.
package engine
