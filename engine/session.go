package engine

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/tensor"
)

// Session is a compiled model ready to run. It is safe for concurrent use.
type Session struct {
	model   *ir.Model
	main    *plan
	pool    *parallel.Pool
	threads int
	inputs  []*ir.ValueInfo
	outputs []*ir.ValueInfo
}

// Inputs returns the graph inputs a caller supplies (initializers excluded).
func (s *Session) Inputs() []*ir.ValueInfo { return s.inputs }

// Outputs returns the graph outputs, in order.
func (s *Session) Outputs() []*ir.ValueInfo { return s.outputs }

// Model returns the model the session was compiled from.
func (s *Session) Model() *ir.Model { return s.model }

// Threads returns the intra-op thread count.
func (s *Session) Threads() int { return s.threads }

// Close releases the session's threads. Run must not be called after.
func (s *Session) Close() { s.pool.Close() }

// Run evaluates the model on tensor inputs keyed by graph input name and
// returns every graph output by name. Every non-initializer input must be
// given, with the declared element type and a shape that matches the
// declared one. The returned tensors belong to the caller.
func (s *Session) Run(ctx context.Context, inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	vals := make(map[string]any, len(inputs))
	for k, v := range inputs {
		vals[k] = v
	}
	out, err := s.RunValues(ctx, vals)
	if err != nil {
		return nil, err
	}
	res := make(map[string]*tensor.Tensor, len(out))
	for k, v := range out {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("engine: output %q is a %T, not a tensor: use RunValues", k, v)
		}
		res[k] = t
	}
	return res, nil
}

// RunValues is Run for models whose inputs or outputs are sequences or
// optionals: values are *tensor.Tensor, *tensor.Sequence or *tensor.Optional.
func (s *Session) RunValues(ctx context.Context, inputs map[string]any) (map[string]any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	known := map[string]bool{}
	for _, in := range s.model.Graph.Inputs {
		known[in.Name] = true
	}
	for name := range inputs {
		if !known[name] {
			return nil, fmt.Errorf("engine: unknown input %q (the model's inputs are %s)", name, names(s.inputs))
		}
	}
	args := make([]any, len(s.model.Graph.Inputs))
	for i, in := range s.model.Graph.Inputs {
		v, ok := inputs[in.Name]
		if !ok || v == nil {
			if init := s.model.Graph.Initializer(in.Name); init != nil {
				args[i] = init.Tensor
				continue
			}
			return nil, fmt.Errorf("engine: missing input %q (%v)", in.Name, in.Type)
		}
		if err := checkValue(in, v); err != nil {
			return nil, fmt.Errorf("engine: input %q: %w", in.Name, err)
		}
		args[i] = v
	}
	kc := &kernels.Context{Ctx: ctx, Par: s.pool.For}
	out, err := s.main.run(kc, args)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	res := make(map[string]any, len(out))
	for i, o := range s.outputs {
		res[o.Name] = out[i]
	}
	return res, nil
}

func names(vis []*ir.ValueInfo) string {
	s := ""
	for i, v := range vis {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", v.Name)
	}
	return s
}

// checkValue checks v against a declared graph input type.
func checkValue(vi *ir.ValueInfo, v any) error {
	want := vi.Type
	switch x := v.(type) {
	case *tensor.Tensor:
		if err := x.Validate(); err != nil {
			return err
		}
		if want.Kind != ir.TensorKind && want.Kind != ir.UnknownKind {
			return fmt.Errorf("got a tensor, want %v", want)
		}
		if want.Kind == ir.UnknownKind {
			return nil
		}
		if want.DType != tensor.Undefined && x.DType != want.DType {
			return fmt.Errorf("got element type %v, want %v", x.DType, want.DType)
		}
		if want.Shape != nil {
			if len(want.Shape) != len(x.Shape) {
				return fmt.Errorf("got shape %v (rank %d), want %v (rank %d)", tensor.ShapeString(x.Shape), len(x.Shape), want.Shape, len(want.Shape))
			}
			for i, d := range want.Shape {
				if d.Known() && int64(x.Shape[i]) != d.Value {
					return fmt.Errorf("got shape %v, want %v: dimension %d is %d, want %d", tensor.ShapeString(x.Shape), want.Shape, i, x.Shape[i], d.Value)
				}
			}
		}
	case *tensor.Sequence:
		if want.Kind != ir.SequenceKind && want.Kind != ir.UnknownKind {
			return fmt.Errorf("got a sequence, want %v", want)
		}
		for i, t := range x.Tensors {
			if err := t.Validate(); err != nil {
				return fmt.Errorf("sequence element %d: %w", i, err)
			}
		}
	case *tensor.Optional:
		if want.Kind != ir.OptionalKind && want.Kind != ir.UnknownKind {
			return fmt.Errorf("got an optional, want %v", want)
		}
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	return nil
}

// run evaluates p on args (one per formal input).
func (p *plan) run(kc *kernels.Context, args []any) (out []any, err error) {
	frame := make([]any, p.nslots)
	for _, c := range p.consts {
		frame[c.slot] = c.val
	}
	for i, s := range p.inputs {
		frame[s] = args[i]
	}
	for _, o := range p.outer {
		v, ok := kc.Scope(o.name)
		if !ok {
			return nil, fmt.Errorf("graph %q: outer value %q not found", p.name, o.name)
		}
		frame[o.slot] = v
	}
	var cur *ir.Node
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("node %s: kernel panicked: %v\n%s", cur, r, debug.Stack())
		}
	}()
	tin := make([]*tensor.Tensor, 0, 8)
	vin := make([]any, 0, 8)
	for i := range p.steps {
		st := &p.steps[i]
		cur = st.node
		if err := kc.Ctx.Err(); err != nil {
			return nil, err
		}
		c := kc
		if st.scoped {
			parent := kc.Scope
			c = &kernels.Context{Ctx: kc.Ctx, Par: kc.Par, Scope: func(name string) (any, bool) {
				if s, ok := p.slotOf[name]; ok && frame[s] != nil {
					return frame[s], true
				}
				if parent != nil {
					return parent(name)
				}
				return nil, false
			}}
		}
		var outs []any
		if st.vk != nil {
			vin = vin[:0]
			for _, s := range st.in {
				if s < 0 {
					vin = append(vin, nil)
				} else {
					vin = append(vin, frame[s])
				}
			}
			outs, err = st.vk.RunValues(c, vin)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", st.node, err)
			}
		} else {
			tin = tin[:0]
			for k, s := range st.in {
				if s < 0 || frame[s] == nil {
					tin = append(tin, nil)
					continue
				}
				t, ok := frame[s].(*tensor.Tensor)
				if !ok {
					return nil, fmt.Errorf("node %s: input %q is a %T, want a tensor", st.node, st.node.Inputs[k], frame[s])
				}
				tin = append(tin, t)
			}
			touts, err := st.kernel.Run(c, tin)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", st.node, err)
			}
			outs = make([]any, len(touts))
			for k, t := range touts {
				if t != nil {
					outs[k] = t
				}
			}
		}
		if len(outs) < len(st.out) {
			for k := len(outs); k < len(st.out); k++ {
				if st.out[k] >= 0 {
					return nil, fmt.Errorf("node %s: kernel returned %d outputs, want %d", st.node, len(outs), len(st.out))
				}
			}
		}
		for k, s := range st.out {
			if s >= 0 {
				frame[s] = outs[k]
			}
		}
		for _, s := range st.free {
			frame[s] = nil
		}
	}
	out = make([]any, len(p.outputs))
	for i, s := range p.outputs {
		out[i] = frame[s]
		if out[i] == nil {
			return nil, fmt.Errorf("graph %q: output %d was not computed", p.name, i)
		}
	}
	return out, nil
}

// subgraph adapts a compiled subgraph plan to kernels.Subgraph.
type subgraph struct {
	p *plan
	g *ir.Graph
}

func (s *subgraph) NumInputs() int  { return len(s.p.inputs) }
func (s *subgraph) NumOutputs() int { return len(s.p.outputs) }

func (s *subgraph) Run(c *kernels.Context, in []any) ([]any, error) {
	if len(in) != len(s.p.inputs) {
		return nil, fmt.Errorf("subgraph %q takes %d inputs, got %d", s.g.Name, len(s.p.inputs), len(in))
	}
	return s.p.run(c, in)
}
