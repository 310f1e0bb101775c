package kernels

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/inferd/inferd/ir"
)

// Spec registers one kernel implementation.
type Spec struct {
	Domain string
	Op     string
	// Since is the first opset version of Domain this kernel handles (0
	// or 1: all); Until, if nonzero, the last.
	Since, Until int64
	// Priority orders kernels for the same op: higher is tried first.
	Priority int
	New      Factory
}

// Registry maps (domain, op) to kernel implementations. It is filled
// during init and read-only after, so lookups need no lock.
type Registry struct {
	mu    sync.Mutex
	specs map[opKey][]Spec
}

type opKey struct{ domain, op string }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[opKey][]Spec{}} }

// Default is the registry holding every kernel in this package.
var Default = NewRegistry()

// Register adds s. Registering is meant for init time.
func (r *Registry) Register(s Spec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := opKey{ir.CanonicalDomain(s.Domain), s.Op}
	list := append(r.specs[k], s)
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Priority != list[j].Priority {
			return list[i].Priority > list[j].Priority
		}
		return list[i].Since > list[j].Since
	})
	r.specs[k] = list
}

// register adds kernels to Default for ops of the ai.onnx domain.
func register(op string, f Factory) { Default.Register(Spec{Op: op, New: f}) }

// Supports reports whether some kernel is registered for op at opset.
func (r *Registry) Supports(domain, op string, opset int64) bool {
	for _, s := range r.specs[opKey{ir.CanonicalDomain(domain), op}] {
		if s.covers(opset) {
			return true
		}
	}
	return false
}

func (s Spec) covers(v int64) bool {
	return (s.Since <= 1 || v >= s.Since) && (s.Until == 0 || v <= s.Until)
}

// Ops lists the registered (domain, op) pairs, sorted.
func (r *Registry) Ops() []string {
	var out []string
	for k := range r.specs {
		name := k.op
		if k.domain != "" {
			name = k.domain + "." + k.op
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Build picks and builds the kernel for b.Node, trying registered kernels in
// priority order. The result is a Kernel or a ValueKernel.
func (r *Registry) Build(b *Build) (any, error) {
	n := b.Node
	list := r.specs[opKey{ir.CanonicalDomain(n.Domain), n.OpType}]
	if len(list) == 0 {
		return nil, fmt.Errorf("op %s: %w", opName(n), ErrUnsupported)
	}
	tried := false
	for _, s := range list {
		if !s.covers(b.Opset) {
			continue
		}
		tried = true
		k, err := s.New(b)
		if errors.Is(err, ErrDecline) {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case Kernel, ValueKernel:
			return k, nil
		}
		return nil, fmt.Errorf("op %s: factory returned %T, not a kernel", opName(n), k)
	}
	if !tried {
		return nil, fmt.Errorf("op %s at opset %d: %w", opName(n), b.Opset, ErrUnsupported)
	}
	return nil, fmt.Errorf("op %s with these inputs: %w", opName(n), ErrUnsupported)
}

func opName(n *ir.Node) string {
	if d := ir.CanonicalDomain(n.Domain); d != "" {
		return d + "." + n.OpType
	}
	return n.OpType
}
