package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// This file holds the shape family's element-moving machinery: the data
// movement ops (Transpose, Slice, Concat, Gather, Pad, ...) never look at
// element values, so they are written once against shpMover, which is
// instantiated for every storage type.

// shpMover copies elements from one storage slice (src) into another (dst)
// of the same element type.
type shpMover interface {
	// copyRun copies src[so:so+n] to dst[do:do+n].
	copyRun(do, so, n int)
	// rows copies rows [lo, hi) of the strided region g.
	rows(g *shpGeom, lo, hi int)
	// take sets dst[do+i] = src[base+idx[i]] for every idx[i] >= 0.
	take(do, base int, idx []int)
	// put sets dst[idx[i]] = src[so+i] for every i, in order.
	put(idx []int, so int)
	// tile copies an nq×nr block transposed: dst[do+i*dsq+j] =
	// src[so+i+j*ssr], in cache-sized tiles.
	tile(do, so, nq, nr, dsq, ssr int)
}

type shpMove[T any] struct{ d, s []T }

func (m shpMove[T]) copyRun(do, so, n int) { copy(m.d[do:do+n], m.s[so:so+n]) }

func (m shpMove[T]) take(do, base int, idx []int) {
	d := m.d[do : do+len(idx)]
	for i, k := range idx {
		if k >= 0 {
			d[i] = m.s[base+k]
		}
	}
}

func (m shpMove[T]) put(idx []int, so int) {
	s := m.s[so : so+len(idx)]
	for i, k := range idx {
		m.d[k] = s[i]
	}
}

func (m shpMove[T]) tile(do, so, nq, nr, dsq, ssr int) {
	const b = 16
	for i0 := 0; i0 < nq; i0 += b {
		i1 := min(i0+b, nq)
		for j0 := 0; j0 < nr; j0 += b {
			j1 := min(j0+b, nr)
			for j := j0; j < j1; j++ {
				s := m.s[so+j*ssr+i0 : so+j*ssr+i1]
				dp := do + i0*dsq + j
				for _, v := range s {
					m.d[dp] = v
					dp += dsq
				}
			}
		}
	}
}

func (m shpMove[T]) rows(g *shpGeom, lo, hi int) {
	r := len(g.shape) - 1
	n := g.shape[r]
	dsi, ssi := g.ds[r], g.ss[r]
	idx := make([]int, r)
	do, so := g.do, g.so
	rem := lo
	for a := r - 1; a >= 0; a-- {
		idx[a] = rem % g.shape[a]
		rem /= g.shape[a]
		do += idx[a] * g.ds[a]
		so += idx[a] * g.ss[a]
	}
	for row := lo; row < hi; row++ {
		switch {
		case dsi == 1 && ssi == 1:
			copy(m.d[do:do+n], m.s[so:so+n])
		case dsi == 1 && ssi == 0:
			v := m.s[so]
			d := m.d[do : do+n]
			for i := range d {
				d[i] = v
			}
		case dsi == 1:
			d := m.d[do : do+n]
			sp := so
			for i := range d {
				d[i] = m.s[sp]
				sp += ssi
			}
		default:
			dp, sp := do, so
			for i := 0; i < n; i++ {
				m.d[dp] = m.s[sp]
				dp += dsi
				sp += ssi
			}
		}
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			do += g.ds[a]
			so += g.ss[a]
			if idx[a] < g.shape[a] {
				break
			}
			do -= g.ds[a] * g.shape[a]
			so -= g.ss[a] * g.shape[a]
			idx[a] = 0
		}
	}
}

func shpMk[T any](d []T, src any) (shpMover, error) {
	s, ok := src.([]T)
	if !ok {
		return nil, fmt.Errorf("element types differ: %T and %T", d, src)
	}
	return shpMove[T]{d, s}, nil
}

// shpMoverFor returns a mover from src's storage to dst's. The tensors
// must have the same element type.
func shpMoverFor(dst, src *tensor.Tensor) (shpMover, error) {
	if dst.DType != src.DType {
		return nil, fmt.Errorf("element types differ: %v and %v", dst.DType, src.DType)
	}
	switch d := dst.Data.(type) {
	case []float32:
		return shpMk(d, src.Data)
	case []float64:
		return shpMk(d, src.Data)
	case []int8:
		return shpMk(d, src.Data)
	case []int16:
		return shpMk(d, src.Data)
	case []int32:
		return shpMk(d, src.Data)
	case []int64:
		return shpMk(d, src.Data)
	case []uint8:
		return shpMk(d, src.Data)
	case []uint16:
		return shpMk(d, src.Data)
	case []uint32:
		return shpMk(d, src.Data)
	case []uint64:
		return shpMk(d, src.Data)
	case []bool:
		return shpMk(d, src.Data)
	case []string:
		return shpMk(d, src.Data)
	case []tensor.F16:
		return shpMk(d, src.Data)
	case []tensor.BF16:
		return shpMk(d, src.Data)
	case []complex64:
		return shpMk(d, src.Data)
	case []complex128:
		return shpMk(d, src.Data)
	case []tensor.F8E4M3FN:
		return shpMk(d, src.Data)
	case []tensor.F8E4M3FNUZ:
		return shpMk(d, src.Data)
	case []tensor.F8E5M2:
		return shpMk(d, src.Data)
	case []tensor.F8E5M2FNUZ:
		return shpMk(d, src.Data)
	case []tensor.U4:
		return shpMk(d, src.Data)
	case []tensor.I4:
		return shpMk(d, src.Data)
	case []tensor.F4E2M1:
		return shpMk(d, src.Data)
	}
	return nil, fmt.Errorf("unsupported storage %T: %w", dst.Data, ErrUnsupported)
}

// shpGeom is a strided copy region after simplification: shape has at
// least one dimension and no zero dimension; do/so are the first element's
// offsets and ds/ss the element strides of dst and src per dimension.
type shpGeom struct {
	shape  []int
	do, so int
	ds, ss []int
}

// shpPlan simplifies a strided region: dimensions of size 1 are dropped and
// neighbours that are contiguous in both dst and src are merged. It
// returns nil when the region is empty.
func shpPlan(shape []int, do int, ds []int, so int, ss []int) *shpGeom {
	g := &shpGeom{do: do, so: so}
	for a, n := range shape {
		if n == 0 {
			return nil
		}
		if n == 1 {
			continue
		}
		k := len(g.shape) - 1
		if k >= 0 && g.ds[k] == ds[a]*n && g.ss[k] == ss[a]*n {
			g.shape[k] *= n
			g.ds[k], g.ss[k] = ds[a], ss[a]
			continue
		}
		g.shape = append(g.shape, n)
		g.ds = append(g.ds, ds[a])
		g.ss = append(g.ss, ss[a])
	}
	if len(g.shape) == 0 {
		g.shape, g.ds, g.ss = []int{1}, []int{1}, []int{1}
	}
	return g
}

// shpParMin is the element count from which copies are split across threads.
const shpParMin = 1 << 15

// shpCopyStrided copies the region of the given shape from src (offset so,
// strides ss) into dst (offset do, strides ds). Strides may be zero
// (broadcast) or negative (reversed) in src; dst positions must be distinct.
func shpCopyStrided(c *Context, m shpMover, shape []int, do int, ds []int, so int, ss []int) {
	g := shpPlan(shape, do, ds, so, ss)
	if g == nil {
		return
	}
	r := len(g.shape) - 1
	if r > 0 && g.ds[r] == 1 && g.ss[r] != 1 && g.ss[r] != 0 && g.shape[r] >= 8 {
		// A transposition: if some other axis is contiguous in src, copy
		// in tiles so that both sides stay in cache.
		for q := r - 1; q >= 0; q-- {
			if g.ss[q] == 1 && g.shape[q] >= 8 {
				shpCopyTiled(c, m, g, q)
				return
			}
		}
	}
	rows := 1
	for _, n := range g.shape[:r] {
		rows *= n
	}
	if rows > 1 && rows*g.shape[r] >= shpParMin {
		c.Parallel(rows, func(lo, hi int) { m.rows(g, lo, hi) })
		return
	}
	m.rows(g, 0, rows)
}

// shpTileRows is the number of rows of the contiguous src axis one unit of
// tiled work covers.
const shpTileRows = 64

// shpCopyTiled copies region g, whose last axis is contiguous in dst and
// axis q contiguous in src, as transposed tiles of the (q, last) planes.
func shpCopyTiled(c *Context, m shpMover, g *shpGeom, q int) {
	r := len(g.shape) - 1
	var oshape, ods, oss []int
	for a := range r {
		if a != q {
			oshape = append(oshape, g.shape[a])
			ods = append(ods, g.ds[a])
			oss = append(oss, g.ss[a])
		}
	}
	nq, nr := g.shape[q], g.shape[r]
	nqb := (nq + shpTileRows - 1) / shpTileRows
	units := shpProd(oshape) * nqb
	work := func(lo, hi int) {
		for u := lo; u < hi; u++ {
			o, qb := u/nqb, u%nqb
			do, so := g.do, g.so
			for a := len(oshape) - 1; a >= 0; a-- {
				i := o % oshape[a]
				o /= oshape[a]
				do += i * ods[a]
				so += i * oss[a]
			}
			q0 := qb * shpTileRows
			m.tile(do+q0*g.ds[q], so+q0, min(shpTileRows, nq-q0), nr, g.ds[q], g.ss[r])
		}
	}
	if units > 1 && shpProd(g.shape) >= shpParMin {
		c.Parallel(units, work)
		return
	}
	work(0, units)
}

// shpFill sets every element of dst to the single element of val (a
// tensor of dst's type with one element).
func shpFill(c *Context, dst, val *tensor.Tensor) error {
	m, err := shpMoverFor(dst, val)
	if err != nil {
		return err
	}
	n := dst.Len()
	shpCopyStrided(c, m, []int{n}, 0, []int{1}, 0, []int{0})
	return nil
}

// shpView returns a tensor sharing t's storage with another shape (the
// shape slice itself is copied).
func shpView(t *tensor.Tensor, shape []int) *tensor.Tensor {
	return &tensor.Tensor{DType: t.DType, Shape: append([]int{}, shape...), Data: t.Data}
}

// shpProd returns the product of dims.
func shpProd(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// shpIndex maps a possibly negative index into [0, dim), or explains why
// it is out of range.
func shpIndex(v int64, dim int) (int, error) {
	i := v
	if i < 0 {
		i += int64(dim)
	}
	if i < 0 || i >= int64(dim) {
		return 0, fmt.Errorf("index %d is out of range for a dimension of size %d", v, dim)
	}
	return int(i), nil
}

// shpIndices reads an index tensor (int32 or int64).
func shpIndices(t *tensor.Tensor, what string) ([]int64, error) {
	switch t.DType {
	case tensor.Int32, tensor.Int64:
		return Int64s(t)
	}
	return nil, fmt.Errorf("input %s is %v, want int32 or int64", what, t.DType)
}

// shpMaxElems bounds the outputs that shape-computing ops (Range,
// ConstantOfShape, Expand, Tile, ...) may be asked to allocate.
const shpMaxElems = 1 << 34

// shpCheckShape checks a computed output shape for negative dimensions and
// absurd sizes, so a bad shape input gives an error, not a crash.
func shpCheckShape(shape []int) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("output shape %v has a negative dimension", shape)
		}
		if d > 0 && n > shpMaxElems/d {
			return fmt.Errorf("output shape %v is too large", shape)
		}
		n *= d
	}
	return nil
}

// shpInts converts int64 values to ints.
func shpInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// shpAxes normalizes axes against rank and rejects duplicates.
func shpAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		n, err := NormAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("axis %d is repeated in %v", a, axes)
		}
		seen[n] = true
		out[i] = n
	}
	return out, nil
}
