package kernels

import (
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/inferd/inferd/tensor"
)

// This file holds the shape family's element-moving machinery: the data
// movement ops (Transpose, Slice, Concat, Gather, Pad, ...) never look at
// element values, so they are written once against shpMover, which is
// instantiated for every storage type.

// shpMover copies elements from one storage slice (src) into another (dst)
// of the same element type. Moving never looks at values, only at their
// width, so the mover keeps the two slices as raw memory and element width
// (strings, which hold pointers, keep their type). It is a small value:
// making one allocates nothing.
type shpMover struct {
	w      int // element bytes: 1, 2, 4, 8 or 16; 0 for strings
	d, s   unsafe.Pointer
	dn, sn int
}

func shpMk[T any](d []T, src any) (shpMover, error) {
	s, ok := src.([]T)
	if !ok {
		return shpMover{}, fmt.Errorf("element types differ: %T and %T", d, src)
	}
	var z T
	w := int(unsafe.Sizeof(z))
	if _, isString := any(z).(string); isString {
		w = 0
	}
	return shpMover{w: w, d: unsafe.Pointer(unsafe.SliceData(d)), s: unsafe.Pointer(unsafe.SliceData(s)), dn: len(d), sn: len(s)}, nil
}

type shpW16 [2]uint64

func shpSlices[T any](m shpMover) (d, s []T) {
	return unsafe.Slice((*T)(m.d), m.dn), unsafe.Slice((*T)(m.s), m.sn)
}

// copyRun copies src[so:so+n] to dst[do:do+n].
func (m shpMover) copyRun(do, so, n int) {
	switch m.w {
	case 1:
		d, s := shpSlices[uint8](m)
		copy(d[do:do+n], s[so:so+n])
	case 2:
		d, s := shpSlices[uint16](m)
		copy(d[do:do+n], s[so:so+n])
	case 4:
		d, s := shpSlices[uint32](m)
		copy(d[do:do+n], s[so:so+n])
	case 8:
		d, s := shpSlices[uint64](m)
		copy(d[do:do+n], s[so:so+n])
	case 16:
		d, s := shpSlices[shpW16](m)
		copy(d[do:do+n], s[so:so+n])
	default:
		d, s := shpSlices[string](m)
		copy(d[do:do+n], s[so:so+n])
	}
}

// take sets dst[do+i] = src[base+idx[i]] for every idx[i] >= 0.
func (m shpMover) take(do, base int, idx []int) {
	switch m.w {
	case 1:
		d, s := shpSlices[uint8](m)
		shpTake(d, s, do, base, idx)
	case 2:
		d, s := shpSlices[uint16](m)
		shpTake(d, s, do, base, idx)
	case 4:
		d, s := shpSlices[uint32](m)
		shpTake(d, s, do, base, idx)
	case 8:
		d, s := shpSlices[uint64](m)
		shpTake(d, s, do, base, idx)
	case 16:
		d, s := shpSlices[shpW16](m)
		shpTake(d, s, do, base, idx)
	default:
		d, s := shpSlices[string](m)
		shpTake(d, s, do, base, idx)
	}
}

// put sets dst[idx[i]] = src[so+i] for every i, in order.
func (m shpMover) put(idx []int, so int) {
	switch m.w {
	case 1:
		d, s := shpSlices[uint8](m)
		shpPut(d, s, idx, so)
	case 2:
		d, s := shpSlices[uint16](m)
		shpPut(d, s, idx, so)
	case 4:
		d, s := shpSlices[uint32](m)
		shpPut(d, s, idx, so)
	case 8:
		d, s := shpSlices[uint64](m)
		shpPut(d, s, idx, so)
	case 16:
		d, s := shpSlices[shpW16](m)
		shpPut(d, s, idx, so)
	default:
		d, s := shpSlices[string](m)
		shpPut(d, s, idx, so)
	}
}

// tile copies an nq×nr block transposed: dst[do+i*dsq+j] = src[so+i+j*ssr],
// in cache-sized tiles.
func (m shpMover) tile(do, so, nq, nr, dsq, ssr int) {
	switch m.w {
	case 1:
		d, s := shpSlices[uint8](m)
		shpTile(d, s, do, so, nq, nr, dsq, ssr)
	case 2:
		d, s := shpSlices[uint16](m)
		shpTile(d, s, do, so, nq, nr, dsq, ssr)
	case 4:
		d, s := shpSlices[uint32](m)
		shpTile(d, s, do, so, nq, nr, dsq, ssr)
	case 8:
		d, s := shpSlices[uint64](m)
		shpTile(d, s, do, so, nq, nr, dsq, ssr)
	case 16:
		d, s := shpSlices[shpW16](m)
		shpTile(d, s, do, so, nq, nr, dsq, ssr)
	default:
		d, s := shpSlices[string](m)
		shpTile(d, s, do, so, nq, nr, dsq, ssr)
	}
}

// rows copies rows [lo, hi) of the strided region g.
func (m shpMover) rows(g *shpGeom, lo, hi int) {
	switch m.w {
	case 1:
		d, s := shpSlices[uint8](m)
		shpRows(d, s, g, lo, hi)
	case 2:
		d, s := shpSlices[uint16](m)
		shpRows(d, s, g, lo, hi)
	case 4:
		d, s := shpSlices[uint32](m)
		shpRows(d, s, g, lo, hi)
	case 8:
		d, s := shpSlices[uint64](m)
		shpRows(d, s, g, lo, hi)
	case 16:
		d, s := shpSlices[shpW16](m)
		shpRows(d, s, g, lo, hi)
	default:
		d, s := shpSlices[string](m)
		shpRows(d, s, g, lo, hi)
	}
}

func shpTake[T any](dst, src []T, do, base int, idx []int) {
	d := dst[do : do+len(idx)]
	for i, k := range idx {
		if k >= 0 {
			d[i] = src[base+k]
		}
	}
}

func shpPut[T any](dst, src []T, idx []int, so int) {
	s := src[so : so+len(idx)]
	for i, k := range idx {
		dst[k] = s[i]
	}
}

func shpTile[T any](dst, src []T, do, so, nq, nr, dsq, ssr int) {
	const b = 16
	for i0 := 0; i0 < nq; i0 += b {
		i1 := min(i0+b, nq)
		for j0 := 0; j0 < nr; j0 += b {
			j1 := min(j0+b, nr)
			for j := j0; j < j1; j++ {
				s := src[so+j*ssr+i0 : so+j*ssr+i1]
				dp := do + i0*dsq + j
				for _, v := range s {
					dst[dp] = v
					dp += dsq
				}
			}
		}
	}
}

func shpRows[T any](dst, src []T, g *shpGeom, lo, hi int) {
	r := len(g.shape) - 1
	n := g.shape[r]
	dsi, ssi := g.ds[r], g.ss[r]
	var idxBuf [shpGeomRank]int
	idx := idxBuf[:0]
	if r <= len(idxBuf) {
		idx = idxBuf[:r]
	} else {
		idx = make([]int, r)
	}
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
			copy(dst[do:do+n], src[so:so+n])
		case dsi == 1 && ssi == 0:
			v := src[so]
			d := dst[do : do+n]
			for i := range d {
				d[i] = v
			}
		case dsi == 1:
			d := dst[do : do+n]
			sp := so
			for i := range d {
				d[i] = src[sp]
				sp += ssi
			}
		default:
			dp, sp := do, so
			for i := 0; i < n; i++ {
				dst[dp] = src[sp]
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

// shpMoverFor returns a mover from src's storage to dst's. The tensors
// must have the same element type.
func shpMoverFor(dst, src *tensor.Tensor) (shpMover, error) {
	if dst.DType != src.DType {
		return shpMover{}, fmt.Errorf("element types differ: %v and %v", dst.DType, src.DType)
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
	return shpMover{}, fmt.Errorf("unsupported storage %T: %w", dst.Data, ErrUnsupported)
}

// shpGeomRank is the rank up to which a region's geometry lives in its
// own buffers (a higher one spills to the heap).
const shpGeomRank = 8

// shpGeom is a strided copy region after simplification: shape has at
// least one dimension and no zero dimension; do/so are the first element's
// offsets and ds/ss the element strides of dst and src per dimension.
type shpGeom struct {
	shape  []int
	do, so int
	ds, ss []int
}

// shpGeomBuf is storage for a shpGeom's slices, kept outside it: a struct
// that points into itself would always be moved to the heap.
type shpGeomBuf [3][shpGeomRank]int

// shpPlan returns, with its slices in buf, the region of the given shape
// with dimensions of size 1 dropped and neighbours that are contiguous in
// both dst and src merged; ok is false when the region is empty.
func shpPlan(buf *shpGeomBuf, shape []int, do int, ds []int, so int, ss []int) (g shpGeom, ok bool) {
	g.do, g.so = do, so
	g.shape, g.ds, g.ss = buf[0][:0], buf[1][:0], buf[2][:0]
	for a, n := range shape {
		if n == 0 {
			return g, false
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
		g.shape, g.ds, g.ss = append(g.shape, 1), append(g.ds, 1), append(g.ss, 1)
	}
	return g, true
}

// clone returns a heap copy of g whose slices are its own.
func (g *shpGeom) clone() *shpGeom {
	return &shpGeom{do: g.do, so: g.so, shape: slices.Clone(g.shape), ds: slices.Clone(g.ds), ss: slices.Clone(g.ss)}
}

// shpParMin is the element count from which copies are split across threads.
const shpParMin = 1 << 15

// shpCopyStrided copies the region of the given shape from src (offset so,
// strides ss) into dst (offset do, strides ds). Strides may be zero
// (broadcast) or negative (reversed) in src; dst positions must be distinct.
func shpCopyStrided(c *Context, m shpMover, shape []int, do int, ds []int, so int, ss []int) {
	var buf shpGeomBuf
	g, ok := shpPlan(&buf, shape, do, ds, so, ss)
	if !ok {
		return
	}
	r := len(g.shape) - 1
	if r > 0 && g.ds[r] == 1 && g.ss[r] != 1 && g.ss[r] != 0 && g.shape[r] >= 8 {
		// A transposition: if some other axis is contiguous in src, copy
		// in tiles so that both sides stay in cache.
		for q := r - 1; q >= 0; q-- {
			if g.ss[q] == 1 && g.shape[q] >= 8 && shpCopyTiled(c, m, &g, q) {
				return
			}
		}
	}
	rows := 1
	for _, n := range g.shape[:r] {
		rows *= n
	}
	if rows > 1 && rows*g.shape[r] >= shpParMin && c != nil {
		t := shpRowsPool.Get().(*shpRowsTask)
		t.m, t.g = m, g.copyTo(&t.buf)
		c.ParallelTask(rows, t)
		*t = shpRowsTask{}
		shpRowsPool.Put(t)
		return
	}
	m.rows(&g, 0, rows)
}

// shpRowsTask is a strided copy shared across threads; tasks are pooled,
// so a parallel copy allocates nothing either.
type shpRowsTask struct {
	m   shpMover
	g   shpGeom
	buf shpGeomBuf
}

func (t *shpRowsTask) Run(lo, hi int) { t.m.rows(&t.g, lo, hi) }

var shpRowsPool = sync.Pool{New: func() any { return new(shpRowsTask) }}

// copyTo returns g with its slices copied into buf (or the heap, when
// they do not fit).
func (g shpGeom) copyTo(buf *shpGeomBuf) shpGeom {
	if len(g.shape) > shpGeomRank {
		return *g.clone()
	}
	h := shpGeom{do: g.do, so: g.so}
	h.shape = append(buf[0][:0], g.shape...)
	h.ds = append(buf[1][:0], g.ds...)
	h.ss = append(buf[2][:0], g.ss...)
	return h
}

// shpTileRows is the number of rows of the contiguous src axis one unit of
// tiled work covers.
const shpTileRows = 64

// shpTiles is the work of a tiled copy: region g, whose last axis is
// contiguous in dst and axis q contiguous in src, split into units of
// shpTileRows rows of q for every index of the other axes. It holds its
// geometry in arrays, so a tiled copy on one thread allocates nothing.
type shpTiles struct {
	m                shpMover
	do, so           int
	nq, nr, dsq, ssr int
	on               int // other axes
	oShape, oDs, oSs [shpGeomRank]int
	nqb              int
}

func (t *shpTiles) Run(lo, hi int) {
	for u := lo; u < hi; u++ {
		o, qb := u/t.nqb, u%t.nqb
		do, so := t.do, t.so
		for a := t.on - 1; a >= 0; a-- {
			i := o % t.oShape[a]
			o /= t.oShape[a]
			do += i * t.oDs[a]
			so += i * t.oSs[a]
		}
		q0 := qb * shpTileRows
		t.m.tile(do+q0*t.dsq, so+q0, min(shpTileRows, t.nq-q0), t.nr, t.dsq, t.ssr)
	}
}

var shpTilesPool = sync.Pool{New: func() any { return new(shpTiles) }}

// shpCopyTiled copies region g, whose last axis is contiguous in dst and
// axis q contiguous in src, as transposed tiles of the (q, last) planes.
// It reports false, copying nothing, when g has too many axes for it.
func shpCopyTiled(c *Context, m shpMover, g *shpGeom, q int) bool {
	r := len(g.shape) - 1
	if r-1 > shpGeomRank {
		return false
	}
	t := shpTiles{m: m, do: g.do, so: g.so, nq: g.shape[q], nr: g.shape[r], dsq: g.ds[q], ssr: g.ss[r]}
	for a := range r {
		if a != q {
			t.oShape[t.on], t.oDs[t.on], t.oSs[t.on] = g.shape[a], g.ds[a], g.ss[a]
			t.on++
		}
	}
	t.nqb = (t.nq + shpTileRows - 1) / shpTileRows
	units := shpProd(t.oShape[:t.on]) * t.nqb
	if units > 1 && shpProd(g.shape) >= shpParMin && c != nil {
		h := shpTilesPool.Get().(*shpTiles)
		*h = t
		c.ParallelTask(units, h)
		*h = shpTiles{}
		shpTilesPool.Put(h)
		return true
	}
	t.Run(0, units)
	return true
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
func shpView(c *Context, t *tensor.Tensor, shape []int) *tensor.Tensor {
	return c.View(t, shape)
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
func shpAxes(c *Context, axes []int64, rank int) ([]int, error) {
	out := c.Ints(len(axes))
	var seenBuf [16]bool
	seen := seenBuf[:0]
	if rank <= len(seenBuf) {
		seen = seenBuf[:rank]
	} else {
		seen = make([]bool, rank)
	}
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
