package gemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Blocking, chosen for Zen 5 (48 KiB L1d, 1 MiB L2 per core). They are
// variables so that benchmarks can sweep them.
var (
	// kcMax bounds the k block: the MR×kc panel of A (24 KiB at 512)
	// stays in L1 while B streams past it, and C is read and written once
	// per k block. BenchmarkBlocking: 256 to 512 are within noise of each
	// other, 128 loses a few percent.
	kcMax = 512
	// bBlockBytes bounds the kc×nc block of B that stays in L2 while
	// every row panel of the task passes over it.
	bBlockBytes = 512 << 10
	// packBytes bounds what one task packs of A at a time; a task with
	// more rows packs them in slices. (B packed by a task is packed a
	// kc×nc block at a time.)
	packBytes = 2 << 20
	// directMaxM is the largest m for which a row-major B is always read
	// in place instead of packed: with few rows, packing B costs more than
	// the product. Above it B is still read in place unless its row
	// stride is a multiple of 4 KiB, where rows alias in L1 and L2 sets
	// (measured: in place wins by 4-12% at 512³ and on ResNet-50's NCHW
	// convolutions, loses 10-15% at 1024³ and 2048³).
	directMaxM = 48
	// bOuterMaxM is the largest m for which a product with B packed ahead
	// of time walks B's panels in the outer loop of a block (a row
	// panel's pass over a B panel from memory then serves every row
	// panel). Measured on ResNet-50's 7×7 convolutions in the NHWC
	// orientation (m = 49) with their weights evicted from the caches.
	bOuterMaxM = 64
	// minParallelFlops is the smallest product worth splitting.
	minParallelFlops = 1 << 17
)

type aOperand struct {
	packed *PackedA
	mat    Matrix
}

type bOperand struct {
	packed *PackedB
	mat    Matrix
	fill   PanelFunc
}

// bView is B ready for the kernels: panel p (counted from the view's first
// column), row kk is at data[p*ps + kk*rs].
type bView struct {
	data   []float32
	rs, ps int
}

// job is one call, pooled so that a call allocates nothing once warm.
type job struct {
	m, n, k     int
	alpha, beta float32
	a           aOperand
	b           bOperand
	c           []float32
	ldc         int
	res         []float32 // source of the beta term: C or the residual
	ldr         int

	// The epilogue: kernel flags and operands of the last k block, and
	// the parts that run in Go after a tile is stored.
	bias       []float32
	flagsLast  uint32
	lo, hi     float32
	leaky      bool
	leakyAlpha float32
	post       func(row []float32, i, j0 int)

	kc, nc int // k block and column block

	// The task grid: rowTks row blocks of rowStep rows by colTks column
	// blocks of colStep columns (GEMV and dot paths: colStep only).
	rowTks, rowStep int
	colTks, colStep int

	direct   bool      // B read in place (row-major, not packed)
	bOuter   bool      // core walks B's panels in the outer loop
	bShared  []float32 // B packed in full for this call, or nil
	aPerCall bool      // each task packs its rows of A
	bPerTask bool      // each task packs its columns of B

	run     func(lo, hi int) // j.runTasks, bound once
	packRun func(lo, hi int) // j.packShared, bound once
	gemvRun func(lo, hi int) // j.runGemv, bound once
	dotsRun func(lo, hi int) // j.runDots, bound once
}

var jobPool = sync.Pool{New: func() any {
	j := new(job)
	j.run = j.runTasks
	j.packRun = j.packShared
	j.gemvRun = j.runGemv
	j.dotsRun = j.runDots
	return j
}}

// scratch is one task's packing space and kernel arguments (kept off the
// stack, since the kernel is called through a func value).
type scratch struct {
	a, b, edge []float32
	t          tileArgs
	dot        [4]float32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// floatPool holds the buffers of B packed in full for a call.
var floatPool sync.Pool

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

func run(m, n, k int, alpha float32, a aOperand, b bOperand, beta float32, c []float32, ldc int, o *Options) {
	if m <= 0 || n <= 0 {
		return
	}
	if ldc < n {
		panic(fmt.Sprintf("gemm: C: stride %d < %d columns", ldc, n))
	}
	if need := (m-1)*ldc + n; len(c) < need {
		panic(fmt.Sprintf("gemm: C: %d elements, need %d for %d×%d (stride %d)", len(c), need, m, n, ldc))
	}
	var ep Epilogue
	var par func(int, func(int, int))
	threads := 1
	if o != nil {
		ep = o.Epilogue
		if o.Parallel != nil {
			par = o.Parallel
			threads = o.Threads
			if threads <= 0 {
				threads = runtime.GOMAXPROCS(0)
			}
		}
	}
	if ep.Bias != nil {
		want := n
		if ep.BiasPerRow {
			want = m
		}
		if len(ep.Bias) < want {
			panic(fmt.Sprintf("gemm: bias has %d elements, need %d", len(ep.Bias), want))
		}
	}

	j := jobPool.Get().(*job)
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b = a, b
	j.c, j.ldc = c, ldc
	j.setEpilogue(&ep)
	j.res, j.ldr = c, ldc
	if ep.Residual != nil && beta != 0 {
		j.res, j.ldr = ep.Residual, ep.ResidualStride
		if j.ldr == 0 {
			j.ldr = ldc
		}
		if j.ldr < n || len(j.res) < (m-1)*j.ldr+n {
			panic(fmt.Sprintf("gemm: residual: %d elements with stride %d, need %d×%d", len(j.res), j.ldr, m, n))
		}
	}

	if k == 0 || alpha == 0 {
		j.scaleC()
	} else {
		if 2*float64(m)*float64(n)*float64(k) < float64(minParallelFlops) {
			threads, par = 1, nil
		}
		if m == 1 && a.packed == nil && b.packed == nil && b.fill == nil && b.mat.Trans {
			// One row against a transposed B: n dot products over
			// contiguous rows, no packing.
			j.colStep = ceilDiv(ceilDiv(n, threads), NR) * NR
			tasks := ceilDiv(n, j.colStep)
			if tasks == 1 || par == nil {
				j.runDots(0, tasks)
			} else {
				par(tasks, j.dotsRun)
			}
		} else if m == 1 && current.gemv != nil && a.packed == nil && b.fill == nil && (b.packed != nil || !b.mat.Trans) {
			np := ceilDiv(n, NR)
			tasks := min(threads, ceilDiv(np, 4))
			j.colStep = ceilDiv(ceilDiv(np, tasks), 4) * 4 * NR
			tasks = ceilDiv(n, j.colStep)
			if tasks == 1 || par == nil {
				j.runGemv(0, tasks)
			} else {
				par(tasks, j.gemvRun)
			}
		} else {
			j.plan(threads)
			if j.bShared != nil {
				if par == nil {
					j.packShared(0, ceilDiv(n, NR))
				} else {
					par(ceilDiv(n, NR), j.packRun)
				}
			}
			tasks := j.rowTks * j.colTks
			if tasks == 1 || par == nil {
				j.runTasks(0, tasks)
			} else {
				par(tasks, j.run)
			}
		}
	}
	if j.bShared != nil {
		buf := j.bShared[:0]
		floatPool.Put(&buf)
	}
	*j = job{run: j.run, packRun: j.packRun, gemvRun: j.gemvRun, dotsRun: j.dotsRun}
	jobPool.Put(j)
}

func (j *job) setEpilogue(ep *Epilogue) {
	j.bias, j.flagsLast = nil, 0
	if ep.Bias != nil {
		j.bias = ep.Bias
		if ep.BiasPerRow {
			j.flagsLast |= flagBiasRow
		} else {
			j.flagsLast |= flagBiasCol
		}
	}
	lo, hi, useLo, useHi := ep.clampBounds()
	j.lo, j.hi = lo, hi
	if useLo {
		j.flagsLast |= flagLo
	}
	if useHi {
		j.flagsLast |= flagHi
	}
	j.leaky = ep.Act == ActLeakyRelu
	j.leakyAlpha = ep.Alpha
	j.post = ep.Func
}

// plan chooses the blocking and the task grid for threads threads.
func (j *job) plan(threads int) {
	m, n, k := j.m, j.n, j.k
	j.kc = k
	if k > kcMax {
		j.kc = ceilDiv(k, ceilDiv(k, kcMax))
	}
	j.nc = max(NR, bBlockBytes/(4*j.kc)/NR*NR)
	j.aPerCall = j.a.packed == nil
	j.direct = j.b.packed == nil && j.b.fill == nil && !j.b.mat.Trans &&
		(m <= directMaxM || j.b.mat.Stride*4%4096 != 0)
	bPerCall := j.b.packed == nil && !j.direct
	j.bOuter = j.b.packed != nil && m <= bOuterMaxM

	// Pick the grid (rows × cols = threads) whose largest task costs least,
	// counting the packing each task repeats.
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
		cost := rows * cols // multiply-adds per k
		if j.aPerCall {
			cost += 8 * rows // packing an element costs about 8 multiply-adds' time
		}
		if bPerCall {
			cost += 8 * cols
		}
		if cost < best {
			best, j.rowTks, j.colTks = cost, r, c
		}
	}
	j.rowStep = ceilDiv(mt, j.rowTks) * MR
	j.colStep = ceilDiv(nt, j.colTks) * NR
	j.rowTks, j.colTks = ceilDiv(m, j.rowStep), ceilDiv(n, j.colStep)
	// B packed per call and shared by several row tasks: pack it once,
	// unless it is filled on demand (a convolution's implicit GEMM), whose
	// panels each task fills into its own blocks in L2 faster than it
	// would read them back from a shared copy of all of B.
	j.bPerTask = bPerCall && (j.rowTks == 1 || j.b.fill != nil)
	if bPerCall && !j.bPerTask {
		p, _ := floatPool.Get().(*[]float32)
		if p == nil {
			p = new([]float32)
		}
		j.bShared = grow(p, nt*NR*k)
	}
}

// packShared packs B panels [lo, hi) into j.bShared.
func (j *job) packShared(lo, hi int) {
	k := j.k
	for p := lo; p < hi; p++ {
		dst := j.bShared[p*k*NR : (p+1)*k*NR]
		col := p * NR
		if j.b.fill != nil {
			j.b.fill(dst, 0, k, col)
		} else {
			packBPanel(dst, j.b.mat, 0, k, col, min(NR, j.n-col))
		}
	}
}

// runTasks runs tasks [lo, hi) of the grid, row-block major.
func (j *job) runTasks(lo, hi int) {
	s := scratchPool.Get().(*scratch)
	for t := lo; t < hi; t++ {
		r, c := t/j.colTks, t%j.colTks
		i0, j0 := r*j.rowStep, c*j.colStep
		j.task(s, i0, min(j.m, i0+j.rowStep), j0, min(j.n, j0+j.colStep))
	}
	s.t = tileArgs{}
	scratchPool.Put(s)
}

// task computes C[i0:i1, j0:j1], i0 a multiple of MR and j0 of NR.
func (j *job) task(s *scratch, i0, i1, j0, j1 int) {
	k := j.k
	mSub := i1 - i0
	if j.aPerCall && !j.bPerTask {
		mSub = min(mSub, max(MR, packBytes/(4*k)/MR*MR))
	}
	// With both packed here, A is packed whole (one row slice) so that
	// each block of B is packed once; B is packed a block at a time.
	nSub := j1 - j0
	for is := i0; is < i1; is += mSub {
		ie := min(i1, is+mSub)
		var av []float32
		if j.aPerCall {
			av = grow(&s.a, ceilDiv(ie-is, MR)*MR*k)
			packA(av, j.a.mat, is, ie, k)
		} else {
			av = j.a.packed.data[(is/MR)*k*MR:]
		}
		for js := j0; js < j1; js += nSub {
			je := min(j1, js+nSub)
			switch {
			case j.b.packed != nil:
				j.core(s, av, is, ie, bView{j.b.packed.data[(js/NR)*k*NR:], NR, k * NR}, js, je)
			case j.bShared != nil:
				j.core(s, av, is, ie, bView{j.bShared[(js/NR)*k*NR:], NR, k * NR}, js, je)
			case j.direct:
				full := js + (je-js)/NR*NR
				if full > js {
					b := j.b.mat
					j.core(s, av, is, ie, bView{b.Data[js:], b.Stride, NR}, js, full)
				}
				if full < je {
					edge := grow(&s.edge, k*NR)
					packBPanel(edge, j.b.mat, 0, k, full, je-full)
					j.core(s, av, is, ie, bView{edge, NR, k * NR}, full, je)
				}
			default:
				j.corePacking(s, av, is, ie, js, je)
			}
		}
	}
}

// core runs the kernels over C[is:ie, js:je], with A panels in av
// (starting at row is) and B in bv (starting at column js).
func (j *job) core(s *scratch, av []float32, is, ie int, bv bView, js, je int) {
	for jc := js; jc < je; jc += j.nc {
		jce := min(je, jc+j.nc)
		for pc := 0; pc < j.k; pc += j.kc {
			j.block(s, av, is, ie, bv, js, pc, jc, jce, pc, min(j.kc, j.k-pc))
		}
	}
}

// corePacking is core for a B packed by this task: each kc×nc block of B
// is packed (or filled) just before the row panels pass over it, so that
// it is written and read while it sits in L2, rather than packed whole
// over all of k first.
func (j *job) corePacking(s *scratch, av []float32, is, ie, js, je int) {
	for jc := js; jc < je; jc += j.nc {
		jce := min(je, jc+j.nc)
		np := ceilDiv(jce-jc, NR)
		for pc := 0; pc < j.k; pc += j.kc {
			kb := min(j.kc, j.k-pc)
			bv := grow(&s.b, np*NR*kb)
			for p := 0; p < np; p++ {
				col := jc + p*NR
				dst := bv[p*kb*NR : (p+1)*kb*NR]
				if j.b.fill != nil {
					j.b.fill(dst, pc, pc+kb, col)
				} else {
					packBPanel(dst, j.b.mat, pc, pc+kb, col, min(NR, jce-col))
				}
			}
			j.block(s, av, is, ie, bView{bv, NR, kb * NR}, jc, 0, jc, jce, pc, kb)
		}
	}
}

// block runs the kernels over C[is:ie, jc:jce] for k rows [pc, pc+kb):
// A panels in av (starting at row is), B in bv, whose column bj0 is its
// first and whose row bk is row pc of B.
func (j *job) block(s *scratch, av []float32, is, ie int, bv bView, bj0, bk, jc, jce, pc, kb int) {
	k, ldc := j.k, j.ldc
	tile := current.tile
	t := &s.t
	last := pc+kb == k
	*t = tileArgs{k: kb, ldb: bv.rs, ldc: ldc, ldr: ldc, alpha: j.alpha, beta: 1, flags: flagLoadC}
	res := j.c // later k blocks add to the partial sums in C
	if pc == 0 {
		t.beta, res, t.ldr = j.beta, j.res, j.ldr
		if j.beta == 0 {
			t.flags = 0
		}
	}
	if last {
		t.flags |= j.flagsLast
		t.lo, t.hi = j.lo, j.hi
	}
	biasRow := last && j.flagsLast&flagBiasRow != 0
	biasCol := last && j.flagsLast&flagBiasCol != 0
	one := func(ir, jr int) {
		mr, nr := min(MR, ie-ir), min(NR, jce-jr)
		t.a = av[((ir-is)/MR)*k*MR+pc*MR:]
		t.b = bv.data[((jr-bj0)/NR)*bv.ps+bk*bv.rs:]
		t.c = j.c[ir*ldc+jr:]
		if t.flags&flagLoadC != 0 {
			t.r = res[ir*t.ldr+jr:]
		}
		if biasRow {
			t.bias = j.bias[ir:]
		} else if biasCol {
			t.bias = j.bias[jr:]
		}
		t.mask = uint32(1<<nr - 1)
		tile(t, mr, nr)
		if last && (j.leaky || j.post != nil) {
			j.postTile(ir, mr, jr, nr)
		}
	}
	if j.bOuter {
		// B packed ahead of time (a weight, cold in memory) and few row
		// panels: every row panel passes over a B panel while it is in
		// L1 and L2, so that B streams from memory once at the pace of
		// all of them.
		for jr := jc; jr < jce; jr += NR {
			for ir := is; ir < ie; ir += MR {
				one(ir, jr)
			}
		}
		return
	}
	for ir := is; ir < ie; ir += MR {
		for jr := jc; jr < jce; jr += NR {
			one(ir, jr)
		}
	}
}

// postTile runs the Go part of the epilogue on a finished tile.
func (j *job) postTile(i0, mr, j0, nr int) {
	for i := i0; i < i0+mr; i++ {
		row := j.c[i*j.ldc+j0 : i*j.ldc+j0+nr]
		if j.leaky {
			for x, v := range row {
				if v < 0 {
					row[x] = v * j.leakyAlpha
				}
			}
		}
		if j.post != nil {
			j.post(row, i, j0)
		}
	}
}

// rowA returns the single row of op(A) as a contiguous slice, gathering it
// into s when A is stored transposed.
func (j *job) rowA(s *scratch) []float32 {
	k := j.k
	if j.a.mat.Trans && j.a.mat.Stride != 1 {
		a := grow(&s.a, k)
		for kk := range a {
			a[kk] = j.a.mat.Data[kk*j.a.mat.Stride]
		}
		return a
	}
	return j.a.mat.Data[:k]
}

// runDots computes column blocks [lo, hi) of a one-row product with a
// transposed B: C[j] is the dot product of A's row with B's stored row j.
func (j *job) runDots(lo, hi int) {
	s := scratchPool.Get().(*scratch)
	k := j.k
	a := j.rowA(s)
	b := j.b.mat
	dot4 := current.dot4
	var acc [MR * NR]float32
	out := &s.dot
	t := &s.t
	for blk := lo; blk < hi; blk++ {
		j1 := min(j.n, (blk+1)*j.colStep)
		for j0 := blk * j.colStep; j0 < j1; j0 += NR {
			nr := min(NR, j1-j0)
			for c := 0; c < nr; c += 4 {
				row := (j0 + c) * b.Stride
				if nr-c >= 4 {
					dot4(a, b.Data[row:row+3*b.Stride+k], b.Stride, out)
					copy(acc[c:c+4], out[:])
					continue
				}
				for r := c; r < nr; r++ {
					row := (j0 + r) * b.Stride
					dot4(a, b.Data[row:row+k], 0, out)
					acc[r] = out[0]
				}
			}
			for c := range acc[:nr] {
				acc[c] *= j.alpha
			}
			*t = tileArgs{c: j.c[j0:], ldc: j.ldc, beta: j.beta, flags: j.flagsLast, lo: j.lo, hi: j.hi}
			if j.beta != 0 {
				t.flags |= flagLoadC
				t.r, t.ldr = j.res[j0:], j.ldr
			}
			if j.flagsLast&flagBiasRow != 0 {
				t.bias = j.bias
			} else if j.bias != nil {
				t.bias = j.bias[j0:]
			}
			finish(t, &acc, 1, nr)
			if j.leaky || j.post != nil {
				j.postTile(0, 1, j0, nr)
			}
		}
	}
	s.t = tileArgs{}
	scratchPool.Put(s)
}

// runGemv computes column blocks [lo, hi) of a one-row product.
func (j *job) runGemv(lo, hi int) {
	s := scratchPool.Get().(*scratch)
	k := j.k
	a := j.rowA(s)
	t := &s.t
	for blk := lo; blk < hi; blk++ {
		j0 := blk * j.colStep
		j1 := min(j.n, j0+j.colStep)
		*t = tileArgs{a: a, k: k, ldc: j.ldc, alpha: j.alpha, beta: j.beta, flags: j.flagsLast, lo: j.lo, hi: j.hi}
		if j.beta != 0 {
			t.flags |= flagLoadC
			t.r, t.ldr = j.res[j0:], j.ldr
		}
		if j.flagsLast&flagBiasRow != 0 {
			t.bias = j.bias
		} else if j.bias != nil {
			t.bias = j.bias[j0:]
		}
		t.c = j.c[j0:]
		var ps int
		if j.b.packed != nil {
			t.b, t.ldb, ps = j.b.packed.data[(j0/NR)*k*NR:], NR, k*NR
		} else {
			t.b, t.ldb, ps = j.b.mat.Data[j0:], j.b.mat.Stride, NR
		}
		np := ceilDiv(j1-j0, NR)
		nr := j1 - j0 - (np-1)*NR
		t.mask = uint32(1<<nr - 1)
		current.gemv(t, np, ps, nr)
		if j.leaky || j.post != nil {
			for c := j0; c < j1; c += NR {
				j.postTile(0, 1, c, min(NR, j1-c))
			}
		}
	}
	s.t = tileArgs{}
	scratchPool.Put(s)
}

// scaleC handles k = 0 or alpha = 0, where the product is zero: C =
// beta·C, then the epilogue.
func (j *job) scaleC() {
	var zero [MR * NR]float32
	t := &tileArgs{ldc: j.ldc, beta: j.beta, flags: j.flagsLast, lo: j.lo, hi: j.hi}
	if j.beta != 0 {
		t.flags |= flagLoadC
	}
	for i := 0; i < j.m; i += MR {
		mr := min(MR, j.m-i)
		for c := 0; c < j.n; c += NR {
			nr := min(NR, j.n-c)
			t.c = j.c[i*j.ldc+c:]
			if j.beta != 0 {
				t.r, t.ldr = j.res[i*j.ldr+c:], j.ldr
			}
			if t.flags&flagBiasRow != 0 {
				t.bias = j.bias[i:]
			} else if j.bias != nil {
				t.bias = j.bias[c:]
			}
			finish(t, &zero, mr, nr)
			if j.leaky || j.post != nil {
				j.postTile(i, mr, c, nr)
			}
		}
	}
}
