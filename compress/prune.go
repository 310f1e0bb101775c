package compress

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// matrixView sees a weight as rows (outputs) of reduction elements:
// element j of row r is at index row*rowStride + j*colStride.
type matrixView struct {
	rows, cols           int
	rowStride, colStride int
}

func (v matrixView) at(r, j int) int { return r*v.rowStride + j*v.colStride }

// viewOf returns the output × reduction view of node n's weight w:
// Conv [O, I, k...] rows are O; MatMul and Gemm [K, N] rows are N (a
// column of w), Gemm with transB [N, K] rows are N.
func viewOf(n *ir.Node, w *tensor.Tensor) (matrixView, bool) {
	switch n.OpType {
	case "Conv":
		if w.Rank() < 3 {
			return matrixView{}, false
		}
		red := w.Len() / w.Shape[0]
		return matrixView{rows: w.Shape[0], cols: red, rowStride: red, colStride: 1}, true
	case "Gemm", "MatMul":
		if w.Rank() != 2 {
			return matrixView{}, false
		}
		k, nn := w.Shape[0], w.Shape[1]
		if n.OpType == "Gemm" && ir.Attrs(n).Int("transB", 0) != 0 {
			return matrixView{rows: k, cols: nn, rowStride: nn, colStride: 1}, true
		}
		return matrixView{rows: nn, cols: k, rowStride: 1, colStride: nn}, true
	}
	return matrixView{}, false
}

// pruneUnstructured zeroes weights by magnitude or N:M, keeping shapes.
func (c *compressor) pruneUnstructured() error {
	done := map[string]bool{}
	for _, n := range c.order {
		init, why := c.weightOf(n)
		if init == nil {
			c.skip(n, why)
			continue
		}
		if done[init.Name] {
			continue
		}
		done[init.Name] = true
		w := init.Tensor
		v := slices.Clone(w.Data.([]float32))
		var what string
		if c.opts.Prune == Magnitude {
			k := int(math.Floor(c.opts.Sparsity * float64(len(v))))
			zeroSmallest(v, k)
			what = fmt.Sprintf("magnitude pruning: %.0f%% of weights zeroed", 100*float64(k)/float64(len(v)))
		} else {
			view, ok := viewOf(n, w)
			if !ok {
				c.skip(n, "weight layout not supported for N:M")
				continue
			}
			pruneNM(v, view, c.opts.N, c.opts.M)
			what = fmt.Sprintf("%d:%d pruning along the reduction axis", c.opts.N, c.opts.M)
		}
		init.Tensor = &tensor.Tensor{DType: tensor.Float32, Shape: slices.Clone(w.Shape), Data: v}
		c.rep.Changes = append(c.rep.Changes, Change{Node: n.Name, OpType: n.OpType, Weight: init.Name, What: what,
			Before: w.Shape, After: w.Shape})
	}
	return nil
}

// zeroSmallest zeroes the k values of v smallest in magnitude (ties
// broken by position, so the result is deterministic).
func zeroSmallest(v []float32, k int) {
	if k <= 0 {
		return
	}
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(math.Abs(float64(v[a])), math.Abs(float64(v[b]))); c != 0 {
			return c
		}
		return a - b
	})
	for _, i := range idx[:min(k, len(v))] {
		v[i] = 0
	}
}

// pruneNM keeps the n largest |w| of every m consecutive reduction
// elements of each row; a shorter last group keeps n·len/m of its own
// (rounded up).
func pruneNM(v []float32, view matrixView, n, m int) {
	group := make([]int, 0, m)
	for r := 0; r < view.rows; r++ {
		for j0 := 0; j0 < view.cols; j0 += m {
			group = group[:0]
			for j := j0; j < min(view.cols, j0+m); j++ {
				group = append(group, view.at(r, j))
			}
			keep := (n*len(group) + m - 1) / m
			slices.SortStableFunc(group, func(a, b int) int {
				return cmp.Compare(math.Abs(float64(v[b])), math.Abs(float64(v[a])))
			})
			for _, i := range group[keep:] {
				v[i] = 0
			}
		}
	}
}

// channelOps pass channels through one to one: pruning a channel before
// them prunes the same channel after.
var channelOps = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "Tanh": true, "Clip": true, "Elu": true, "Selu": true,
	"HardSigmoid": true, "HardSwish": true, "Softplus": true, "Gelu": true, "Identity": true, "Dropout": true,
	"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true,
	"BatchNormalization": true,
}

// channelUse is one place a pruned channel set must be removed too.
type channelUse struct {
	n    *ir.Node
	kind string // "bn", "conv", "linear", "flatten-linear"
	// spatial is the number of features per channel after a Flatten.
	spatial int
}

// pruneChannels removes whole output channels of Conv and output features
// of Gemm/MatMul, in graph order, where every reader of the layer's output
// can drop the matching inputs.
func (c *compressor) pruneChannels() error {
	c.rep.Dense = false
	for _, n := range c.order {
		init, why := c.weightOf(n)
		if init == nil {
			c.skip(n, why)
			continue
		}
		w := init.Tensor
		view, ok := viewOf(n, w)
		if !ok {
			c.skip(n, "weight layout not supported")
			continue
		}
		if n.OpType == "Conv" && ir.Attrs(n).Int("group", 1) != 1 {
			c.skip(n, "grouped convolution")
			continue
		}
		if n.OpType == "Gemm" && ir.Attrs(n).Int("transA", 0) != 0 {
			c.skip(n, "Gemm with transA")
			continue
		}
		if len(c.readers()[init.Name]) != 1 {
			c.skip(n, "weight shared with another node")
			continue
		}
		// The bias must be per channel (or a single value) to follow.
		var bias *ir.Initializer
		biasAxis := -1
		if b := n.Input(2); b != "" {
			bias = c.m.Graph.Initializer(b)
			switch {
			case bias == nil || isGraphInput(c.m.Graph, b):
				c.skip(n, fmt.Sprintf("bias %q is not constant", b))
				continue
			case bias.Tensor.Rank() == 1 && bias.Tensor.Shape[0] == view.rows:
				biasAxis = 0
			case bias.Tensor.Rank() == 2 && bias.Tensor.Shape[0] == 1 && bias.Tensor.Shape[1] == view.rows:
				biasAxis = 1
			case bias.Tensor.Len() == 1:
			default:
				c.skip(n, fmt.Sprintf("bias %q of shape %v is not per channel", b, bias.Tensor.Shape))
				continue
			}
		}
		uses, why := c.channelReaders(n.Outputs[0], view.rows, n.OpType == "Conv")
		if why != "" {
			c.skip(n, why)
			continue
		}
		drop := int(math.Floor(c.opts.Sparsity * float64(view.rows)))
		if drop == 0 || drop >= view.rows {
			c.skip(n, fmt.Sprintf("%d channels: sparsity %g removes none", view.rows, c.opts.Sparsity))
			continue
		}
		keep := keepChannels(w.Data.([]float32), view, view.rows-drop)
		before := slices.Clone(w.Shape)
		// The layer itself: its weight rows and its bias.
		axis := 0
		if n.OpType != "Conv" && !(n.OpType == "Gemm" && ir.Attrs(n).Int("transB", 0) != 0) {
			axis = 1
		}
		nw := takeAxis(w, axis, keep)
		c.replaceInit(n, 1, nw, "_pruned")
		if biasAxis >= 0 {
			c.replaceInit(n, 2, takeAxis(bias.Tensor, biasAxis, keep), "_pruned")
		}
		for _, u := range uses {
			if err := c.pruneInputs(u, keep, view.rows); err != nil {
				return err
			}
		}
		c.rep.Changes = append(c.rep.Changes, Change{Node: n.Name, OpType: n.OpType, Weight: init.Name,
			What:   fmt.Sprintf("%d of %d output channels removed (smallest L1 norm), %d readers fixed up", drop, view.rows, len(uses)),
			Before: before, After: slices.Clone(nw.Shape)})
	}
	c.dropUnused()
	// Shapes recorded for the changed values are stale: drop them.
	c.m.Graph.ValueInfo = nil
	return nil
}

// channelReaders follows value v (with `channels` channels on axis 1, or
// features on the last axis) through channel-preserving ops to the layers
// that consume it, and returns them, or why the channels cannot be
// removed.
func (c *compressor) channelReaders(v string, channels int, convLayout bool) ([]channelUse, string) {
	g := c.m.Graph
	var uses []channelUse
	readers := c.readers()
	var walk func(v string) string
	walk = func(v string) string {
		if isOutput(g, v) {
			return fmt.Sprintf("value %q is a graph output", v)
		}
		rs := readers[v]
		if len(rs) == 0 {
			return fmt.Sprintf("value %q is not read", v)
		}
		for _, r := range rs {
			pos := slices.Index(r.Inputs, v)
			if ir.CanonicalDomain(r.Domain) != "" || pos != 0 || slices.Contains(r.Inputs[1:], v) {
				return fmt.Sprintf("value %q is read by %s at a position that is not its data input", v, r)
			}
			switch {
			case r.OpType == "Conv":
				if !convLayout {
					return fmt.Sprintf("reader %s is a Conv after a %d-feature linear layer", r, channels)
				}
				if ir.Attrs(r).Int("group", 1) != 1 {
					return fmt.Sprintf("reader %s is a grouped convolution", r)
				}
				w := g.Initializer(r.Input(1))
				if w == nil || isGraphInput(g, w.Name) || w.Tensor.Rank() < 3 || w.Tensor.Shape[1] != channels {
					return fmt.Sprintf("reader %s has no constant weight with %d input channels", r, channels)
				}
				uses = append(uses, channelUse{n: r, kind: "conv"})
			case r.OpType == "Gemm" || r.OpType == "MatMul":
				if why := c.linearReader(r, channels); why != "" {
					return why
				}
				uses = append(uses, channelUse{n: r, kind: "linear"})
			case r.OpType == "Flatten":
				// Channel c becomes features [c·spatial, (c+1)·spatial):
				// the dimensions after the channels must be known.
				t, ok := c.types[v]
				var inner []int
				static := false
				if ok && len(t.Shape) >= 2 {
					inner, static = t.Shape[2:].Static()
				}
				if !static || !t.Shape[1].Known() || t.Shape[1].Value != int64(channels) || ir.Attrs(r).Int("axis", 1) != 1 {
					return fmt.Sprintf("reader %s: cannot map channels to flattened features (shape %v)", r, t.Shape)
				}
				spatial := tensor.NumElements(inner)
				for _, fr := range readers[r.Outputs[0]] {
					if isOutput(g, r.Outputs[0]) || (fr.OpType != "Gemm" && fr.OpType != "MatMul") || slices.Index(fr.Inputs, r.Outputs[0]) != 0 {
						return fmt.Sprintf("the flattened %q is read by %s, not a Gemm or MatMul", r.Outputs[0], fr)
					}
					if why := c.linearReader(fr, channels*spatial); why != "" {
						return why
					}
					uses = append(uses, channelUse{n: fr, kind: "flatten-linear", spatial: spatial})
				}
			case channelOps[r.OpType]:
				if r.OpType == "BatchNormalization" {
					if !convLayout {
						return fmt.Sprintf("reader %s normalizes an axis other than the pruned features", r)
					}
					for _, p := range r.Inputs[1:] {
						if t := g.Initializer(p); t == nil || t.Tensor.Len() != channels {
							return fmt.Sprintf("reader %s has a non-constant parameter", r)
						}
					}
					uses = append(uses, channelUse{n: r, kind: "bn"})
				}
				if why := walk(r.Outputs[0]); why != "" {
					return why
				}
				for _, o := range r.Outputs[1:] {
					if o != "" && len(readers[o]) > 0 {
						return fmt.Sprintf("reader %s has a second output in use", r)
					}
				}
			default:
				return fmt.Sprintf("value %q is read by %s, which cannot drop channels", v, r)
			}
		}
		return ""
	}
	if why := walk(v); why != "" {
		return nil, why
	}
	return uses, ""
}

// linearReader checks that a Gemm or MatMul reads `features` inputs
// through a constant 2-D weight.
func (c *compressor) linearReader(r *ir.Node, features int) string {
	g := c.m.Graph
	w := g.Initializer(r.Input(1))
	if w == nil || isGraphInput(g, w.Name) || w.Tensor.Rank() != 2 {
		return fmt.Sprintf("reader %s has no constant 2-D weight", r)
	}
	k := w.Tensor.Shape[0]
	if r.OpType == "Gemm" {
		if ir.Attrs(r).Int("transA", 0) != 0 {
			return fmt.Sprintf("reader %s has transA", r)
		}
		if ir.Attrs(r).Int("transB", 0) != 0 {
			k = w.Tensor.Shape[1]
		}
	}
	if k != features {
		return fmt.Sprintf("reader %s's weight has %d inputs, want %d", r, k, features)
	}
	return ""
}

// pruneInputs removes the dropped channels from one reader.
func (c *compressor) pruneInputs(u channelUse, keep []int, channels int) error {
	g := c.m.Graph
	n := u.n
	switch u.kind {
	case "bn":
		for i := 1; i < len(n.Inputs); i++ {
			c.replaceInit(n, i, takeAxis(g.Initializer(n.Inputs[i]).Tensor, 0, keep), "_pruned")
		}
	case "conv":
		c.replaceInit(n, 1, takeAxis(g.Initializer(n.Inputs[1]).Tensor, 1, keep), "_pruned")
	case "linear", "flatten-linear":
		w := g.Initializer(n.Inputs[1]).Tensor
		axis := 0
		if n.OpType == "Gemm" && ir.Attrs(n).Int("transB", 0) != 0 {
			axis = 1
		}
		idx := keep
		if u.kind == "flatten-linear" {
			idx = make([]int, 0, len(keep)*u.spatial)
			for _, ch := range keep {
				for s := 0; s < u.spatial; s++ {
					idx = append(idx, ch*u.spatial+s)
				}
			}
		}
		c.replaceInit(n, 1, takeAxis(w, axis, idx), "_pruned")
	}
	return nil
}

// keepChannels returns, in ascending order, the `keep` rows of the view
// with the largest L1 norms (ties broken by index).
func keepChannels(v []float32, view matrixView, keep int) []int {
	norms := make([]float64, view.rows)
	for r := range norms {
		for j := 0; j < view.cols; j++ {
			norms[r] += math.Abs(float64(v[view.at(r, j)]))
		}
	}
	idx := make([]int, view.rows)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(norms[b], norms[a]) })
	out := slices.Clone(idx[:keep])
	slices.Sort(out)
	return out
}

// takeAxis returns the slices of t at the given indices along axis.
func takeAxis(t *tensor.Tensor, axis int, idx []int) *tensor.Tensor {
	shape := slices.Clone(t.Shape)
	outer := tensor.NumElements(shape[:axis])
	inner := tensor.NumElements(shape[axis+1:])
	dim := shape[axis]
	shape[axis] = len(idx)
	src := t.Data.([]float32)
	dst := make([]float32, 0, outer*len(idx)*inner)
	for o := 0; o < outer; o++ {
		for _, i := range idx {
			base := (o*dim + i) * inner
			dst = append(dst, src[base:base+inner]...)
		}
	}
	return &tensor.Tensor{DType: tensor.Float32, Shape: shape, Data: dst}
}
