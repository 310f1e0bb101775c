package engine

import (
	"sync/atomic"
	"time"
)

// NodeTime is the time a session spent in one node over the runs since it
// was compiled with Options.Profile (or since ResetProfile).
type NodeTime struct {
	Node  string // the node's name, or its output's when it has none
	Op    string // domain-qualified op type
	Calls int64
	Total time.Duration
}

// stepTime accumulates one step's time; concurrent runs add atomically.
type stepTime struct {
	ns, calls atomic.Int64
}

func (t *stepTime) add(d time.Duration) {
	t.ns.Add(int64(d))
	t.calls.Add(1)
}

// Profile returns the time spent in each node of the main graph, in
// execution order, or nil when the session was not compiled with
// Options.Profile. Time in a node includes its subgraphs and the wait for
// its threads; under concurrent runs the totals add up across runs.
func (s *Session) Profile() []NodeTime {
	p := s.main
	if p.prof == nil {
		return nil
	}
	out := make([]NodeTime, len(p.steps))
	for i := range p.steps {
		n := p.steps[i].node
		name := n.Name
		if name == "" && len(n.Outputs) > 0 {
			name = n.Outputs[0]
		}
		op := n.OpType
		if n.Domain != "" {
			op = n.Domain + "." + op
		}
		out[i] = NodeTime{Node: name, Op: op, Calls: p.prof[i].calls.Load(), Total: time.Duration(p.prof[i].ns.Load())}
	}
	return out
}

// ResetProfile zeroes the profile, so that warm-up runs can be left out.
func (s *Session) ResetProfile() {
	for i := range s.main.prof {
		s.main.prof[i].ns.Store(0)
		s.main.prof[i].calls.Store(0)
	}
}
