package kernels

import (
	"fmt"
	"sync"
	"math"

	"github.com/inferd/inferd/tensor"
)

// Gather GatherElements GatherND Compress OneHot NonZero.

func init() {
	register("Gather", newGather)
	Default.Register(Spec{Op: "GatherElements", Since: 11, New: newGatherElements})
	Default.Register(Spec{Op: "GatherND", Since: 11, New: newGatherND})
	Default.Register(Spec{Op: "Compress", Since: 9, New: newCompress})
	Default.Register(Spec{Op: "OneHot", Since: 9, New: newOneHot})
	Default.Register(Spec{Op: "NonZero", Since: 9, New: newNonZero})
}

// shpNormIndices reads an index tensor and maps every index into [0, dim),
// failing on the first one out of range.
func shpNormIndices(c *Context, t *tensor.Tensor, dim int, what string) ([]int, error) {
	v, err := shpIndices(t, what)
	if err != nil {
		return nil, err
	}
	out := c.Ints(len(v))
	for i, x := range v {
		k, err := shpIndex(x, dim)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", what, i, err)
		}
		out[i] = k
	}
	return out, nil
}

func newGather(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		it, err := shpNeed(in, 1, "indices")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		if r == 0 {
			return nil, fmt.Errorf("data is a scalar, want rank ≥ 1")
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		dim := x.Shape[ax]
		idx, err := shpNormIndices(c, it, dim, "indices")
		if err != nil {
			return nil, err
		}
		shape := c.Ints(ax + len(it.Shape) + r - ax - 1)
		copy(shape, x.Shape[:ax])
		copy(shape[ax:], it.Shape)
		copy(shape[ax+len(it.Shape):], x.Shape[ax+1:])
		out := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		if out.Len() == 0 {
			return c.Outs(out), nil
		}
		t := gthTask{m: m, idx: idx, dim: dim, inner: shpProd(x.Shape[ax+1:])}
		outer := shpProd(x.Shape[:ax])
		units := outer * len(idx)
		if t.inner == 1 {
			units = outer
		}
		if out.Len() >= shpParMin && units > 1 {
			p := gthTaskPool.Get().(*gthTask)
			*p = t
			c.ParallelTask(units, p)
			*p = gthTask{}
			gthTaskPool.Put(p)
		} else {
			t.Run(0, units)
		}
		return c.Outs(out), nil
	}), nil
}

func newGatherElements(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		it, err := shpNeed(in, 1, "indices")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		if r == 0 || len(it.Shape) != r {
			return nil, fmt.Errorf("data %v and indices %v must have the same rank ≥ 1", x, it)
		}
		ax, err := NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		for d := range r {
			if d != ax && it.Shape[d] > x.Shape[d] {
				return nil, fmt.Errorf("indices shape %v exceeds data shape %v on axis %d",
					tensor.ShapeString(it.Shape), tensor.ShapeString(x.Shape), d)
			}
		}
		idx, err := shpNormIndices(c, it, x.Shape[ax], "indices")
		if err != nil {
			return nil, err
		}
		offs := shpElementOffsets(x.Shape, it.Shape, ax, idx)
		out := c.Alloc(x.DType, it.Shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		m.take(0, 0, offs)
		return c.Outs(out), nil
	}), nil
}

// shpElementOffsets returns, for each position p of an index tensor of
// shape ishape, the offset into a data tensor of shape dshape of the
// element p with its axis coordinate replaced by idx[p].
func shpElementOffsets(dshape, ishape []int, axis int, idx []int) []int {
	r := len(dshape)
	ds := tensor.Strides(dshape)
	offs := make([]int, len(idx))
	if len(idx) == 0 {
		return offs
	}
	pos := make([]int, r)
	base := 0 // offset of pos with the axis coordinate left out
	for i := range offs {
		offs[i] = base + idx[i]*ds[axis]
		for a := r - 1; a >= 0; a-- {
			pos[a]++
			if a != axis {
				base += ds[a]
			}
			if pos[a] < ishape[a] {
				break
			}
			if a != axis {
				base -= ds[a] * ishape[a]
			}
			pos[a] = 0
		}
	}
	return offs
}

func newGatherND(b *Build) (any, error) {
	a := b.Attrs()
	bd := a.Int("batch_dims", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if bd < 0 {
		return nil, fmt.Errorf("attribute batch_dims = %d, want ≥ 0", bd)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		it, err := shpNeed(in, 1, "indices")
		if err != nil {
			return nil, err
		}
		bt, err := shpNDPlan(x.Shape, it, int(bd))
		if err != nil {
			return nil, err
		}
		out := c.Alloc(x.DType, bt.outShape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		for t, off := range bt.offs {
			m.copyRun(t*bt.slice, off, bt.slice)
		}
		return c.Outs(out), nil
	}), nil
}

// shpND is a resolved GatherND/ScatterND index tensor: offs[t] is the data
// offset of index tuple t, each tuple addressing slice consecutive elements.
type shpND struct {
	offs     []int
	slice    int
	outShape []int // indices.shape[:-1] + data.shape[b+k:]
}

// shpNDPlan resolves the index tuples of indices into data of shape dshape
// with bd batch dimensions.
func shpNDPlan(dshape []int, it *tensor.Tensor, bd int) (*shpND, error) {
	r, q := len(dshape), len(it.Shape)
	if r < 1 || q < 1 {
		return nil, fmt.Errorf("data %v and indices %v must have rank ≥ 1", tensor.ShapeString(dshape), it)
	}
	if bd >= min(q, r) {
		return nil, fmt.Errorf("batch_dims = %d, want < min(rank(data), rank(indices)) = %d", bd, min(q, r))
	}
	for d := range bd {
		if dshape[d] != it.Shape[d] {
			return nil, fmt.Errorf("batch dimension %d differs: data %v, indices %v", d, tensor.ShapeString(dshape), it)
		}
	}
	k := it.Shape[q-1]
	if k < 1 || k > r-bd {
		return nil, fmt.Errorf("indices %v: last dimension %d must be in [1, %d]", it, k, r-bd)
	}
	v, err := shpIndices(it, "indices")
	if err != nil {
		return nil, err
	}
	nd := &shpND{slice: shpProd(dshape[bd+k:])}
	nd.outShape = append(append([]int{}, it.Shape[:q-1]...), dshape[bd+k:]...)
	batches := shpProd(dshape[:bd])
	block := shpProd(dshape[bd:])
	ds := tensor.Strides(dshape[bd:])
	ntup := len(v) / k
	perBatch := 0
	if batches > 0 {
		perBatch = ntup / batches
	}
	nd.offs = make([]int, ntup)
	for t := range ntup {
		off := (t / max(perBatch, 1)) * block
		for j := range k {
			x := v[t*k+j]
			i, err := shpIndex(x, dshape[bd+j])
			if err != nil {
				return nil, fmt.Errorf("indices[%d][%d]: %w", t, j, err)
			}
			off += i * ds[j]
		}
		nd.offs[t] = off
	}
	return nd, nil
}

func newCompress(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", 0)
	hasAxis := a.Has("axis")
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		ct, err := shpNeed(in, 1, "condition")
		if err != nil {
			return nil, err
		}
		if ct.DType != tensor.Bool || len(ct.Shape) != 1 {
			return nil, fmt.Errorf("input condition is %v, want a 1-D bool tensor", ct)
		}
		cond := ct.Data.([]bool)
		var outer, dim, inner int
		var shape []int
		if hasAxis {
			ax, err := NormAxis(axis, len(x.Shape))
			if err != nil {
				return nil, err
			}
			outer, dim, inner = shpProd(x.Shape[:ax]), x.Shape[ax], shpProd(x.Shape[ax+1:])
			shape = append([]int(nil), x.Shape...)
			shape[ax] = 0
			for i, v := range cond {
				if v && i < dim {
					shape[ax]++
				}
			}
		} else {
			outer, dim, inner = 1, x.Len(), 1
			n := 0
			for i, v := range cond {
				if v && i < dim {
					n++
				}
			}
			shape = []int{n}
		}
		out := c.Alloc(x.DType, shape...)
		m, err := shpMoverFor(out, x)
		if err != nil {
			return nil, err
		}
		var sel []int
		for i, v := range cond {
			if v && i < dim {
				sel = append(sel, i)
			}
		}
		k := 0
		for o := range outer {
			for _, i := range sel {
				m.copyRun(k*inner, (o*dim+i)*inner, inner)
				k++
			}
		}
		return c.Outs(out), nil
	}), nil
}

func newOneHot(b *Build) (any, error) {
	a := b.Attrs()
	axis := a.Int("axis", -1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		it, err := shpNeed(in, 0, "indices")
		if err != nil {
			return nil, err
		}
		dt, err := shpNeed(in, 1, "depth")
		if err != nil {
			return nil, err
		}
		vt, err := shpNeed(in, 2, "values")
		if err != nil {
			return nil, err
		}
		if dt.Len() != 1 || len(dt.Shape) > 1 {
			return nil, fmt.Errorf("input depth has shape %v, want a scalar", tensor.ShapeString(dt.Shape))
		}
		if vt.Len() != 2 || len(vt.Shape) != 1 {
			return nil, fmt.Errorf("input values has shape %v, want [2]", tensor.ShapeString(vt.Shape))
		}
		dv, err := Float64s(dt)
		if err != nil {
			return nil, fmt.Errorf("input depth: %w", err)
		}
		if !(dv[0] >= 1 && dv[0] <= shpMaxElems) {
			return nil, fmt.Errorf("depth = %v, want ≥ 1", dv[0])
		}
		depth := int(dv[0])
		iv, err := Float64s(it)
		if err != nil {
			return nil, fmt.Errorf("input indices: %w", err)
		}
		r := len(it.Shape)
		ax := int(axis)
		if ax < 0 {
			ax += r + 1
		}
		if ax < 0 || ax > r {
			return nil, fmt.Errorf("axis %d out of range for indices of rank %d", axis, r)
		}
		shape := append(append(append([]int{}, it.Shape[:ax]...), depth), it.Shape[ax:]...)
		if err := shpCheckShape(shape); err != nil {
			return nil, err
		}
		out := c.Alloc(vt.DType, shape...)
		m, err := shpMoverFor(out, vt)
		if err != nil {
			return nil, err
		}
		shpCopyStrided(c, m, []int{out.Len()}, 0, []int{1}, 0, []int{0})
		inner := shpProd(it.Shape[ax:])
		for p, f := range iv {
			if math.IsNaN(f) {
				continue
			}
			// Indices are truncated toward zero; negative ones count from
			// the end since opset 11.
			k := int64(f)
			if k < 0 && b.Opset >= 11 {
				k += int64(depth)
			}
			if k < 0 || k >= int64(depth) {
				continue
			}
			o, i := p/inner, p%inner
			m.copyRun((o*depth+int(k))*inner+i, 1, 1)
		}
		return c.Outs(out), nil
	}), nil
}

// shpNonZeroMask reports which elements of t are not zero (for strings:
// not empty; NaN counts as nonzero).
func shpNonZeroMask(t *tensor.Tensor) ([]bool, error) {
	switch s := t.Data.(type) {
	case []float32:
		return shpNZ(s, func(v float32) bool { return v != 0 }), nil
	case []float64:
		return shpNZ(s, func(v float64) bool { return v != 0 }), nil
	case []int8:
		return shpNZ(s, func(v int8) bool { return v != 0 }), nil
	case []int16:
		return shpNZ(s, func(v int16) bool { return v != 0 }), nil
	case []int32:
		return shpNZ(s, func(v int32) bool { return v != 0 }), nil
	case []int64:
		return shpNZ(s, func(v int64) bool { return v != 0 }), nil
	case []uint8:
		return shpNZ(s, func(v uint8) bool { return v != 0 }), nil
	case []uint16:
		return shpNZ(s, func(v uint16) bool { return v != 0 }), nil
	case []uint32:
		return shpNZ(s, func(v uint32) bool { return v != 0 }), nil
	case []uint64:
		return shpNZ(s, func(v uint64) bool { return v != 0 }), nil
	case []bool:
		return s, nil
	case []string:
		return shpNZ(s, func(v string) bool { return v != "" }), nil
	case []tensor.F16:
		return shpNZ(s, func(v tensor.F16) bool { return v&0x7fff != 0 }), nil
	case []tensor.BF16:
		return shpNZ(s, func(v tensor.BF16) bool { return v&0x7fff != 0 }), nil
	case []complex64:
		return shpNZ(s, func(v complex64) bool { return v != 0 }), nil
	case []complex128:
		return shpNZ(s, func(v complex128) bool { return v != 0 }), nil
	case []tensor.F8E4M3FN:
		return shpNZ(s, func(v tensor.F8E4M3FN) bool { return v&0x7f != 0 }), nil
	case []tensor.F8E5M2:
		return shpNZ(s, func(v tensor.F8E5M2) bool { return v&0x7f != 0 }), nil
	case []tensor.F8E4M3FNUZ:
		return shpNZ(s, func(v tensor.F8E4M3FNUZ) bool { return v != 0 }), nil
	case []tensor.F8E5M2FNUZ:
		return shpNZ(s, func(v tensor.F8E5M2FNUZ) bool { return v != 0 }), nil
	case []tensor.U4:
		return shpNZ(s, func(v tensor.U4) bool { return v != 0 }), nil
	case []tensor.I4:
		return shpNZ(s, func(v tensor.I4) bool { return v != 0 }), nil
	case []tensor.F4E2M1:
		return shpNZ(s, func(v tensor.F4E2M1) bool { return v&0x7 != 0 }), nil
	}
	return nil, fmt.Errorf("NonZero of %v: %w", t.DType, ErrUnsupported)
}

func shpNZ[T any](s []T, nz func(T) bool) []bool {
	out := make([]bool, len(s))
	for i, v := range s {
		out[i] = nz(v)
	}
	return out
}

func newNonZero(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "X")
		if err != nil {
			return nil, err
		}
		mask, err := shpNonZeroMask(x)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, v := range mask {
			if v {
				n++
			}
		}
		shape := x.Shape
		if len(shape) == 0 {
			shape = []int{1} // a scalar is treated as a 1-element vector
		}
		r := len(shape)
		out := c.Alloc(tensor.Int64, r, n)
		o := out.Data.([]int64)
		pos := make([]int, r)
		k := 0
		for _, v := range mask {
			if v {
				for a := range r {
					o[a*n+k] = int64(pos[a])
				}
				k++
			}
			for a := r - 1; a >= 0; a-- {
				pos[a]++
				if pos[a] < shape[a] {
					break
				}
				pos[a] = 0
			}
		}
		return c.Outs(out), nil
	}), nil
}

// gthTask is Gather's copy loop: rows of inner elements (or, when inner is
// 1, one take per outer index); pooled for parallel runs.
type gthTask struct {
	m          shpMover
	idx        []int
	dim, inner int
}

var gthTaskPool = sync.Pool{New: func() any { return new(gthTask) }}

func (t *gthTask) Run(lo, hi int) {
	ni := len(t.idx)
	if t.inner == 1 {
		for o := lo; o < hi; o++ {
			t.m.take(o*ni, o*t.dim, t.idx)
		}
		return
	}
	for k := lo; k < hi; k++ {
		o, j := k/ni, k%ni
		t.m.copyRun(k*t.inner, (o*t.dim+t.idx[j])*t.inner, t.inner)
	}
}
