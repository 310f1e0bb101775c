package kernels

import (
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/kernels/vec"
)

// The recurrence of one direction of RNN, GRU or LSTM. The input
// projection X·Wᵀ + bias of a block of time steps is one GEMM; each step
// then adds the recurrent product H·Rᵀ onto its rows of that projection (a
// GEMV at batch 1, with beta = 1, so the pre-activations are formed in
// place) and runs the gate functions over each batch row's H units as
// slice operations (kernels/vec).
//
// Threads: when a step's product is small (batch 1: a GEMV of a few
// microseconds, less than handing it to another thread costs), a
// bidirectional node runs its two independent directions concurrently,
// one per thread, and each runs serially; a single direction splits only
// its input projection. When the product is large (rnnStepFlops), each
// step's product and gate functions are split over the threads and the
// directions run one after the other.

// rnnDir is one direction's state and scratch within a run. Its buffers
// are kept across pooled runs.
type rnnDir struct {
	s       *rnnRun
	d       int
	reverse bool
	acts    []rnnAct
	pk      rnnPacked
	o       gemm.Options // the input projection's GEMM
	so      gemm.Options // a step's recurrent products
	stepPar bool         // a step's products and gate functions are split over threads

	xb       []float32 // input projection's bias (W's bias, plus R's where it commutes)
	rbh      []float32 // GRU with linear_before_reset: R's bias of the hidden gate
	pi, po   []float32 // LSTM peepholes
	pf       []float32
	h, hn    []float32 // state before and after the step, B×H
	cs       []float32 // LSTM cell state, B×H
	tmp      []float32 // B×H: LSTM's h(c), GRU's r ⊙ H and hh
	rec      []float32 // GRU with linear_before_reset: the step's H·Rᵀ, B×GH
	xrows    []float32 // a block's rows of X, when they are not contiguous in X
	xw       []float32 // a block's projections, then pre-activations
	xt       []float32 // the current step's rows of xw
	act      []int     // the step's active batch rows
	phase    int       // GRU without linear_before_reset: 0 or 1
	zeroBias []float32 // R's absent bias of the hidden gate
	rowsRun  func(lo, hi int)
}

func rnnGrow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// drop clears the direction's references to the run's inputs.
func (r *rnnDir) drop() {
	r.s, r.acts, r.pk = nil, nil, rnnPacked{}
	r.rbh, r.pi, r.po, r.pf, r.xt = nil, nil, nil, nil, nil
	r.o, r.so = gemm.Options{}, gemm.Options{}
}

// setup prepares direction d of run s. concurrent means the directions run
// one per thread, each serially; stepPar that each step's products and
// gate functions are split over threads.
func (r *rnnDir) setup(s *rnnRun, d int, reverse, concurrent, stepPar bool) {
	k := s.k
	B, H := s.batch, s.hd
	GH := s.g * H
	r.s, r.d, r.reverse = s, d, reverse
	r.acts = k.acts[d]
	r.pk = s.packed[d]
	r.o, r.so = gemm.Options{}, gemm.Options{}
	r.stepPar = stepPar
	if !concurrent && s.c != nil && s.c.Par != nil {
		r.o.Parallel, r.o.Threads = s.c.Par, s.c.gemmThreads()
		if stepPar {
			r.so = r.o
		}
	}

	// R's bias is folded into the projection except for GRU's hidden
	// gate with linear_before_reset, where the reset gate multiplies it.
	r.xb = rnnGrow(&r.xb, GH)
	clear(r.xb)
	r.rbh = nil
	lbr := k.cell == rnnGRU && k.linearReset
	if s.bias != nil {
		wb := s.bias[d*2*GH : d*2*GH+GH]
		rb := s.bias[d*2*GH+GH : (d+1)*2*GH]
		vec.Add(r.xb, wb, rb)
		if lbr {
			r.rbh = rb[2*H : 3*H]
			copy(r.xb[2*H:3*H], wb[2*H:3*H])
		}
	}
	if lbr && r.rbh == nil {
		r.rbh = rnnGrow(&r.zeroBias, H)
		clear(r.rbh)
	}
	r.pi, r.po, r.pf = nil, nil, nil
	if s.p != nil {
		p := s.p[d*3*H : (d+1)*3*H]
		r.pi, r.po, r.pf = p[:H], p[H:2*H], p[2*H:]
	}

	r.h = rnnGrow(&r.h, B*H)
	r.hn = rnnGrow(&r.hn, B*H)
	clear(r.h)
	if k.cell == rnnLSTM {
		r.cs = rnnGrow(&r.cs, B*H)
		clear(r.cs)
	}
	for b := 0; b < B; b++ {
		if s.h0 != nil {
			copy(r.h[b*H:(b+1)*H], s.h0[s.stateOff(d, b):])
		}
		if k.cell == rnnLSTM && s.c0 != nil {
			copy(r.cs[b*H:(b+1)*H], s.c0[s.stateOff(d, b):])
		}
	}
	r.tmp = rnnGrow(&r.tmp, B*H)
	clear(r.tmp)
	if lbr {
		r.rec = rnnGrow(&r.rec, B*GH)
	}
	r.act = r.act[:0]
}

// rnnBlockFloats bounds a block's projections (floats): the block's GEMM
// is large enough to run at speed while its output stays in L2. Only
// tests change it.
var rnnBlockFloats = 1 << 18

// run computes the direction over the whole sequence.
func (r *rnnDir) run() {
	s := r.s
	B, H, I := s.batch, s.hd, s.in
	GH := s.g * H
	if s.seq == 0 || B == 0 {
		r.finish()
		return
	}
	tb := max(1, min(s.seq, rnnBlockFloats/max(1, B*GH)))
	// A block of time steps is contiguous in X in the layout [seq, batch,
	// in], and at batch 1 in either layout.
	inPlace := s.k.layout == 0 || B == 1
	if !inPlace {
		r.xrows = rnnGrow(&r.xrows, tb*B*I)
	}
	r.xw = rnnGrow(&r.xw, tb*B*GH)
	nb := (s.seq + tb - 1) / tb
	for bi := 0; bi < nb; bi++ {
		blk := bi
		if r.reverse {
			blk = nb - 1 - bi
		}
		t0 := blk * tb
		n := min(tb, s.seq-t0)
		a := gemm.Matrix{Stride: I}
		if inPlace {
			a.Data = s.x[s.xOff(t0, 0):][:n*B*I]
		} else {
			for i := 0; i < n; i++ {
				for b := 0; b < B; b++ {
					row := r.xrows[(i*B+b)*I:][:I]
					copy(row, s.x[s.xOff(t0+i, b):])
				}
			}
			a.Data = r.xrows[:n*B*I]
		}
		r.o.Epilogue = gemm.Epilogue{Bias: r.xb}
		gemm.GemmPackedB(n*B, 1, a, r.pk.w, 0, r.xw[:n*B*GH], GH, &r.o)
		r.o.Epilogue = gemm.Epilogue{}
		for j := 0; j < n; j++ {
			i := j
			if r.reverse {
				i = n - 1 - j
			}
			r.step(t0+i, r.xw[i*B*GH:(i+1)*B*GH])
		}
	}
	r.finish()
}

// finish writes the final states.
func (r *rnnDir) finish() {
	s := r.s
	H := s.hd
	for b := 0; b < s.batch; b++ {
		o := s.stateOff(r.d, b)
		copy(s.yh[o:o+H], r.h[b*H:(b+1)*H])
		if s.k.cell == rnnLSTM {
			copy(s.yc[o:o+H], r.cs[b*H:(b+1)*H])
		}
	}
}

// step computes time t from xt, its rows of the input projection.
func (r *rnnDir) step(t int, xt []float32) {
	s := r.s
	B, H := s.batch, s.hd
	GH := s.g * H
	r.xt = xt
	r.act = r.act[:0]
	for b := 0; b < B; b++ {
		if s.active(t, b) {
			r.act = append(r.act, b)
		} else {
			copy(r.hn[b*H:(b+1)*H], r.h[b*H:(b+1)*H])
		}
	}
	hm := gemm.Matrix{Data: r.h, Stride: H}
	switch {
	case s.k.cell == rnnGRU && s.k.linearReset:
		gemm.GemmPackedB(B, 1, hm, r.pk.r, 0, r.rec, GH, &r.so)
		r.gates()
	case s.k.cell == rnnGRU:
		// The hidden gate needs r ⊙ H of every unit: the products of z
		// and r, their gates, then the hidden gate's product.
		gemm.GemmPackedB(B, 1, hm, r.pk.rzr, 1, xt, GH, &r.so)
		r.phase = 0
		r.gates()
		gemm.GemmPackedB(B, 1, gemm.Matrix{Data: r.tmp, Stride: H}, r.pk.rh, 1, xt[2*H:], GH, &r.so)
		r.phase = 1
		r.gates()
	default:
		gemm.GemmPackedB(B, 1, hm, r.pk.r, 1, xt, GH, &r.so)
		r.gates()
	}
	if s.y != nil {
		for b := 0; b < B; b++ {
			dst := s.y[s.yOff(t, r.d, b):][:H]
			if s.active(t, b) {
				copy(dst, r.hn[b*H:(b+1)*H])
			} else {
				clear(dst)
			}
		}
	}
	r.h, r.hn = r.hn, r.h
}

// rnnGateRows is the number of batch rows from which a step's gate
// functions are split over threads (with the step's product).
const rnnGateRows = 4

// gates runs the gate functions of the step's active rows.
func (r *rnnDir) gates() {
	if r.stepPar && len(r.act) >= rnnGateRows {
		r.s.c.Parallel(len(r.act), r.rowsRun)
		return
	}
	r.rows(0, len(r.act))
}

// rows runs the gate functions of active rows [lo, hi).
func (r *rnnDir) rows(lo, hi int) {
	for _, b := range r.act[lo:hi] {
		switch {
		case r.s.k.cell == rnnLSTM:
			r.lstmRow(b)
		case r.s.k.cell == rnnPlain:
			r.plainRow(b)
		case r.s.k.linearReset:
			r.gruLinearRow(b)
		case r.phase == 0:
			r.gruRow0(b)
		default:
			r.gruRow1(b)
		}
	}
}

// clip clips pre-activations x to the clip attribute's range, if any.
func (r *rnnDir) clip(x []float32) {
	if c := r.s.k.clip; c > 0 {
		vec.Clip(x, x, -c, c)
	}
}

// plainRow: h = f(x·Wᵀ + h·Rᵀ + b).
func (r *rnnDir) plainRow(b int) {
	H, GH := r.s.hd, r.s.g*r.s.hd
	pre := r.xt[b*GH:][:H]
	r.clip(pre)
	r.acts[0].applyTo(r.hn[b*H:][:H], pre)
}

// lstmRow: the gates i, o, f, c (in that order in pre), then
//
//	c' = f ⊙ c + i ⊙ g(c̃),  h' = o ⊙ h(c')
//
// with the peepholes P·c added to i and f, and P·c' to o.
func (r *rnnDir) lstmRow(b int) {
	H, GH := r.s.hd, r.s.g*r.s.hd
	pre := r.xt[b*GH:][:GH]
	gi, gout, gf, gc := pre[:H], pre[H:2*H], pre[2*H:3*H], pre[3*H:]
	c := r.cs[b*H:][:H]
	f, g, hf := r.acts[0], r.acts[1], r.acts[2]
	if r.pi != nil {
		vec.MulAdd(gi, r.pi, c, gi)
		vec.MulAdd(gf, r.pf, c, gf)
		r.clip(gi)
		r.clip(gf)
		r.clip(gc)
		f.applyTo(gi, gi)
		f.applyTo(gf, gf)
	} else {
		// i, o and f are contiguous: one pass of f over the three.
		r.clip(pre)
		f.applyTo(pre[:3*H], pre[:3*H])
	}
	if r.s.k.inputForget {
		vec.ScalarSub(gf, 1, gi)
	}
	g.applyTo(gc, gc)
	vec.Mul(c, gf, c)
	vec.MulAdd(c, gi, gc, c)
	if r.pi != nil {
		vec.MulAdd(gout, r.po, c, gout)
		r.clip(gout)
		f.applyTo(gout, gout)
	}
	t := r.tmp[b*H:][:H]
	hf.applyTo(t, c)
	vec.Mul(r.hn[b*H:][:H], gout, t)
}

// gruLinearRow is GRU with linear_before_reset (rec holds H·Rᵀ):
//
//	z, r = f(x·Wᵀ + H·Rᵀ + b),  h̃ = g(x·Whᵀ + bw + r ⊙ (H·Rhᵀ + rbh)),
//	h' = h̃ + z ⊙ (h - h̃).
func (r *rnnDir) gruLinearRow(b int) {
	H, GH := r.s.hd, r.s.g*r.s.hd
	pre := r.xt[b*GH:][:GH]
	rec := r.rec[b*GH:][:GH]
	zr := pre[:2*H]
	vec.Add(zr, zr, rec[:2*H])
	r.clip(zr)
	r.acts[0].applyTo(zr, zr)
	hh := rec[2*H:]
	vec.Add(hh, hh, r.rbh)
	vec.MulAdd(hh, pre[H:2*H], hh, pre[2*H:])
	r.clip(hh)
	r.acts[1].applyTo(hh, hh)
	r.gruOut(b, pre[:H], hh)
}

// gruRow0 is the first pass of GRU without linear_before_reset: the gates
// z and r, then r ⊙ H into tmp for the hidden gate's product.
func (r *rnnDir) gruRow0(b int) {
	H, GH := r.s.hd, r.s.g*r.s.hd
	zr := r.xt[b*GH:][:2*H]
	r.clip(zr)
	r.acts[0].applyTo(zr, zr)
	vec.Mul(r.tmp[b*H:][:H], zr[H:], r.h[b*H:][:H])
}

// gruRow1 is the second pass: h̃ = g(x·Whᵀ + (r ⊙ H)·Rhᵀ + b), then h'.
func (r *rnnDir) gruRow1(b int) {
	H, GH := r.s.hd, r.s.g*r.s.hd
	pre := r.xt[b*GH:][:GH]
	hh := pre[2*H:]
	r.clip(hh)
	r.acts[1].applyTo(hh, hh)
	r.gruOut(b, pre[:H], hh)
}

// gruOut sets row b of the new state to h̃ + z ⊙ (h - h̃), which is
// (1-z) ⊙ h̃ + z ⊙ h.
func (r *rnnDir) gruOut(b int, z, hh []float32) {
	H := r.s.hd
	d := r.tmp[b*H:][:H]
	vec.Sub(d, r.h[b*H:][:H], hh)
	vec.MulAdd(r.hn[b*H:][:H], z, d, hh)
}

// applyTo sets dst[i] = a(x[i]); dst may be x.
func (a rnnAct) applyTo(dst, x []float32) {
	switch a.kind {
	case rnnActSigmoid:
		vec.Sigmoid(dst, x)
	case rnnActTanh:
		vec.Tanh(dst, x)
	case rnnActRelu:
		vec.Relu(dst, x)
	case rnnActAffine:
		vec.MulScalar(dst, x, a.alpha)
		vec.AddScalar(dst, dst, a.beta)
	case rnnActScaledTanh:
		vec.MulScalar(dst, x, a.beta)
		vec.Tanh(dst, dst)
		vec.MulScalar(dst, dst, a.alpha)
	default:
		for i, v := range x {
			dst[i] = a.apply(v)
		}
	}
}
