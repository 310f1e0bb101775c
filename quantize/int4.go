package quantize

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// int4Opset is the first opset whose DequantizeLinear reads int4 and
// blocked scales.
const int4Opset = 21

// blockQuantizer quantizes a [K, N] weight into 4-bit codes in blocks of
// bs rows: each (block, column) pair has one scale (and, asymmetric, one
// zero point).
type blockQuantizer struct {
	k, n, bs   int
	asymmetric bool
	scale      []float32 // [ceil(K/bs), N]
	zp         []int8    // [ceil(K/bs), N], asymmetric only: 0..15
}

func newBlockQuantizer(k, n, bs int, asymmetric bool) *blockQuantizer {
	nb := (k + bs - 1) / bs
	q := &blockQuantizer{k: k, n: n, bs: bs, asymmetric: asymmetric, scale: make([]float32, nb*n)}
	if asymmetric {
		q.zp = make([]int8, nb*n)
	}
	return q
}

// fit sets the scales (and zero points) of block b from the rows of w
// ([K, N]) it covers.
func (q *blockQuantizer) fit(w []float32, b int) {
	lo, hi := b*q.bs, min(q.k, (b+1)*q.bs)
	for c := 0; c < q.n; c++ {
		mn, mx := 0.0, 0.0
		for r := lo; r < hi; r++ {
			v := float64(w[r*q.n+c])
			mn, mx = min(mn, v), max(mx, v)
		}
		i := b*q.n + c
		if q.asymmetric {
			q.scale[i] = 1
			if mx > mn {
				q.scale[i] = float32((mx - mn) / 15)
				q.zp[i] = int8(min(15, max(0, roundHalfEven(-mn/float64(q.scale[i])))))
			}
			continue
		}
		a := max(-mn, mx)
		q.scale[i] = 1
		if a > 0 {
			q.scale[i] = float32(a / 7)
		}
	}
}

// code returns the 4-bit code of value v at row r, column c, and the value
// it stands for.
func (q *blockQuantizer) code(v float32, r, c int) (int8, float32) {
	i := (r/q.bs)*q.n + c
	s := float64(q.scale[i])
	if q.asymmetric {
		z := float64(q.zp[i])
		x := min(15, max(0, roundHalfEven(float64(v)/s)+z))
		return int8(x), float32((x - z) * s)
	}
	x := min(7, max(-8, roundHalfEven(float64(v)/s)))
	return int8(x), float32(x * s)
}

// rtn quantizes w to nearest.
func (q *blockQuantizer) rtn(w []float32) []int8 {
	codes := make([]int8, len(w))
	for b := 0; b*q.bs < q.k; b++ {
		q.fit(w, b)
	}
	for r := 0; r < q.k; r++ {
		for c := 0; c < q.n; c++ {
			codes[r*q.n+c], _ = q.code(w[r*q.n+c], r, c)
		}
	}
	return codes
}

// gptq quantizes w ([K, N], y = x·w) row by row in the manner of GPTQ
// (Frantar et al., 2022): the rounding error of each input row is spread
// over the rows not yet quantized, weighted by the inverse of the inputs'
// Hessian h = Σ xᵀx (K×K). A block's scales are fitted when the first row
// of the block is reached, from the weights as corrected so far. The
// inputs are the float model's activations (not the partly quantized
// model's), which is the usual one-shot simplification.
func (q *blockQuantizer) gptq(w []float32, h []float64) ([]int8, error) {
	k, n := q.k, q.n
	wf := make([]float64, len(w))
	for i, v := range w {
		wf[i] = float64(v)
	}
	h = slices.Clone(h)
	var mean float64
	for i := 0; i < k; i++ {
		if h[i*k+i] == 0 {
			// An input that is always zero: its weights do not matter.
			h[i*k+i] = 1
			for c := 0; c < n; c++ {
				wf[i*n+c] = 0
			}
		}
		mean += h[i*k+i]
	}
	damp := 0.01 * mean / float64(k)
	for i := 0; i < k; i++ {
		h[i*k+i] += damp
	}
	// u is the upper Cholesky factor of h⁻¹: h⁻¹ = uᵀu.
	hinv, err := invertSPD(h, k)
	if err != nil {
		return nil, err
	}
	u, err := cholesky(hinv, k) // lower: hinv = l·lᵀ
	if err != nil {
		return nil, err
	}
	// l's transpose is upper; u[i][j] = l[j][i].
	codes := make([]int8, len(w))
	cur := make([]float32, len(w))
	e := make([]float64, n)
	for r := 0; r < k; r++ {
		if r%q.bs == 0 {
			for i, v := range wf {
				cur[i] = float32(v)
			}
			q.fit(cur, r/q.bs)
		}
		d := u[r*k+r]
		for c := 0; c < n; c++ {
			v := wf[r*n+c]
			code, deq := q.code(float32(v), r, c)
			codes[r*n+c] = code
			e[c] = (v - float64(deq)) / d
		}
		// Spread row r's error over the rows below it, a row at a time
		// (contiguous in wf).
		for j := r + 1; j < k; j++ {
			f := u[j*k+r]
			if f == 0 {
				continue
			}
			row := wf[j*n : j*n+n]
			for c, ec := range e {
				row[c] -= ec * f
			}
		}
	}
	return codes, nil
}

// cholesky returns the lower-triangular l with a = l·lᵀ for a symmetric
// positive definite k×k matrix.
func cholesky(a []float64, k int) ([]float64, error) {
	l := make([]float64, k*k)
	for i := 0; i < k; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*k+j]
			for p := 0; p < j; p++ {
				s -= l[i*k+p] * l[j*k+p]
			}
			if i == j {
				if s <= 0 {
					return nil, fmt.Errorf("matrix is not positive definite (pivot %d is %g)", i, s)
				}
				l[i*k+i] = math.Sqrt(s)
			} else {
				l[i*k+j] = s / l[j*k+j]
			}
		}
	}
	return l, nil
}

// invertSPD inverts a symmetric positive definite matrix through its
// Cholesky factor.
func invertSPD(a []float64, k int) ([]float64, error) {
	l, err := cholesky(a, k)
	if err != nil {
		return nil, err
	}
	// linv = l⁻¹ (lower), then a⁻¹ = linvᵀ·linv.
	linv := make([]float64, k*k)
	for i := 0; i < k; i++ {
		linv[i*k+i] = 1 / l[i*k+i]
		for j := 0; j < i; j++ {
			var s float64
			for p := j; p < i; p++ {
				s += l[i*k+p] * linv[p*k+j]
			}
			linv[i*k+j] = -s / l[i*k+i]
		}
	}
	inv := make([]float64, k*k)
	for i := 0; i < k; i++ {
		for j := 0; j <= i; j++ {
			var s float64
			for p := i; p < k; p++ {
				s += linv[p*k+i] * linv[p*k+j]
			}
			inv[i*k+j], inv[j*k+i] = s, s
		}
	}
	return inv, nil
}

func quantizeInt4(ctx context.Context, m *ir.Model, opts *Options, rep *Report) error {
	g := m.Graph
	rep.Weights = tensor.Int4
	if opts.Asymmetric {
		rep.Weights = tensor.Uint4
	}
	types := valueTypes(m)
	x := newGraphIndex(g)
	order, err := topoNodes(g)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	type target struct {
		n  *ir.Node
		lw *linearWeight
	}
	var targets []target
	for _, n := range order {
		sel, why := opts.selects(n, []string{"MatMul", "Gemm"})
		if !sel {
			if why != "" {
				rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: why})
			}
			continue
		}
		if n.OpType != "MatMul" && n.OpType != "Gemm" {
			rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: "int4 quantizes MatMul and Gemm weights only"})
			continue
		}
		lw, why := readLinear(x, types, n)
		if lw == nil {
			rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Detail: why})
			continue
		}
		targets = append(targets, target{n, lw})
	}
	if len(targets) == 0 {
		return fmt.Errorf("quantize: no MatMul or Gemm with a constant 2-D weight to quantize")
	}
	var cal *calibration
	if opts.GPTQ {
		want := map[string]int{}
		for _, t := range targets {
			want[t.n.Input(0)] = t.lw.k
		}
		rep.Samples = len(opts.Samples)
		if cal, err = calibrate(ctx, m, opts, nil, false, want); err != nil {
			return err
		}
	}
	if err := upgradeOpset(m, int4Opset); err != nil {
		return err
	}
	replaced := map[string]bool{}
	dqs := map[string]string{} // weight initializer → its DequantizeLinear output
	before := map[*ir.Node][]*ir.Node{}
	for _, t := range targets {
		n, lw := t.n, t.lw
		if out, ok := dqs[lw.name]; ok {
			n.Inputs[1] = out
			continue
		}
		bq := newBlockQuantizer(lw.k, lw.n, opts.BlockSize, opts.Asymmetric)
		var codes []int8
		how := "round to nearest"
		if opts.GPTQ {
			h := cal.xtx[n.Input(0)].matrix()
			if codes, err = bq.gptq(lw.w, h); err != nil {
				return fmt.Errorf("quantize: node %s: GPTQ: %w", n, err)
			}
			how = "GPTQ"
		} else {
			codes = bq.rtn(lw.w)
		}
		// Store in the weight's own layout: [K, N] for MatMul and Gemm,
		// [N, K] for Gemm with transB, blocked along K either way.
		w := x.constant(lw.name)
		axis := 0
		scaleShape := []int{(lw.k + bq.bs - 1) / bq.bs, lw.n}
		scale := bq.scale
		zp := bq.zp
		if w.Shape[0] != lw.k || (n.OpType == "Gemm" && ir.Attrs(n).Int("transB", 0) != 0) {
			axis = 1
			codes = transposeI8(codes, lw.k, lw.n)
			scale = transpose2D(scale, scaleShape[0], scaleShape[1])
			if zp != nil {
				zp = transposeI8(zp, scaleShape[0], scaleShape[1])
			}
			scaleShape = []int{scaleShape[1], scaleShape[0]}
		}
		qt := int4Tensor(codes, w.Shape, opts.Asymmetric)
		inputs := []string{x.addInit(lw.name+"_quantized", qt), x.addInit(lw.name+"_scale", &tensor.Tensor{DType: tensor.Float32, Shape: scaleShape, Data: scale})}
		if opts.Asymmetric {
			inputs = append(inputs, x.addInit(lw.name+"_zero_point", int4Tensor(zp, scaleShape, true)))
		}
		out := x.unique(lw.name + "_dequantized")
		d := x.newNode("DequantizeLinear", lw.name+"_DequantizeLinear", inputs, []string{out},
			intAttr("axis", int64(axis)), intAttr("block_size", int64(bq.bs)))
		before[n] = append(before[n], d)
		n.Inputs[1] = out
		dqs[lw.name] = out
		replaced[lw.name] = true
		rep.Nodes = append(rep.Nodes, NodeResult{Name: n.Name, OpType: n.OpType, Quantized: true,
			Detail: fmt.Sprintf("%v weight %v, blocks of %d along axis %d, %s", rep.Weights, tensor.ShapeString(w.Shape), bq.bs, axis, how)})
	}
	var nodes []*ir.Node
	for _, n := range g.Nodes {
		nodes = append(nodes, before[n]...)
		nodes = append(nodes, n)
	}
	g.Nodes = nodes
	x.removeUnusedInits(replaced)
	sortNodeResults(rep, order)
	return nil
}

func transposeI8(v []int8, r, c int) []int8 {
	out := make([]int8, len(v))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = v[i*c+j]
		}
	}
	return out
}

// int4Tensor stores codes as int4 (symmetric) or uint4 (asymmetric).
func int4Tensor(codes []int8, shape []int, unsigned bool) *tensor.Tensor {
	if unsigned {
		d := make([]tensor.U4, len(codes))
		for i, c := range codes {
			d[i] = tensor.U4FromInt64(int64(c))
		}
		return &tensor.Tensor{DType: tensor.Uint4, Shape: slices.Clone(shape), Data: d}
	}
	d := make([]tensor.I4, len(codes))
	for i, c := range codes {
		d[i] = tensor.I4FromInt64(int64(c))
	}
	return &tensor.Tensor{DType: tensor.Int4, Shape: slices.Clone(shape), Data: d}
}
