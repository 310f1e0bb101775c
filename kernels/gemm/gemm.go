package gemm

import (
	"fmt"
	"math"
)

// Panel sizes of the packed formats, the same for every kernel so that a
// weight packed once serves whichever kernel runs.
const (
	// MR is the number of rows in a panel of packed A.
	MR = 12
	// NR is the number of columns in a panel of packed B.
	NR = 32
)

// Matrix is a row-major operand. Element (i, j) of the stored matrix is
// Data[i*Stride+j]. When Trans is set the operand is the transpose of the
// stored matrix, so element (i, j) of op(M) is Data[j*Stride+i].
type Matrix struct {
	Data   []float32
	Stride int
	Trans  bool
}

// at returns element (i, j) of op(m).
func (m Matrix) at(i, j int) float32 {
	if m.Trans {
		return m.Data[j*m.Stride+i]
	}
	return m.Data[i*m.Stride+j]
}

// check panics unless op(m) can be rows×cols.
func (m Matrix) check(name string, rows, cols int) {
	sr, sc := rows, cols
	if m.Trans {
		sr, sc = cols, rows
	}
	if sr == 0 || sc == 0 {
		return
	}
	if m.Stride < sc {
		panic(fmt.Sprintf("gemm: %s: stride %d < %d columns", name, m.Stride, sc))
	}
	if need := (sr-1)*m.Stride + sc; len(m.Data) < need {
		panic(fmt.Sprintf("gemm: %s: %d elements, need %d for %d×%d (stride %d)", name, len(m.Data), need, sr, sc, m.Stride))
	}
}

// Activation is the nonlinearity of an Epilogue.
type Activation uint8

const (
	// ActNone leaves values as they are.
	ActNone Activation = iota
	// ActRelu is max(x, 0).
	ActRelu
	// ActClip is min(max(x, Epilogue.Min), Epilogue.Max); Relu6 is
	// Clip(0, 6).
	ActClip
	// ActLeakyRelu is x for x ≥ 0 and Epilogue.Alpha·x otherwise.
	ActLeakyRelu
)

// Epilogue is work done on each tile of C after the product is added:
//
//	C[i][j] = Func(act(alpha·AB[i][j] + beta·R[i][j] + bias))
//
// where R is C itself or, when Residual is set, the Residual matrix (a
// residual connection fused into a convolution or MatMul: pass beta = 1);
// bias is Bias[j] (per column; a Gemm's or MatMul's bias, or the
// channel bias of an NHWC convolution) or, with BiasPerRow, Bias[i] (the
// channel bias of an NCHW convolution, where rows are output channels).
// NaNs propagate through every activation. The zero value does nothing.
type Epilogue struct {
	Bias       []float32
	BiasPerRow bool
	// Residual, if set, is read in C's place by the beta term, with row
	// stride ResidualStride (0 means C's stride); C is then only written.
	// It may be C itself.
	Residual       []float32
	ResidualStride int
	Act            Activation
	// Min and Max bound ActClip; either may be ±Inf.
	Min, Max float32
	// Alpha is ActLeakyRelu's slope for x < 0.
	Alpha float32
	// Func, if set, is called on each finished row segment of C,
	// C[i][j0:j0+len(row)], while it is still in L1: activations that have
	// no kernel form (Sigmoid, Gelu, HardSwish …) go here. It must not
	// keep row; it may be called concurrently for distinct segments.
	Func func(row []float32, i, j0 int)
}

// Options are the optional parts of a call. A nil *Options means serial,
// no epilogue.
type Options struct {
	Epilogue
	// Parallel runs fn over [0, n) in contiguous chunks, possibly
	// concurrently, and returns when all are done (the engine's
	// kernels.Context.Parallel). Nil runs serially.
	Parallel func(n int, fn func(lo, hi int))
	// Threads is the number of threads Parallel spreads work over; the
	// call makes about that many tasks. Zero means runtime.GOMAXPROCS when
	// Parallel is set, 1 otherwise.
	Threads int
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C followed by o's epilogue,
// where op(A) is m×k, op(B) is k×n and C is m×n with row stride ldc. When
// beta is 0, C is not read (it may hold NaNs). Both operands are packed
// during the call into pooled buffers; use GemmPackedA or GemmPackedB when
// one operand is reused. Gemm panics if a slice is too short for its
// dimensions. Distinct calls may run concurrently.
func Gemm(m, n, k int, alpha float32, a, b Matrix, beta float32, c []float32, ldc int, o *Options) {
	a.check("A", m, k)
	b.check("B", k, n)
	run(m, n, k, alpha, aOperand{mat: a}, bOperand{mat: b}, beta, c, ldc, o)
}

// GemmPackedB computes C = alpha·op(A)·B + beta·C followed by o's epilogue,
// where B is k×n packed ahead of time by PackB and op(A) is m×k. It is the
// MatMul and Gemm form with a constant weight. Otherwise as Gemm.
func GemmPackedB(m int, alpha float32, a Matrix, b *PackedB, beta float32, c []float32, ldc int, o *Options) {
	a.check("A", m, b.k)
	run(m, b.n, b.k, alpha, aOperand{mat: a}, bOperand{packed: b}, beta, c, ldc, o)
}

// GemmPackedA computes C = alpha·A·op(B) + beta·C followed by o's epilogue,
// where A is m×k packed ahead of time by PackA and op(B) is k×n. It is the
// NCHW convolution form, Y = W·im2col(X), with a constant filter W.
// Otherwise as Gemm.
func GemmPackedA(n int, alpha float32, a *PackedA, b Matrix, beta float32, c []float32, ldc int, o *Options) {
	b.check("B", a.k, n)
	run(a.m, n, a.k, alpha, aOperand{packed: a}, bOperand{mat: b}, beta, c, ldc, o)
}

// GemmPackedAB computes C = alpha·A·B + beta·C followed by o's epilogue,
// with both operands packed ahead of time (A m×k, B k×n): the form of a
// convolution in the NHWC orientation, whose packed column matrix is
// written once per call and shared by every task. Otherwise as Gemm.
func GemmPackedAB(alpha float32, a *PackedA, b *PackedB, beta float32, c []float32, ldc int, o *Options) {
	if a.k != b.k {
		panic(fmt.Sprintf("gemm: A is %d×%d, B %d×%d", a.m, a.k, b.k, b.n))
	}
	run(a.m, b.n, a.k, alpha, aOperand{packed: a}, bOperand{packed: b}, beta, c, ldc, o)
}

// GemmPackedAFunc is GemmPackedA with B produced on demand: fill is called
// (possibly concurrently) to write panels of B straight into the packing
// buffer, so that a convolution can run im2col into it instead of into a
// full column matrix. See PanelFunc for the layout.
func GemmPackedAFunc(n int, alpha float32, a *PackedA, fill PanelFunc, beta float32, c []float32, ldc int, o *Options) {
	run(a.m, n, a.k, alpha, aOperand{packed: a}, bOperand{fill: fill}, beta, c, ldc, o)
}

// PanelFunc writes rows [p0, p1) of columns [j0, j0+NR) of a k×n operand B
// into dst in packed-panel order: element (p, j) goes to
// dst[(p-p0)*NR + (j-j0)], and columns at or past n must be written as
// zero. len(dst) is (p1-p0)*NR.
type PanelFunc func(dst []float32, p0, p1, j0 int)

// clampBounds returns the kernel clamp of an activation.
func (e *Epilogue) clampBounds() (lo, hi float32, useLo, useHi bool) {
	switch e.Act {
	case ActRelu:
		return 0, 0, true, false
	case ActClip:
		lo, hi = e.Min, e.Max
		return lo, hi, !math.IsInf(float64(lo), -1), !math.IsInf(float64(hi), 1)
	}
	return 0, 0, false, false
}
