package compress

import (
	"fmt"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

// Prune is a pruning method.
type Prune string

// The pruning methods.
const (
	// Magnitude zeroes the smallest |w| of each weight (Sparsity of
	// them). Shapes do not change: the model is smaller only compressed.
	Magnitude Prune = "magnitude"
	// NM keeps the N largest |w| of every M consecutive weights along the
	// reduction axis (2:4 is what sparse tensor cores run). Shapes do not
	// change either.
	NM Prune = "n:m"
	// Channels removes the output channels (Conv) or output features
	// (Gemm, MatMul) with the smallest L1 norm, and the matching input
	// channels of the layers that read them: shapes shrink, and so does
	// the work.
	Channels Prune = "channels"
)

// Options configure Compress. Any combination of pruning, low-rank
// factorization and weight sharing may be asked for; they run in that
// order. The zero value does nothing (and is an error).
type Options struct {
	Prune    Prune
	Sparsity float64 // fraction of weights (magnitude) or channels (channels) removed, in (0, 1)
	N, M     int     // for NM: keep N of every M (default 2:4)

	// LowRank, in (0, 1), factors each Gemm/MatMul weight W (K×N) into
	// two of rank r, the smallest rank keeping that fraction of W's
	// energy (Σσ²), where r·(K+N) < K·N.
	LowRank float64

	// ShareWeights, in [2, 256], clusters each weight's values into that
	// many shared values by k-means and stores one uint8 index per weight
	// and a table, read back by Cast → Gather.
	ShareWeights int

	// OpTypes whose weights are compressed (default Conv, Gemm, MatMul);
	// ExcludeNodes leaves nodes alone by name. MinParams skips weights
	// smaller than this many elements (default 256: biases and tiny
	// layers are not worth it).
	OpTypes      []string
	ExcludeNodes []string
	MinParams    int
}

func (o *Options) validate() error {
	if o.Prune == "" && o.LowRank == 0 && o.ShareWeights == 0 {
		return fmt.Errorf("compress: nothing to do: give --prune, --low-rank or --share-weights")
	}
	switch o.Prune {
	case "":
	case Magnitude, Channels:
		if o.Sparsity <= 0 || o.Sparsity >= 1 {
			return fmt.Errorf("compress: sparsity %g is not in (0, 1)", o.Sparsity)
		}
	case NM:
		if o.N == 0 && o.M == 0 {
			o.N, o.M = 2, 4
		}
		if o.N <= 0 || o.M <= 1 || o.N >= o.M {
			return fmt.Errorf("compress: N:M pruning %d:%d needs 0 < N < M", o.N, o.M)
		}
	default:
		return fmt.Errorf("compress: unknown pruning method %q (want magnitude, n:m or channels)", o.Prune)
	}
	if o.LowRank < 0 || o.LowRank >= 1 {
		return fmt.Errorf("compress: low-rank energy %g is not in (0, 1)", o.LowRank)
	}
	if o.ShareWeights != 0 && (o.ShareWeights < 2 || o.ShareWeights > 256) {
		return fmt.Errorf("compress: %d shared weights is not in [2, 256]", o.ShareWeights)
	}
	if len(o.OpTypes) == 0 {
		o.OpTypes = []string{"Conv", "Gemm", "MatMul"}
	}
	if o.MinParams == 0 {
		o.MinParams = 256
	}
	return nil
}

// Report says what Compress changed.
type Report struct {
	Changes []Change
	// Skipped lists layers considered and left alone, with the reason.
	Skipped []Change
	// ParamBytes and Params are the initializers' size and element count
	// before and after; Zeros counts zero weights after.
	ParamBytesBefore, ParamBytesAfter int64
	ParamsBefore, ParamsAfter         int64
	ZerosBefore, ZerosAfter           int64
	// Dense is true when every change kept shapes (pruning by magnitude
	// or N:M): the model is no smaller or faster as stored, only when
	// compressed (gzip) or run by a sparse kernel.
	Dense bool
}

// Change is one weight's transformation.
type Change struct {
	Node, OpType, Weight string
	What                 string
	Before, After        []int // shapes
}

// Compress returns a compressed copy of m (m is not modified) and a
// report. It is deterministic.
func Compress(m *ir.Model, opts Options) (*ir.Model, *Report, error) {
	if err := opts.validate(); err != nil {
		return nil, nil, err
	}
	if m == nil || m.Graph == nil {
		return nil, nil, fmt.Errorf("compress: model has no graph")
	}
	out := quantize.CloneModel(m)
	rep := &Report{ParamBytesBefore: quantize.ParamBytes(m), Dense: true}
	rep.ParamsBefore, rep.ZerosBefore = countParams(m)
	c := &compressor{m: out, opts: &opts, rep: rep}
	if err := c.init(); err != nil {
		return nil, nil, err
	}
	var err error
	switch opts.Prune {
	case Magnitude, NM:
		err = c.pruneUnstructured()
	case Channels:
		err = c.pruneChannels()
	}
	if err == nil && opts.LowRank > 0 {
		err = c.lowRank()
	}
	if err == nil && opts.ShareWeights > 0 {
		err = c.shareWeights()
	}
	if err != nil {
		return nil, nil, err
	}
	if len(rep.Changes) == 0 {
		return nil, nil, fmt.Errorf("compress: no weight was changed (%d layers skipped)", len(rep.Skipped))
	}
	order, err := ir.TopoSort(out.Graph, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("compress: result is not a valid graph: %w", err)
	}
	out.Graph.Nodes = order
	if err := ir.Verify(out); err != nil {
		return nil, nil, fmt.Errorf("compress: result is not a valid graph: %w", err)
	}
	rep.ParamBytesAfter = quantize.ParamBytes(out)
	rep.ParamsAfter, rep.ZerosAfter = countParams(out)
	return out, rep, nil
}

// countParams returns the number of initializer elements and how many of
// the float ones are zero.
func countParams(m *ir.Model) (n, zeros int64) {
	for _, in := range m.Graph.Initializers {
		n += int64(in.Tensor.Len())
		if v, ok := in.Tensor.Data.([]float32); ok {
			for _, f := range v {
				if f == 0 {
					zeros++
				}
			}
		}
	}
	return n, zeros
}

// compressor holds the state of one Compress call.
type compressor struct {
	m     *ir.Model
	opts  *Options
	rep   *Report
	types map[string]ir.Type
	order []*ir.Node
}

func (c *compressor) init() error {
	order, err := ir.TopoSort(c.m.Graph, nil)
	if err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	c.order = order
	c.types = map[string]ir.Type{}
	_ = ir.InferShapes(c.m, &ir.InferConfig{Error: func(error) {}}, &ir.InferInfo{Types: c.types})
	return nil
}

// weightOf returns the constant float32 weight input of a selected node
// (input 1 of Conv, Gemm, MatMul), or a reason to skip it.
func (c *compressor) weightOf(n *ir.Node) (*ir.Initializer, string) {
	if ir.CanonicalDomain(n.Domain) != "" || !slices.Contains(c.opts.OpTypes, n.OpType) {
		return nil, ""
	}
	if slices.Contains(c.opts.ExcludeNodes, n.Name) {
		return nil, "excluded by name"
	}
	name := n.Input(1)
	init := c.m.Graph.Initializer(name)
	if init == nil || init.Tensor.DType != tensor.Float32 || isGraphInput(c.m.Graph, name) {
		return nil, fmt.Sprintf("weight %q is not a constant float32 tensor", name)
	}
	if init.Tensor.Len() < c.opts.MinParams {
		return nil, fmt.Sprintf("weight has %d elements, fewer than %d", init.Tensor.Len(), c.opts.MinParams)
	}
	return init, ""
}

func isGraphInput(g *ir.Graph, name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

func (c *compressor) skip(n *ir.Node, why string) {
	if why != "" {
		c.rep.Skipped = append(c.rep.Skipped, Change{Node: n.Name, OpType: n.OpType, Weight: n.Input(1), What: why})
	}
}

// readers counts the nodes reading each value.
func (c *compressor) readers() map[string][]*ir.Node {
	r := map[string][]*ir.Node{}
	for _, n := range c.m.Graph.Nodes {
		seen := map[string]bool{}
		for _, in := range n.Inputs {
			if in != "" && !seen[in] {
				seen[in] = true
				r[in] = append(r[in], n)
			}
		}
		for _, sg := range n.Subgraphs() {
			for _, fv := range ir.FreeVars(sg) {
				if !seen[fv] {
					seen[fv] = true
					r[fv] = append(r[fv], n)
				}
			}
		}
	}
	return r
}

// replaceInit points node n's input i at a new initializer holding t. The
// old initializer is replaced in place if n is its only reader, so names
// stay stable; otherwise a new name is made.
func (c *compressor) replaceInit(n *ir.Node, i int, t *tensor.Tensor, suffix string) {
	g := c.m.Graph
	name := n.Inputs[i]
	if rs := c.readers()[name]; len(rs) == 1 && !isOutput(g, name) {
		g.Initializer(name).Tensor = t
		return
	}
	nn := uniqueName(g, name+suffix)
	g.Initializers = append(g.Initializers, &ir.Initializer{Name: nn, Tensor: t})
	n.Inputs[i] = nn
}

func isOutput(g *ir.Graph, name string) bool {
	for _, o := range g.Outputs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// uniqueName returns base, or base with a numeric suffix, unused in g.
func uniqueName(g *ir.Graph, base string) string {
	used := map[string]bool{}
	for _, in := range g.Inputs {
		used[in.Name] = true
	}
	for _, in := range g.Initializers {
		used[in.Name] = true
	}
	for _, n := range g.Nodes {
		used[n.Name] = true
		for _, o := range n.Outputs {
			used[o] = true
		}
	}
	name := base
	for i := 1; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

// dropUnused removes initializers no node reads.
func (c *compressor) dropUnused() {
	g := c.m.Graph
	r := c.readers()
	g.Initializers = slices.DeleteFunc(g.Initializers, func(in *ir.Initializer) bool {
		return len(r[in.Name]) == 0 && !isOutput(g, in.Name) && !isGraphInput(g, in.Name)
	})
}
