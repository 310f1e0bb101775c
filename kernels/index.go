package kernels

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/inferd/inferd/tensor"
)

// TopK ArgMax ArgMin CumSum Trilu Unique ReverseSequence.

func init() {
	register("TopK", newTopK)
	register("ArgMax", newArgMax)
	register("ArgMin", newArgMin)
	Default.Register(Spec{Op: "CumSum", Since: 11, New: newCumSum})
	Default.Register(Spec{Op: "Trilu", Since: 14, New: newTrilu})
	Default.Register(Spec{Op: "Unique", Since: 11, New: newUnique})
	Default.Register(Spec{Op: "ReverseSequence", Since: 10, New: newReverseSequence})
}

// shpFloatCmp orders floats totally: NaN above +Inf and equal to NaN;
// -0 equals +0.
func shpFloatCmp[T float32 | float64](a, b T) int {
	an, bn := a != a, b != b
	switch {
	case an || bn:
		if an && bn {
			return 0
		}
		if an {
			return 1
		}
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func shpBoolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// shpCmpOf returns a comparison of two elements of t by flat index.
func shpCmpOf(t *tensor.Tensor) (func(i, j int) int, error) {
	switch s := t.Data.(type) {
	case []float32:
		return func(i, j int) int { return shpFloatCmp(s[i], s[j]) }, nil
	case []float64:
		return func(i, j int) int { return shpFloatCmp(s[i], s[j]) }, nil
	case []tensor.F16:
		return func(i, j int) int { return shpFloatCmp(s[i].Float32(), s[j].Float32()) }, nil
	case []tensor.BF16:
		return func(i, j int) int { return shpFloatCmp(s[i].Float32(), s[j].Float32()) }, nil
	case []int8:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int16:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []int64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint8:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint16:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint32:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []uint64:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []string:
		return func(i, j int) int { return cmp.Compare(s[i], s[j]) }, nil
	case []bool:
		return func(i, j int) int { return shpBoolCmp(s[i], s[j]) }, nil
	}
	return nil, fmt.Errorf("cannot order %v elements: %w", t.DType, ErrUnsupported)
}

func newTopK(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", -1)
	largest := a.Int("largest", 1) != 0
	sorted := a.Int("sorted", 1) != 0
	var attrK int64
	if b.Opset < 10 {
		attrK = a.RequireInt("k")
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	_ = sorted // the result is always sorted, which sorted=0 allows
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "X")
		if err != nil {
			return nil, err
		}
		k := attrK
		if b.Opset >= 10 {
			kt, err := shpNeed(in, 1, "K")
			if err != nil {
				return nil, err
			}
			kv, err := shpIndices(kt, "K")
			if err != nil {
				return nil, err
			}
			if len(kv) != 1 || len(kt.Shape) > 1 {
				return nil, fmt.Errorf("input K has shape %v, want [1]", tensor.ShapeString(kt.Shape))
			}
			k = kv[0]
		}
		r := len(x.Shape)
		if r == 0 {
			return nil, fmt.Errorf("input X is a scalar, want rank ≥ 1")
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		dim := x.Shape[ax]
		if k < 0 || k > int64(dim) {
			return nil, fmt.Errorf("k = %d, want in [0, %d] (axis %d of input %v)", k, dim, ax, x)
		}
		cmpf, err := shpCmpOf(x)
		if err != nil {
			return nil, err
		}
		shape := append([]int(nil), x.Shape...)
		shape[ax] = int(k)
		vals := c.Alloc(x.DType, shape...)
		inds := c.Alloc(tensor.Int64, shape...)
		m, err := shpMoverFor(vals, x)
		if err != nil {
			return nil, err
		}
		outer, inner := shpProd(x.Shape[:ax]), shpProd(x.Shape[ax+1:])
		kk := int(k)
		if kk == 0 || outer*inner == 0 {
			return c.Outs(vals, inds), nil
		}
		iv := inds.Data.([]int64)
		work := func(lo, hi int) {
			heap := make([]int, 0, kk)
			pos := make([]int, kk)
			for s := lo; s < hi; s++ {
				o, i := s/inner, s%inner
				base := o*dim*inner + i
				// better reports whether position j along the axis ranks
				// before position l.
				better := func(j, l int) bool {
					c := cmpf(base+j*inner, base+l*inner)
					if !largest {
						c = -c
					}
					return c > 0 || (c == 0 && j < l)
				}
				heap = shpTopK(heap[:0], dim, kk, better)
				for t, j := range heap {
					iv[(o*kk+t)*inner+i] = int64(j)
					pos[t] = base + j*inner
				}
				ob := o*kk*inner + i
				for t, p := range pos {
					m.copyRun(ob+t*inner, p, 1)
				}
			}
		}
		if outer*inner > 1 && x.Len() >= shpParMin {
			c.Parallel(outer*inner, work)
		} else {
			work(0, outer*inner)
		}
		return c.Outs(vals, inds), nil
	}), nil
}

// shpTopK returns the k best of 0..n-1 under better (a strict total
// order), best first, using h (empty, capacity ≥ k) as storage. It keeps
// a heap whose root is the worst kept element: O(n log k).
func shpTopK(h []int, n, k int, better func(a, b int) bool) []int {
	down := func(i int) {
		for {
			w := i
			l, r := 2*i+1, 2*i+2
			if l < len(h) && better(h[w], h[l]) {
				w = l
			}
			if r < len(h) && better(h[w], h[r]) {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for j := range n {
		if len(h) < k {
			h = append(h, j)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !better(h[p], h[i]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if better(j, h[0]) {
			h[0] = j
			down(0)
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return h
}

func newArgMax(b *Build) (any, error) { return shpNewArg(b, true) }
func newArgMin(b *Build) (any, error) { return shpNewArg(b, false) }

func shpNewArg(b *Build, isMax bool) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 0)
	keep := a.Int("keepdims", 1) != 0
	last := a.Int("select_last_index", 0) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		if r == 0 {
			return nil, fmt.Errorf("input data is a scalar, want rank ≥ 1")
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		dim := x.Shape[ax]
		if dim == 0 {
			return nil, fmt.Errorf("axis %d of input %v is empty", ax, x)
		}
		cmpf, err := shpCmpOf(x)
		if err != nil {
			return nil, err
		}
		shape := append([]int(nil), x.Shape...)
		if keep {
			shape[ax] = 1
		} else {
			shape = append(shape[:ax], shape[ax+1:]...)
		}
		out := c.Alloc(tensor.Int64, shape...)
		o := out.Data.([]int64)
		inner := shpProd(x.Shape[ax+1:])
		for s := range o {
			base := (s/inner)*dim*inner + s%inner
			best := 0
			for j := 1; j < dim; j++ {
				cv := cmpf(base+j*inner, base+best*inner)
				if !isMax {
					cv = -cv
				}
				if cv > 0 || (cv == 0 && last) {
					best = j
				}
			}
			o[s] = int64(best)
		}
		return c.Outs(out), nil
	}), nil
}

func newCumSum(b *Build) (any, error) {
	a := b.Attrs()
	exclusive := a.Int("exclusive", 0) != 0
	reverse := a.Int("reverse", 0) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "x")
		if err != nil {
			return nil, err
		}
		at, err := shpNeed(in, 1, "axis")
		if err != nil {
			return nil, err
		}
		av, err := shpIndices(at, "axis")
		if err != nil {
			return nil, err
		}
		if len(av) != 1 || len(at.Shape) > 1 {
			return nil, fmt.Errorf("input axis has shape %v, want a scalar", tensor.ShapeString(at.Shape))
		}
		r := len(x.Shape)
		if r == 0 {
			return nil, fmt.Errorf("input x is a scalar, want rank ≥ 1")
		}
		ax, err := NormAxis(av[0], r)
		if err != nil {
			return nil, err
		}
		g := shpScan{outer: shpProd(x.Shape[:ax]), dim: x.Shape[ax], inner: shpProd(x.Shape[ax+1:]), excl: exclusive, rev: reverse}
		out := c.Alloc(x.DType, x.Shape...)
		switch s := x.Data.(type) {
		case []float32:
			shpCumSum(g, s, out.Data.([]float32))
		case []float64:
			shpCumSum(g, s, out.Data.([]float64))
		case []int8:
			shpCumSum(g, s, out.Data.([]int8))
		case []int16:
			shpCumSum(g, s, out.Data.([]int16))
		case []int32:
			shpCumSum(g, s, out.Data.([]int32))
		case []int64:
			shpCumSum(g, s, out.Data.([]int64))
		case []uint8:
			shpCumSum(g, s, out.Data.([]uint8))
		case []uint16:
			shpCumSum(g, s, out.Data.([]uint16))
		case []uint32:
			shpCumSum(g, s, out.Data.([]uint32))
		case []uint64:
			shpCumSum(g, s, out.Data.([]uint64))
		case []tensor.F16, []tensor.BF16:
			f, err := Float32s(x)
			if err != nil {
				return nil, err
			}
			acc := make([]float32, len(f))
			shpCumSum(g, f, acc)
			if out, err = FromFloat64s(x.DType, x.Shape, toF64(acc)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("CumSum of %v: %w", x.DType, ErrUnsupported)
		}
		return c.Outs(out), nil
	}), nil
}

// shpScan describes a scan along one axis of an [outer, dim, inner] view.
type shpScan struct {
	outer, dim, inner int
	excl, rev         bool
}

func shpCumSum[T tensor.Numeric](g shpScan, x, y []T) {
	for o := range g.outer {
		for i := range g.inner {
			base := o*g.dim*g.inner + i
			var acc T
			for t := range g.dim {
				j := t
				if g.rev {
					j = g.dim - 1 - t
				}
				p := base + j*g.inner
				if g.excl {
					y[p] = acc
					acc += x[p]
				} else {
					acc += x[p]
					y[p] = acc
				}
			}
		}
	}
}

func newTrilu(b *Build) (any, error) {
	a := b.Attrs()
	upper := a.Int("upper", 1) != 0
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		k := int64(0)
		if kt := shpOpt(in, 1); kt != nil {
			kv, err := shpIndices(kt, "k")
			if err != nil {
				return nil, err
			}
			if len(kv) != 1 || len(kt.Shape) > 1 {
				return nil, fmt.Errorf("input k has shape %v, want a scalar", tensor.ShapeString(kt.Shape))
			}
			k = kv[0]
		}
		r := len(x.Shape)
		if r < 2 {
			return nil, fmt.Errorf("input has shape %v, want rank ≥ 2", tensor.ShapeString(x.Shape))
		}
		rows, cols := x.Shape[r-2], x.Shape[r-1]
		k = min(max(k, -int64(rows)-1), int64(cols)+1)
		kk := int(k)
		out := c.Alloc(x.DType, x.Shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		mats := shpProd(x.Shape[:r-2])
		for mat := range mats {
			for i := range rows {
				lo, hi := 0, cols
				if upper {
					lo = max(0, i+kk) // keep j ≥ i+k
				} else {
					hi = min(cols, i+kk+1) // keep j ≤ i+k
				}
				if lo < hi {
					p := (mat*rows+i)*cols + lo
					m.copyRun(p, p, hi-lo)
				}
			}
		}
		return c.Outs(out), nil
	}), nil
}

func newUnique(b *Build) (any, error) {
	a := b.Attrs()
	sorted := a.Int("sorted", 1) != 0
	axis := a.Int("axis", 0)
	hasAxis := a.Has("axis")
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "X")
		if err != nil {
			return nil, err
		}
		cmpf, err := shpCmpOf(x)
		if err != nil {
			return nil, err
		}
		// The tensor is viewed as [outer, n, inner]; the items compared are
		// its n slices along the middle axis.
		outer, n, inner := 1, x.Len(), 1
		ax := 0
		if hasAxis {
			if ax, err = NormAxis(axis, len(x.Shape)); err != nil {
				return nil, err
			}
			outer, n, inner = shpProd(x.Shape[:ax]), x.Shape[ax], shpProd(x.Shape[ax+1:])
		}
		cmpItem := func(i, j int) int {
			for o := range outer {
				for t := range inner {
					if cv := cmpf((o*n+i)*inner+t, (o*n+j)*inner+t); cv != 0 {
						return cv
					}
				}
			}
			return 0
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(i, j int) int {
			if cv := cmpItem(i, j); cv != 0 {
				return cv
			}
			return cmp.Compare(i, j)
		})
		// Groups of equal items: first is the smallest index of each.
		var first, counts []int64
		group := make([]int, n) // group of each item, in sorted order
		for k, i := range order {
			if k == 0 || cmpItem(order[k-1], i) != 0 {
				first = append(first, int64(i))
				counts = append(counts, 0)
			}
			g := len(first) - 1
			group[i] = g
			counts[g]++
		}
		ng := len(first)
		if !sorted {
			// Order the groups by first occurrence.
			perm := make([]int, ng)
			for g := range perm {
				perm[g] = g
			}
			slices.SortFunc(perm, func(a, b int) int { return cmp.Compare(first[a], first[b]) })
			rank := make([]int, ng)
			nf, nc := make([]int64, ng), make([]int64, ng)
			for r, g := range perm {
				rank[g] = r
				nf[r], nc[r] = first[g], counts[g]
			}
			first, counts = nf, nc
			for i := range group {
				group[i] = rank[group[i]]
			}
		}
		var shape []int
		if hasAxis {
			shape = append([]int(nil), x.Shape...)
			shape[ax] = ng
		} else {
			shape = []int{ng}
		}
		y := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(y, x)
		if err != nil {
			return nil, err
		}
		for o := range outer {
			for g, i := range first {
				m.copyRun((o*ng+g)*inner, (o*n+int(i))*inner, inner)
			}
		}
		inv := make([]int64, n)
		for i, g := range group {
			inv[i] = int64(g)
		}
		return []*tensor.Tensor{
			y,
			tensor.FromSlice(first, ng),
			tensor.FromSlice(inv, n),
			tensor.FromSlice(counts, ng),
		}, nil
	}), nil
}

func newReverseSequence(b *Build) (any, error) {
	a := b.Attrs()
	batchAxis := a.Int("batch_axis", 1)
	timeAxis := a.Int("time_axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if !(batchAxis == 0 && timeAxis == 1) && !(batchAxis == 1 && timeAxis == 0) {
		return nil, fmt.Errorf("attributes batch_axis = %d and time_axis = %d, want 0 and 1 in some order", batchAxis, timeAxis)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		lt, err := shpNeed(in, 1, "sequence_lens")
		if err != nil {
			return nil, err
		}
		if len(x.Shape) < 2 {
			return nil, fmt.Errorf("input has shape %v, want rank ≥ 2", tensor.ShapeString(x.Shape))
		}
		lens, err := shpIndices(lt, "sequence_lens")
		if err != nil {
			return nil, err
		}
		tdim, bdim := x.Shape[timeAxis], x.Shape[batchAxis]
		if len(lt.Shape) != 1 || len(lens) != bdim {
			return nil, fmt.Errorf("input sequence_lens has shape %v, want [%d] (the batch size)", tensor.ShapeString(lt.Shape), bdim)
		}
		for i, l := range lens {
			if l < 0 || l > int64(tdim) {
				return nil, fmt.Errorf("sequence_lens[%d] = %d, want in [0, %d]", i, l, tdim)
			}
		}
		st := tensor.Strides(x.Shape)
		ts, bs := st[timeAxis], st[batchAxis]
		inner := shpProd(x.Shape[2:])
		out := c.Alloc(x.DType, x.Shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		for bi := range bdim {
			l := int(lens[bi])
			for t := range tdim {
				src := t
				if t < l {
					src = l - 1 - t
				}
				m.copyRun(t*ts+bi*bs, src*ts+bi*bs, inner)
			}
		}
		return c.Outs(out), nil
	}), nil
}
