package kernels

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels/gemm"
	"github.com/inferd/inferd/tensor"
)

// Test helpers for the linalg family.

func linalgAInt(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func linalgAFloat(name string, v float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloat, F: v}
}

func linalgAInts(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func linalgAString(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

var linalgTestPool = parallel.New(4)

// linalgTry builds op at opset with attrs and runs it on in; consts marks
// inputs to offer as compile-time constants. nout output names are given.
func linalgTry(op string, opset int64, nout int, attrs []*ir.Attribute, consts []bool, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs}
	for i, t := range in {
		if t == nil {
			n.Inputs = append(n.Inputs, "")
		} else {
			n.Inputs = append(n.Inputs, string(rune('a'+i)))
		}
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, string(rune('A'+i)))
	}
	b := &Build{Node: n, Opset: opset, Const: func(i int) *tensor.Tensor {
		if i < len(consts) && consts[i] && i < len(in) {
			return in[i]
		}
		return nil
	}}
	k, err := Default.Build(b)
	if err != nil {
		return nil, err
	}
	c := &Context{Par: linalgTestPool.For}
	return k.(Kernel).Run(c, in)
}

func linalgRunOp(t *testing.T, op string, opset int64, nout int, attrs []*ir.Attribute, in ...*tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	out, err := linalgTry(op, opset, nout, attrs, nil, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out
}

func linalgF32(shape []int, v ...float32) *tensor.Tensor { return tensor.FromSlice(v, shape...) }

func linalgRandF32(r *rand.Rand, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensor.FromSlice(v, shape...)
}

// linalgClose checks got against want (float64 values) within a mixed
// absolute/relative tolerance.
func linalgClose(t *testing.T, name string, got *tensor.Tensor, wantShape []int, want []float64, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil output", name)
	}
	if !tensor.EqualShapes(got.Shape, wantShape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, wantShape)
	}
	g, err := Float64s(got)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(g), len(want))
	}
	for i := range g {
		w := want[i]
		if math.IsNaN(w) && math.IsNaN(g[i]) {
			continue
		}
		if math.IsInf(w, 0) && g[i] == w {
			continue
		}
		if d := math.Abs(g[i] - w); d > tol*(1+math.Abs(w)) || math.IsNaN(g[i]) {
			t.Fatalf("%s: element %d is %v, want %v (shape %v)", name, i, g[i], w, wantShape)
		}
	}
}

func linalgF64s(t *tensor.Tensor) []float64 {
	v, err := Float64s(t)
	if err != nil {
		panic(err)
	}
	return v
}

// linalgRefMatMul multiplies row-major matrices straight from the
// definition, in float64.
func linalgRefMatMul(a, b []float64, m, k, n int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				s += a[i*k+p] * b[p*n+j]
			}
			out[i*n+j] = s
		}
	}
	return out
}

func TestLinalgMatMulSmall(t *testing.T) {
	a := linalgF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	b := linalgF32([]int{3, 2}, 7, 8, 9, 10, 11, 12)
	out := linalgRunOp(t, "MatMul", 13, 1, nil, a, b)
	linalgClose(t, "2x3·3x2", out[0], []int{2, 2}, []float64{58, 64, 139, 154}, 0)

	// 1-D operands: vector·matrix, matrix·vector, vector·vector.
	v := linalgF32([]int{3}, 1, 0, -1)
	out = linalgRunOp(t, "MatMul", 13, 1, nil, v, b)
	linalgClose(t, "v·B", out[0], []int{2}, []float64{-4, -4}, 0)
	out = linalgRunOp(t, "MatMul", 13, 1, nil, a, v)
	linalgClose(t, "A·v", out[0], []int{2}, []float64{-2, -2}, 0)
	out = linalgRunOp(t, "MatMul", 13, 1, nil, v, linalgF32([]int{3}, 2, 5, 7))
	linalgClose(t, "v·v", out[0], []int{}, []float64{-5}, 0)

	// Integer matmul.
	ai := tensor.FromSlice([]int64{1, 2, 3, 4}, 2, 2)
	bi := tensor.FromSlice([]int64{5, 6, 7, 8}, 2, 2)
	out = linalgRunOp(t, "MatMul", 13, 1, nil, ai, bi)
	if got := out[0].Data.([]int64); got[0] != 19 || got[1] != 22 || got[2] != 43 || got[3] != 50 {
		t.Fatalf("int64 matmul = %v", got)
	}

	// Mismatched inner dimensions is an error.
	if _, err := linalgTry("MatMul", 13, 1, nil, nil, a, a); err == nil {
		t.Fatal("MatMul of 2x3 by 2x3 did not fail")
	}
}

func TestLinalgMatMulRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	cases := []struct{ as, bs []int }{
		{[]int{1, 1}, []int{1, 1}},
		{[]int{5, 7}, []int{7, 3}},
		{[]int{100, 300}, []int{300, 70}},
		{[]int{7, 513}, []int{513, 300}},
		{[]int{2, 128, 64}, []int{64, 96}},
		{[]int{2, 1, 3, 4}, []int{3, 4, 5}},
		{[]int{3, 4}, []int{2, 3, 4, 5}},
		{[]int{4, 1, 9, 16}, []int{1, 3, 16, 9}},
		{[]int{17}, []int{2, 17, 40}},
		{[]int{2, 3, 17}, []int{17}},
		{[]int{1, 600}, []int{600, 1}},
		{[]int{12, 128, 64}, []int{12, 64, 128}}, // attention QKᵀ, one batch
		{[]int{2, 12, 33, 64}, []int{2, 12, 64, 33}},
		{[]int{8, 5, 768}, []int{768, 77}},
		{[]int{3, 1, 1, 40}, []int{2, 40, 50}},
	}
	for _, tc := range cases {
		a := linalgRandF32(r, tc.as...)
		b := linalgRandF32(r, tc.bs...)
		out := linalgRunOp(t, "MatMul", 13, 1, nil, a, b)
		shape, want := linalgRefBatchMatMul(linalgF64s(a), tc.as, linalgF64s(b), tc.bs)
		name := "MatMul " + tensor.ShapeString(tc.as) + tensor.ShapeString(tc.bs)
		linalgClose(t, name, out[0], shape, want, 1e-4)
		// B as a compile-time constant (packed once), serial and parallel.
		res, err := linalgTry("MatMul", 13, 1, nil, []bool{false, true}, a, b)
		if err != nil {
			t.Fatal(err)
		}
		linalgClose(t, name+" const B", res[0], shape, want, 1e-4)

		// float64 and float16 agree too.
		a64, _ := FromFloat64s(tensor.Float64, tc.as, linalgF64s(a))
		b64, _ := FromFloat64s(tensor.Float64, tc.bs, linalgF64s(b))
		out = linalgRunOp(t, "MatMul", 13, 1, nil, a64, b64)
		linalgClose(t, "MatMul f64", out[0], shape, want, 1e-9)
	}
	a16, _ := FromFloat64s(tensor.Float16, []int{3, 4}, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	b16, _ := FromFloat64s(tensor.Float16, []int{4, 1}, []float64{1, 0.5, 0.25, -1})
	out := linalgRunOp(t, "MatMul", 13, 1, nil, a16, b16)
	if out[0].DType != tensor.Float16 {
		t.Fatalf("float16 MatMul gave %v", out[0].DType)
	}
	linalgClose(t, "MatMul f16", out[0], []int{3, 1}, []float64{-1.25, 1.75, 4.75}, 0)
}

// linalgRefBatchMatMul is numpy.matmul from its definition.
func linalgRefBatchMatMul(a []float64, as []int, b []float64, bs []int) ([]int, []float64) {
	a1, b1 := len(as) == 1, len(bs) == 1
	if a1 {
		as = []int{1, as[0]}
	}
	if b1 {
		bs = []int{bs[0], 1}
	}
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch, err := BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		panic(err)
	}
	var out []float64
	it := NewIndexer(batch, as[:len(as)-2], bs[:len(bs)-2])
	for i := 0; i < tensor.NumElements(batch); i++ {
		ao, bo := it.Off[0]*m*k, it.Off[1]*k*n
		out = append(out, linalgRefMatMul(a[ao:ao+m*k], b[bo:bo+k*n], m, k, n)...)
		it.Next()
	}
	shape := append([]int{}, batch...)
	if !a1 {
		shape = append(shape, m)
	}
	if !b1 {
		shape = append(shape, n)
	}
	return shape, out
}

func TestLinalgGemm(t *testing.T) {
	// Hand example: A' = [[1,2],[3,4]], B' = [[5,6],[7,8]], C = [1, -1].
	// A'B' = [[19,22],[43,50]]; Y = 0.5·A'B' + 2·C.
	a := linalgF32([]int{2, 2}, 1, 3, 2, 4) // transposed
	b := linalgF32([]int{2, 2}, 5, 7, 6, 8) // transposed
	c := linalgF32([]int{2}, 1, -1)
	attrs := []*ir.Attribute{linalgAFloat("alpha", 0.5), linalgAFloat("beta", 2), linalgAInt("transA", 1), linalgAInt("transB", 1)}
	out := linalgRunOp(t, "Gemm", 13, 1, attrs, a, b, c)
	linalgClose(t, "Gemm hand", out[0], []int{2, 2}, []float64{11.5, 9, 23.5, 23}, 0)
	// Same with B as a compile-time constant (pre-transposed path).
	res, err := linalgTry("Gemm", 13, 1, attrs, []bool{false, true}, a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	linalgClose(t, "Gemm const B", res[0], []int{2, 2}, []float64{11.5, 9, 23.5, 23}, 0)

	r := rand.New(rand.NewSource(2))
	for _, dims := range [][3]int{{1, 1, 1}, {3, 5, 4}, {1, 700, 33}, {2, 40, 300}, {130, 70, 260}} {
		m, n, k := dims[0], dims[1], dims[2]
		for ta := 0; ta < 2; ta++ {
			for tb := 0; tb < 2; tb++ {
				for _, cs := range [][]int{nil, {}, {n}, {m, 1}, {m, n}, {1, n}} {
					as := []int{m, k}
					if ta == 1 {
						as = []int{k, m}
					}
					bs := []int{k, n}
					if tb == 1 {
						bs = []int{n, k}
					}
					at, bt := linalgRandF32(r, as...), linalgRandF32(r, bs...)
					am := linalgRefTranspose(linalgF64s(at), as, ta == 1)
					bm := linalgRefTranspose(linalgF64s(bt), bs, tb == 1)
					want := linalgRefMatMul(am, bm, m, k, n)
					alpha, beta := 1.5, -0.5
					in := []*tensor.Tensor{at, bt}
					if cs != nil {
						ct := linalgRandF32(r, cs...)
						cv := linalgF64s(ct)
						st := BroadcastStrides(cs, []int{m, n})
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								want[i*n+j] = alpha*want[i*n+j] + beta*cv[i*st[0]+j*st[1]]
							}
						}
						in = append(in, ct)
					} else {
						for i := range want {
							want[i] *= alpha
						}
					}
					attrs := []*ir.Attribute{linalgAFloat("alpha", float32(alpha)), linalgAFloat("beta", float32(beta)),
						linalgAInt("transA", int64(ta)), linalgAInt("transB", int64(tb))}
					for _, constB := range []bool{false, true} {
						res, err := linalgTry("Gemm", 13, 1, attrs, []bool{false, constB}, in...)
						if err != nil {
							t.Fatal(err)
						}
						linalgClose(t, "Gemm random", res[0], []int{m, n}, want, 1e-4)
					}
				}
			}
		}
	}

	// Integer Gemm with defaults (alpha = beta = 1).
	ai := tensor.FromSlice([]int32{1, 2, 3, 4}, 2, 2)
	ci := tensor.FromSlice([]int32{10}, 1)
	out = linalgRunOp(t, "Gemm", 13, 1, nil, ai, ai, ci)
	if got := out[0].Data.([]int32); got[0] != 17 || got[1] != 20 || got[2] != 25 || got[3] != 32 {
		t.Fatalf("int32 Gemm = %v", got)
	}
	// A C that does not broadcast is an error.
	if _, err := linalgTry("Gemm", 13, 1, nil, nil, ai, ai, tensor.FromSlice([]int32{1, 2, 3}, 3)); err == nil {
		t.Fatal("Gemm with C of length 3 did not fail")
	}
}

// linalgRefTranspose returns a row-major matrix of shape s, transposed if tr.
func linalgRefTranspose(v []float64, s []int, tr bool) []float64 {
	if !tr {
		return v
	}
	r, c := s[0], s[1]
	out := make([]float64, len(v))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = v[i*c+j]
		}
	}
	return out
}

func linalgBenchMatMul(b *testing.B, m, k, n int, transB bool) {
	r := rand.New(rand.NewSource(1))
	a := linalgRandF32(r, m, k)
	var w *tensor.Tensor
	var attrs []*ir.Attribute
	op := "MatMul"
	if transB {
		w = linalgRandF32(r, n, k)
		op = "Gemm"
		attrs = []*ir.Attribute{linalgAInt("transB", 1)}
	} else {
		w = linalgRandF32(r, k, n)
	}
	n0 := &ir.Node{Name: "n", OpType: op, Inputs: []string{"a", "b"}, Outputs: []string{"y"}, Attrs: attrs}
	kern, err := Default.Build(&Build{Node: n0, Opset: 13, Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	pool := parallel.New(2)
	c := &Context{Par: pool.For}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := kern.(Kernel).Run(c, []*tensor.Tensor{a, w}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(2*m*n*k)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

func BenchmarkLinalgMatMul128x768x768(b *testing.B)  { linalgBenchMatMul(b, 128, 768, 768, false) }
func BenchmarkLinalgMatMul128x768x3072(b *testing.B) { linalgBenchMatMul(b, 128, 768, 3072, false) }
func BenchmarkLinalgGemmTB128x768x768(b *testing.B)  { linalgBenchMatMul(b, 128, 768, 768, true) }
func BenchmarkLinalgGemmTB1x784x128(b *testing.B)    { linalgBenchMatMul(b, 1, 784, 128, true) }
func BenchmarkLinalgMatMul1x784x128(b *testing.B)    { linalgBenchMatMul(b, 1, 784, 128, false) }
func BenchmarkLinalgMatMul512x512x512(b *testing.B)  { linalgBenchMatMul(b, 512, 512, 512, false) }

func TestLinalgSoftmax(t *testing.T) {
	sm := []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219}
	lsm := []float64{-2.4076059644443806, -1.4076059644443804, -0.4076059644443803}
	x := linalgF32([]int{2, 3}, 1, 2, 3, 1001, 1002, 1003)
	out := linalgRunOp(t, "Softmax", 13, 1, nil, x)
	linalgClose(t, "softmax", out[0], []int{2, 3}, append(append([]float64{}, sm...), sm...), 1e-6)
	out = linalgRunOp(t, "LogSoftmax", 13, 1, nil, x)
	linalgClose(t, "logsoftmax", out[0], []int{2, 3}, append(append([]float64{}, lsm...), lsm...), 1e-6)

	// Along axis 0 (strided): columns [1, 1001] etc; softmax of (0, 1000).
	out = linalgRunOp(t, "Softmax", 13, 1, []*ir.Attribute{linalgAInt("axis", 0)}, x)
	linalgClose(t, "softmax axis 0", out[0], []int{2, 3}, []float64{0, 0, 0, 1, 1, 1}, 1e-6)

	// Opset 11 flattens from the axis: with axis 0 the whole tensor is one row.
	y := linalgF32([]int{2, 1, 3}, 1, 2, 3, 1, 2, 3)
	out = linalgRunOp(t, "Softmax", 11, 1, []*ir.Attribute{linalgAInt("axis", 0)}, y)
	half := []float64{sm[0] / 2, sm[1] / 2, sm[2] / 2}
	linalgClose(t, "softmax-11 axis 0", out[0], []int{2, 1, 3}, append(append([]float64{}, half...), half...), 1e-6)
	// Opset 11 default axis 1 gives rows of 3; opset 13 default -1 too.
	out = linalgRunOp(t, "Softmax", 11, 1, nil, y)
	linalgClose(t, "softmax-11 default", out[0], []int{2, 1, 3}, append(append([]float64{}, sm...), sm...), 1e-6)
	// Opset 13 with axis 1 of size 1: all ones.
	out = linalgRunOp(t, "Softmax", 13, 1, []*ir.Attribute{linalgAInt("axis", 1)}, y)
	linalgClose(t, "softmax-13 axis 1", out[0], []int{2, 1, 3}, []float64{1, 1, 1, 1, 1, 1}, 1e-6)

	// Hardmax picks the first maximum.
	h := linalgF32([]int{2, 4}, 3, 7, 7, 1, -1, -5, -1, -2)
	out = linalgRunOp(t, "Hardmax", 13, 1, nil, h)
	linalgClose(t, "hardmax", out[0], []int{2, 4}, []float64{0, 1, 0, 0, 1, 0, 0, 0}, 0)
	out = linalgRunOp(t, "Hardmax", 13, 1, []*ir.Attribute{linalgAInt("axis", 0)}, h)
	linalgClose(t, "hardmax axis 0", out[0], []int{2, 4}, []float64{1, 1, 1, 1, 0, 0, 0, 0}, 0)

	// float16 in, float16 out.
	x16, _ := FromFloat64s(tensor.Float16, []int{3}, []float64{1, 2, 3})
	out = linalgRunOp(t, "Softmax", 13, 1, nil, x16)
	if out[0].DType != tensor.Float16 {
		t.Fatalf("float16 softmax gave %v", out[0].DType)
	}
	linalgClose(t, "softmax f16", out[0], []int{3}, sm, 1e-3)

	// Large strided case against the definition.
	r := rand.New(rand.NewSource(3))
	big := linalgRandF32(r, 3, 5, 130)
	out = linalgRunOp(t, "LogSoftmax", 13, 1, []*ir.Attribute{linalgAInt("axis", 1)}, big)
	bv := linalgF64s(big)
	want := make([]float64, len(bv))
	for o := 0; o < 3; o++ {
		for i := 0; i < 130; i++ {
			s := 0.0
			for j := 0; j < 5; j++ {
				s += math.Exp(bv[o*650+j*130+i])
			}
			for j := 0; j < 5; j++ {
				want[o*650+j*130+i] = bv[o*650+j*130+i] - math.Log(s)
			}
		}
	}
	linalgClose(t, "logsoftmax strided", out[0], []int{3, 5, 130}, want, 1e-5)

	if _, err := linalgTry("Softmax", 13, 1, []*ir.Attribute{linalgAInt("axis", 2)}, nil, x); err == nil {
		t.Fatal("axis 2 of a 2-D input did not fail")
	}
}

func TestLinalgDet(t *testing.T) {
	x := linalgF32([]int{2, 2}, 1, 2, 3, 4)
	out := linalgRunOp(t, "Det", 11, 1, nil, x)
	linalgClose(t, "det 2x2", out[0], []int{}, []float64{-2}, 1e-6)

	x = linalgF32([]int{2, 3, 3}, 6, 1, 1, 4, -2, 5, 2, 8, 7,
		0, 1, 0, 1, 0, 0, 0, 0, 1) // second is a row swap: det -1
	out = linalgRunOp(t, "Det", 11, 1, nil, x)
	linalgClose(t, "det batch", out[0], []int{2}, []float64{-306, -1}, 1e-6)

	x64 := tensor.FromSlice([]float64{1, 2, 2, 4}, 1, 2, 2) // singular
	out = linalgRunOp(t, "Det", 22, 1, nil, x64)
	linalgClose(t, "det singular", out[0], []int{1}, []float64{0}, 0)

	if _, err := linalgTry("Det", 11, 1, nil, nil, linalgF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)); err == nil {
		t.Fatal("Det of a 2x3 matrix did not fail")
	}
}

func TestLinalgBatchNorm(t *testing.T) {
	x := linalgF32([]int{1, 2, 1, 2}, 1, 2, 3, 4)
	scale, bias := linalgF32([]int{2}, 1, 2), linalgF32([]int{2}, 0, 1)
	mean, vr := linalgF32([]int{2}, 1.5, 3), linalgF32([]int{2}, 0.25, 1)
	eps := []*ir.Attribute{linalgAFloat("epsilon", 0)}
	for _, opset := range []int64{6, 7, 9, 14, 15} {
		out := linalgRunOp(t, "BatchNormalization", opset, 1, eps, x, scale, bias, mean, vr)
		linalgClose(t, "batchnorm", out[0], []int{1, 2, 1, 2}, []float64{-1, 1, 1, 3}, 1e-6)
	}
	// Training mode: batch statistics and running averages.
	xt := linalgF32([]int{2, 1, 1}, 1, 3)
	one, zero := linalgF32([]int{1}, 1), linalgF32([]int{1}, 0)
	attrs := []*ir.Attribute{linalgAFloat("epsilon", 0), linalgAInt("training_mode", 1)}
	out := linalgRunOp(t, "BatchNormalization", 15, 3, attrs, xt, one, zero, zero, one)
	linalgClose(t, "bn train y", out[0], []int{2, 1, 1}, []float64{-1, 1}, 1e-6)
	linalgClose(t, "bn train mean", out[1], []int{1}, []float64{0.2}, 1e-6)
	linalgClose(t, "bn train var", out[2], []int{1}, []float64{1}, 1e-6)
	// Wrong parameter size.
	if _, err := linalgTry("BatchNormalization", 15, 1, nil, nil, x, one, zero, zero, one); err == nil {
		t.Fatal("BatchNormalization with 1 scale for 2 channels did not fail")
	}
}

func TestLinalgInstanceGroupNorm(t *testing.T) {
	x := linalgF32([]int{1, 1, 4}, 1, 2, 3, 4)
	eps := []*ir.Attribute{linalgAFloat("epsilon", 0)}
	out := linalgRunOp(t, "InstanceNormalization", 6, 1, eps, x, linalgF32([]int{1}, 2), linalgF32([]int{1}, 1))
	linalgClose(t, "instancenorm", out[0], []int{1, 1, 4}, []float64{-1.6832815729997477, 0.10557280900008403, 1.894427190999916, 3.6832815729997477}, 1e-6)

	g := linalgF32([]int{1, 4, 1}, 1, 2, 3, 4)
	attrs := []*ir.Attribute{linalgAFloat("epsilon", 0), linalgAInt("num_groups", 2)}
	out = linalgRunOp(t, "GroupNormalization", 21, 1, attrs, g, linalgF32([]int{4}, 1, 2, 3, 4), linalgF32([]int{4}, 0, 0, 0, 1))
	linalgClose(t, "groupnorm-21", out[0], []int{1, 4, 1}, []float64{-1, 2, -3, 5}, 1e-6)
	out = linalgRunOp(t, "GroupNormalization", 18, 1, attrs, g, linalgF32([]int{2}, 1, 2), linalgF32([]int{2}, 0, 1))
	linalgClose(t, "groupnorm-18", out[0], []int{1, 4, 1}, []float64{-1, 1, -1, 3}, 1e-6)
	bad := []*ir.Attribute{linalgAInt("num_groups", 3)}
	if _, err := linalgTry("GroupNormalization", 21, 1, bad, nil, g, linalgF32([]int{4}, 1, 2, 3, 4), linalgF32([]int{4}, 0, 0, 0, 1)); err == nil {
		t.Fatal("4 channels in 3 groups did not fail")
	}
}

func TestLinalgLayerNorm(t *testing.T) {
	x := linalgF32([]int{2, 2}, 1, 3, 2, 6)
	attrs := []*ir.Attribute{linalgAFloat("epsilon", 0)}
	out := linalgRunOp(t, "LayerNormalization", 17, 3, attrs, x, linalgF32([]int{2}, 1, 2), linalgF32([]int{2}, 0.5, 0))
	linalgClose(t, "layernorm y", out[0], []int{2, 2}, []float64{-0.5, 2, -0.5, 2}, 1e-6)
	linalgClose(t, "layernorm mean", out[1], []int{2, 1}, []float64{2, 4}, 1e-6)
	linalgClose(t, "layernorm invstd", out[2], []int{2, 1}, []float64{1, 0.5}, 1e-6)
	if out[1].DType != tensor.Float32 {
		t.Fatalf("Mean is %v, want float32", out[1].DType)
	}
	// Axis 0: one row of four, no bias, scale broadcast from [1, 2]... of shape [2,2].
	attrs = append(attrs, linalgAInt("axis", 0))
	out = linalgRunOp(t, "LayerNormalization", 17, 1, attrs, x, linalgF32([]int{2, 2}, 1, 1, 1, 2))
	s := math.Sqrt(3.5)
	linalgClose(t, "layernorm axis 0", out[0], []int{2, 2}, []float64{-2 / s, 0, -1 / s, 6 / s}, 1e-6)
	// Scale of shape [1, 2] for a [2, 2] input along the last axis.
	out = linalgRunOp(t, "LayerNormalization", 17, 1, []*ir.Attribute{linalgAFloat("epsilon", 0)}, x, linalgF32([]int{1, 2}, 3, 1))
	linalgClose(t, "layernorm scale [1,2]", out[0], []int{2, 2}, []float64{-3, 1, -3, 1}, 1e-6)
	// Scale that varies per row (unidirectional broadcast to all of X).
	out = linalgRunOp(t, "LayerNormalization", 17, 1, []*ir.Attribute{linalgAFloat("epsilon", 0)}, x, linalgF32([]int{2, 1}, 3, 1))
	linalgClose(t, "layernorm scale [2,1]", out[0], []int{2, 2}, []float64{-3, 3, -1, 1}, 1e-6)
}

func TestLinalgLpLRNMVN(t *testing.T) {
	x := linalgF32([]int{2, 2}, 3, 4, 0, 0)
	out := linalgRunOp(t, "LpNormalization", 1, 1, nil, x)
	linalgClose(t, "lp2", out[0], []int{2, 2}, []float64{0.6, 0.8, 0, 0}, 1e-6)
	out = linalgRunOp(t, "LpNormalization", 1, 1, []*ir.Attribute{linalgAInt("p", 1)}, x)
	linalgClose(t, "lp1", out[0], []int{2, 2}, []float64{3.0 / 7, 4.0 / 7, 0, 0}, 1e-6)
	out = linalgRunOp(t, "LpNormalization", 1, 1, []*ir.Attribute{linalgAInt("axis", 0)}, x)
	linalgClose(t, "lp2 axis 0", out[0], []int{2, 2}, []float64{1, 1, 0, 0}, 1e-6)

	l := linalgF32([]int{1, 3, 1, 1}, 1, 2, 3)
	attrs := []*ir.Attribute{linalgAInt("size", 3), linalgAFloat("alpha", 3), linalgAFloat("beta", 1), linalgAFloat("bias", 1)}
	out = linalgRunOp(t, "LRN", 13, 1, attrs, l)
	linalgClose(t, "lrn size 3", out[0], []int{1, 3, 1, 1}, []float64{1.0 / 6, 2.0 / 15, 3.0 / 14}, 1e-6)
	attrs[0] = linalgAInt("size", 2)
	attrs[1] = linalgAFloat("alpha", 2)
	out = linalgRunOp(t, "LRN", 13, 1, attrs, l)
	linalgClose(t, "lrn size 2", out[0], []int{1, 3, 1, 1}, []float64{1.0 / 6, 2.0 / 14, 3.0 / 10}, 1e-6)

	m := linalgF32([]int{2, 1, 1, 2}, 1, 2, 3, 4)
	out = linalgRunOp(t, "MeanVarianceNormalization", 13, 1, nil, m)
	sd := math.Sqrt(1.25) + 1e-9
	linalgClose(t, "mvn", out[0], []int{2, 1, 1, 2}, []float64{-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd}, 1e-6)
	out = linalgRunOp(t, "MeanVarianceNormalization", 13, 1, []*ir.Attribute{linalgAInts("axes", 3)}, m)
	linalgClose(t, "mvn last axis", out[0], []int{2, 1, 1, 2}, []float64{-1, 1, -1, 1}, 1e-6)
}

func linalgEinsum(t *testing.T, eq string, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	return linalgRunOp(t, "Einsum", 12, 1, []*ir.Attribute{linalgAString("equation", eq)}, in...)[0]
}

func TestLinalgEinsum(t *testing.T) {
	a := linalgF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	b := linalgF32([]int{3, 2}, 7, 8, 9, 10, 11, 12)
	linalgClose(t, "ij,jk->ik", linalgEinsum(t, "ij,jk->ik", a, b), []int{2, 2}, []float64{58, 64, 139, 154}, 0)
	linalgClose(t, "ij,jk (implicit)", linalgEinsum(t, "ij,jk", a, b), []int{2, 2}, []float64{58, 64, 139, 154}, 0)
	linalgClose(t, "ij,jk->ki", linalgEinsum(t, "ij, jk -> ki", a, b), []int{2, 2}, []float64{58, 139, 64, 154}, 0)
	linalgClose(t, "ij->ji", linalgEinsum(t, "ij->ji", a), []int{3, 2}, []float64{1, 4, 2, 5, 3, 6}, 0)
	linalgClose(t, "ba (implicit transpose)", linalgEinsum(t, "ba", a), []int{3, 2}, []float64{1, 4, 2, 5, 3, 6}, 0)
	linalgClose(t, "ij->", linalgEinsum(t, "ij->", a), []int{}, []float64{21}, 0)
	linalgClose(t, "ij->j", linalgEinsum(t, "ij->j", a), []int{3}, []float64{5, 7, 9}, 0)
	sq := linalgF32([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	linalgClose(t, "ii->i", linalgEinsum(t, "ii->i", sq), []int{3}, []float64{1, 5, 9}, 0)
	linalgClose(t, "ii (trace)", linalgEinsum(t, "ii", sq), []int{}, []float64{15}, 0)
	v, w := linalgF32([]int{3}, 1, 2, 3), linalgF32([]int{3}, 4, 5, 6)
	linalgClose(t, "i,i", linalgEinsum(t, "i,i", v, w), []int{}, []float64{32}, 0)
	linalgClose(t, "i,j->ij", linalgEinsum(t, "i,j->ij", v, linalgF32([]int{2}, 1, -1)), []int{3, 2}, []float64{1, -1, 2, -2, 3, -3}, 0)
	linalgClose(t, "ii,ij->j", linalgEinsum(t, "ii,ij->j", sq, sq), []int{3}, []float64{1*1 + 5*4 + 9*7, 1*2 + 5*5 + 9*8, 1*3 + 5*6 + 9*9}, 0)
	// Implicit output orders upper case before lower case: "Ab,bc" -> "Ac".
	linalgClose(t, "Ab,bc", linalgEinsum(t, "Ab,bc", a, b), []int{2, 2}, []float64{58, 64, 139, 154}, 0)
	linalgClose(t, "i,j,k->ijk", linalgEinsum(t, "i,j,k->ijk", linalgF32([]int{2}, 1, 2), linalgF32([]int{2}, 3, 4), linalgF32([]int{1}, 10)),
		[]int{2, 2, 1}, []float64{30, 40, 60, 80}, 0)

	r := rand.New(rand.NewSource(4))
	// Attention scores: bhqd,bhkd->bhqk (B used transposed).
	q, k := linalgRandF32(r, 2, 3, 5, 8), linalgRandF32(r, 2, 3, 7, 8)
	qv, kv := linalgF64s(q), linalgF64s(k)
	want := make([]float64, 2*3*5*7)
	for bh := 0; bh < 6; bh++ {
		for i := 0; i < 5; i++ {
			for j := 0; j < 7; j++ {
				s := 0.0
				for d := 0; d < 8; d++ {
					s += qv[bh*40+i*8+d] * kv[bh*56+j*8+d]
				}
				want[bh*35+i*7+j] = s
			}
		}
	}
	linalgClose(t, "bhqd,bhkd->bhqk", linalgEinsum(t, "bhqd,bhkd->bhqk", q, k), []int{2, 3, 5, 7}, want, 1e-5)
	// Same contraction with the output permuted: bhqd,bhkd->bkhq.
	perm := make([]float64, len(want))
	for bb := 0; bb < 2; bb++ {
		for h := 0; h < 3; h++ {
			for i := 0; i < 5; i++ {
				for j := 0; j < 7; j++ {
					perm[((bb*7+j)*3+h)*5+i] = want[((bb*3+h)*5+i)*7+j]
				}
			}
		}
	}
	linalgClose(t, "bhqd,bhkd->bkhq", linalgEinsum(t, "bhqd,bhkd->bkhq", q, k), []int{2, 7, 3, 5}, perm, 1e-5)

	// Ellipsis with broadcasting batch dims: [2,1,3,4]·[5,4,2].
	x, y := linalgRandF32(r, 2, 1, 3, 4), linalgRandF32(r, 5, 4, 2)
	shape, ref := linalgRefBatchMatMul(linalgF64s(x), x.Shape, linalgF64s(y), y.Shape)
	linalgClose(t, "...ij,...jk->...ik", linalgEinsum(t, "...ij,...jk->...ik", x, y), shape, ref, 1e-5)
	linalgClose(t, "...ij,...jk (implicit)", linalgEinsum(t, "...ij,...jk", x, y), shape, ref, 1e-5)

	// A contraction needing operand permutes: ijk,jil->kl.
	u, z := linalgRandF32(r, 2, 3, 4), linalgRandF32(r, 3, 2, 5)
	uv, zv := linalgF64s(u), linalgF64s(z)
	want = make([]float64, 4*5)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			for kk := 0; kk < 4; kk++ {
				for l := 0; l < 5; l++ {
					want[kk*5+l] += uv[(i*3+j)*4+kk] * zv[(j*2+i)*5+l]
				}
			}
		}
	}
	linalgClose(t, "ijk,jil->kl", linalgEinsum(t, "ijk,jil->kl", u, z), []int{4, 5}, want, 1e-5)

	// Integers, and float16 through float32.
	ai := tensor.FromSlice([]int32{1, 2, 3, 4}, 2, 2)
	out := linalgEinsum(t, "ij,jk->ik", ai, ai)
	if got := out.Data.([]int32); got[0] != 7 || got[1] != 10 || got[2] != 15 || got[3] != 22 {
		t.Fatalf("int32 einsum = %v", got)
	}
	h, _ := FromFloat64s(tensor.Float16, []int{2, 2}, []float64{1, 2, 3, 4})
	out = linalgEinsum(t, "ij->i", h)
	if out.DType != tensor.Float16 {
		t.Fatalf("float16 einsum gave %v", out.DType)
	}
	linalgClose(t, "f16 ij->i", out, []int{2}, []float64{3, 7}, 0)

	// Errors.
	for _, eq := range []string{"ij,jk->ii", "ij->k", "ij,jk", "i.j->i"} {
		if _, err := linalgTry("Einsum", 12, 1, []*ir.Attribute{linalgAString("equation", eq)}, nil, a, a); err == nil {
			t.Fatalf("Einsum %q on two 2x3 inputs did not fail", eq)
		}
	}
}

// linalgF8Format adapts tensor's float8 codecs to the table below.
type linalgF8Format struct {
	name   string
	encode func(x float32, saturate bool) uint8
	decode func(b uint8) float32
}

var (
	linalgE4M3FN = linalgF8Format{"E4M3FN",
		func(x float32, s bool) uint8 { return uint8(tensor.F8E4M3FNFromFloat32(x, s)) },
		func(b uint8) float32 { return tensor.F8E4M3FN(b).Float32() }}
	linalgE4M3FNUZ = linalgF8Format{"E4M3FNUZ",
		func(x float32, s bool) uint8 { return uint8(tensor.F8E4M3FNUZFromFloat32(x, s)) },
		func(b uint8) float32 { return tensor.F8E4M3FNUZ(b).Float32() }}
	linalgE5M2 = linalgF8Format{"E5M2",
		func(x float32, s bool) uint8 { return uint8(tensor.F8E5M2FromFloat32(x, s)) },
		func(b uint8) float32 { return tensor.F8E5M2(b).Float32() }}
	linalgE5M2FNUZ = linalgF8Format{"E5M2FNUZ",
		func(x float32, s bool) uint8 { return uint8(tensor.F8E5M2FNUZFromFloat32(x, s)) },
		func(b uint8) float32 { return tensor.F8E5M2FNUZ(b).Float32() }}
)

func TestLinalgFloat8(t *testing.T) {
	cases := []struct {
		f        linalgF8Format
		x        float32
		sat, non uint8
	}{
		{linalgE4M3FN, 1, 0x38, 0x38},
		{linalgE4M3FN, 0.5, 0x30, 0x30},
		{linalgE4M3FN, -2, 0xc0, 0xc0},
		{linalgE4M3FN, 448, 0x7e, 0x7e},
		{linalgE4M3FN, 500, 0x7e, 0x7f},
		{linalgE4M3FN, float32(math.Inf(-1)), 0xfe, 0xff},
		{linalgE4M3FN, 1.0625, 0x38, 0x38}, // tie → even mantissa 0
		{linalgE4M3FN, 1.1875, 0x3a, 0x3a}, // tie → even mantissa 2
		{linalgE4M3FN, 1.0 / 512, 0x01, 0x01},
		{linalgE4M3FN, 1.0 / 1024, 0x00, 0x00},
		{linalgE4M3FN, 3.0 / 1024, 0x02, 0x02},
		{linalgE4M3FNUZ, 1, 0x40, 0x40},
		{linalgE4M3FNUZ, 240, 0x7f, 0x7f},
		{linalgE4M3FNUZ, 250, 0x7f, 0x80},
		{linalgE4M3FNUZ, float32(math.Copysign(0, -1)), 0x00, 0x00},
		{linalgE4M3FNUZ, float32(math.NaN()), 0x80, 0x80},
		{linalgE5M2, 1, 0x3c, 0x3c},
		{linalgE5M2, 57344, 0x7b, 0x7b},
		{linalgE5M2, 65536, 0x7b, 0x7c},
		{linalgE5M2, float32(math.Inf(1)), 0x7b, 0x7c},
		{linalgE5M2FNUZ, 1, 0x40, 0x40},
		{linalgE5M2FNUZ, -57344, 0xff, 0xff},
	}
	for _, tc := range cases {
		if got := tc.f.encode(tc.x, true); got != tc.sat {
			t.Errorf("%s encode(%v, saturate) = %#x, want %#x", tc.f.name, tc.x, got, tc.sat)
		}
		if got := tc.f.encode(tc.x, false); got != tc.non {
			t.Errorf("%s encode(%v) = %#x, want %#x", tc.f.name, tc.x, got, tc.non)
		}
	}
	if v := linalgE4M3FN.decode(0x7e); v != 448 {
		t.Errorf("decode 0x7e = %v", v)
	}
	if v := linalgE5M2.decode(0xfc); !math.IsInf(float64(v), -1) {
		t.Errorf("E5M2 decode 0xfc = %v", v)
	}
	// Every finite code round-trips.
	for _, f := range []linalgF8Format{linalgE4M3FN, linalgE4M3FNUZ, linalgE5M2, linalgE5M2FNUZ} {
		for b := 0; b < 256; b++ {
			v := f.decode(uint8(b))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				continue
			}
			if got := f.encode(v, false); got != uint8(b) && !(v == 0 && got == 0) {
				t.Errorf("%s: code %#x decodes to %v, encodes to %#x", f.name, b, v, got)
			}
		}
	}
}

func TestLinalgQuantize(t *testing.T) {
	x := linalgF32([]int{7}, 0, 1, 2.5, 3.5, -1, 300, -300)
	out := linalgRunOp(t, "QuantizeLinear", 10, 1, nil, x, tensor.Scalar(float32(1)))
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{0, 1, 2, 4, 0, 255, 0}) {
		t.Fatalf("uint8 quantize = %v", got)
	}
	out = linalgRunOp(t, "QuantizeLinear", 13, 1, nil, x, tensor.Scalar(float32(2)), tensor.Scalar(int8(1)))
	if got := out[0].Data.([]int8); !slicesEqual(got, []int8{1, 1, 2, 3, 1, 127, -128}) {
		t.Fatalf("int8 quantize = %v", got)
	}
	// Per axis.
	xa := linalgF32([]int{2, 2}, 10, 10, 20, 20)
	out = linalgRunOp(t, "QuantizeLinear", 13, 1, nil, xa, linalgF32([]int{2}, 1, 10), tensor.FromSlice([]uint8{0, 0}, 2))
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{10, 1, 20, 2}) {
		t.Fatalf("per-axis quantize = %v", got)
	}
	out = linalgRunOp(t, "QuantizeLinear", 13, 1, []*ir.Attribute{linalgAInt("axis", 0)}, xa, linalgF32([]int{2}, 1, 10), tensor.FromSlice([]uint8{0, 0}, 2))
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{10, 10, 2, 2}) {
		t.Fatalf("per-axis 0 quantize = %v", got)
	}
	// Blocked (opset 21): blocks of 3 along axis 1 of a [2, 4] input.
	xb := linalgF32([]int{2, 4}, 2, 4, 6, 80, 2, 4, 6, 80)
	sb := linalgF32([]int{2, 2}, 1, 10, 2, 20)
	attrs := []*ir.Attribute{linalgAInt("axis", 1), linalgAInt("block_size", 3), linalgAInt("output_dtype", int64(tensor.Int16))}
	out = linalgRunOp(t, "QuantizeLinear", 21, 1, attrs, xb, sb)
	if got := out[0].Data.([]int16); out[0].DType != tensor.Int16 || !slicesEqual(got, []int16{2, 4, 6, 8, 1, 2, 3, 4}) {
		t.Fatalf("blocked quantize = %v (%v)", got, out[0].DType)
	}
	// Deq of the same blocks.
	q := tensor.FromSlice([]int16{2, 4, 6, 8, 1, 2, 3, 4}, 2, 4)
	out = linalgRunOp(t, "DequantizeLinear", 21, 1, []*ir.Attribute{linalgAInt("block_size", 3)}, q, sb)
	linalgClose(t, "blocked dequantize", out[0], []int{2, 4}, []float64{2, 4, 6, 80, 2, 4, 6, 80}, 0)
	// 4-bit outputs saturate.
	x4 := linalgF32([]int{2}, 10, -10)
	out = linalgRunOp(t, "QuantizeLinear", 21, 1, nil, x4, tensor.Scalar(float32(1)), tensor.Scalar(tensor.I4(0)))
	if got := out[0].Data.([]tensor.I4); got[0] != 7 || got[1] != -8 {
		t.Fatalf("int4 quantize = %v", got)
	}
	out = linalgRunOp(t, "QuantizeLinear", 21, 1, []*ir.Attribute{linalgAInt("output_dtype", int64(tensor.Uint4))}, x4, tensor.Scalar(float32(1)))
	if got := out[0].Data.([]tensor.U4); got[0] != 10 || got[1] != 0 {
		t.Fatalf("uint4 quantize = %v", got)
	}
	// Float8 output, saturating and not.
	x8 := linalgF32([]int{2}, 1, 1000)
	out = linalgRunOp(t, "QuantizeLinear", 19, 1, nil, x8, tensor.Scalar(float32(1)), tensor.Scalar(tensor.F8E4M3FN(0)))
	if got := out[0].Data.([]tensor.F8E4M3FN); got[0] != 0x38 || got[1] != 0x7e {
		t.Fatalf("float8 quantize = %v", got)
	}
	out = linalgRunOp(t, "QuantizeLinear", 19, 1, []*ir.Attribute{linalgAInt("saturate", 0)}, x8, tensor.Scalar(float32(1)), tensor.Scalar(tensor.F8E4M3FN(0)))
	if got := out[0].Data.([]tensor.F8E4M3FN); got[1] != 0x7f {
		t.Fatalf("float8 quantize without saturation = %v", got)
	}
	// Errors: scale that fits no axis; zero point and output_dtype disagree.
	if _, err := linalgTry("QuantizeLinear", 13, 1, nil, nil, xa, linalgF32([]int{3}, 1, 2, 3)); err == nil {
		t.Fatal("scale of 3 for axis of 2 did not fail")
	}
	if _, err := linalgTry("QuantizeLinear", 21, 1, []*ir.Attribute{linalgAInt("output_dtype", int64(tensor.Int8))}, nil, x, tensor.Scalar(float32(1)), tensor.Scalar(uint8(0))); err == nil {
		t.Fatal("output_dtype int8 with a uint8 zero point did not fail")
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLinalgDequantize(t *testing.T) {
	x := tensor.FromSlice([]int8{-128, 0, 127}, 3)
	out := linalgRunOp(t, "DequantizeLinear", 10, 1, nil, x, tensor.Scalar(float32(2)), tensor.Scalar(int8(-1)))
	linalgClose(t, "int8 dequantize", out[0], []int{3}, []float64{-254, 2, 256}, 0)
	// Per axis, float16 scale → float16 output.
	xa := tensor.FromSlice([]uint8{1, 2, 3, 4}, 2, 2)
	s16, _ := FromFloat64s(tensor.Float16, []int{2}, []float64{0.5, 2})
	out = linalgRunOp(t, "DequantizeLinear", 19, 1, nil, xa, s16, tensor.FromSlice([]uint8{1, 0}, 2))
	if out[0].DType != tensor.Float16 {
		t.Fatalf("dequantize with float16 scale gave %v", out[0].DType)
	}
	linalgClose(t, "per-axis dequantize", out[0], []int{2, 2}, []float64{0, 4, 1, 8}, 0)
	// int32 input, no zero point.
	out = linalgRunOp(t, "DequantizeLinear", 13, 1, nil, tensor.FromSlice([]int32{-1000, 7}, 2), tensor.Scalar(float32(0.5)))
	linalgClose(t, "int32 dequantize", out[0], []int{2}, []float64{-500, 3.5}, 0)
	// float8 and int4 inputs.
	out = linalgRunOp(t, "DequantizeLinear", 21, 1, nil, tensor.FromSlice([]tensor.F8E5M2{0x3c, 0xc0}, 2), tensor.Scalar(float32(3)))
	linalgClose(t, "float8 dequantize", out[0], []int{2}, []float64{3, -6}, 0)
	out = linalgRunOp(t, "DequantizeLinear", 21, 1, nil, tensor.FromSlice([]tensor.I4{-8, 7}, 2), tensor.Scalar(float32(1)), tensor.Scalar(tensor.I4(-1)))
	linalgClose(t, "int4 dequantize", out[0], []int{2}, []float64{-7, 8}, 0)
	// Zero point type must match x.
	if _, err := linalgTry("DequantizeLinear", 13, 1, nil, nil, x, tensor.Scalar(float32(1)), tensor.Scalar(uint8(0))); err == nil {
		t.Fatal("uint8 zero point for int8 x did not fail")
	}
}

func TestLinalgDynamicQuantize(t *testing.T) {
	x := linalgF32([]int{6}, 0, 2, -3, -2.5, 1.34, 0.5)
	out := linalgRunOp(t, "DynamicQuantizeLinear", 11, 3, nil, x)
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{153, 255, 0, 26, 221, 179}) {
		t.Fatalf("y = %v", got)
	}
	linalgClose(t, "y_scale", out[1], []int{}, []float64{5.0 / 255}, 1e-7)
	if zp := out[2].Data.([]uint8); zp[0] != 153 {
		t.Fatalf("zero point = %v", zp)
	}
	// All positive: the range is extended to 0, zero point 0.
	out = linalgRunOp(t, "DynamicQuantizeLinear", 11, 3, nil, linalgF32([]int{2}, 1, 2.55))
	if got := out[0].Data.([]uint8); got[0] != 100 || got[1] != 255 || out[2].Data.([]uint8)[0] != 0 {
		t.Fatalf("positive input: y = %v, zp = %v", got, out[2].Data)
	}
}

func TestLinalgMatMulInteger(t *testing.T) {
	a := tensor.FromSlice([]uint8{11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0}, 4, 3)
	b := tensor.FromSlice([]uint8{1, 4, 2, 5, 3, 6}, 3, 2)
	want := []int32{-38, -83, -44, -98, -50, -113, -56, -128}
	out := linalgRunOp(t, "MatMulInteger", 10, 1, nil, a, b, tensor.Scalar(uint8(12)), tensor.Scalar(uint8(0)))
	if got := out[0].Data.([]int32); !slicesEqual(got, want) || out[0].DType != tensor.Int32 {
		t.Fatalf("MatMulInteger = %v", got)
	}
	res, err := linalgTry("MatMulInteger", 10, 1, nil, []bool{false, true, false, true}, a, b, tensor.Scalar(uint8(12)), tensor.Scalar(uint8(0)))
	if err != nil || !slicesEqual(res[0].Data.([]int32), want) {
		t.Fatalf("MatMulInteger with constant B = %v, %v", res, err)
	}
	// Per-row zero points for A, per-column for B; int8 operands.
	ai := tensor.FromSlice([]int8{1, 2, 3, 4}, 2, 2)
	bi := tensor.FromSlice([]int8{1, 0, 0, 1}, 2, 2)
	out = linalgRunOp(t, "MatMulInteger", 10, 1, nil, ai, bi, tensor.FromSlice([]int8{1, 2}, 2), tensor.FromSlice([]int8{0, -1}, 2))
	// A-zp = [[0,1],[1,2]], B-zp = [[1,1],[0,2]].
	if got := out[0].Data.([]int32); !slicesEqual(got, []int32{0, 2, 1, 5}) {
		t.Fatalf("MatMulInteger per-row/col = %v", got)
	}
}

func TestLinalgQLinearMatMul(t *testing.T) {
	a := tensor.FromSlice([]uint8{2, 4}, 1, 2)
	b := tensor.FromSlice([]uint8{3, 5}, 2, 1)
	out := linalgRunOp(t, "QLinearMatMul", 10, 1, nil, a, tensor.Scalar(float32(0.5)), tensor.Scalar(uint8(2)),
		b, tensor.Scalar(float32(1)), tensor.Scalar(uint8(1)), tensor.Scalar(float32(0.5)), tensor.Scalar(uint8(10)))
	if got := out[0].Data.([]uint8); got[0] != 18 {
		t.Fatalf("QLinearMatMul = %v", got)
	}
	// Per-column b scale and an int8 output that saturates.
	b2 := tensor.FromSlice([]uint8{3, 3, 5, 5}, 2, 2)
	out = linalgRunOp(t, "QLinearMatMul", 21, 1, nil, a, tensor.Scalar(float32(0.5)), tensor.Scalar(uint8(2)),
		b2, linalgF32([]int{2}, 1, 100), tensor.FromSlice([]uint8{1, 1}, 2), tensor.Scalar(float32(0.5)), tensor.Scalar(int8(10)))
	if got := out[0].Data.([]int8); got[0] != 18 || got[1] != 127 {
		t.Fatalf("QLinearMatMul per-column = %v", got)
	}
}

func TestLinalgQLinearConv(t *testing.T) {
	x := tensor.FromSlice([]uint8{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	w := tensor.FromSlice([]uint8{2, 1, 1, 2}, 1, 1, 2, 2)
	one, two := tensor.Scalar(float32(1)), tensor.Scalar(float32(2))
	z, z1 := tensor.Scalar(uint8(0)), tensor.Scalar(uint8(1))
	out := linalgRunOp(t, "QLinearConv", 10, 1, nil, x, one, z1, w, one, z1, two, z)
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{2, 3, 5, 6}) || !tensor.EqualShapes(out[0].Shape, []int{1, 1, 2, 2}) {
		t.Fatalf("QLinearConv = %v %v", got, out[0].Shape)
	}
	out = linalgRunOp(t, "QLinearConv", 10, 1, nil, x, one, z1, w, one, z1, two, z, tensor.FromSlice([]int32{1}, 1))
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{2, 4, 6, 6}) {
		t.Fatalf("QLinearConv with bias = %v", got)
	}
	attrs := []*ir.Attribute{linalgAInts("pads", 1, 1, 1, 1), linalgAInts("strides", 2, 2)}
	out = linalgRunOp(t, "QLinearConv", 10, 1, attrs, x, one, z1, w, one, z1, one, z)
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{0, 2, 6, 12}) {
		t.Fatalf("QLinearConv padded, strided = %v", got)
	}
	// Two groups with per-channel weight scales.
	xg := tensor.FromSlice([]uint8{5, 7}, 1, 2, 1, 1)
	wg := tensor.FromSlice([]uint8{2, 3}, 2, 1, 1, 1)
	attrs = []*ir.Attribute{linalgAInt("group", 2)}
	out = linalgRunOp(t, "QLinearConv", 10, 1, attrs, xg, one, z, wg, linalgF32([]int{2}, 1, 2), tensor.FromSlice([]uint8{0, 0}, 2), one, z)
	if got := out[0].Data.([]uint8); !slicesEqual(got, []uint8{10, 42}) {
		t.Fatalf("QLinearConv groups = %v", got)
	}
}

func TestLinalgEmpty(t *testing.T) {
	// Zero-sized dimensions: empty outputs, or zeros when K is 0.
	out := linalgRunOp(t, "MatMul", 13, 1, nil, linalgF32([]int{0, 3}), linalgF32([]int{3, 2}, 1, 2, 3, 4, 5, 6))
	linalgClose(t, "0x3·3x2", out[0], []int{0, 2}, nil, 0)
	out = linalgRunOp(t, "MatMul", 13, 1, nil, linalgF32([]int{2, 0}), linalgF32([]int{0, 2}))
	linalgClose(t, "2x0·0x2", out[0], []int{2, 2}, []float64{0, 0, 0, 0}, 0)
	out = linalgRunOp(t, "Gemm", 13, 1, nil, linalgF32([]int{1, 0}), linalgF32([]int{0, 2}), linalgF32([]int{2}, 3, 4))
	linalgClose(t, "Gemm K=0", out[0], []int{1, 2}, []float64{3, 4}, 0)
	out = linalgRunOp(t, "Einsum", 12, 1, []*ir.Attribute{linalgAString("equation", "ij,jk->ik")}, linalgF32([]int{2, 0}), linalgF32([]int{0, 3}))
	linalgClose(t, "einsum K=0", out[0], []int{2, 3}, []float64{0, 0, 0, 0, 0, 0}, 0)
	out = linalgRunOp(t, "Softmax", 13, 1, nil, linalgF32([]int{0, 3}))
	linalgClose(t, "softmax empty", out[0], []int{0, 3}, nil, 0)
	out = linalgRunOp(t, "Det", 11, 1, nil, linalgF32([]int{0, 2, 2}))
	linalgClose(t, "det empty batch", out[0], []int{0}, nil, 0)
}

func TestLinalgBatchNormSpatial0(t *testing.T) {
	// Opset 7 with spatial=0: parameters per (C, D) element.
	x := linalgF32([]int{2, 1, 2}, 1, 2, 3, 4)
	p := func(v ...float32) *tensor.Tensor { return linalgF32([]int{1, 2}, v...) }
	attrs := []*ir.Attribute{linalgAFloat("epsilon", 0), linalgAInt("spatial", 0)}
	out := linalgRunOp(t, "BatchNormalization", 7, 1, attrs, x, p(1, 2), p(0, 1), p(1, 2), p(1, 4))
	// element 0: (x-1)/1*1+0; element 1: (x-2)/2*2+1.
	linalgClose(t, "bn spatial=0", out[0], []int{2, 1, 2}, []float64{0, 1, 2, 3}, 1e-6)
}

func TestLinalgQLinearConvAutoPad(t *testing.T) {
	// 1-D input of 4, kernel 3 of ones, SAME_UPPER / SAME_LOWER with stride 2:
	// output 2, total padding 1 (end for UPPER, start for LOWER).
	x := tensor.FromSlice([]uint8{1, 2, 3, 4}, 1, 1, 4)
	w := tensor.FromSlice([]int8{1, 1, 1}, 1, 1, 3)
	one, z, zi := tensor.Scalar(float32(1)), tensor.Scalar(uint8(0)), tensor.Scalar(int8(0))
	for _, tc := range []struct {
		pad  string
		want []uint8
	}{{"SAME_UPPER", []uint8{6, 7}}, {"SAME_LOWER", []uint8{3, 9}}, {"VALID", []uint8{6}}} {
		attrs := []*ir.Attribute{linalgAString("auto_pad", tc.pad), linalgAInts("strides", 2)}
		out := linalgRunOp(t, "QLinearConv", 10, 1, attrs, x, one, z, w, one, zi, one, z)
		if got := out[0].Data.([]uint8); !slicesEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.pad, got, tc.want)
		}
	}
}

func TestLinalgSgemm(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	const M, N, K, pad = 37, 29, 53, 3
	for ta := 0; ta < 2; ta++ {
		for tb := 0; tb < 2; tb++ {
			// Stored matrices with row strides larger than their widths.
			ar, ac := M, K
			if ta == 1 {
				ar, ac = K, M
			}
			br, bc := K, N
			if tb == 1 {
				br, bc = N, K
			}
			lda, ldb, ldc := ac+pad, bc+pad, N+pad
			A := make([]float32, ar*lda)
			B := make([]float32, br*ldb)
			C := make([]float32, M*ldc)
			for i := range A {
				A[i] = float32(r.NormFloat64())
			}
			for i := range B {
				B[i] = float32(r.NormFloat64())
			}
			for i := range C {
				C[i] = float32(r.NormFloat64())
			}
			want := make([]float64, M*ldc)
			for i := 0; i < M; i++ {
				for j := 0; j < ldc; j++ {
					want[i*ldc+j] = float64(C[i*ldc+j])
					if j >= N {
						continue
					}
					s := 0.0
					for p := 0; p < K; p++ {
						var a, b float32
						if ta == 1 {
							a = A[p*lda+i]
						} else {
							a = A[i*lda+p]
						}
						if tb == 1 {
							b = B[j*ldb+p]
						} else {
							b = B[p*ldb+j]
						}
						s += float64(a) * float64(b)
					}
					want[i*ldc+j] = 2*s - 0.5*want[i*ldc+j]
				}
			}
			for _, ctx := range []*Context{nil, {Par: linalgTestPool.For}} {
				got := append([]float32{}, C...)
				sgemm(ctx, M, N, K, 2, gemm.Matrix{Data: A, Stride: lda, Trans: ta == 1}, gemm.Matrix{Data: B, Stride: ldb, Trans: tb == 1}, -0.5, got, ldc, nil)
				linalgClose(t, "sgemm", tensor.FromSlice(got, M, ldc), []int{M, ldc}, want, 1e-4)
			}
		}
	}
}

// linalgAllocs builds op with the inputs marked in consts as compile-time
// constants and returns the allocations of a run after warm-up, with an
// arena as the engine runs kernels.
func linalgAllocs(t *testing.T, op string, attrs []*ir.Attribute, consts []bool, par bool, in ...*tensor.Tensor) float64 {
	t.Helper()
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs, Outputs: []string{"Y"}}
	if d, o, ok := strings.Cut(op, "/"); ok {
		n.Domain, n.OpType = d, o
	}
	for i := range in {
		n.Inputs = append(n.Inputs, string(rune('a'+i)))
	}
	k, err := Default.Build(&Build{Node: n, Opset: 13, Const: func(i int) *tensor.Tensor {
		if i < len(consts) && consts[i] {
			return in[i]
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := &Context{Arena: NewArena(1)}
	if par {
		c.Par, c.Threads = linalgTestPool.For, 4
	}
	run := func() {
		c.Arena.Begin(0)
		if _, err := k.(Kernel).Run(c, in); err != nil {
			t.Fatal(err)
		}
	}
	run()
	return testing.AllocsPerRun(20, run)
}

// TestLinalgAllocs checks that MatMul and Gemm runs allocate nothing once
// warm on static shapes (serially: the thread pool's dispatch is the
// engine's).
func TestLinalgAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	cases := []struct {
		name   string
		op     string
		attrs  []*ir.Attribute
		consts []bool
		in     []*tensor.Tensor
	}{
		{"MatMul const B", "MatMul", nil, []bool{false, true}, []*tensor.Tensor{linalgRandF32(r, 2, 64, 96), linalgRandF32(r, 96, 80)}},
		{"MatMul gemv const B", "MatMul", nil, []bool{false, true}, []*tensor.Tensor{linalgRandF32(r, 1, 96), linalgRandF32(r, 96, 80)}},
		{"MatMul batched", "MatMul", nil, nil, []*tensor.Tensor{linalgRandF32(r, 4, 33, 16), linalgRandF32(r, 4, 16, 33)}},
		{"Gemm transB const bias", "Gemm", []*ir.Attribute{linalgAInt("transB", 1)}, []bool{false, true, true},
			[]*tensor.Tensor{linalgRandF32(r, 8, 64), linalgRandF32(r, 40, 64), linalgRandF32(r, 40)}},
		{"Gemm full C", "Gemm", []*ir.Attribute{linalgAFloat("beta", 0.5)}, nil,
			[]*tensor.Tensor{linalgRandF32(r, 8, 64), linalgRandF32(r, 64, 40), linalgRandF32(r, 8, 40)}},
		{"FusedMatMul Gelu", ir.DomainInferd + "/FusedMatMul", []*ir.Attribute{linalgAString("activation", "Gelu")}, []bool{false, true, true},
			[]*tensor.Tensor{linalgRandF32(r, 2, 16, 64), linalgRandF32(r, 64, 48), linalgRandF32(r, 48)}},
		{"FusedGemm Relu", ir.DomainInferd + "/FusedGemm", []*ir.Attribute{linalgAString("activation", "Relu"), linalgAInt("transB", 1)}, []bool{false, true, true},
			[]*tensor.Tensor{linalgRandF32(r, 8, 64), linalgRandF32(r, 40, 64), linalgRandF32(r, 40)}},
	}
	for _, tc := range cases {
		if got := linalgAllocs(t, tc.op, tc.attrs, tc.consts, false, tc.in...); got != 0 && !raceEnabled {
			t.Errorf("%s: %v allocations per run, want 0", tc.name, got)
		}
	}
}
