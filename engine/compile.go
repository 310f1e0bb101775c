package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

// Options configure Compile. The zero value is ready to use.
type Options struct {
	// Threads is the intra-op thread count; 0 means runtime.GOMAXPROCS(0).
	Threads int
	// Registry supplies kernels; nil means kernels.Default.
	Registry *kernels.Registry
	// Optimize is the graph optimization Compile applies to a copy of the
	// model first (package optimize). The zero value, optimize.LevelDefault,
	// is optimize.LevelExtended (fused kernels included);
	// optimize.LevelNone compiles the model as given.
	Optimize optimize.Level
	// DisablePasses names optimizer passes not to run.
	DisablePasses []string
	// NoMemoryPlan keeps every kernel output in storage of its own
	// instead of sharing one slab by lifetime (for debugging the plan).
	NoMemoryPlan bool
	// Profile makes the session time every node of the main graph; read
	// the totals with Session.Profile. It costs two clock reads per node.
	Profile bool
	// RestAfterRun parks the intra-op workers as soon as a run returns,
	// where they would otherwise spin a while for the next loop. For
	// servers: between requests the network goroutines need those cores,
	// and a client in another process is slowed by the spinning.
	RestAfterRun bool
}

// ErrInvalidModel marks models that cannot be compiled as given.
var ErrInvalidModel = errors.New("invalid model")

// plan is a compiled graph: the main graph or a subgraph.
type plan struct {
	name    string
	nslots  int
	slotOf  map[string]int
	consts  []constSlot
	inputs  []int
	outputs []int
	outer   []outerRef
	steps   []step
	pool    *parallel.Pool
	prof    []stepTime // per step, when profiling
	// plannable: runs may record and follow a memory plan (off with
	// Options.NoMemoryPlan).
	plannable bool
}

type constSlot struct {
	slot int
	val  any
}

type outerRef struct {
	name string
	slot int
}

type step struct {
	node   *ir.Node
	kernel kernels.Kernel
	vk     kernels.ValueKernel
	in     []int // -1 for an omitted input
	out    []int // -1 for an omitted output
	free   []int // slots last used by this step
	scoped bool  // has subgraphs: needs Scope in its Context
}

type compiler struct {
	model *ir.Model
	reg   *kernels.Registry
	pool  *parallel.Pool
}

func (c *compiler) opset(domain string) int64 {
	if v := c.model.OpsetVersion(domain); v > 0 {
		return v
	}
	if ir.CanonicalDomain(domain) == "" {
		return 1
	}
	return 1
}

// compileGraph compiles g. outer reports names visible from enclosing
// graphs (nil for the main graph).
func (c *compiler) compileGraph(g *ir.Graph, outer func(string) bool) (*plan, error) {
	p := &plan{name: g.Name, slotOf: map[string]int{}, pool: c.pool}
	slot := func(name string) int {
		if s, ok := p.slotOf[name]; ok {
			return s
		}
		s := p.nslots
		p.nslots++
		p.slotOf[name] = s
		return s
	}
	types := map[string]ir.Type{}
	for _, vi := range g.ValueInfo {
		types[vi.Name] = vi.Type
	}
	constVal := map[string]*tensor.Tensor{}
	for _, in := range g.Initializers {
		if in.Tensor == nil {
			return nil, fmt.Errorf("initializer %q has no data: %w", in.Name, ErrInvalidModel)
		}
		if err := in.Tensor.Validate(); err != nil {
			return nil, fmt.Errorf("initializer %q: %w", in.Name, err)
		}
		p.consts = append(p.consts, constSlot{slot(in.Name), in.Tensor})
		constVal[in.Name] = in.Tensor
		types[in.Name] = ir.TensorType(in.Tensor.DType, ir.ShapeOf(in.Tensor.Shape...))
	}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return nil, fmt.Errorf("graph %q has an input with no name: %w", g.Name, ErrInvalidModel)
		}
		p.inputs = append(p.inputs, slot(in.Name))
		types[in.Name] = in.Type
		// An input that is also an initializer may be overridden by the
		// caller; it is not a constant for kernel building.
		delete(constVal, in.Name)
	}
	for _, o := range g.Outputs {
		types[o.Name] = o.Type
	}
	order, err := ir.TopoSort(g, outer)
	if err != nil {
		return nil, fmt.Errorf("graph %q: %w", g.Name, err)
	}
	defined := func(name string) bool {
		if _, ok := p.slotOf[name]; ok {
			return true
		}
		return outer != nil && outer(name)
	}
	for _, n := range order {
		st := step{node: n}
		for _, name := range n.Inputs {
			if name == "" {
				st.in = append(st.in, -1)
				continue
			}
			if _, ok := p.slotOf[name]; !ok {
				if outer == nil || !outer(name) {
					return nil, fmt.Errorf("node %s: input %q is not produced by any node: %w", n, name, ErrInvalidModel)
				}
				p.outer = append(p.outer, outerRef{name, slot(name)})
			}
			st.in = append(st.in, p.slotOf[name])
		}
		b := &kernels.Build{Node: n, Opset: c.opset(n.Domain)}
		for _, name := range n.Inputs {
			b.InputTypes = append(b.InputTypes, types[name])
		}
		for _, name := range n.Outputs {
			b.OutputTypes = append(b.OutputTypes, types[name])
		}
		b.Const = func(i int) *tensor.Tensor {
			if i < len(n.Inputs) {
				return constVal[n.Inputs[i]]
			}
			return nil
		}
		subs := n.Subgraphs()
		if len(subs) > 0 {
			st.scoped = true
			for _, sg := range subs {
				for _, fv := range ir.FreeVars(sg) {
					if _, ok := p.slotOf[fv]; ok {
						continue
					}
					if outer == nil || !outer(fv) {
						return nil, fmt.Errorf("node %s: subgraph %q reads %q, which is not defined before it: %w", n, sg.Name, fv, ErrInvalidModel)
					}
					p.outer = append(p.outer, outerRef{fv, slot(fv)})
				}
			}
			b.Compile = func(sg *ir.Graph) (kernels.Subgraph, error) {
				sp, err := c.compileGraph(sg, defined)
				if err != nil {
					return nil, err
				}
				return &subgraph{p: sp, g: sg}, nil
			}
		}
		k, err := buildKernel(c.reg, b)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n, err)
		}
		if vk, ok := k.(kernels.ValueKernel); ok {
			st.vk = vk
		} else {
			st.kernel = k.(kernels.Kernel)
		}
		for _, name := range n.Outputs {
			if name == "" {
				st.out = append(st.out, -1)
				continue
			}
			st.out = append(st.out, slot(name))
		}
		if n.OpType == "Constant" && ir.CanonicalDomain(n.Domain) == "" && len(n.Outputs) == 1 {
			if t, err := evalConstant(st.kernel); err == nil {
				constVal[n.Outputs[0]] = t
			}
		}
		p.steps = append(p.steps, st)
	}
	for _, o := range g.Outputs {
		s, ok := p.slotOf[o.Name]
		if !ok {
			if outer == nil || !outer(o.Name) {
				return nil, fmt.Errorf("graph %q: output %q is not produced by any node: %w", g.Name, o.Name, ErrInvalidModel)
			}
			s = slot(o.Name)
			p.outer = append(p.outer, outerRef{o.Name, s})
		}
		p.outputs = append(p.outputs, s)
	}
	p.planFrees(g)
	return p, nil
}

func evalConstant(k kernels.Kernel) (*tensor.Tensor, error) {
	if k == nil {
		return nil, errors.New("no kernel")
	}
	out, err := k.Run(&kernels.Context{}, nil)
	if err != nil || len(out) != 1 {
		return nil, errors.New("constant did not evaluate")
	}
	return out[0], nil
}

// planFrees records, for each step, the slots whose value is not needed
// after it, so Run can drop them and let memory be reused.
func (p *plan) planFrees(g *ir.Graph) {
	keep := make([]bool, p.nslots)
	for _, s := range p.outputs {
		keep[s] = true
	}
	last := make([]int, p.nslots)
	for i := range last {
		last[i] = -1
	}
	for i, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 {
				last[s] = i
			}
		}
		for _, sg := range st.node.Subgraphs() {
			for _, fv := range ir.FreeVars(sg) {
				if s, ok := p.slotOf[fv]; ok {
					last[s] = i
				}
			}
		}
		for _, s := range st.out {
			if s >= 0 && last[s] < i {
				last[s] = i // unused outputs die right away
			}
		}
	}
	for s, i := range last {
		if i >= 0 && !keep[s] {
			p.steps[i].free = append(p.steps[i].free, s)
		}
	}
}

// Compile builds a Session for m.
func Compile(m *ir.Model, opts Options) (*Session, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("engine: model has no graph: %w", ErrInvalidModel)
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("engine: Threads = %d, want ≥ 0", opts.Threads)
	}
	if opts.Threads == 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	reg := opts.Registry
	if reg == nil {
		reg = kernels.Default
	}
	m, err := inlineFunctions(m)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if opts.Optimize != optimize.LevelNone {
		m = optimize.Clone(m)
		_, err := optimize.Run(context.Background(), m, optimize.Options{Level: opts.Optimize,
			Disable: opts.DisablePasses, Evaluator: Evaluator{Registry: reg}})
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	c := &compiler{model: m, reg: reg, pool: parallel.New(opts.Threads)}
	p, err := c.compileGraph(m.Graph, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if opts.Profile {
		p.prof = make([]stepTime, len(p.steps))
	}
	p.plannable = !opts.NoMemoryPlan
	s := &Session{model: m, main: p, pool: c.pool, threads: opts.Threads, par: c.pool.For, rest: opts.RestAfterRun}
	init := map[string]bool{}
	for _, in := range m.Graph.Initializers {
		init[in.Name] = true
	}
	for _, in := range m.Graph.Inputs {
		if !init[in.Name] {
			s.inputs = append(s.inputs, in)
		}
	}
	s.outputs = m.Graph.Outputs
	return s, nil
}

// buildKernel asks the registry for n's kernel, turning a factory panic
// (a bug, but one a malformed model must not turn into a crash) into an error.
func buildKernel(reg *kernels.Registry, b *kernels.Build) (k any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("building kernel panicked: %v", r)
		}
	}()
	return reg.Build(b)
}

// Evaluator runs single nodes on constant inputs with the engine's kernels:
// the optimizer's constant folding uses it (it satisfies
// optimize.Evaluator). The zero value uses kernels.Default. It is safe for
// concurrent use.
type Evaluator struct {
	Registry *kernels.Registry
}

// Evaluate compiles n alone, with its inputs as initializers, and runs it
// once on one thread.
func (e Evaluator) Evaluate(ctx context.Context, n *ir.Node, opsets []ir.OpsetImport, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	g := &ir.Graph{Name: "evaluate"}
	seen := map[string]bool{}
	for i, name := range n.Inputs {
		if name == "" || seen[name] {
			continue
		}
		if i >= len(inputs) || inputs[i] == nil {
			return nil, fmt.Errorf("engine: evaluate %s: input %q has no value", n, name)
		}
		seen[name] = true
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: name, Tensor: inputs[i]})
	}
	node := *n
	g.Nodes = []*ir.Node{&node}
	for _, o := range n.Outputs {
		if o != "" {
			g.Outputs = append(g.Outputs, &ir.ValueInfo{Name: o})
		}
	}
	m := &ir.Model{IRVersion: 8, Opsets: opsets, Graph: g}
	s, err := Compile(m, Options{Threads: 1, Registry: e.Registry, Optimize: optimize.LevelNone})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res, err := s.Run(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*tensor.Tensor, len(n.Outputs))
	for i, o := range n.Outputs {
		if o != "" {
			out[i] = res[o]
		}
	}
	return out, nil
}
