package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// The half-precision MatMul/Gemm path (matmul_bf16.go) against float64
// loops over the same bfloat16/float16 inputs.
//
// Error bound: the inputs are bf16 (8 significant bits) or fp16 (11), so
// every product a·b is exact in float32; the kernel's only float32
// errors are the ≤ K+4 rounded additions (K accumulations, alpha, beta·C,
// the bias), so its float32 result s32 lies within
// E = (K+4)·2⁻²⁴·1.01·S of the exact value s, S = |alpha|·Σ|a·b| +
// |beta·C| + |bias| (the classic γ bound for recursive summation). The
// output is r(s32) with r the round-to-nearest-even to the half type,
// which is monotone, so r(s−E) ≤ output ≤ r(s+E): the output is the exact
// result rounded, or its neighbour (1 ulp) when s lies within E of a
// rounding boundary — where a different float32 summation order may
// legitimately land on either side. Most outputs must be exactly r(s).

type bfHalf struct {
	dt    tensor.DType
	round func(float64) float64 // to the type, through float32
	make  func(v []float64, shape ...int) *tensor.Tensor
}

var bfTypes = []bfHalf{
	{tensor.BFloat16,
		func(x float64) float64 { return float64(tensor.BF16FromFloat32(float32(x)).Float32()) },
		func(v []float64, shape ...int) *tensor.Tensor {
			d := make([]tensor.BF16, len(v))
			for i, x := range v {
				d[i] = tensor.BF16FromFloat32(float32(x))
			}
			return tensor.FromSlice(d, shape...)
		}},
	{tensor.Float16,
		func(x float64) float64 { return float64(tensor.F16FromFloat32(float32(x)).Float32()) },
		func(v []float64, shape ...int) *tensor.Tensor {
			d := make([]tensor.F16, len(v))
			for i, x := range v {
				d[i] = tensor.F16FromFloat32(float32(x))
			}
			return tensor.FromSlice(d, shape...)
		}},
}

// bfRand returns a random tensor of type h and its values (as stored).
func (h bfHalf) rand(r *rand.Rand, shape ...int) (*tensor.Tensor, []float64) {
	v := make([]float64, tensor.NumElements(shape))
	for i := range v {
		v[i] = r.NormFloat64()
	}
	t := h.make(v, shape...)
	got, _ := Float64s(t)
	return t, got
}

// bfCheck checks got against exact results want (float64, before
// rounding) with error bounds e, as the file comment explains; relu
// applies max(0, ·) after the bound.
func bfCheck(t *testing.T, name string, h bfHalf, got *tensor.Tensor, shape []int, want, e []float64, relu bool) {
	t.Helper()
	if got.DType != h.dt || !tensor.EqualShapes(got.Shape, shape) {
		t.Fatalf("%s: got %v, want %v %v", name, got, h.dt, shape)
	}
	g, _ := Float64s(got)
	act := func(x float64) float64 {
		if relu {
			return max(0, x)
		}
		return x
	}
	exact := 0
	for i, w := range want {
		lo, hi := h.round(act(w-e[i])), h.round(act(w+e[i]))
		if g[i] < lo || g[i] > hi {
			t.Fatalf("%s: [%d] = %v, want %v (exact %v, float32 error bound %.3g: in [%v, %v])", name, i, g[i], h.round(act(w)), w, e[i], lo, hi)
		}
		if g[i] == h.round(act(w)) {
			exact++
		}
	}
	if len(want) > 0 && float64(exact) < 0.8*float64(len(want)) {
		t.Fatalf("%s: only %d of %d outputs are the exact result rounded", name, exact, len(want))
	}
}

// bfGemmRef computes alpha·op(A)·op(B) + beta·C + bias exactly (float64)
// and the error bound of each output.
func bfGemmRef(m, n, k int, a []float64, transA bool, b []float64, transB bool, alpha float64, cv []float64, cshape []int, beta float64, bias []float64) (want, e []float64) {
	want, e = make([]float64, m*n), make([]float64, m*n)
	var cst []int
	if cv != nil {
		cst = BroadcastStrides(cshape, []int{m, n})
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				av, bv := a[i*k+p], b[p*n+j]
				if transA {
					av = a[p*m+i]
				}
				if transB {
					bv = b[j*k+p]
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			s, sa = alpha*s, math.Abs(alpha)*sa
			if cv != nil {
				x := beta * cv[i*cst[0]+j*cst[1]]
				s, sa = s+x, sa+math.Abs(x)
			}
			if bias != nil {
				s, sa = s+bias[j], sa+math.Abs(bias[j])
			}
			want[i*n+j], e[i*n+j] = s, float64(k+4)*0x1p-24*1.01*sa
		}
	}
	return want, e
}

// bfBuild builds op with B (input 1) constant.
func bfBuild(t *testing.T, domain, op string, attrs []*ir.Attribute, in []*tensor.Tensor) Kernel {
	t.Helper()
	n := &ir.Node{Name: "n", Domain: domain, OpType: op, Attrs: attrs, Outputs: []string{"Y"}}
	for i := range in {
		n.Inputs = append(n.Inputs, string(rune('a'+i)))
	}
	k, err := Default.Build(&Build{Node: n, Opset: 13, Const: func(i int) *tensor.Tensor {
		if i == 1 {
			return in[1]
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return k.(Kernel)
}

// bfHalfOf returns the kernel's prepared half-precision B, or nil.
func bfHalfOf(k Kernel) *linalgHalfB {
	switch k := k.(type) {
	case *linalgMatMulKernel:
		return k.half
	case *linalgGemmKernel:
		return k.half
	case *linalgFusedMatMul:
		return k.mm.half
	}
	return nil
}

// bfRun checks that k prepared its constant B for the half-precision
// path and returns its outputs serially and on four threads.
func bfRun(t *testing.T, name string, k Kernel, h bfHalf, in []*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	hb := bfHalfOf(k)
	if hb == nil || (h.dt == tensor.BFloat16) != (hb.bf != nil) {
		t.Fatalf("%s: kernel %T did not prepare the constant %v B", name, k, h.dt)
	}
	var outs []*tensor.Tensor
	for _, c := range []*Context{nil, {Par: linalgTestPool.For, Threads: 4}} {
		out, err := k.Run(c, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		outs = append(outs, out[0])
	}
	return outs
}

func TestHalfMatMul(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, h := range bfTypes {
		for _, c := range []struct{ as, bs []int }{
			{[]int{1, 64}, []int{64, 10}},
			{[]int{64}, []int{64, 33}},
			{[]int{5, 37}, []int{37, 33}},
			{[]int{2, 3, 40}, []int{40, 17}},
			{[]int{2, 4, 19}, []int{2, 19, 50}},
			{[]int{3, 1, 8}, []int{1, 8, 300}},
			{[]int{20, 260}, []int{260, 48}},
		} {
			name := fmt.Sprintf("%v MatMul %v·%v", h.dt, c.as, c.bs)
			a, av := h.rand(r, c.as...)
			b, bv := h.rand(r, c.bs...)
			// The reference: numpy.matmul by loops over the batch.
			p, err := linalgPlanMatMul(c.as, c.bs)
			if err != nil {
				t.Fatal(err)
			}
			var want, e []float64
			if p.aOff == nil {
				want, e = bfGemmRef(p.foldM, p.N, p.K, av, false, bv, false, 1, nil, nil, 0, nil)
			} else {
				for i := range p.cOff {
					w, ee := bfGemmRef(p.M, p.N, p.K, av[p.aOff[i]:], false, bv[p.bOff[i]:], false, 1, nil, nil, 0, nil)
					want, e = append(want, w...), append(e, ee...)
				}
			}
			k := bfBuild(t, "", "MatMul", nil, []*tensor.Tensor{a, b})
			for _, y := range bfRun(t, name, k, h, []*tensor.Tensor{a, b}) {
				bfCheck(t, name, h, y, p.out, want, e, false)
			}

			// FusedMatMul with a bias and Relu.
			if len(c.bs) == 2 {
				bias, biasv := h.rand(r, c.bs[1])
				if p.aOff == nil {
					want, e = bfGemmRef(p.foldM, p.N, p.K, av, false, bv, false, 1, nil, nil, 0, biasv)
				}
				attrs := []*ir.Attribute{{Name: "activation", Type: ir.AttrString, S: []byte("Relu")}}
				k := bfBuild(t, ir.DomainInferd, "FusedMatMul", attrs, []*tensor.Tensor{a, b, bias})
				for _, y := range bfRun(t, "Fused"+name, k, h, []*tensor.Tensor{a, b, bias}) {
					bfCheck(t, "Fused"+name, h, y, p.out, want, e, true)
				}
			}
		}
	}
}

func TestHalfGemm(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, h := range bfTypes {
		for _, c := range []struct {
			m, n, k        int
			transA, transB bool
			alpha, beta    float64
			cshape         []int // nil: no C
			fused          bool
		}{
			{1, 10, 64, false, true, 1, 1, []int{10}, false},
			{1, 33, 70, false, false, 1, 1, nil, false},
			{7, 33, 37, false, true, 0.5, 1, []int{33}, false},
			{7, 17, 37, true, true, 1, 2, []int{7, 17}, false},
			{6, 18, 20, true, false, -1.5, 0.25, []int{6, 1}, false},
			{6, 18, 20, false, true, 1, 0.5, []int{1}, false},
			{4, 9, 300, false, true, 1, 1, []int{9}, true},
			{30, 40, 50, false, false, 2, 1, []int{30, 1}, true},
		} {
			name := fmt.Sprintf("%v Gemm m=%d n=%d k=%d transA=%v transB=%v alpha=%v beta=%v C%v fused=%v",
				h.dt, c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta, c.cshape, c.fused)
			ashape, bshape := []int{c.m, c.k}, []int{c.k, c.n}
			if c.transA {
				ashape = []int{c.k, c.m}
			}
			if c.transB {
				bshape = []int{c.n, c.k}
			}
			a, av := h.rand(r, ashape...)
			b, bv := h.rand(r, bshape...)
			in := []*tensor.Tensor{a, b}
			var cv []float64
			if c.cshape != nil {
				var ct *tensor.Tensor
				ct, cv = h.rand(r, c.cshape...)
				in = append(in, ct)
			}
			want, e := bfGemmRef(c.m, c.n, c.k, av, c.transA, bv, c.transB, c.alpha, cv, c.cshape, c.beta, nil)
			attrs := []*ir.Attribute{
				{Name: "alpha", Type: ir.AttrFloat, F: float32(c.alpha)}, {Name: "beta", Type: ir.AttrFloat, F: float32(c.beta)},
				{Name: "transA", Type: ir.AttrInt, I: b2i(c.transA)}, {Name: "transB", Type: ir.AttrInt, I: b2i(c.transB)},
			}
			domain, op := "", "Gemm"
			if c.fused {
				domain, op = ir.DomainInferd, "FusedGemm"
				attrs = append(attrs, &ir.Attribute{Name: "activation", Type: ir.AttrString, S: []byte("Relu")})
			}
			k := bfBuild(t, domain, op, attrs, in)
			for _, y := range bfRun(t, name, k, h, in) {
				bfCheck(t, name, h, y, []int{c.m, c.n}, want, e, c.fused)
			}
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestHalfMatMulErrors checks that bad operands get errors, not panics.
func TestHalfMatMulErrors(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	h := bfTypes[0]
	b, _ := h.rand(r, 8, 4)
	k := bfBuild(t, "", "MatMul", nil, []*tensor.Tensor{nil, b})
	a, _ := h.rand(r, 2, 7)
	if _, err := k.Run(nil, []*tensor.Tensor{a, b}); err == nil {
		t.Error("MatMul of [2,7] by [8,4]: no error")
	}
	a32 := tensor.New(tensor.Float32, 2, 8)
	if _, err := k.Run(nil, []*tensor.Tensor{a32, b}); err == nil {
		t.Error("MatMul of float32 by bfloat16: no error")
	}
	g := bfBuild(t, "", "Gemm", nil, []*tensor.Tensor{nil, b})
	a, _ = h.rand(r, 2, 8)
	cbad, _ := h.rand(r, 3)
	if _, err := g.Run(nil, []*tensor.Tensor{a, b, cbad}); err == nil {
		t.Error("Gemm with C [3] against [2,4]: no error")
	}
}

// TestHalfAllocs checks that warm half-precision runs allocate nothing.
func TestHalfAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := rand.New(rand.NewSource(4))
	for _, h := range bfTypes {
		a, _ := h.rand(r, 4, 64)
		b, _ := h.rand(r, 64, 40)
		bt, _ := h.rand(r, 40, 64)
		c, _ := h.rand(r, 40)
		if got := linalgAllocs(t, "MatMul", nil, []bool{false, true}, false, a, b); got != 0 {
			t.Errorf("%v MatMul: %v allocations per run", h.dt, got)
		}
		tb := []*ir.Attribute{{Name: "transB", Type: ir.AttrInt, I: 1}}
		if got := linalgAllocs(t, "Gemm", tb, []bool{false, true}, false, a, bt, c); got != 0 {
			t.Errorf("%v Gemm: %v allocations per run", h.dt, got)
		}
		if got := linalgAllocs(t, ir.DomainInferd+"/FusedMatMul", nil, []bool{false, true}, false, a, b, c); got != 0 {
			t.Errorf("%v FusedMatMul: %v allocations per run", h.dt, got)
		}
	}
}
