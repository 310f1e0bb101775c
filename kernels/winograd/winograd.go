// Package winograd computes 3×3, stride-1 float32 convolutions with
// Winograd's minimal filtering algorithm F(2×2, 3×3) (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015): each 2×2
// block of outputs comes from a 4×4 tile of input as
//
//	Y = Aᵀ·[ Σ_c (G·g_kc·Gᵀ) ⊙ (Bᵀ·d_c·B) ]·A
//
// so that the 16 elementwise products, summed over input channels, become
// 16 matrix products M_ξ = U_ξ·V_ξ (K output channels × C input channels
// times C × tiles) with 2.25 times fewer multiply-adds than the direct
// convolution.
//
// The filter transform U = G·g·Gᵀ is done once ([NewFilter]) and stored as
// 16 packed GEMM operands. A run ([Plan.Run]) works in blocks of tiles, a
// rectangle of tile rows and columns of one image, each small enough that
// its transformed input V and products M stay in L2: the block's input
// rows are split into even and odd columns with the padding as zeros, the
// input transform writes V, 16 serial GEMMs (kernels/gemm) compute M,
// and the output transform writes the 2×2 outputs with the bias, a
// residual and a clamp (Relu, Clip) fused. Blocks are shared out across
// threads. The transforms run 16 adjacent tiles per AVX-512 vector; the
// portable Go versions (other CPUs, the purego tag) compute the same.
//
// Error: the transforms use only additions and halvings, and F(2×2, 3×3)
// stays within a few float32 roundings of the direct convolution (the
// tests bound the relative error by 1e-5 against a float64 loop).
package winograd

import (
	"fmt"
	"math"
	"sync"

	"github.com/inferd/inferd/kernels/gemm"
)

// Filter is a K×C×3×3 filter transformed for F(2×2, 3×3): U_ξ[k][c] =
// (G·g_kc·Gᵀ)[ξ/4][ξ%4] for the 16 ξ, each packed as a GEMM left
// operand. A Filter is immutable and safe for concurrent use.
type Filter struct {
	K, C int
	u    [16]*gemm.PackedA
}

// NewFilter transforms w, a K×C×3×3 filter in row-major order (ONNX's
// Conv weight layout), computing in float64.
func NewFilter(w []float32, k, c int) (*Filter, error) {
	if k <= 0 || c <= 0 || len(w) != k*c*9 {
		return nil, fmt.Errorf("winograd: filter of %d floats, want %d×%d×3×3", len(w), k, c)
	}
	f := &Filter{K: k, C: c}
	u := make([]float32, 16*k*c)
	for kc := 0; kc < k*c; kc++ {
		g := w[kc*9 : kc*9+9]
		// t = G·g (4×3), then U = t·Gᵀ (4×4).
		var t [4][3]float64
		for j := 0; j < 3; j++ {
			g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
			t[0][j] = g0
			t[1][j] = (g0 + g1 + g2) / 2
			t[2][j] = (g0 - g1 + g2) / 2
			t[3][j] = g2
		}
		for i := 0; i < 4; i++ {
			r := [4]float64{t[i][0], (t[i][0] + t[i][1] + t[i][2]) / 2, (t[i][0] - t[i][1] + t[i][2]) / 2, t[i][2]}
			for j := 0; j < 4; j++ {
				u[(4*i+j)*k*c+kc] = float32(r[j])
			}
		}
	}
	for x := range f.u {
		f.u[x] = gemm.PackA(k, c, gemm.Matrix{Data: u[x*k*c:], Stride: c})
	}
	return f, nil
}

// Bytes returns the memory the transformed filter holds.
func (f *Filter) Bytes() int {
	n := 0
	for _, u := range f.u {
		n += 4 * u.Floats()
	}
	return n
}

// Geom is the shape of one convolution: N images of C×H×W in, N of
// K×OH×OW out, with PT rows of padding on top and PL columns on the left
// (the bottom and right padding follow from OH and OW: OH = H + PT + PB -
// 2).
type Geom struct {
	N, C, H, W int
	K, OH, OW  int
	PT, PL     int
}

// Plan is how a run of one Geom is cut into blocks of tiles. A Plan is
// immutable and safe for concurrent use.
type Plan struct {
	g        Geom
	th, tw   int // tile rows and columns of an image
	nty, ntx int // tile rows and columns of a full block
	nby, nbx int // blocks per image down and across
	ld       int // row stride of V and M (≥ the tiles of a block)
	vxs, mxs int // stride of V's and M's 16 matrices
	lh       int // half row of the split scratch
	sr       int // rows of the split scratch per channel
	zeros    []float32
}

// BlockBytes bounds the V and M of one block, which stay in L2 (1 MiB per
// core on Zen 5) between the transforms and the GEMMs. A variable so that
// benchmarks can sweep it.
var BlockBytes = 1 << 20

// maxBlockCols bounds the tile columns of a block (wider images are cut
// across too).
const maxBlockCols = 64

// NewPlan returns the plan of g for runs on threads threads.
func NewPlan(g Geom, threads int) (*Plan, error) {
	if g.N <= 0 || g.C <= 0 || g.K <= 0 || g.H <= 0 || g.W <= 0 || g.OH <= 0 || g.OW <= 0 {
		return nil, fmt.Errorf("winograd: empty geometry %+v", g)
	}
	if g.PT < 0 || g.PL < 0 || g.OH > g.H+g.PT || g.OW > g.W+g.PL {
		return nil, fmt.Errorf("winograd: geometry %+v: padding must be non-negative and OH ≤ H+PT, OW ≤ W+PL", g)
	}
	threads = max(threads, 1)
	p := &Plan{g: g, th: (g.OH + 1) / 2, tw: (g.OW + 1) / 2}
	p.nbx = (p.tw + maxBlockCols - 1) / maxBlockCols
	p.ntx = (p.tw + p.nbx - 1) / p.nbx
	perTile := 16 * (g.C + g.K) * 4
	// The block height whose slowest thread runs the fewest GEMM panels
	// (a panel is gemm.NR tiles; a block's last one may be part full),
	// among those within BlockBytes; ties go to the taller block, which
	// streams U fewer times.
	best := math.MaxInt
	for nty := 1; nty <= p.th; nty++ {
		if nty > 1 && nty*p.ntx*perTile > BlockBytes {
			break
		}
		nby := (p.th + nty - 1) / nty
		items := g.N * nby * p.nbx
		cost := (items + threads - 1) / threads * ((nty*p.ntx + gemm.NR - 1) / gemm.NR)
		if cost < best {
			best, p.nty = cost, nty
		}
	}
	p.nby = (p.th + p.nty - 1) / p.nty
	p.nty = (p.th + p.nby - 1) / p.nby
	// Whole GEMM panels, so that the GEMM reads every panel of V in
	// place (it would copy a part-full last one): the columns past a
	// block's tiles are computed and never read.
	p.ld = (p.nty*p.ntx + gemm.NR - 1) / gemm.NR * gemm.NR
	if p.ld*4%4096 == 0 {
		p.ld += gemm.NR // a row stride of 4 KiB aliases in the caches
	}
	// The transforms read or write the 16 matrices at once: strides that
	// are a multiple of 4 KiB would put all 16 streams in one L1 set, so
	// they are staggered by a cache line each.
	p.vxs, p.mxs = g.C*p.ld+16, g.K*p.ld+16
	p.lh = (p.ntx + 1 + 15) / 16 * 16
	p.sr = 2*p.nty + 2
	p.zeros = make([]float32, g.K)
	return p, nil
}

// Blocks returns the number of blocks a run computes (work items that
// Run shares out).
func (p *Plan) Blocks() int { return p.g.N * p.nby * p.nbx }

// Epilogue is what Run does to each output after the convolution:
//
//	y = Fn(act(conv(x, w) + Bias[k] + Residual))
//
// where act clamps to [Lo, Hi] (±Inf for none: Relu is Lo = 0) or, with
// Leaky, multiplies negative values by Alpha. Bias and Residual may be
// nil; Residual has y's shape. Fn, if set, is called on finished rows of
// y (its other arguments are 0) and may be called concurrently.
type Epilogue struct {
	Bias     []float32
	Residual []float32
	Lo, Hi   float32
	Leaky    bool
	Alpha    float32
	Fn       func(row []float32, i, j0 int)
}

// NoClamp is an Epilogue without bias, residual or activation.
var NoClamp = Epilogue{Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}

// run is one call of Run, pooled with its method bound once so that
// handing it to par allocates nothing.
type run struct {
	p     *Plan
	f     *Filter
	x, y  []float32
	ep    Epilogue
	items func(lo, hi int)
}

var runPool = sync.Pool{New: func() any {
	r := new(run)
	r.items = r.blocks
	return r
}}

// scratch is one thread's buffers: the split input rows, V and M.
type scratch struct {
	s, v, m []float32
	split   splitArgs
	out     outArgs
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// Run computes y = ep(conv(x, w)) for the filter f: x holds N images of
// C×H×W, y N of K×OH×OW. par, if not nil, runs fn over [0, n) in chunks,
// possibly concurrently (the engine's Context.Parallel); blocks are its
// work items. Run panics if a slice is shorter than the geometry needs.
func (p *Plan) Run(y, x []float32, f *Filter, ep *Epilogue, par func(n int, fn func(lo, hi int))) {
	g := &p.g
	if f.K != g.K || f.C != g.C {
		panic(fmt.Sprintf("winograd: filter %d×%d, plan %d×%d", f.K, f.C, g.K, g.C))
	}
	if len(x) < g.N*g.C*g.H*g.W || len(y) < g.N*g.K*g.OH*g.OW {
		panic(fmt.Sprintf("winograd: x has %d floats, y %d; geometry %+v", len(x), len(y), *g))
	}
	if ep.Bias != nil && len(ep.Bias) < g.K || ep.Residual != nil && len(ep.Residual) < g.N*g.K*g.OH*g.OW {
		panic("winograd: bias or residual too short")
	}
	r := runPool.Get().(*run)
	r.p, r.f, r.x, r.y, r.ep = p, f, x, y, *ep
	if n := p.Blocks(); par == nil || n == 1 {
		r.blocks(0, n)
	} else {
		par(n, r.items)
	}
	r.p, r.f, r.x, r.y, r.ep = nil, nil, nil, nil, Epilogue{}
	runPool.Put(r)
}

// blocks computes blocks [lo, hi).
func (r *run) blocks(lo, hi int) {
	sc := scratchPool.Get().(*scratch)
	p, g := r.p, &r.p.g
	sc.s = grow(&sc.s, g.C*p.sr*2*p.lh+32) // the last vectors read past the last row
	sc.v = grow(&sc.v, 16*p.vxs)
	sc.m = grow(&sc.m, 16*p.mxs+16)
	for b := lo; b < hi; b++ {
		n, q := b/(p.nby*p.nbx), b%(p.nby*p.nbx)
		by, bx := q/p.nbx, q%p.nbx
		ty0, tx0 := by*p.nty, bx*p.ntx
		r.block(sc, n, ty0, min(p.th, ty0+p.nty), tx0, min(p.tw, tx0+p.ntx))
	}
	scratchPool.Put(sc)
}

// block computes tile rows [ty0, ty1) and columns [tx0, tx1) of image n.
func (r *run) block(sc *scratch, n, ty0, ty1, tx0, tx1 int) {
	p, g := r.p, &r.p.g
	nty, ntx := ty1-ty0, tx1-tx0
	t := nty * ntx
	r.split(sc, n, ty0, ty1, tx0, tx1)

	// Input transform, 16 tiles of a tile row at a time.
	for ty := 0; ty < nty; ty++ {
		for l := 0; l < ntx; l += 16 {
			mask := uint32(1)<<min(16, ntx-l) - 1
			inputTiles(sc.v[ty*ntx+l:], p.vxs, p.ld, sc.s[2*ty*2*p.lh+l:], p.lh, p.sr*2*p.lh, g.C, mask)
		}
	}

	t = (t + gemm.NR - 1) / gemm.NR * gemm.NR
	for x := 0; x < 16; x++ {
		gemm.GemmPackedA(t, 1, r.f.u[x], gemm.Matrix{Data: sc.v[x*p.vxs:], Stride: p.ld}, 0, sc.m[x*p.mxs:], p.ld, nil)
	}

	// Output transform and epilogue.
	plane := g.OH * g.OW
	yn := r.y[n*g.K*plane:]
	var res []float32
	if r.ep.Residual != nil {
		res = r.ep.Residual[n*g.K*plane:]
	}
	a := &sc.out
	*a = outArgs{nch: g.K, mxs: p.mxs, mcs: p.ld, ys: g.OW, ycs: plane, lo: r.ep.Lo, hi: r.ep.Hi}
	bias := r.ep.Bias
	if bias == nil {
		bias = p.zeros
	}
	for ty := 0; ty < nty; ty++ {
		oy := 2 * (ty0 + ty)
		a.rows = min(2, g.OH-oy)
		for l := 0; l < ntx; l += 16 {
			ox := 2 * (tx0 + l)
			a.mask = uint32(1)<<min(2*min(16, ntx-l), g.OW-ox) - 1
			off := oy*g.OW + ox
			var rs []float32
			if res != nil {
				rs = res[off:]
			}
			outputTiles(yn[off:], sc.m[ty*ntx+l:], bias, rs, a)
		}
	}
	if r.ep.Leaky || r.ep.Fn != nil {
		oy0, oy1 := 2*ty0, min(g.OH, 2*ty1)
		ox0, ox1 := 2*tx0, min(g.OW, 2*tx1)
		for k := 0; k < g.K; k++ {
			for oy := oy0; oy < oy1; oy++ {
				row := yn[k*plane+oy*g.OW+ox0 : k*plane+oy*g.OW+ox1]
				if r.ep.Leaky {
					for i, v := range row {
						if v < 0 {
							row[i] = v * r.ep.Alpha
						}
					}
				}
				if r.ep.Fn != nil {
					r.ep.Fn(row, 0, 0)
				}
			}
		}
	}
}

// split writes the input rows and columns that the tiles of a block read
// into sc.s, split into even and odd columns, with zeros where they fall
// in the padding: scratch row r of channel c is input row 2·ty0 - PT + r,
// and its even half's element i (odd half's) input column 2·tx0 - PL + 2i
// (+ 1), for i ≤ ntx.
func (r *run) split(sc *scratch, n, ty0, ty1, tx0, tx1 int) {
	p, g := r.p, &r.p.g
	ntx := tx1 - tx0
	rows := 2*(ty1-ty0) + 2
	rs := 2 * p.lh // scratch row
	cs := p.sr * rs
	s := sc.s
	y0 := 2*ty0 - g.PT
	x0 := 2*tx0 - g.PL
	cols := 2*ntx + 2
	// Valid input rows [ra, rb) and columns [ca, cb), relative to y0, x0.
	ra, rb := max(0, -y0), min(rows, g.H-y0)
	ca, cb := max(0, -x0), min(cols, g.W-x0)
	for c := 0; c < g.C; c++ {
		sch := s[c*cs:]
		for row := 0; row < rows; row++ {
			e := sch[row*rs : row*rs+2*p.lh]
			if row < ra || row >= rb || ca >= cb {
				clear(e[:ntx+1])
				clear(e[p.lh : p.lh+ntx+1])
				continue
			}
			for i := 0; i < ca; i++ {
				e[(i%2)*p.lh+i/2] = 0
			}
			for i := cb; i < cols; i++ {
				e[(i%2)*p.lh+i/2] = 0
			}
		}
	}
	if ra >= rb || ca >= cb {
		return
	}
	// Column ca goes to the even half when ca is even; otherwise it is
	// the odd half that starts, and the even half starts one further.
	a := &sc.split
	*a = splitArgs{n: cb - ca, rows: rb - ra, nch: g.C, srs: g.W, scs: g.H * g.W, drs: rs, dcs: cs,
		src: n*g.C*g.H*g.W + (y0+ra)*g.W + x0 + ca}
	a.dst = ra*rs + ca/2
	if ca%2 == 0 {
		a.dst2 = a.dst + p.lh
	} else {
		a.dst, a.dst2 = a.dst+p.lh, a.dst+1
	}
	splitRows(s, r.x, a)
}
