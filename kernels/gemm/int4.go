package gemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// # 4-bit weight-only GEMM
//
// GemmInt4PackedB computes C = act(alpha·A·W + beta·C + bias) for float32
// activations A and a weight W of 4-bit integers quantized in blocks
// along k, as ONNX's blocked DequantizeLinear (opset 21) defines it:
//
//	W[kk][j] = (q[kk][j] - z[kk/block][j]) · s[kk/block][j]
//
// with float32 scales s and optional 4-bit zero points z. W stays 4-bit in
// memory (half a byte a weight, plus a scale and zero point a block) and
// is dequantized inside the GEMM: for one row of A (batch-1 inference,
// where reading the weight is the whole cost) by a kernel that multiplies
// the 4-bit values directly and applies each block's scale once,
//
//	Σ_kk a[kk]·W[kk][j] = Σ_blocks s·(Σ a[kk]·q[kk][j]) - s·z·(Σ a[kk]),
//
// and for more rows into a float32 panel that the float32 kernels then
// use, so that its cost is shared by every row. (The one-row form rounds
// differently: its error is float32 rounding of s·(u or z)·|a|, not of
// the product of a and the dequantized weight; both lie far below the
// quantization error, about s/2 a weight.)
//
// Packed format: panels of NR columns; per k, 16 bytes, byte b holding
// column b in its low nibble and column b+16 in its high one, as unsigned
// values (a signed weight is stored as q+8, its zero point moved to
// match); per block, NR scales, NR zero points (as float32) and NR
// products -z·s.

// Int4Weight is a k×n weight of 4-bit integers quantized in blocks of
// Block steps of k (the last may be shorter), row-major: element (kk, j) is
// Values[kk*N+j], in -8..7 when Signed and 0..15 otherwise. Scales holds a
// float32 per block and column, Scales[(kk/Block)*N+j]; Zeros, if set,
// holds the zero points the same way (nil means zero).
type Int4Weight struct {
	K, N, Block int
	Values      []int8
	Signed      bool
	Scales      []float32
	Zeros       []int8
}

// PackedInt4 is an Int4Weight packed for GemmInt4PackedB. It is immutable
// and safe for concurrent use.
type PackedInt4 struct {
	k, n, block int
	nblk        int
	data        []byte    // per panel, k rows of 16 bytes
	scale       []float32 // per panel, nblk × NR
	zero        []float32 // per panel, nblk × NR: z (unsigned domain)
	zs          []float32 // per panel, nblk × NR: -z·s
}

// Dims returns the weight's rows and columns.
func (p *PackedInt4) Dims() (k, n int) { return p.k, p.n }

// Bytes returns the size of the packed weight, scales and zero points
// included.
func (p *PackedInt4) Bytes() int { return len(p.data) + 4*(len(p.scale)+len(p.zero)+len(p.zs)) }

// PackInt4 packs w. It panics if the slices do not fit the dimensions or
// a value is out of range.
func PackInt4(w Int4Weight) *PackedInt4 {
	k, n, bs := w.K, w.N, w.Block
	if k < 0 || n < 0 || bs < 1 {
		panic(fmt.Sprintf("gemm: int4 weight %d×%d with block %d", k, n, bs))
	}
	nblk := ceilDiv(k, bs)
	if len(w.Values) < k*n || len(w.Scales) < nblk*n || (w.Zeros != nil && len(w.Zeros) < nblk*n) {
		panic(fmt.Sprintf("gemm: int4 weight %d×%d (block %d): %d values, %d scales, %d zero points", k, n, bs, len(w.Values), len(w.Scales), len(w.Zeros)))
	}
	lo, hi, shift := int8(0), int8(15), int8(0)
	if w.Signed {
		lo, hi, shift = -8, 7, 8
	}
	np := ceilDiv(n, NR)
	p := &PackedInt4{k: k, n: n, block: bs, nblk: nblk,
		data:  make([]byte, np*k*16),
		scale: make([]float32, np*nblk*NR),
		zero:  make([]float32, np*nblk*NR),
		zs:    make([]float32, np*nblk*NR),
	}
	for j := 0; j < n; j++ {
		pan, c := j/NR, j%NR
		byteOff, nib := c%16, uint(4*(c/16))
		for kk := 0; kk < k; kk++ {
			v := w.Values[kk*n+j]
			if v < lo || v > hi {
				panic(fmt.Sprintf("gemm: int4 value %d out of range at (%d, %d)", v, kk, j))
			}
			p.data[pan*k*16+kk*16+byteOff] |= byte(v+shift) << nib
		}
		for b := 0; b < nblk; b++ {
			s := w.Scales[b*n+j]
			z := shift
			if w.Zeros != nil {
				zv := w.Zeros[b*n+j]
				if zv < lo || zv > hi {
					panic(fmt.Sprintf("gemm: int4 zero point %d out of range at (%d, %d)", zv, b, j))
				}
				z += zv
			}
			x := (pan*nblk+b)*NR + c
			p.scale[x], p.zero[x], p.zs[x] = s, float32(z), -float32(z)*s
		}
	}
	return p
}

// int4Table maps a 4-bit value to its float32 (the kernels' lookup table).
var int4Table = [16]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// implInt4 is one implementation of the 4-bit kernels.
type implInt4 struct {
	name string
	// dequant writes rows [k0, k1) of panel p of b as float32, NR a row,
	// to dst: dst[(kk-k0)*NR + c] = (q - z)·s exactly as
	// dequantInt4Generic.
	dequant func(dst []float32, b *PackedInt4, p, k0, k1 int)
	// gemv sets out[c] = Σ_kk a[kk]·W[kk][p·NR+c] for c < NR (panel p),
	// as gemvInt4Generic documents.
	gemv func(out *[NR]float32, a, sums []float32, b *PackedInt4, p int)
}

var genericInt4 = &implInt4{name: "generic", dequant: dequantInt4Generic, gemv: gemvInt4Generic}

// curInt4 is the 4-bit implementation in use, chosen once at init.
var curInt4 = bestInt4()

func useImplInt4(name string) (restore func(), ok bool) {
	for _, im := range availableInt4() {
		if im.name == name {
			prev := curInt4
			curInt4 = im
			return func() { curInt4 = prev }, true
		}
	}
	return func() {}, false
}

// ImplInt4 returns the name of the 4-bit kernels in use: "avx512" or
// "generic".
func ImplInt4() string { return curInt4.name }

// dequantInt4Generic writes rows [k0, k1) of panel p as float32:
//
//	dst[(kk-k0)*NR + c] = (u(kk, c) - z[blk][c]) · s[blk][c],  blk = kk/block
//
// where u is the stored (unsigned) 4-bit value: the subtraction is exact
// and the product rounded once, as DequantizeLinear rounds.
func dequantInt4Generic(dst []float32, b *PackedInt4, p, k0, k1 int) {
	data := b.data[p*b.k*16:]
	for kk := k0; kk < k1; kk++ {
		blk := (p*b.nblk + kk/b.block) * NR
		s, z := b.scale[blk:blk+NR], b.zero[blk:blk+NR]
		row := data[kk*16 : kk*16+16]
		d := dst[(kk-k0)*NR : (kk-k0+1)*NR]
		for c, v := range row {
			d[c] = (int4Table[v&15] - z[c]) * s[c]
			d[c+16] = (int4Table[v>>4] - z[c+16]) * s[c+16]
		}
	}
}

// gemvInt4Generic computes one panel of a one-row product, a block at a
// time:
//
//	for blk, c < NR:
//		q := Σ_{kk in blk} a[kk]·u(kk, c)
//		out[c] += s[blk][c]·q + (-z·s)[blk][c]·sums[blk]
//
// where sums[blk] = Σ_{kk in blk} a[kk] (out starts at zero).
func gemvInt4Generic(out *[NR]float32, a, sums []float32, b *PackedInt4, p int) {
	*out = [NR]float32{}
	data := b.data[p*b.k*16:]
	for blk := 0; blk < b.nblk; blk++ {
		var q [NR]float32
		for kk := blk * b.block; kk < min(b.k, (blk+1)*b.block); kk++ {
			x := a[kk]
			for c, v := range data[kk*16 : kk*16+16] {
				q[c] += x * int4Table[v&15]
				q[c+16] += x * int4Table[v>>4]
			}
		}
		o := (p*b.nblk + blk) * NR
		s, zs := b.scale[o:o+NR], b.zs[o:o+NR]
		for c := range out {
			out[c] += s[c]*q[c] + zs[c]*sums[blk]
		}
	}
}

// Blocking of the 4-bit GEMM: k blocks of kcInt4 rows, whose dequantized
// NR-column panels (kcInt4·NR floats) stay in L1.
var kcInt4 = 256

// jobInt4 is one 4-bit call; it borrows job's epilogue.
type jobInt4 struct {
	job
	b *PackedInt4
}

var jobInt4Pool = sync.Pool{New: func() any {
	j := new(jobInt4)
	j.run = j.runTasks
	j.gemvRun = j.runGemvInt4
	return j
}}

// GemmInt4PackedB computes C = alpha·op(A)·W + beta·C followed by o's
// epilogue (as GemmPackedB), where W was packed by PackInt4 and op(A) is
// m×k float32. Distinct calls may run concurrently.
func GemmInt4PackedB(m int, alpha float32, a Matrix, b *PackedInt4, beta float32, c []float32, ldc int, o *Options) {
	a.check("A", m, b.k)
	n, k := b.n, b.k
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
			par, threads = o.Parallel, o.Threads
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
	if 2*float64(m)*float64(n)*float64(k) < float64(minParallelFlops) {
		threads, par = 1, nil
	}
	j := jobInt4Pool.Get().(*jobInt4)
	run, gemvRun := j.run, j.gemvRun
	j.m, j.n, j.k = m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b = aOperand{mat: a}, b
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
	switch {
	case k == 0 || alpha == 0:
		j.scaleC()
	case m == 1:
		np := ceilDiv(n, NR)
		tasks := min(threads, np)
		j.colStep = ceilDiv(np, tasks) * NR
		tasks = ceilDiv(n, j.colStep)
		if tasks == 1 || par == nil {
			j.runGemvInt4(0, tasks)
		} else {
			par(tasks, gemvRun)
		}
	default:
		j.planInt4(threads)
		tasks := j.rowTks * j.colTks
		if tasks == 1 || par == nil {
			j.runTasks(0, tasks)
		} else {
			par(tasks, run)
		}
	}
	*j = jobInt4{}
	j.run, j.gemvRun = run, gemvRun
	jobInt4Pool.Put(j)
}

// planInt4 chooses the task grid as jobBF16.planBF16 does; dequantizing a
// weight column costs about as much as packing a row of A.
func (j *jobInt4) planInt4(threads int) {
	m, n := j.m, j.n
	j.kc = min(j.k, kcInt4)
	if j.k > kcInt4 {
		j.kc = ceilDiv(j.k, ceilDiv(j.k, kcInt4))
	}
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
		if cost := rows*cols + 8*rows + 8*cols; cost < best {
			best, j.rowTks, j.colTks = cost, r, c
		}
	}
	j.rowStep = ceilDiv(mt, j.rowTks) * MR
	j.colStep = ceilDiv(nt, j.colTks) * NR
	j.rowTks, j.colTks = ceilDiv(m, j.rowStep), ceilDiv(n, j.colStep)
}

func (j *jobInt4) runTasks(lo, hi int) {
	s := scratchPool.Get().(*scratch)
	for t := lo; t < hi; t++ {
		r, c := t/j.colTks, t%j.colTks
		i0, j0 := r*j.rowStep, c*j.colStep
		j.taskInt4(s, i0, min(j.m, i0+j.rowStep), j0, min(j.n, j0+j.colStep))
	}
	s.t = tileArgs{}
	scratchPool.Put(s)
}

// taskInt4 computes C[i0:i1, j0:j1]: for each NR-column panel and k block,
// the panel is dequantized once into L1 and every row panel of A passes
// over it.
func (j *jobInt4) taskInt4(s *scratch, i0, i1, j0, j1 int) {
	k, kc := j.k, j.kc
	mSub := min(i1-i0, max(MR, packBytes/(4*k)/MR*MR))
	tile := current.tile
	t := &s.t
	bp := grow(&s.b, kc*NR)
	for is := i0; is < i1; is += mSub {
		ie := min(i1, is+mSub)
		av := grow(&s.a, ceilDiv(ie-is, MR)*MR*k)
		packA(av, j.a.mat, is, ie, k)
		for jr := j0; jr < j1; jr += NR {
			nr := min(NR, j1-jr)
			for pc := 0; pc < k; pc += kc {
				kb := min(kc, k-pc)
				last := pc+kb == k
				curInt4.dequant(bp, j.b, jr/NR, pc, pc+kb)
				*t = tileArgs{k: kb, b: bp, ldb: NR, ldc: j.ldc, ldr: j.ldc, alpha: j.alpha, beta: 1, flags: flagLoadC,
					c: j.c[is*j.ldc+jr:], mask: uint32(1<<nr - 1)}
				res := j.c
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
				for ir := is; ir < ie; ir += MR {
					mr := min(MR, ie-ir)
					t.a = av[((ir-is)/MR)*k*MR+pc*MR:]
					t.c = j.c[ir*j.ldc+jr:]
					if t.flags&flagLoadC != 0 {
						t.r = res[ir*t.ldr+jr:]
					}
					switch {
					case last && j.flagsLast&flagBiasRow != 0:
						t.bias = j.bias[ir:]
					case last && j.flagsLast&flagBiasCol != 0:
						t.bias = j.bias[jr:]
					}
					tile(t, mr, nr)
					if last && (j.leaky || j.post != nil) {
						j.postTile(ir, mr, jr, nr)
					}
				}
			}
		}
	}
}

// gemvScratch is a one-row task's scratch: the panel sums are kept off
// the stack, since the kernel is called through a func value.
type gemvScratch struct {
	scratch
	acc [MR * NR]float32
}

var gemvScratchPool = sync.Pool{New: func() any { return new(gemvScratch) }}

// runGemvInt4 computes column blocks [lo, hi) of a one-row product.
func (j *jobInt4) runGemvInt4(lo, hi int) {
	gs := gemvScratchPool.Get().(*gemvScratch)
	s := &gs.scratch
	b := j.b
	a := j.rowA(s)
	// Σ a over each block of k, for the zero-point terms.
	sums := grow(&s.edge, b.nblk)
	for blk := range sums {
		var x float32
		for _, v := range a[blk*b.block : min(b.k, (blk+1)*b.block)] {
			x += v
		}
		sums[blk] = x
	}
	acc := &gs.acc
	out := (*[NR]float32)(acc[:NR])
	t := &s.t
	for blk := lo; blk < hi; blk++ {
		j1 := min(j.n, (blk+1)*j.colStep)
		for j0 := blk * j.colStep; j0 < j1; j0 += NR {
			nr := min(NR, j1-j0)
			curInt4.gemv(out, a, sums, b, j0/NR)
			for c := range out {
				out[c] *= j.alpha
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
			finish(t, acc, 1, nr)
			if j.leaky || j.post != nil {
				j.postTile(0, 1, j0, nr)
			}
		}
	}
	s.t = tileArgs{}
	gemvScratchPool.Put(gs)
}
