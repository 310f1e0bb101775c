package compress

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// lowRank factors Gemm and MatMul weights W (K×N) as A·B with A K×r and B
// r×N from W's singular value decomposition, r the smallest rank keeping
// the requested fraction of Σσ². x·W becomes (x·A)·B: a MatMul inserted
// before the node, which then reads B.
func (c *compressor) lowRank() error {
	g := c.m.Graph
	var nodes []*ir.Node
	for _, n := range g.Nodes {
		if n.OpType != "Gemm" && n.OpType != "MatMul" {
			nodes = append(nodes, n)
			continue
		}
		init, why := c.weightOf(n)
		if init == nil {
			c.skip(n, why)
			nodes = append(nodes, n)
			continue
		}
		w := init.Tensor
		if w.Rank() != 2 || (n.OpType == "Gemm" && ir.Attrs(n).Int("transA", 0) != 0) {
			c.skip(n, "not a 2-D weight read as x·W")
			nodes = append(nodes, n)
			continue
		}
		transB := n.OpType == "Gemm" && ir.Attrs(n).Int("transB", 0) != 0
		k, nn := w.Shape[0], w.Shape[1]
		v := w.Data.([]float32)
		if transB {
			k, nn = nn, k
		}
		data := make([]float64, k*nn)
		for i := 0; i < k; i++ {
			for j := 0; j < nn; j++ {
				if transB {
					data[i*nn+j] = float64(v[j*k+i])
				} else {
					data[i*nn+j] = float64(v[i*nn+j])
				}
			}
		}
		var svd mat.SVD
		if !svd.Factorize(mat.NewDense(k, nn, data), mat.SVDThin) {
			return fmt.Errorf("compress: node %s: SVD of %q did not converge", n, init.Name)
		}
		sv := svd.Values(nil)
		var total, acc float64
		for _, s := range sv {
			total += s * s
		}
		r := len(sv)
		for i, s := range sv {
			acc += s * s
			if acc >= c.opts.LowRank*total {
				r = i + 1
				break
			}
		}
		if r*(k+nn) >= k*nn {
			c.skip(n, fmt.Sprintf("rank %d of %dx%d keeps %.0f%% of the energy but saves nothing", r, k, nn, 100*c.opts.LowRank))
			nodes = append(nodes, n)
			continue
		}
		var u, vt mat.Dense
		svd.UTo(&u)
		svd.VTo(&vt) // V, n×min
		a := make([]float32, k*r)
		b := make([]float32, r*nn)
		for i := 0; i < k; i++ {
			for j := 0; j < r; j++ {
				a[i*r+j] = float32(u.At(i, j) * math.Sqrt(sv[j]))
			}
		}
		for i := 0; i < r; i++ {
			for j := 0; j < nn; j++ {
				b[i*nn+j] = float32(math.Sqrt(sv[i]) * vt.At(j, i))
			}
		}
		aName := uniqueName(g, init.Name+"_lowrank_a")
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: aName, Tensor: tensor.FromSlice(a, k, r)})
		bName := uniqueName(g, init.Name+"_lowrank_b")
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: bName, Tensor: tensor.FromSlice(b, r, nn)})
		h := uniqueName(g, n.Outputs[0]+"_lowrank")
		base := n.Name
		if base == "" {
			base = n.Outputs[0]
		}
		first := &ir.Node{Name: uniqueName(g, base+"_lowrank"), OpType: "MatMul", Inputs: []string{n.Inputs[0], aName}, Outputs: []string{h}}
		n.Inputs[0], n.Inputs[1] = h, bName
		if transB {
			n.SetAttr(&ir.Attribute{Name: "transB", Type: ir.AttrInt, I: 0})
		}
		nodes = append(nodes, first, n)
		c.rep.Dense = false
		c.rep.Changes = append(c.rep.Changes, Change{Node: n.Name, OpType: n.OpType, Weight: init.Name,
			What:   fmt.Sprintf("rank %d of %d (%.1f%% of the energy): %dx%d -> %dx%d · %dx%d", r, len(sv), 100*acc/total, k, nn, k, r, r, nn),
			Before: slices.Clone(w.Shape), After: []int{k, r}})
	}
	g.Nodes = nodes
	c.dropUnused()
	return nil
}
