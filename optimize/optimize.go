package optimize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Level selects which passes run.
type Level int8

// The levels. The zero value, LevelDefault, means LevelExtended, so that a
// zero Options (and engine.Options) optimizes fully.
const (
	LevelDefault Level = iota
	// LevelNone runs no pass.
	LevelNone
	// LevelBasic runs the portable passes: the result uses only standard
	// ONNX operators at the model's opsets, so any ONNX runtime loads it.
	LevelBasic
	// LevelExtended adds fusions into inferd's own operators of domain
	// ai.inferd (optimize/FUSED_OPS.md), which only inferd runs.
	LevelExtended
)

// ParseLevel reads a level name: none, basic or extended.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "none", "disabled", "off":
		return LevelNone, nil
	case "basic":
		return LevelBasic, nil
	case "extended", "all", "":
		return LevelExtended, nil
	}
	return 0, fmt.Errorf("optimize: unknown level %q (want none, basic or extended)", s)
}

func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelBasic:
		return "basic"
	case LevelDefault, LevelExtended:
		return "extended"
	}
	return fmt.Sprintf("Level(%d)", int8(l))
}

func (l Level) effective() Level {
	if l == LevelDefault {
		return LevelExtended
	}
	return l
}

// DefaultFoldLimit is the largest tensor, in bytes, that constant folding
// creates when the result is larger than the constants it replaces. Folding
// a Tile, Expand or ConstantOfShape of a small input into a big initializer
// would make the model bigger and its loading slower for nothing: such
// nodes stay, and run (cheaply) at run time. A folded result that is no
// larger than the constant inputs it consumes (a transposed weight, a
// reshaped one) is always allowed.
const DefaultFoldLimit = 64 << 10

// Options configure Run. The zero value runs every pass of LevelExtended
// and folds constants only where no operator needs evaluating.
type Options struct {
	Level Level
	// Disable names passes not to run; Enable names passes to run although
	// the level does not include them. Unknown names are an error.
	Disable, Enable []string
	// Evaluator runs nodes whose inputs are all constant, for constant
	// folding; nil folds only Constant nodes and shape computations.
	Evaluator Evaluator
	// FoldLimit overrides DefaultFoldLimit when positive.
	FoldLimit int64
	// MaxRounds bounds the fixed-point iteration (default 10).
	MaxRounds int
	// Verify checks the model after every pass and fails on the first pass
	// that leaves it invalid (for tests; it costs time).
	Verify bool
}

func (o *Options) foldLimit() int64 {
	if o.FoldLimit > 0 {
		return o.FoldLimit
	}
	return DefaultFoldLimit
}

// Evaluator computes one node's outputs from constant inputs; constant
// folding uses it to run any operator. The node's inputs are given in
// order (nil for an omitted optional input); opsets are the model's opset
// imports. Implementations must not keep or modify the inputs. package
// engine provides one.
type Evaluator interface {
	Evaluate(ctx context.Context, n *ir.Node, opsets []ir.OpsetImport, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// EvaluatorFunc adapts a function to Evaluator.
type EvaluatorFunc func(ctx context.Context, n *ir.Node, opsets []ir.OpsetImport, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)

// Evaluate calls f.
func (f EvaluatorFunc) Evaluate(ctx context.Context, n *ir.Node, opsets []ir.OpsetImport, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return f(ctx, n, opsets, inputs)
}

// Pass is a rewrite of a whole graph. Run returns whether it changed g. A
// pass that finds a pattern it cannot rewrite leaves it alone and returns
// no error; errors are for real failures (a cancelled context, a broken
// invariant). Run is called on the main graph and on every subgraph.
type Pass interface {
	Name() string
	Run(ctx context.Context, g *Graph) (changed bool, err error)
}

// Rule is a local rewrite anchored at one node. OpTypes lists the op types
// it anchors at ("Conv"; an op of another domain is written
// "ai.inferd.FusedConv"). Match makes the cheap checks, most selective first;
// Apply rewrites the graph around n and returns whether it did: like a
// Pass, a Rule declines (returns false, nil) rather than fails.
type Rule interface {
	Name() string
	OpTypes() []string
	Match(g *Graph, n *ir.Node) bool
	Apply(g *Graph, n *ir.Node) (changed bool, err error)
}

// Report says what Run did.
type Report struct {
	// Level is the level that ran.
	Level Level
	// Before and After count the main graph's nodes by op type (domain
	// qualified, "ai.inferd.FusedConv").
	Before, After map[string]int
	// Changes counts, per pass or rule name, the times it changed the
	// model; passes that changed nothing are absent.
	Changes map[string]int
	// Order lists the names in Changes in pipeline order.
	Order []string
	// Rounds is the number of passes over the pipeline.
	Rounds int
}

// NodesBefore and NodesAfter return the main graph's node counts.
func (r *Report) NodesBefore() int { return total(r.Before) }

// NodesAfter returns the main graph's node count after optimization.
func (r *Report) NodesAfter() int { return total(r.After) }

func total(h map[string]int) int {
	n := 0
	for _, v := range h {
		n += v
	}
	return n
}

// WriteTo prints the report: each pass that changed the graph, then the
// node count by op type before and after.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "level %s: %d nodes -> %d nodes in %d rounds\n", r.Level, r.NodesBefore(), r.NodesAfter(), r.Rounds)
	if len(r.Order) > 0 {
		b.WriteString("passes that changed the graph:\n")
		for _, name := range r.Order {
			fmt.Fprintf(&b, "  %-28s %d\n", name, r.Changes[name])
		}
	}
	ops := map[string]bool{}
	for k := range r.Before {
		ops[k] = true
	}
	for k := range r.After {
		ops[k] = true
	}
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, c := r.Before[names[i]]+r.After[names[i]], r.Before[names[j]]+r.After[names[j]]
		if a != c {
			return a > c
		}
		return names[i] < names[j]
	})
	fmt.Fprintf(&b, "%-36s %7s %7s\n", "op type", "before", "after")
	for _, k := range names {
		fmt.Fprintf(&b, "%-36s %7d %7d\n", k, r.Before[k], r.After[k])
	}
	fmt.Fprintf(&b, "%-36s %7d %7d\n", "total", r.NodesBefore(), r.NodesAfter())
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Histogram counts g's nodes by op type, domain qualified.
func Histogram(g *ir.Graph) map[string]int {
	h := map[string]int{}
	for _, n := range g.Nodes {
		h[opKey(n)]++
	}
	return h
}

func opKey(n *ir.Node) string {
	if d := ir.CanonicalDomain(n.Domain); d != "" {
		return d + "." + n.OpType
	}
	return n.OpType
}

// ErrUnknownPass is returned for a --disable or --enable name that is no
// pass.
var ErrUnknownPass = errors.New("optimize: unknown pass")

// Run optimizes m in place at opts.Level and reports what changed. The
// result is a valid model with the same inputs, outputs and results (within
// floating-point rounding); at LevelBasic it uses only the operators m
// already imports. Run stops at the first pass error and returns it with
// m possibly partly rewritten: callers who need the original keep a Clone.
func Run(ctx context.Context, m *ir.Model, opts Options) (*Report, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("optimize: model has no graph")
	}
	level := opts.Level.effective()
	rep := &Report{Level: level, Before: Histogram(m.Graph), Changes: map[string]int{}}
	steps, err := selectSteps(level, opts.Disable, opts.Enable)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		rep.After = Histogram(m.Graph)
		return rep, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st := newState(m, &opts)
	r := &runner{st: st, views: map[*ir.Graph]*Graph{}, rep: rep}
	maxRounds := opts.MaxRounds
	if maxRounds <= 0 {
		maxRounds = 10
	}
	for round := 0; round < maxRounds; round++ {
		rep.Rounds++
		changed, err := r.round(ctx, steps)
		if err != nil {
			return nil, err
		}
		if !changed {
			break
		}
	}
	if err := finish(m, st); err != nil {
		return nil, err
	}
	for _, s := range steps {
		if rep.Changes[s.name()] > 0 {
			rep.Order = append(rep.Order, s.name())
		}
	}
	rep.After = Histogram(m.Graph)
	return rep, nil
}

type runner struct {
	st    *state
	views map[*ir.Graph]*Graph
	rep   *Report
}

// view returns the (cached) view of g.
func (r *runner) view(g *ir.Graph, parent *Graph) *Graph {
	v := r.views[g]
	if v == nil {
		v = newGraph(g, r.st, parent)
		r.views[g] = v
	}
	return v
}

// graphs returns the views of the main graph and every subgraph, outer
// graphs first.
func (r *runner) graphs() []*Graph {
	var out []*Graph
	var walk func(g *ir.Graph, parent *Graph)
	walk = func(g *ir.Graph, parent *Graph) {
		v := r.view(g, parent)
		out = append(out, v)
		for _, n := range g.Nodes {
			for _, sg := range n.Subgraphs() {
				walk(sg, v)
			}
		}
	}
	walk(r.st.model.Graph, nil)
	return out
}

// round runs every step once over every graph.
func (r *runner) round(ctx context.Context, steps []step) (bool, error) {
	any := false
	for i := 0; i < len(steps); {
		// Consecutive rules share one sweep over the nodes.
		j := i + 1
		if steps[i].rule != nil {
			for j < len(steps) && steps[j].rule != nil {
				j++
			}
		}
		for _, g := range r.graphs() {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			var changed bool
			var err error
			if steps[i].rule != nil {
				changed, err = r.sweep(g, steps[i:j])
			} else {
				changed, err = steps[i].pass.Run(ctx, g)
				if changed {
					r.rep.Changes[steps[i].pass.Name()]++
				}
			}
			if err != nil {
				return false, fmt.Errorf("optimize: %s: %w", steps[i].name(), err)
			}
			if changed {
				any = true
				g.commit()
				g.reindex()
				g.invalidate()
				// A rewrite may rename the values subgraphs capture: their
				// indexes are rebuilt too.
				for _, v := range r.views {
					if v.parent != nil && v != g {
						v.reindex()
						v.invalidate()
					}
				}
				if r.st.opts.Verify {
					if err := ir.Verify(r.st.model); err != nil {
						return false, fmt.Errorf("optimize: after %s: %w", steps[i].name(), err)
					}
				}
			}
		}
		i = j
	}
	return any, nil
}

// sweep applies rules to each node of g in order.
func (r *runner) sweep(g *Graph, rules []step) (bool, error) {
	byOp := map[string][]Rule{}
	for _, s := range rules {
		for _, op := range s.rule.OpTypes() {
			byOp[op] = append(byOp[op], s.rule)
		}
	}
	changed := false
	nodes := slices.Clone(g.G.Nodes)
	for _, n := range nodes {
		for _, rule := range byOp[opKey(n)] {
			if g.Removed(n) {
				break
			}
			if !rule.Match(g, n) {
				continue
			}
			ok, err := rule.Apply(g, n)
			if err != nil {
				return changed, fmt.Errorf("%s at node %s: %w", rule.Name(), n, err)
			}
			if ok {
				changed = true
				r.rep.Changes[rule.Name()]++
			}
		}
	}
	return changed, nil
}

// finish puts every graph's nodes in topological order, drops the
// inferred value_info that passes may have made stale, and imports the
// ai.inferd domain if a fused op was added.
func finish(m *ir.Model, st *state) error {
	var walk func(g *ir.Graph, outer func(string) bool) error
	walk = func(g *ir.Graph, outer func(string) bool) error {
		order, err := ir.TopoSort(g, outer)
		if err != nil {
			return fmt.Errorf("optimize: graph %q: %w", g.Name, err)
		}
		g.Nodes = order
		g.ValueInfo = pruneValueInfo(g)
		defined := definedNames(g)
		inner := func(name string) bool { return defined[name] || outer != nil && outer(name) }
		for _, n := range g.Nodes {
			for _, sg := range n.Subgraphs() {
				if err := walk(sg, inner); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(m.Graph, nil); err != nil {
		return err
	}
	if st.addedInferd && !usesDomain(m.Graph, ir.DomainInferd) {
		m.Opsets = slices.DeleteFunc(m.Opsets, func(o ir.OpsetImport) bool { return ir.CanonicalDomain(o.Domain) == ir.DomainInferd })
	}
	return nil
}

func definedNames(g *ir.Graph) map[string]bool {
	d := map[string]bool{}
	for _, v := range g.Inputs {
		d[v.Name] = true
	}
	for _, in := range g.Initializers {
		d[in.Name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			d[o] = true
		}
	}
	return d
}

// pruneValueInfo keeps the value_info entries of values still in g.
func pruneValueInfo(g *ir.Graph) []*ir.ValueInfo {
	if len(g.ValueInfo) == 0 {
		return g.ValueInfo
	}
	d := definedNames(g)
	seen := map[string]bool{}
	var out []*ir.ValueInfo
	for _, vi := range g.ValueInfo {
		if d[vi.Name] && !seen[vi.Name] {
			seen[vi.Name] = true
			out = append(out, vi)
		}
	}
	return out
}

func usesDomain(g *ir.Graph, domain string) bool {
	for _, n := range g.Nodes {
		if ir.CanonicalDomain(n.Domain) == domain {
			return true
		}
		for _, sg := range n.Subgraphs() {
			if usesDomain(sg, domain) {
				return true
			}
		}
	}
	return false
}
