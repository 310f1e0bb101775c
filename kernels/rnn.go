package kernels

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// RNN, GRU and LSTM (every opset: 1, 3/7, 14 with layout, 22). All three
// compute in float32 whatever the input type. W and R are packed for gemm
// (at build when they are constants): the input projection X·Wᵀ + bias of
// a block of time steps is one GEMM; each step then adds H·Rᵀ of every
// gate onto its rows with one GEMM (a GEMV at batch 1) and applies the
// gate functions to each batch row as kernels/vec slice operations (GRU
// without linear_before_reset takes two products and two passes, as the
// reset gate of every unit feeds the hidden gate). See rnn_cell.go for
// how the work is spread over threads.

func init() {
	register("RNN", func(b *Build) (any, error) { return newRNNKernel(b, rnnPlain) })
	register("GRU", func(b *Build) (any, error) { return newRNNKernel(b, rnnGRU) })
	register("LSTM", func(b *Build) (any, error) { return newRNNKernel(b, rnnLSTM) })
}

type rnnCell int

const (
	rnnPlain rnnCell = iota
	rnnGRU
	rnnLSTM
)

func (c rnnCell) String() string { return [...]string{"RNN", "GRU", "LSTM"}[c] }

// gates is the number of stacked gate matrices in W and R.
func (c rnnCell) gates() int { return [...]int{1, 3, 4}[c] }

// nacts is the number of activation functions per direction.
func (c rnnCell) nacts() int { return [...]int{1, 2, 3}[c] }

func (c rnnCell) defaultActs() []string {
	switch c {
	case rnnGRU:
		return []string{"Sigmoid", "Tanh"}
	case rnnLSTM:
		return []string{"Sigmoid", "Tanh", "Tanh"}
	}
	return []string{"Tanh"}
}

type rnnActKind int

const (
	rnnActRelu rnnActKind = iota
	rnnActTanh
	rnnActSigmoid
	rnnActAffine
	rnnActLeakyRelu
	rnnActThresholdedRelu
	rnnActScaledTanh
	rnnActHardSigmoid
	rnnActElu
	rnnActSoftsign
	rnnActSoftplus
)

// rnnActInfo: name (lower case), kind, whether it reads alpha and beta,
// and their defaults (those of the ONNX operator of the same name).
var rnnActInfo = []struct {
	name          string
	kind          rnnActKind
	usesA, usesB  bool
	defA, defBeta float32
}{
	{"relu", rnnActRelu, false, false, 0, 0},
	{"tanh", rnnActTanh, false, false, 0, 0},
	{"sigmoid", rnnActSigmoid, false, false, 0, 0},
	{"affine", rnnActAffine, true, true, 1, 0},
	{"leakyrelu", rnnActLeakyRelu, true, false, 0.01, 0},
	{"thresholdedrelu", rnnActThresholdedRelu, true, false, 1, 0},
	{"scaledtanh", rnnActScaledTanh, true, true, 1, 1},
	{"hardsigmoid", rnnActHardSigmoid, true, true, 0.2, 0.5},
	{"elu", rnnActElu, true, false, 1, 0},
	{"softsign", rnnActSoftsign, false, false, 0, 0},
	{"softplus", rnnActSoftplus, false, false, 0, 0},
}

type rnnAct struct {
	kind        rnnActKind
	alpha, beta float32
}

func (a rnnAct) apply(x float32) float32 {
	switch a.kind {
	case rnnActSigmoid:
		return rnnSigmoid(x)
	case rnnActTanh:
		return rnnTanh(x)
	case rnnActRelu:
		return max(x, 0)
	case rnnActAffine:
		return a.alpha*x + a.beta
	case rnnActLeakyRelu:
		if x >= 0 {
			return x
		}
		return a.alpha * x
	case rnnActThresholdedRelu:
		if x >= a.alpha {
			return x
		}
		return 0
	case rnnActScaledTanh:
		return a.alpha * rnnTanh(a.beta*x)
	case rnnActHardSigmoid:
		return min(max(a.alpha*x+a.beta, 0), 1)
	case rnnActElu:
		if x >= 0 {
			return x
		}
		return a.alpha * float32(math.Expm1(float64(x)))
	case rnnActSoftsign:
		return x / (1 + float32(math.Abs(float64(x))))
	case rnnActSoftplus:
		v := float64(x)
		if v > 30 {
			return x
		}
		return float32(math.Log1p(math.Exp(v)))
	}
	return x
}

func rnnSigmoid(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

func rnnTanh(x float32) float32 { return float32(math.Tanh(float64(x))) }

type rnnKernel struct {
	cell        rnnCell
	hidden      int // 0: take it from R
	dirs        int
	reverse     bool // direction "reverse"
	acts        [][]rnnAct
	clip        float32 // 0: none
	inputForget bool
	linearReset bool
	layout      int
	wantY       bool

	// Constant float32 W and R, packed per direction at build (see
	// rnnWeights).
	constW, constR *tensor.Tensor
	packed         []rnnPacked
}

// rnnPacked is one direction's weights packed for gemm as op(B) = Wᵀ:
// w (I×GH) for the input projection, r (H×GH) for the recurrent one; for
// GRU without linear_before_reset, rzr (H×2H, gates z and r) and rh (H×H,
// the hidden gate, applied to r ⊙ H) instead of r.
type rnnPacked struct {
	w, r, rzr, rh *gemm.PackedB
}

// rnnPack packs direction d of W (D×GH×I) and R (D×GH×H); either may be
// nil to skip it.
func rnnPack(cell rnnCell, linearReset bool, w, r []float32, d, GH, I, H int) rnnPacked {
	var p rnnPacked
	if w != nil {
		p.w = gemm.PackB(I, GH, gemm.Matrix{Data: w[d*GH*I:], Stride: I, Trans: true})
	}
	if r != nil {
		rd := r[d*GH*H:]
		if cell == rnnGRU && !linearReset {
			p.rzr = gemm.PackB(H, 2*H, gemm.Matrix{Data: rd, Stride: H, Trans: true})
			p.rh = gemm.PackB(H, H, gemm.Matrix{Data: rd[2*H*H:], Stride: H, Trans: true})
		} else {
			p.r = gemm.PackB(H, GH, gemm.Matrix{Data: rd, Stride: H, Trans: true})
		}
	}
	return p
}

func newRNNKernel(b *Build, cell rnnCell) (any, error) {
	a := b.Attrs()
	hidden := a.Int("hidden_size", 0)
	dir := a.String("direction", "forward")
	names := a.Strings("activations", nil)
	alphas := a.Floats("activation_alpha", nil)
	betas := a.Floats("activation_beta", nil)
	hasClip := a.Has("clip")
	clip := a.Float("clip", 0)
	layout := a.Int("layout", 0)
	inputForget := a.Int("input_forget", 0)
	linearReset := a.Int("linear_before_reset", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	k := &rnnKernel{cell: cell, hidden: int(hidden), inputForget: inputForget != 0, linearReset: linearReset != 0, layout: int(layout)}
	if hidden < 0 || hidden > 1<<24 {
		return nil, fmt.Errorf("attribute hidden_size is %d", hidden)
	}
	switch dir {
	case "forward":
		k.dirs = 1
	case "reverse":
		k.dirs, k.reverse = 1, true
	case "bidirectional":
		k.dirs = 2
	default:
		return nil, fmt.Errorf("attribute direction is %q, want forward, reverse or bidirectional", dir)
	}
	if layout != 0 && layout != 1 {
		return nil, fmt.Errorf("attribute layout is %d, want 0 or 1", layout)
	}
	if hasClip {
		if !(clip > 0) {
			return nil, fmt.Errorf("attribute clip is %v, want a positive threshold", clip)
		}
		k.clip = clip
	}
	if cell != rnnLSTM && a.Has("input_forget") {
		return nil, fmt.Errorf("attribute input_forget is for LSTM only")
	}
	per := cell.nacts()
	if names == nil {
		for d := 0; d < k.dirs; d++ {
			names = append(names, cell.defaultActs()...)
		}
	} else if len(names) == per && k.dirs == 2 {
		// One direction's worth for a bidirectional node: use the same
		// functions both ways.
		names = slices.Concat(names, names)
		alphas = slices.Concat(alphas, alphas)
		betas = slices.Concat(betas, betas)
	}
	if len(names) != per*k.dirs {
		return nil, fmt.Errorf("attribute activations has %d entries, want %d (%d per direction)", len(names), per*k.dirs, per)
	}
	ai, bi := 0, 0
	for d := 0; d < k.dirs; d++ {
		var acts []rnnAct
		for _, name := range names[d*per : (d+1)*per] {
			found := false
			for _, info := range rnnActInfo {
				if info.name != strings.ToLower(name) {
					continue
				}
				found = true
				act := rnnAct{kind: info.kind, alpha: info.defA, beta: info.defBeta}
				// Alphas and betas are consumed in order by the
				// functions that use them.
				if info.usesA && ai < len(alphas) {
					act.alpha = alphas[ai]
					ai++
				}
				if info.usesB && bi < len(betas) {
					act.beta = betas[bi]
					bi++
				}
				acts = append(acts, act)
			}
			if !found {
				return nil, fmt.Errorf("unsupported activation %q", name)
			}
		}
		k.acts = append(k.acts, acts)
	}
	k.wantY = len(b.Node.Outputs) > 0 && b.Node.Outputs[0] != ""
	// Constant float32 weights of the expected ranks are packed once.
	cw, cr := b.Const(1), b.Const(2)
	if cw != nil && cr != nil && cw.DType == tensor.Float32 && cr.DType == tensor.Float32 && cw.Rank() == 3 && cr.Rank() == 3 {
		D, GH, I, H := cw.Shape[0], cw.Shape[1], cw.Shape[2], cr.Shape[2]
		if D == k.dirs && GH == cell.gates()*H && tensor.EqualShapes(cr.Shape, []int{D, GH, H}) && H > 0 && I > 0 {
			k.constW, k.constR = cw, cr
			for d := 0; d < D; d++ {
				k.packed = append(k.packed, rnnPack(cell, k.linearReset, cw.Data.([]float32), cr.Data.([]float32), d, GH, I, H))
			}
		}
	}
	return KernelFunc(k.run), nil
}

// rnnRun holds one run's shapes, float32 views of the inputs and the
// per-direction state. Runs are pooled (rnnRunPool) so that a run with
// float32 tensors and constant weights allocates nothing after warm-up.
type rnnRun struct {
	k                  *rnnKernel
	c                  *Context
	seq, batch, in, hd int
	g                  int // gates
	x, w, r, bias, p   []float32
	h0, c0             []float32
	lens, lensBuf      []int
	y, yh, yc          []float32
	packed             []rnnPacked // per direction
	dirs               [2]rnnDir
	dirsRun            func(lo, hi int) // s.runDirs, bound once
}

var rnnRunPool = sync.Pool{New: func() any {
	s := new(rnnRun)
	s.dirsRun = s.runDirs
	for d := range s.dirs {
		s.dirs[d].rowsRun = s.dirs[d].rows
	}
	return s
}}

// release drops the run's references to tensors and returns it to the pool.
func (s *rnnRun) release() {
	s.k, s.c = nil, nil
	s.x, s.w, s.r, s.bias, s.p, s.h0, s.c0 = nil, nil, nil, nil, nil, nil, nil
	s.y, s.yh, s.yc = nil, nil, nil
	s.packed = s.packed[:0]
	for d := range s.dirs {
		s.dirs[d].drop()
	}
	rnnRunPool.Put(s)
}

func (k *rnnKernel) run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	opt := func(i int) *tensor.Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	X, W, R := opt(0), opt(1), opt(2)
	if X == nil || W == nil || R == nil {
		return nil, fmt.Errorf("inputs X, W and R are required")
	}
	dt := X.DType
	switch dt {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
	default:
		return nil, fmt.Errorf("input X is %v: %w", dt, ErrUnsupported)
	}
	if X.Rank() != 3 {
		return nil, fmt.Errorf("input X has shape %v, want rank 3", X.Shape)
	}
	if R.Rank() != 3 {
		return nil, fmt.Errorf("input R has shape %v, want rank 3", R.Shape)
	}
	s := rnnRunPool.Get().(*rnnRun)
	defer s.release()
	s.k, s.c, s.g = k, c, k.cell.gates()
	s.lens = nil
	if k.layout == 0 {
		s.seq, s.batch = X.Shape[0], X.Shape[1]
	} else {
		s.batch, s.seq = X.Shape[0], X.Shape[1]
	}
	s.in = X.Shape[2]
	s.hd = R.Shape[2]
	if k.hidden != 0 && k.hidden != s.hd {
		return nil, fmt.Errorf("input R has shape %v, but hidden_size is %d", R.Shape, k.hidden)
	}
	D, G, H := k.dirs, s.g, s.hd
	check := func(name string, t *tensor.Tensor, shape ...int) ([]float32, error) {
		if t == nil {
			return nil, nil
		}
		if !tensor.EqualShapes(t.Shape, shape) {
			// A copy, so that shape (on the stack) does not escape.
			return nil, fmt.Errorf("input %s has shape %v, want %v", name, t.Shape, slices.Clone(shape))
		}
		if t.DType != dt {
			return nil, fmt.Errorf("input %s is %v, but X is %v", name, t.DType, dt)
		}
		return Float32s(t)
	}
	var err error
	if s.x, err = check("X", X, X.Shape...); err != nil {
		return nil, err
	}
	if s.w, err = check("W", W, D, G*H, s.in); err != nil {
		return nil, err
	}
	if s.r, err = check("R", R, D, G*H, H); err != nil {
		return nil, err
	}
	if s.bias, err = check("B", opt(3), D, 2*G*H); err != nil {
		return nil, err
	}
	var stateShape [3]int
	if k.layout == 0 {
		stateShape = [3]int{D, s.batch, H}
	} else {
		stateShape = [3]int{s.batch, D, H}
	}
	if s.h0, err = check("initial_h", opt(5), stateShape[:]...); err != nil {
		return nil, err
	}
	if k.cell == rnnLSTM {
		if s.c0, err = check("initial_c", opt(6), stateShape[:]...); err != nil {
			return nil, err
		}
		if s.p, err = check("P", opt(7), D, 3*H); err != nil {
			return nil, err
		}
	}
	if sl := opt(4); sl != nil {
		if !tensor.EqualShapes(sl.Shape, []int{s.batch}) {
			return nil, fmt.Errorf("input sequence_lens has shape %v, want [%d]", sl.Shape, s.batch)
		}
		v, err := Int64s(sl)
		if err != nil {
			return nil, fmt.Errorf("input sequence_lens: %w", err)
		}
		s.lens = slices.Grow(s.lensBuf[:0], s.batch)[:s.batch]
		s.lensBuf = s.lens
		for i, l := range v {
			if l < 0 || l > int64(s.seq) {
				return nil, fmt.Errorf("sequence_lens[%d] = %d, want 0..%d", i, l, s.seq)
			}
			s.lens[i] = int(l)
		}
	}

	var bufs []struct {
		t   *tensor.Tensor
		buf []float32
	}
	alloc := func(shape ...int) (*tensor.Tensor, []float32) {
		// Every element is written: Y's rows past a sequence's end are
		// cleared explicitly.
		t := c.AllocRaw(dt, shape...)
		if dt == tensor.Float32 {
			return t, t.Data.([]float32)
		}
		b := make([]float32, t.Len())
		bufs = append(bufs, struct {
			t   *tensor.Tensor
			buf []float32
		}{t, b})
		return t, b
	}
	var yt, yht, yct *tensor.Tensor
	if k.wantY {
		if k.layout == 0 {
			yt, s.y = alloc(s.seq, D, s.batch, H)
		} else {
			yt, s.y = alloc(s.batch, s.seq, D, H)
		}
	}
	yht, s.yh = alloc(stateShape[:]...)
	if k.cell == rnnLSTM {
		yct, s.yc = alloc(stateShape[:]...)
	}
	if W == k.constW && R == k.constR && k.packed != nil {
		s.packed = append(s.packed[:0], k.packed...)
	} else {
		for d := 0; d < D; d++ {
			s.packed = append(s.packed, rnnPack(k.cell, k.linearReset, s.w, s.r, d, G*H, s.in, H))
		}
	}

	// Splitting one step over threads pays only when its product is
	// large (big batches): at batch 1 the recurrent product is a GEMV of
	// a few microseconds, less than the hand-offs would cost. Otherwise,
	// and whenever there are just two threads, the two directions, being
	// independent, run one per thread, without any hand-off per step.
	threads := c.gemmThreads()
	stepPar := threads > 1 && 2*s.batch*G*H*H >= rnnStepFlops
	concurrent := D == 2 && threads > 1 && (!stepPar || threads == 2)
	for d := 0; d < D; d++ {
		s.dirs[d].setup(s, d, k.reverse || d == 1, concurrent, stepPar && !concurrent)
	}
	if concurrent {
		c.Parallel(D, s.dirsRun)
	} else {
		s.runDirs(0, D)
	}
	for _, b := range bufs {
		rnnStore(b.t, b.buf)
	}
	if k.cell == rnnLSTM {
		return c.Outs(yt, yht, yct), nil
	}
	return c.Outs(yt, yht), nil
}

// rnnStepFlops is the size (flops) of a step's recurrent product from
// which the step is split over threads.
const rnnStepFlops = 1 << 21

func (s *rnnRun) runDirs(lo, hi int) {
	for d := lo; d < hi; d++ {
		s.dirs[d].run()
	}
}

func rnnStore(t *tensor.Tensor, v []float32) {
	switch d := t.Data.(type) {
	case []float64:
		for i, x := range v {
			d[i] = float64(x)
		}
	case []tensor.F16:
		for i, x := range v {
			d[i] = tensor.F16FromFloat32(x)
		}
	case []tensor.BF16:
		for i, x := range v {
			d[i] = tensor.BF16FromFloat32(x)
		}
	case []float32:
		copy(d, v)
	}
}

// stateOff is the offset of (direction d, batch b) in a state tensor.
func (s *rnnRun) stateOff(d, b int) int {
	if s.k.layout == 0 {
		return (d*s.batch + b) * s.hd
	}
	return (b*s.k.dirs + d) * s.hd
}

// xOff is the offset of (time t, batch b) in X.
func (s *rnnRun) xOff(t, b int) int {
	if s.k.layout == 0 {
		return (t*s.batch + b) * s.in
	}
	return (b*s.seq + t) * s.in
}

// yOff is the offset of (time t, direction d, batch b) in Y.
func (s *rnnRun) yOff(t, d, b int) int {
	if s.k.layout == 0 {
		return ((t*s.k.dirs+d)*s.batch + b) * s.hd
	}
	return ((b*s.seq+t)*s.k.dirs + d) * s.hd
}

func (s *rnnRun) active(t, b int) bool { return s.lens == nil || t < s.lens[b] }
