package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

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
	// idle holds run states between runs. A plain list, not a sync.Pool:
	// a pool is emptied by every garbage collection, and each state's
	// arena would then be allocated again.
	mu   sync.Mutex
	idle []*runState
	par  func(n int, fn func(lo, hi int))
	rest bool // Options.RestAfterRun
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

// Instance returns a session that shares s's compiled graph (its kernels
// and packed weights, the bulk of a model's memory) but runs on threads of
// its own: a server's instances of one model cost one copy of the weights.
// threads ≤ 0 means runtime.GOMAXPROCS(0). Each instance is closed on its
// own; closing one leaves the others running.
func (s *Session) Instance(threads int) *Session {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	pool := parallel.New(threads)
	return &Session{model: s.model, main: s.main, pool: pool, threads: threads,
		inputs: s.inputs, outputs: s.outputs, par: pool.For, rest: s.rest}
}

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
	st := s.getState()
	defer s.putState(st)
	st.ctx = kernels.Context{Ctx: ctx, Par: s.par, Pool: s.pool, Threads: s.threads, Arena: st.arena}
	out, err := s.runMain(st, args)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	res := make(map[string]any, len(out))
	for i, o := range s.outputs {
		res[o.Name] = out[i]
		forgetValue(st.arena, out[i])
	}
	return res, nil
}

// RunInto is the allocation-free form of Run for tensor models: in holds
// one tensor per input of Inputs(), in order, and out one entry per output
// of Outputs(). An out entry that is a tensor of the result's type and
// shape receives a copy of the result; any other entry (nil, say) is
// replaced by a new tensor that belongs to the caller. After a first call,
// a model with static shapes that is run again with the same out tensors
// allocates nothing.
func (s *Session) RunInto(ctx context.Context, in, out []*tensor.Tensor) error {
	if len(in) != len(s.inputs) || len(out) != len(s.outputs) {
		return fmt.Errorf("engine: RunInto got %d inputs and %d outputs, the model has %d and %d", len(in), len(out), len(s.inputs), len(s.outputs))
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st := s.getState()
	defer s.putState(st)
	k := 0
	for i, gi := range s.model.Graph.Inputs {
		if k < len(s.inputs) && s.inputs[k] == gi {
			if in[k] == nil {
				return fmt.Errorf("engine: missing input %q (%v)", gi.Name, gi.Type)
			}
			if err := checkValue(gi, in[k]); err != nil {
				return fmt.Errorf("engine: input %q: %w", gi.Name, err)
			}
			st.args[i] = in[k]
			k++
			continue
		}
		st.args[i] = s.model.Graph.Initializer(gi.Name).Tensor
	}
	st.ctx = kernels.Context{Ctx: ctx, Par: s.par, Pool: s.pool, Threads: s.threads, Arena: st.arena}
	res, err := s.runMain(st, st.args)
	clear(st.args)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	for i, v := range res {
		t, ok := v.(*tensor.Tensor)
		if !ok {
			return fmt.Errorf("engine: output %q is a %T, not a tensor: use RunValues", s.outputs[i].Name, v)
		}
		if o := out[i]; o != nil && o.DType == t.DType && tensor.EqualShapes(o.Shape, t.Shape) && o.DType != tensor.String && tensor.SliceLen(o.Data) == t.Len() {
			tensor.CopySlice(o.Data, t.Data)
			continue
		}
		out[i] = t
		forgetValue(st.arena, t)
	}
	return nil
}

// runState is the memory one Run uses: the value frame, scratch slices,
// the kernel Context and the Arena that recycles kernel outputs. States are
// pooled, so a session run again and again reuses them.
type runState struct {
	frame   []any
	args    []any
	out     []any
	tin     []*tensor.Tensor
	vin     []any
	ctx     kernels.Context
	arena   *kernels.Arena
	scratch kernels.Scratch
	vout    []*tensor.Tensor // a value kernel's tensor outputs, for the plan
	// rec records the first run for the memory plan; chk checks later
	// runs against it (nil: no plan).
	rec      *memRec
	chk      *memRec
	recorded bool
}

// followPlan records step i's outputs on a recording run, or checks them
// against the memory plan on a planned one; false: the run left the plan.
func (st *runState) followPlan(i int, step *step, a *kernels.Arena, outs []*tensor.Tensor) bool {
	switch {
	case st.rec != nil:
		st.rec.afterStep(i, step, a, outs, !step.scoped)
	case st.chk != nil:
		return st.chk.matches(i, a, outs)
	}
	return true
}

// runMain runs the main plan on st, recording the first run for the
// memory plan and placing the arena after it, and rerunning without the
// plan a run that strays from it.
func (s *Session) runMain(st *runState, args []any) ([]any, error) {
	st.scratch.Reset()
	st.ctx.Scratch = &st.scratch
	if !st.recorded && st.arena != nil && !st.arena.NoPlan && s.main.plannable {
		st.rec = newMemRec(s.main)
	}
	out, err := s.main.run(&st.ctx, args, st)
	if errors.Is(err, errReplan) {
		st.arena.Unplan()
		st.chk = nil
		out, err = s.main.run(&st.ctx, args, st)
	}
	if st.rec != nil {
		if err == nil && st.rec.place(st.arena, len(s.main.steps)) {
			st.chk = st.rec
		}
		st.rec, st.recorded = nil, true
	}
	return out, err
}

func (s *Session) getState() *runState {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		st := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return st
	}
	s.mu.Unlock()
	return &runState{
		frame: make([]any, s.main.nslots),
		args:  make([]any, len(s.model.Graph.Inputs)),
		out:   make([]any, len(s.main.outputs)),
		tin:   make([]*tensor.Tensor, 0, 16),
		vin:   make([]any, 0, 16),
		arena: kernels.NewArena(len(s.main.steps)),
	}
}

func (s *Session) putState(st *runState) {
	clear(st.frame)
	clear(st.out)
	st.ctx = kernels.Context{}
	s.mu.Lock()
	if len(s.idle) < maxIdleStates {
		s.idle = append(s.idle, st)
	}
	s.mu.Unlock()
	if s.rest {
		s.pool.Rest()
	}
}

// maxIdleStates bounds the run states a session keeps for reuse; runs
// beyond that many at once get a fresh state that is dropped afterwards.
var maxIdleStates = max(4, runtime.GOMAXPROCS(0))

// ArenaBytes returns the storage held for recycling by one idle run state
// (after a run: the sum of the sizes of the tensors the kernels allocated).
func (s *Session) ArenaBytes() int64 {
	st := s.getState()
	defer s.putState(st)
	return st.arena.Bytes()
}

// forgetValue keeps the arena from recycling storage a value handed to
// the caller uses.
func forgetValue(a *kernels.Arena, v any) {
	switch x := v.(type) {
	case *tensor.Tensor:
		a.Forget(x)
	case *tensor.Sequence:
		for _, t := range x.Tensors {
			a.Forget(t)
		}
	case *tensor.Optional:
		forgetValue(a, x.Value)
	}
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

// run evaluates p on args (one per formal input). st, when not nil, is
// the main graph's pooled run state: it supplies the frame and scratch
// space, and its arena recycles the outputs of steps; subgraphs run with a
// nil st and allocate, since their steps may run many times per run.
func (p *plan) run(kc *kernels.Context, args []any, st *runState) (out []any, err error) {
	var frame, vin []any
	var tin []*tensor.Tensor
	if st != nil {
		frame, tin, vin, out = st.frame, st.tin[:0], st.vin[:0], st.out
	} else {
		frame, tin, vin, out = make([]any, p.nslots), make([]*tensor.Tensor, 0, 8), make([]any, 0, 8), make([]any, len(p.outputs))
	}
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
	var t0 time.Time
	for i := range p.steps {
		step := &p.steps[i]
		cur = step.node
		if err := kc.Ctx.Err(); err != nil {
			return nil, err
		}
		if p.prof != nil {
			if i > 0 {
				p.prof[i-1].add(time.Since(t0))
			}
			t0 = time.Now()
		}
		c := kc
		if step.scoped {
			c = &kernels.Context{Ctx: kc.Ctx, Par: kc.Par, Pool: kc.Pool, Threads: kc.Threads, Scope: p.scope(frame, kc.Scope)}
		} else if c.Arena != nil {
			c.Arena.Begin(i)
		}
		if step.vk != nil {
			vin = vin[:0]
			for _, s := range step.in {
				if s < 0 {
					vin = append(vin, nil)
				} else {
					vin = append(vin, frame[s])
				}
			}
			outs, err := step.vk.RunValues(c, vin)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", step.node, err)
			}
			if st != nil && (st.rec != nil || st.chk != nil) {
				st.vout = st.vout[:0]
				for _, o := range outs {
					t, ok := o.(*tensor.Tensor)
					if !ok && o != nil && st.rec != nil {
						st.rec.ok = false
					} else if !ok && o != nil {
						return nil, errReplan
					}
					st.vout = append(st.vout, t)
				}
				if !st.followPlan(i, step, kc.Arena, st.vout) {
					return nil, errReplan
				}
			}
			if err := checkOutCount(step, len(outs)); err != nil {
				return nil, err
			}
			for k, s := range step.out {
				if s >= 0 {
					frame[s] = outs[k]
				}
			}
		} else {
			tin = tin[:0]
			for k, s := range step.in {
				if s < 0 || frame[s] == nil {
					tin = append(tin, nil)
					continue
				}
				t, ok := frame[s].(*tensor.Tensor)
				if !ok {
					return nil, fmt.Errorf("node %s: input %q is a %T, want a tensor", step.node, step.node.Inputs[k], frame[s])
				}
				tin = append(tin, t)
			}
			touts, err := step.kernel.Run(c, tin)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", step.node, err)
			}
			if err := checkOutCount(step, len(touts)); err != nil {
				return nil, err
			}
			if st != nil && !st.followPlan(i, step, kc.Arena, touts) {
				return nil, errReplan
			}
			for k, s := range step.out {
				if s < 0 {
					continue
				}
				if t := touts[k]; t != nil {
					frame[s] = t
				} else {
					frame[s] = nil
				}
			}
		}
		for _, s := range step.free {
			frame[s] = nil
			if st != nil && st.rec != nil {
				st.rec.free(i, s)
			}
		}
	}
	if p.prof != nil && len(p.steps) > 0 {
		p.prof[len(p.steps)-1].add(time.Since(t0))
	}
	for i, s := range p.outputs {
		out[i] = frame[s]
		if out[i] == nil {
			return nil, fmt.Errorf("graph %q: output %d was not computed", p.name, i)
		}
	}
	if st != nil {
		st.tin, st.vin = tin, vin
	}
	return out, nil
}

// scope resolves names for the subgraphs of a step: this plan's values
// first, then the enclosing scopes'.
func (p *plan) scope(frame []any, parent func(string) (any, bool)) func(string) (any, bool) {
	return func(name string) (any, bool) {
		if s, ok := p.slotOf[name]; ok && frame[s] != nil {
			return frame[s], true
		}
		if parent != nil {
			return parent(name)
		}
		return nil, false
	}
}

// checkOutCount checks that a kernel returned a value for every output
// the node names.
func checkOutCount(step *step, n int) error {
	for k := n; k < len(step.out); k++ {
		if step.out[k] >= 0 {
			return fmt.Errorf("node %s: kernel returned %d outputs, want %d", step.node, n, len(step.out))
		}
	}
	return nil
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
	return s.p.run(c, in, nil)
}
