package gemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// # bfloat16 GEMM
//
// GemmBF16PackedB computes C = act(alpha·bf16(A)·B + beta·C + bias) with a
// weight B held in bfloat16 (packed once by PackBF16 or PackBF16Bits) and
// float32 activations A rounded to bfloat16 panel by panel as they are
// packed; products accumulate in float32. On CPUs with AVX512_BF16 the
// kernel is VDPBF16PS (two bf16 multiply-adds per float32 lane), twice
// the FMA rate of float32; elsewhere a Go kernel computes the same sums.
//
// Rounding to bfloat16 is the hardware's (VCVTNE2PS2BF16): to nearest
// even, NaNs kept quiet, and float32 subnormals flushed to a signed zero.
// An input's rounding error is at most 2⁻⁹ of it, so the result is that
// of the float32 product of slightly perturbed operands: expect relative
// errors near 2⁻⁹·√(terms) of Σ|a·b|, not float32's. The packed formats
// hold k in pairs: A panels of MR rows, element (i, kk) at word
// p·kp·MR + (kk/2)·MR + i%MR, half kk%2 (low first); B panels of NR
// columns, element (kk, j) at word p·kp·NR + (kk/2)·NR + j%NR, where
// kp = ⌈k/2⌉ and padding is zero.

// BF16FromFloat32 rounds f to bfloat16 as VCVTNE2PS2BF16 does: to nearest
// even, NaN quieted, subnormal inputs to a zero of their sign.
func BF16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	switch {
	case b&0x7f800000 == 0: // zero or subnormal
		return uint16(b>>16) & 0x8000
	case b&0x7fffffff > 0x7f800000: // NaN
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// bf16Pair packs two float32s as the bf16 pair word (lo in the low half).
func bf16Pair(lo, hi float32) float32 {
	return math.Float32frombits(uint32(BF16FromFloat32(lo)) | uint32(BF16FromFloat32(hi))<<16)
}

// PackedBF16 is a k×n right operand in bfloat16, packed in panels of NR
// columns by pairs of k. It is immutable and safe for concurrent use.
type PackedBF16 struct {
	k, n int
	data []float32 // bf16 pairs, one per 32-bit word
}

// Dims returns the operand's rows and columns.
func (p *PackedBF16) Dims() (k, n int) { return p.k, p.n }

// Bytes returns the size of the packed data.
func (p *PackedBF16) Bytes() int { return 4 * len(p.data) }

// PackBF16 rounds op(b), a k×n float32 matrix, to bfloat16 and packs it
// for GemmBF16PackedB.
func PackBF16(k, n int, b Matrix) *PackedBF16 {
	b.check("B", k, n)
	return packBF16(k, n, func(kk, j int) uint16 { return BF16FromFloat32(b.at(kk, j)) })
}

// PackBF16Bits packs a k×n matrix of bfloat16 values given as their bits
// (row stride stride; the transpose of the stored matrix when trans), as
// a model's bfloat16 weight is stored.
func PackBF16Bits(k, n int, bits []uint16, stride int, trans bool) *PackedBF16 {
	checkDims("B", k, n, stride, trans, len(bits))
	return packBF16(k, n, func(kk, j int) uint16 {
		if trans {
			return bits[j*stride+kk]
		}
		return bits[kk*stride+j]
	})
}

func packBF16(k, n int, at func(kk, j int) uint16) *PackedBF16 {
	kp := ceilDiv(k, 2)
	p := &PackedBF16{k: k, n: n, data: make([]float32, ceilDiv(n, NR)*NR*kp)}
	w := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(p.data))), 2*len(p.data))
	for j := 0; j < n; j++ {
		panel := (j / NR) * kp * NR
		for kk := 0; kk < k; kk++ {
			w[2*(panel+(kk/2)*NR+j%NR)+kk%2] = at(kk, j)
		}
	}
	return p
}

// implBF16 is one implementation of the bfloat16 micro-kernels.
type implBF16 struct {
	name string
	// tile computes an mr×nr tile as tileBF16Generic documents.
	tile func(t *tileArgs, mr, nr int)
	// packA, if not nil, converts and packs a full MR-row panel of a
	// row-major A (rows ld floats apart), the leading pairs of k that it
	// can, into panel, and returns how many pairs it packed.
	packA func(panel, src []float32, ld, k int) int
}

var genericBF16 = &implBF16{name: "generic", tile: tileBF16Generic}

// curBF16 is the bfloat16 implementation in use, chosen once at init.
var curBF16 = bestBF16()

// useImplBF16 makes the named implementation current and returns a func
// that restores the previous one; it reports false if this CPU cannot run
// it.
func useImplBF16(name string) (restore func(), ok bool) {
	for _, im := range availableBF16() {
		if im.name == name {
			prev := curBF16
			curBF16 = im
			return func() { curBF16 = prev }, true
		}
	}
	return func() {}, false
}

// ImplBF16 returns the name of the bfloat16 kernels in use: "avx512bf16"
// or "generic".
func ImplBF16() string { return curBF16.name }

// tileBF16Generic computes an mr×nr tile of C from bf16 pair panels
// (t.k pairs):
//
//	for i < mr, j < nr:
//		s := float32(0)
//		for p < t.k:
//			s += A1(i, p)·B1(p, j)   // the pair's high halves, rounded to float32
//			s += A0(i, p)·B0(p, j)   // then the low halves
//		then alpha, beta·R, bias, clamps and the store as tileGeneric
//
// where A0(i, p) is the low bf16 of t.a[p*MR+i] and B0(p, j) that of
// t.b[p*t.ldb+j]. This is VDPBF16PS as Intel describes it (each product
// exact, each sum rounded to nearest even; subnormal results, which
// VDPBF16PS flushes, aside). On the Zen 5 development machine the
// assembly agrees with it bit for bit; the tests allow float32 rounding.
func tileBF16Generic(t *tileArgs, mr, nr int) {
	var acc [MR * NR]float32
	a := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(t.a))), t.k*MR)
	for i := 0; i < mr; i++ {
		row := acc[i*NR : i*NR+nr]
		for p := 0; p < t.k; p++ {
			w := a[p*MR+i]
			a0, a1 := math.Float32frombits(w<<16), math.Float32frombits(w&0xffff0000)
			b := unsafe.Slice((*uint32)(unsafe.Pointer(&t.b[p*t.ldb])), nr)
			for j, v := range b {
				s := row[j] + a1*math.Float32frombits(v&0xffff0000)
				row[j] = s + a0*math.Float32frombits(v<<16)
			}
		}
		for j := range row {
			row[j] *= t.alpha
		}
	}
	finish(t, &acc, mr, nr)
}

// packABF16 rounds rows [i0, i1) of op(a) (k columns) to bfloat16 and
// packs them into dst as MR-row panels of k pairs.
func packABF16(dst []float32, a Matrix, i0, i1, k int) {
	kp := ceilDiv(k, 2)
	for p, i := 0, i0; i < i1; p, i = p+1, i+MR {
		panel := dst[p*kp*MR : (p+1)*kp*MR]
		rows := min(MR, i1-i)
		p0 := 0
		if rows == MR && !a.Trans && curBF16.packA != nil {
			p0 = curBF16.packA(panel, a.Data[i*a.Stride:], a.Stride, k)
		}
		for r := 0; r < MR; r++ {
			for q := p0; q < kp; q++ {
				var lo, hi float32
				if r < rows {
					lo = a.at(i+r, 2*q)
					if 2*q+1 < k {
						hi = a.at(i+r, 2*q+1)
					}
				}
				panel[q*MR+r] = bf16Pair(lo, hi)
			}
		}
	}
}

// Blocking of the bfloat16 GEMM: k blocks of kcBF16 pairs (an A panel of
// 12 KiB), B blocks of bBlockBF16 bytes kept in L2.
var (
	kcBF16     = 256
	bBlockBF16 = 512 << 10
)

// jobBF16 is one bfloat16 call; it borrows job's epilogue fields and its
// Go post-processing.
type jobBF16 struct {
	job
	b  *PackedBF16
	kp int
}

var jobBF16Pool = sync.Pool{New: func() any {
	j := new(jobBF16)
	j.run = j.runTasks
	return j
}}

// GemmBF16PackedB computes C = alpha·bf16(op(A))·B + beta·C followed by
// o's epilogue (as GemmPackedB), where B was packed by PackBF16 or
// PackBF16Bits and op(A), m×k float32, is rounded to bfloat16 as it is
// packed. Distinct calls may run concurrently.
func GemmBF16PackedB(m int, alpha float32, a Matrix, b *PackedBF16, beta float32, c []float32, ldc int, o *Options) {
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
	j := jobBF16Pool.Get().(*jobBF16)
	run := j.run
	j.m, j.n, j.k, j.kp = m, n, k, ceilDiv(k, 2)
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
	if k == 0 || alpha == 0 {
		j.scaleC()
	} else {
		j.planBF16(threads)
		tasks := j.rowTks * j.colTks
		if tasks == 1 || par == nil {
			j.runTasks(0, tasks)
		} else {
			par(tasks, run)
		}
	}
	*j = jobBF16{}
	j.run = run
	jobBF16Pool.Put(j)
}

// planBF16 chooses the blocking and the task grid (rows × columns =
// threads) whose largest task costs least, counting the packing of A.
func (j *jobBF16) planBF16(threads int) {
	m, n := j.m, j.n
	j.kc = j.kp
	if j.kp > kcBF16 {
		j.kc = ceilDiv(j.kp, ceilDiv(j.kp, kcBF16))
	}
	j.nc = max(NR, bBlockBF16/(4*j.kc)/NR*NR)
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
		if cost := rows*cols + 8*rows; cost < best {
			best, j.rowTks, j.colTks = cost, r, c
		}
	}
	j.rowStep = ceilDiv(mt, j.rowTks) * MR
	j.colStep = ceilDiv(nt, j.colTks) * NR
	j.rowTks, j.colTks = ceilDiv(m, j.rowStep), ceilDiv(n, j.colStep)
}

func (j *jobBF16) runTasks(lo, hi int) {
	s := scratchPool.Get().(*scratch)
	for t := lo; t < hi; t++ {
		r, c := t/j.colTks, t%j.colTks
		i0, j0 := r*j.rowStep, c*j.colStep
		j.taskBF16(s, i0, min(j.m, i0+j.rowStep), j0, min(j.n, j0+j.colStep))
	}
	s.t = tileArgs{}
	scratchPool.Put(s)
}

// taskBF16 computes C[i0:i1, j0:j1], i0 a multiple of MR and j0 of NR.
func (j *jobBF16) taskBF16(s *scratch, i0, i1, j0, j1 int) {
	kp, kc := j.kp, j.kc
	mSub := min(i1-i0, max(MR, packBytes/(4*kp)/MR*MR))
	tile := curBF16.tile
	t := &s.t
	for is := i0; is < i1; is += mSub {
		ie := min(i1, is+mSub)
		av := grow(&s.a, ceilDiv(ie-is, MR)*MR*kp)
		packABF16(av, j.a.mat, is, ie, j.k)
		for jc := j0; jc < j1; jc += j.nc {
			jce := min(j1, jc+j.nc)
			for pc := 0; pc < kp; pc += kc {
				kb := min(kc, kp-pc)
				last := pc+kb == kp
				*t = tileArgs{k: kb, ldb: NR, ldc: j.ldc, ldr: j.ldc, alpha: j.alpha, beta: 1, flags: flagLoadC}
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
					t.a = av[((ir-is)/MR)*kp*MR+pc*MR:]
					if last && j.flagsLast&flagBiasRow != 0 {
						t.bias = j.bias[ir:]
					}
					for jr := jc; jr < jce; jr += NR {
						nr := min(NR, jce-jr)
						t.b = j.b.data[(jr/NR)*kp*NR+pc*NR:]
						t.c = j.c[ir*j.ldc+jr:]
						if t.flags&flagLoadC != 0 {
							t.r = res[ir*t.ldr+jr:]
						}
						if last && j.flagsLast&flagBiasCol != 0 {
							t.bias = j.bias[jr:]
						}
						t.mask = uint32(1<<nr - 1)
						tile(t, mr, nr)
						if last && (j.leaky || j.post != nil) {
							j.postTile(ir, mr, jr, nr)
						}
					}
				}
			}
		}
	}
}
