package gemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Blocking of the 8-bit GEMM. The kernels take the whole k at once (an
// int8 A panel of MR rows is 12 KiB at k = 1024, so no k blocking); a
// block of B columns of bBlock8 bytes stays in L2 while every row panel of
// a task passes over it.
var (
	bBlock8 = 384 << 10
	// packBytes8 bounds what one task packs of a per-call operand at a
	// time.
	packBytes8 = 1 << 20
)

// job8 is one 8-bit GEMM call, pooled so that a call allocates nothing
// once warm.
type job8 struct {
	m, n, k int
	a       Matrix8   // A when not packed ahead
	pa      *PackedA8 // A packed ahead, or nil
	b       Matrix8
	pb      *PackedB8
	signedA bool // kernel domain: A int8 and B uint8 (else A uint8, B int8)
	flipA   bool // a per-call A is flipped on packing
	flipB   bool
	za, zb  zeroPoints // kernel domain

	// The epilogue.
	flags          uint32
	rowOff, colOff []int32
	rowR, colR     []int32
	scaleR, scaleC []float32
	bias           []float32
	lo, hi         float32
	zero           int32
	c              []byte
	ldc, esize     int // bytes between rows, bytes per element

	// The task grid, as in job.
	rowTks, rowStep int
	colTks, colStep int
	nc              int // columns of a B block

	ints   []int32   // backing of the int32 vectors
	floats []float32 // backing of the float32 vectors
	run    func(lo, hi int)
}

var job8Pool = sync.Pool{New: func() any {
	j := new(job8)
	j.run = j.runTasks
	return j
}}

type scratch8 struct {
	a, b []byte
	t    qtileArgs
}

var scratch8Pool = sync.Pool{New: func() any { return new(scratch8) }}

func growBytes(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return (*buf)[:n]
}

// run8 runs the call described by the operand fields of p.
func run8(p *job8, e *QEpilogue, o *Options8) {
	if p.m <= 0 || p.n <= 0 {
		return
	}
	if p.za.n == 2 && p.zb.n == 2 {
		panic("gemm: zero points vary along both rows of A and columns of B")
	}
	threads := 1
	var par func(int, func(int, int))
	if o != nil && o.Parallel != nil {
		par, threads = o.Parallel, o.Threads
		if threads <= 0 {
			threads = runtime.GOMAXPROCS(0)
		}
	}
	if 2*float64(p.m)*float64(p.n)*float64(p.k) < float64(minParallelFlops) {
		threads, par = 1, nil
	}
	j := job8Pool.Get().(*job8)
	ints, floats, run := j.ints, j.floats, j.run
	*j = *p
	j.ints, j.floats, j.run = ints, floats, run
	if j.pa == nil {
		j.flipA = flipShift(j.a.Signed, j.signedA) != 0
	}
	if j.pb == nil {
		j.flipB = flipShift(j.b.Signed, !j.signedA) != 0
	}
	j.setup(e)
	j.plan(threads)
	tasks := j.rowTks * j.colTks
	if tasks == 1 || par == nil {
		j.runTasks(0, tasks)
	} else {
		par(tasks, j.run)
	}
	ints, floats = j.ints[:0], j.floats[:0]
	*j = job8{ints: ints, floats: floats, run: run}
	job8Pool.Put(j)
}

// int32s returns n zeroed int32s carved from j.ints, which setup sized.
func (j *job8) int32s(n int) []int32 {
	l := len(j.ints)
	j.ints = j.ints[:l+n]
	s := j.ints[l : l+n : l+n]
	clear(s)
	return s
}

func (j *job8) float32s(n int) []float32 {
	l := len(j.floats)
	j.floats = j.floats[:l+n]
	return j.floats[l : l+n : l+n]
}

// setup resolves e and the zero points into the kernels' epilogue.
func (j *job8) setup(e *QEpilogue) {
	m, n, k := j.m, j.n, j.k
	if e == nil {
		panic("gemm: no QEpilogue")
	}
	if cap(j.ints) < 3*m+3*n {
		j.ints = make([]int32, 0, 3*m+3*n)
	}
	if cap(j.floats) < m+n {
		j.floats = make([]float32, 0, m+n)
	}
	j.ints, j.floats = j.ints[:0], j.floats[:0]
	j.flags = 0
	var elems int
	qlo, qhi := float32(0), float32(0)
	switch {
	case e.Int32 != nil:
		j.c, j.esize, elems = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e.Int32))), 4*len(e.Int32)), 4, len(e.Int32)
	case e.Float32 != nil:
		j.c, j.esize, elems = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e.Float32))), 4*len(e.Float32)), 4, len(e.Float32)
		j.flags |= q8OutFloat
	case e.Uint8 != nil:
		j.c, j.esize, elems = e.Uint8, 1, len(e.Uint8)
		j.flags |= q8OutQuant
		qlo, qhi = 0, 255
	case e.Int8 != nil:
		j.c, j.esize, elems = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(e.Int8))), len(e.Int8)), 1, len(e.Int8)
		j.flags |= q8OutQuant
		qlo, qhi = -128, 127
	default:
		panic("gemm: QEpilogue has no output")
	}
	if e.Ldc < n {
		panic(fmt.Sprintf("gemm: C: stride %d < %d columns", e.Ldc, n))
	}
	if need := (m-1)*e.Ldc + n; elems < need {
		panic(fmt.Sprintf("gemm: C: %d elements, need %d for %d×%d (stride %d)", elems, need, m, n, e.Ldc))
	}
	j.ldc = e.Ldc * j.esize
	vec := func(name string, l, want int) {
		if l != want {
			panic(fmt.Sprintf("gemm: %s has %d elements, want %d", name, l, want))
		}
	}
	perLen := n
	if e.PerRow {
		perLen = m
	}

	// The int32 terms: zero-point corrections and Bias32.
	var sa, sb []int32 // row sums of A, column sums of B (kernel domain)
	if j.zb.n > 0 {
		if j.pa != nil {
			sa = j.pa.sums
		} else {
			sa = j.int32s(m)
			rowSums8(sa, j.a, 0, m, k, flipShift(j.a.Signed, j.signedA))
		}
	}
	if j.za.n > 0 {
		if j.pb != nil {
			sb = j.pb.sums
		} else {
			sb = j.int32s(n)
			colSums8(sb, j.b, k, 0, n, flipShift(j.b.Signed, !j.signedA))
		}
	}
	var rowOff, colOff []int32
	row := func() []int32 {
		if rowOff == nil {
			rowOff = j.int32s(m)
		}
		return rowOff
	}
	col := func() []int32 {
		if colOff == nil {
			colOff = j.int32s(n)
		}
		return colOff
	}
	za, zb, kk := j.za, j.zb, int32(k)
	// -zb[j]·ΣA[i] and k·za[i]·zb[j]
	switch zb.n {
	case 1:
		r := row()
		for i := range r {
			r[i] += -zb.s*sa[i] + kk*za.at(i)*zb.s
		}
	case 2: // za is at most one value
		j.flags |= q8Rank1
		j.rowR, j.colR = sa, j.int32s(n)
		for c := range j.colR {
			j.colR[c] = -zb.at(c)
		}
		if za.n == 1 {
			cv := col()
			for c := range cv {
				cv[c] += kk * za.s * zb.at(c)
			}
		}
	}
	// -za[i]·ΣB[j]
	switch za.n {
	case 1:
		cv := col()
		for c := range cv {
			cv[c] -= za.s * sb[c]
		}
	case 2: // zb is at most one value: the rank-one term is free
		j.flags |= q8Rank1
		j.rowR, j.colR = j.int32s(m), j.int32s(n)
		for i := range j.rowR {
			j.rowR[i] = za.at(i)
		}
		for c := range j.colR {
			j.colR[c] = -sb[c]
		}
	}
	if e.Bias32 != nil {
		vec("Bias32", len(e.Bias32), perLen)
		if e.PerRow {
			r := row()
			for i := range r {
				r[i] += e.Bias32[i]
			}
		} else {
			cv := col()
			for c := range cv {
				cv[c] += e.Bias32[c]
			}
		}
	}
	j.rowOff, j.colOff = rowOff, colOff
	if rowOff != nil {
		j.flags |= q8RowOff
	}
	if colOff != nil {
		j.flags |= q8ColOff
	}
	if j.flags&(q8OutFloat|q8OutQuant) == 0 {
		return
	}

	// The float part.
	if e.Scale != nil && len(e.Scale) != 1 {
		vec("Scale", len(e.Scale), perLen)
	}
	if e.RowScale != nil {
		vec("RowScale", len(e.RowScale), m)
	}
	if e.RowScale != nil || (e.PerRow && e.Scale != nil) {
		j.flags |= q8ScaleRow
		j.scaleR = j.float32s(m)
		for i := range j.scaleR {
			s := float32(1)
			if e.RowScale != nil {
				s = e.RowScale[i]
			}
			if e.PerRow && e.Scale != nil {
				s *= e.Scale[min(i, len(e.Scale)-1)]
			}
			j.scaleR[i] = s
		}
	}
	if !e.PerRow && e.Scale != nil {
		j.flags |= q8ScaleCol
		j.scaleC = e.Scale
		if len(e.Scale) == 1 {
			j.scaleC = j.float32s(n)
			for c := range j.scaleC {
				j.scaleC[c] = e.Scale[0]
			}
		}
	}
	if e.Bias != nil {
		if j.flags&q8OutFloat == 0 {
			panic("gemm: a float Bias needs float output (fold it into Bias32)")
		}
		vec("Bias", len(e.Bias), perLen)
		j.bias = e.Bias
		if e.PerRow {
			j.flags |= q8BiasRow
		} else {
			j.flags |= q8BiasCol
		}
	}
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	switch e.Act {
	case ActRelu:
		lo = 0
	case ActClip:
		lo, hi = e.Min, e.Max
	case ActNone:
	default:
		panic(fmt.Sprintf("gemm: activation %d is not available for 8-bit GEMM", e.Act))
	}
	if j.flags&q8OutQuant != 0 {
		z := float32(e.ZeroPoint)
		lo, hi = max(lo, qlo-z), min(hi, qhi-z)
		j.zero = e.ZeroPoint
	}
	j.lo, j.hi = lo, hi
	if !math.IsInf(float64(lo), -1) {
		j.flags |= q8Lo
	}
	if !math.IsInf(float64(hi), 1) {
		j.flags |= q8Hi
	}
}

// plan chooses the task grid for threads threads, as job.plan does.
func (j *job8) plan(threads int) {
	m, n := j.m, j.n
	kb := ceilDiv(j.k, 4) * 4
	j.nc = max(NR, bBlock8/max(kb, 4)/NR*NR)
	mt, nt := ceilDiv(m, MR), ceilDiv(n, NR)
	best := math.Inf(1)
	j.rowTks, j.colTks = 1, 1
	for r := 1; r <= threads; r++ {
		if threads%r != 0 {
			continue
		}
		c := threads / r
		if r > mt || c > nt {
			continue
		}
		rows, cols := float64(ceilDiv(mt, r)*MR), float64(ceilDiv(nt, c)*NR)
		cost := rows * cols
		if j.pa == nil {
			cost += 16 * rows // packing a byte costs about 16 multiply-adds' time
		}
		if j.pb == nil {
			cost += 16 * cols
		}
		if cost < best {
			best, j.rowTks, j.colTks = cost, r, c
		}
	}
	j.rowStep = ceilDiv(mt, j.rowTks) * MR
	j.colStep = ceilDiv(nt, j.colTks) * NR
	j.rowTks, j.colTks = ceilDiv(m, j.rowStep), ceilDiv(n, j.colStep)
}

// runTasks runs tasks [lo, hi) of the grid.
func (j *job8) runTasks(lo, hi int) {
	s := scratch8Pool.Get().(*scratch8)
	for t := lo; t < hi; t++ {
		r, c := t/j.colTks, t%j.colTks
		i0, j0 := r*j.rowStep, c*j.colStep
		j.task(s, i0, min(j.m, i0+j.rowStep), j0, min(j.n, j0+j.colStep))
	}
	s.t = qtileArgs{}
	scratch8Pool.Put(s)
}

// task computes C[i0:i1, j0:j1], i0 a multiple of MR and j0 of NR.
func (j *job8) task(s *scratch8, i0, i1, j0, j1 int) {
	kb := ceilDiv(j.k, 4) * 4
	mSub, nSub := i1-i0, j1-j0
	if j.pa == nil {
		mSub = min(mSub, max(MR, packBytes8/max(kb, 4)/MR*MR))
	}
	if j.pb == nil {
		nSub = min(nSub, max(NR, bBlock8/max(kb, 4)/NR*NR))
	}
	for is := i0; is < i1; is += mSub {
		ie := min(i1, is+mSub)
		var av []byte
		if j.pa != nil {
			av = j.pa.data[(is/MR)*kb*MR:]
		} else {
			av = growBytes(&s.a, ceilDiv(ie-is, MR)*MR*kb)
			packA8(av, j.a, is, ie, j.k, j.flipA)
		}
		for js := j0; js < j1; js += nSub {
			je := min(j1, js+nSub)
			var bv []byte
			if j.pb != nil {
				bv = j.pb.data[(js/NR)*kb*NR:]
			} else {
				bv = growBytes(&s.b, ceilDiv(je-js, NR)*NR*kb)
				packB8(bv, j.b, j.k, js, je, j.flipB)
			}
			j.core(s, av, is, ie, bv, js, je)
		}
	}
}

// core runs the kernels over C[is:ie, js:je], with A panels in av (from
// row is) and B panels in bv (from column js).
func (j *job8) core(s *scratch8, av []byte, is, ie int, bv []byte, js, je int) {
	kb := ceilDiv(j.k, 4) * 4
	tile := cur8.tile
	t := &s.t
	*t = qtileArgs{kg: kb / 4, ldc: j.ldc, lo: j.lo, hi: j.hi, zero: j.zero, flags: j.flags, bias: j.bias}
	f := j.flags
	for jc := js; jc < je; jc += j.nc {
		jce := min(je, jc+j.nc)
		for ir := is; ir < ie; ir += MR {
			mr := min(MR, ie-ir)
			t.a = av[(ir-is)*kb:]
			if f&q8RowOff != 0 {
				t.rowOff = j.rowOff[ir:]
			}
			if f&q8Rank1 != 0 {
				t.rowR = j.rowR[ir:]
			}
			if f&q8ScaleRow != 0 {
				t.scaleR = j.scaleR[ir:]
			}
			if f&q8BiasRow != 0 {
				t.bias = j.bias[ir:]
			}
			for jr := jc; jr < jce; jr += NR {
				nr := min(NR, jce-jr)
				t.b = bv[(jr-js)*kb:]
				t.c = j.c[ir*j.ldc+jr*j.esize:]
				if f&q8ColOff != 0 {
					t.colOff = j.colOff[jr:]
				}
				if f&q8Rank1 != 0 {
					t.colR = j.colR[jr:]
				}
				if f&q8ScaleCol != 0 {
					t.scaleC = j.scaleC[jr:]
				}
				if f&q8BiasCol != 0 {
					t.bias = j.bias[jr:]
				}
				t.mask = uint32(1<<nr - 1)
				tile(t, mr, nr, j.signedA)
			}
		}
	}
}
