package kernels

import (
	"fmt"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// MatMulInt4 (optimize/FUSED_OPS.md): Y = act(MatMul(A, DequantizeLinear(B,
// B_scale, B_zero_point, block_size)) + bias) with B a constant 4-bit
// matrix, packed once at Build and dequantized inside the GEMM
// (gemm.GemmInt4PackedB), so that the weight stays half a byte an element.

func init() {
	Default.Register(Spec{Domain: ir.DomainInferd, Op: "MatMulInt4", New: newMatMulInt4})
}

// int4MatMul is the MatMulInt4 kernel of one node.
type int4MatMul struct {
	w    *gemm.PackedInt4
	k, n int
	bias []float32 // a constant bias, nil if none or not constant
	ep   gemm.Epilogue
}

func newMatMulInt4(b *Build) (any, error) {
	a := b.Attrs()
	bs := a.Int("block_size", 0)
	transB := a.Int("trans_b", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	act, err := linalgReadFusedAct(b)
	if err != nil {
		return nil, err
	}
	if bs <= 0 {
		return nil, fmt.Errorf("MatMulInt4: block_size %d is not positive", bs)
	}
	if transB != 0 && transB != 1 {
		return nil, fmt.Errorf("MatMulInt4: trans_b %d is not 0 or 1", transB)
	}
	cnst := func(i int) *tensor.Tensor {
		if b.Const == nil || i >= len(b.Node.Inputs) || b.Node.Inputs[i] == "" {
			return nil
		}
		return b.Const(i)
	}
	w, s, z := cnst(1), cnst(2), cnst(3)
	if w == nil || s == nil || (len(b.Node.Inputs) > 3 && b.Node.Inputs[3] != "" && z == nil) {
		return nil, fmt.Errorf("MatMulInt4: B, B_scale and B_zero_point must be constants: %w", ErrUnsupported)
	}
	wi, err := int4Weight(w, s, z, int(bs), transB != 0)
	if err != nil {
		return nil, fmt.Errorf("MatMulInt4: %w", err)
	}
	k := &int4MatMul{w: gemm.PackInt4(wi), k: wi.K, n: wi.N, ep: act.epilogue()}
	if bt := cnst(4); bt != nil {
		if k.bias, err = int4Bias(bt, k.n); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// int4Weight reads B (K×N, or N×K when trans), its scales and zero points
// (one per block of bs steps along K and column) into a K×N gemm weight.
func int4Weight(w, s, z *tensor.Tensor, bs int, trans bool) (gemm.Int4Weight, error) {
	if w.DType != tensor.Int4 && w.DType != tensor.Uint4 || w.Rank() != 2 {
		return gemm.Int4Weight{}, fmt.Errorf("B is %v%v, want an int4 or uint4 matrix", w.DType, w.Shape)
	}
	k, n := w.Shape[0], w.Shape[1]
	if trans {
		k, n = n, k
	}
	if k == 0 || n == 0 {
		return gemm.Int4Weight{}, fmt.Errorf("B %v is empty", w.Shape)
	}
	nb := (k + bs - 1) / bs
	ss := []int{nb, n}
	if trans {
		ss = []int{n, nb}
	}
	if s.DType != tensor.Float32 || !tensor.EqualShapes(s.Shape, ss) {
		return gemm.Int4Weight{}, fmt.Errorf("B_scale is %v%v, want float32%v for B %v in blocks of %d", s.DType, s.Shape, ss, w.Shape, bs)
	}
	if z != nil && (z.DType != w.DType || !tensor.EqualShapes(z.Shape, ss)) {
		return gemm.Int4Weight{}, fmt.Errorf("B_zero_point is %v%v, want %v%v", z.DType, z.Shape, w.DType, ss)
	}
	// at returns the index in a stored [K, N] (or [N, K]) matrix of
	// element (r, c) of its K×N view.
	at := func(r, c, cols int) int {
		if trans {
			return c*cols + r
		}
		return r*cols + c
	}
	codes := func(t *tensor.Tensor, rows, cols, storedCols int) []int8 {
		out := make([]int8, rows*cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				i := at(r, c, storedCols)
				switch d := t.Data.(type) {
				case []tensor.I4:
					out[r*cols+c] = int8(d[i].Int())
				case []tensor.U4:
					out[r*cols+c] = int8(d[i].Int())
				}
			}
		}
		return out
	}
	wi := gemm.Int4Weight{K: k, N: n, Block: bs, Signed: w.DType == tensor.Int4}
	wi.Values = codes(w, k, n, w.Shape[1])
	sd := s.Data.([]float32)
	wi.Scales = make([]float32, nb*n)
	for r := 0; r < nb; r++ {
		for c := 0; c < n; c++ {
			wi.Scales[r*n+c] = sd[at(r, c, s.Shape[1])]
		}
	}
	if z != nil {
		wi.Zeros = codes(z, nb, n, z.Shape[1])
	}
	return wi, nil
}

// int4Bias checks that bias is a float32 vector of n values, [n] or [1, n].
func int4Bias(t *tensor.Tensor, n int) ([]float32, error) {
	if t.DType != tensor.Float32 || t.Rank() == 0 || t.Rank() > 2 || t.Len() != n || t.Shape[t.Rank()-1] != n {
		return nil, fmt.Errorf("MatMulInt4: bias is %v%v, want float32 [%d] or [1, %d]", t.DType, t.Shape, n, n)
	}
	return t.Data.([]float32), nil
}

func (k *int4MatMul) Run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := input(in, 0)
	if x == nil || x.DType != tensor.Float32 || x.Rank() < 1 {
		return nil, fmt.Errorf("MatMulInt4: A must be a float32 tensor of rank 1 or more")
	}
	if kk := x.Shape[x.Rank()-1]; kk != k.k {
		return nil, fmt.Errorf("MatMulInt4: A %v has %d columns, B has %d rows", x.Shape, kk, k.k)
	}
	bias := k.bias
	if bias == nil {
		if bt := input(in, 4); bt != nil {
			var err error
			if bias, err = int4Bias(bt, k.n); err != nil {
				return nil, err
			}
		}
	}
	shape := c.IntsOf(x.Shape)
	shape[len(shape)-1] = k.n
	y := c.AllocRaw(tensor.Float32, shape...)
	ep := k.ep
	ep.Bias = bias
	o := c.gemmOptions(&ep)
	gemm.GemmInt4PackedB(x.Len()/k.k, 1, gemm.Matrix{Data: x.Data.([]float32), Stride: k.k}, k.w, 0, y.Data.([]float32), k.n, &o)
	return c.Outs(y), nil
}
