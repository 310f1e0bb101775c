package ir

import "fmt"

// Error is one problem Verify or InferShapes found in a graph: a value
// used before it is produced, a node whose inputs do not fit its operator
// (a broadcast conflict, an inner dimension mismatch, a bad constant shape
// argument), a declared type that contradicts the inferred one.
type Error struct {
	// Graph is the name of the graph (or function) the problem is in.
	Graph string
	// Node is the node at fault, or nil for a problem of the graph itself.
	Node *Node
	// Msg describes the problem, naming the values and shapes involved.
	Msg string
}

// Error formats e as `node "name" (OpType): msg`, or
// `graph "name": msg` when no node is at fault.
func (e *Error) Error() string {
	if e.Node != nil {
		return "node " + e.Node.String() + ": " + e.Msg
	}
	return fmt.Sprintf("graph %q: %s", e.Graph, e.Msg)
}

// maxDepth bounds the nesting of subgraphs and function calls that Verify
// and InferShapes follow, so that a recursive function cannot hang them.
const maxDepth = 64
