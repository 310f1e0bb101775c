package compress

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// shareWeights clusters each weight's values into K shared values (1-D
// k-means) and stores the weight as uint8 indices into a table of K
// floats; Cast (uint8 → int32) and Gather rebuild it, so any runtime
// loads it, and a runtime that folds constants pays nothing per run.
func (c *compressor) shareWeights() error {
	g := c.m.Graph
	k := c.opts.ShareWeights
	done := map[string]string{} // weight → its rebuilt name
	var nodes []*ir.Node
	for _, n := range g.Nodes {
		init, why := c.weightOf(n)
		if init == nil {
			c.skip(n, why)
			nodes = append(nodes, n)
			continue
		}
		if rebuilt, ok := done[init.Name]; ok {
			n.Inputs[1] = rebuilt
			nodes = append(nodes, n)
			continue
		}
		w := init.Tensor
		v := w.Data.([]float32)
		centers, idx := kmeans1D(v, k)
		codes := make([]uint8, len(v))
		for i, j := range idx {
			codes[i] = uint8(j)
		}
		var maxErr float64
		for i, f := range v {
			maxErr = max(maxErr, math.Abs(float64(f-centers[idx[i]])))
		}
		idxName := uniqueName(g, init.Name+"_codes")
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: idxName, Tensor: &tensor.Tensor{DType: tensor.Uint8, Shape: slices.Clone(w.Shape), Data: codes}})
		tabName := uniqueName(g, init.Name+"_codebook")
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: tabName, Tensor: tensor.FromSlice(centers, len(centers))})
		i32 := uniqueName(g, init.Name+"_codes_int32")
		out := uniqueName(g, init.Name+"_shared")
		cast := &ir.Node{Name: uniqueName(g, init.Name+"_codes_Cast"), OpType: "Cast", Inputs: []string{idxName}, Outputs: []string{i32},
			Attrs: []*ir.Attribute{{Name: "to", Type: ir.AttrInt, I: int64(tensor.Int32)}}}
		gather := &ir.Node{Name: uniqueName(g, init.Name+"_Gather"), OpType: "Gather", Inputs: []string{tabName, i32}, Outputs: []string{out},
			Attrs: []*ir.Attribute{{Name: "axis", Type: ir.AttrInt, I: 0}}}
		n.Inputs[1] = out
		done[init.Name] = out
		nodes = append(nodes, cast, gather, n)
		c.rep.Dense = false
		c.rep.Changes = append(c.rep.Changes, Change{Node: n.Name, OpType: n.OpType, Weight: init.Name,
			What:   fmt.Sprintf("%d shared values (k-means), uint8 codes; max error %.3g", len(centers), maxErr),
			Before: slices.Clone(w.Shape), After: slices.Clone(w.Shape)})
	}
	g.Nodes = nodes
	c.dropUnused()
	return nil
}

// kmeans1D clusters v into at most k values by Lloyd's algorithm on the
// sorted values, starting from evenly spaced quantiles, and returns the
// centers (ascending) and each value's cluster. It is deterministic.
func kmeans1D(v []float32, k int) ([]float32, []int) {
	sorted := make([]float64, len(v))
	for i, f := range v {
		sorted[i] = float64(f)
	}
	sort.Float64s(sorted)
	// Distinct values bound the number of useful clusters.
	distinct := 1
	for i := 1; i < len(sorted); i++ {
		if sorted[i] != sorted[i-1] {
			distinct++
		}
	}
	k = min(k, distinct)
	prefix := make([]float64, len(sorted)+1)
	for i, x := range sorted {
		prefix[i+1] = prefix[i] + x
	}
	centers := make([]float64, k)
	for j := range centers {
		centers[j] = sorted[min(len(sorted)-1, int((float64(j)+0.5)*float64(len(sorted))/float64(k)))]
	}
	bounds := make([]int, k+1) // cluster j holds sorted[bounds[j]:bounds[j+1]]
	for iter := 0; iter < 50; iter++ {
		slices.Sort(centers)
		bounds[0], bounds[k] = 0, len(sorted)
		for j := 1; j < k; j++ {
			mid := (centers[j-1] + centers[j]) / 2
			bounds[j] = sort.SearchFloat64s(sorted, mid)
			bounds[j] = max(bounds[j], bounds[j-1])
		}
		moved := false
		for j := 0; j < k; j++ {
			lo, hi := bounds[j], bounds[j+1]
			if hi == lo {
				continue // an empty cluster keeps its center
			}
			c := (prefix[hi] - prefix[lo]) / float64(hi-lo)
			if c != centers[j] {
				centers[j], moved = c, true
			}
		}
		if !moved {
			break
		}
	}
	slices.Sort(centers)
	out := make([]float32, k)
	for j, c := range centers {
		out[j] = float32(c)
	}
	idx := make([]int, len(v))
	for i, f := range v {
		x := float64(f)
		j := sort.SearchFloat64s(centers, x)
		switch {
		case j == k:
			j = k - 1
		case j > 0 && x-centers[j-1] <= centers[j]-x:
			j--
		}
		idx[i] = j
	}
	return out, idx
}
