package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// The fast integer kernels against the reference kernels of quant.go and
// conv_integer.go, on random inputs: int32 outputs must match exactly;
// requantized outputs may differ by one where the reference's float64
// product and the fast kernels' float32 one round a value near a half
// apart (qTolerance says how often that may happen).

// qTolerance is the largest share of requantized outputs that may differ
// by one from the reference.
const qTolerance = 0.002

// qBuild returns a Build for op with nin inputs, consts[i] as the value of
// input i known at build time, and the given attributes.
func qBuild(op string, nin int, consts map[int]*tensor.Tensor, attrs ...*ir.Attribute) *Build {
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs, Outputs: []string{"y"}}
	for i := 0; i < nin; i++ {
		n.Inputs = append(n.Inputs, fmt.Sprintf("in%d", i))
	}
	return &Build{Node: n, Opset: 21, Const: func(i int) *tensor.Tensor { return consts[i] }}
}

// qRand8 returns a random uint8 or int8 tensor.
func qRand8(rng *rand.Rand, signed bool, shape ...int) *tensor.Tensor {
	n := tensor.NumElements(shape)
	if signed {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(rng.IntN(256) - 128)
		}
		return tensor.FromSlice(v, shape...)
	}
	v := make([]uint8, n)
	for i := range v {
		v[i] = uint8(rng.IntN(256))
	}
	return tensor.FromSlice(v, shape...)
}

// qZero returns a random zero point near the middle of its type's range,
// as calibration gives them.
func qZero(rng *rand.Rand, signed bool, shape ...int) *tensor.Tensor {
	n := tensor.NumElements(shape)
	if signed {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(rng.IntN(61) - 30)
		}
		return tensor.FromSlice(v, shape...)
	}
	v := make([]uint8, n)
	for i := range v {
		v[i] = uint8(98 + rng.IntN(61))
	}
	return tensor.FromSlice(v, shape...)
}

func qScales(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return tensor.FromSlice(v, shape...)
}

// qPar3 runs chunks on three goroutines.
func qPar3(n int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	for c := 0; c < 3; c++ {
		lo, hi := c*n/3, (c+1)*n/3
		if lo < hi {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(lo, hi)
			}()
		}
	}
	wg.Wait()
}

// qCompare compares a fast output with the reference one.
func qCompare(t *testing.T, name string, got, want *tensor.Tensor) {
	t.Helper()
	if got.DType != want.DType || !tensor.EqualShapes(got.Shape, want.Shape) {
		t.Fatalf("%s: got %v %v, want %v %v", name, got.DType, got.Shape, want.DType, want.Shape)
	}
	g, _ := Int64s(got)
	w, _ := Int64s(want)
	off := 0
	for i := range w {
		d := g[i] - w[i]
		if d == 0 {
			continue
		}
		if got.DType == tensor.Int32 || d > 1 || d < -1 {
			t.Fatalf("%s: element %d = %d, want %d", name, i, g[i], w[i])
		}
		off++
	}
	if float64(off) > qTolerance*float64(len(w))+1 {
		t.Fatalf("%s: %d of %d elements differ by one", name, off, len(w))
	}
}

type qFast interface {
	Kernel
	fast(c *Context, in []*tensor.Tensor) *tensor.Tensor
}

// qRun builds the fast kernel and the reference one for b, runs both on in
// and compares; the fast kernel must take the case itself.
func qRun(t *testing.T, name string, b *Build, newFast, newRef Factory, in []*tensor.Tensor, par bool) {
	t.Helper()
	fk, err := newFast(b)
	if err != nil {
		t.Fatalf("%s: build: %v", name, err)
	}
	rk, err := newRef(b)
	if err != nil {
		t.Fatalf("%s: reference build: %v", name, err)
	}
	c := &Context{}
	if par {
		c.Par = qPar3
	}
	got := fk.(qFast).fast(c, in)
	if got == nil {
		t.Fatalf("%s: the fast kernel declined", name)
	}
	want, err := rk.(Kernel).Run(&Context{}, in)
	if err != nil {
		t.Fatalf("%s: reference: %v", name, err)
	}
	qCompare(t, name, got, want[0])
}

func TestQMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	shapes := []struct{ a, b []int }{
		{[]int{1, 5}, []int{5, 3}},
		{[]int{7}, []int{7, 40}},
		{[]int{13, 70}, []int{70, 33}},
		{[]int{2, 3, 29, 64}, []int{64, 65}},
		{[]int{2, 12, 31}, []int{2, 31, 20}},
		{[]int{40, 300}, []int{300, 100}},
	}
	v := 0
	for _, s := range shapes {
		m, n := 1, s.b[len(s.b)-1]
		if len(s.a) >= 2 {
			m = s.a[len(s.a)-2]
		}
		for _, linear := range []bool{false, true} {
			for rep := 0; rep < 6; rep++ {
				v++
				sa, sb := v%2 == 0, v%3 == 0
				a, b := qRand8(rng, sa, s.a...), qRand8(rng, sb, s.b...)
				za := qZero(rng, sa)
				if rep%3 == 1 && len(s.a) >= 2 {
					za = qZero(rng, sa, m)
				}
				zb := qZero(rng, sb)
				if rep%3 == 2 {
					zb = qZero(rng, sb, n)
				}
				constB := rep%2 == 0 && len(s.b) == 2
				name := fmt.Sprintf("a=%v(%v),b=%v(%v),linear=%v,rep=%d,const=%v", s.a, sa, s.b, sb, linear, rep, constB)
				if !linear {
					in := []*tensor.Tensor{a, b, za, zb}
					consts := map[int]*tensor.Tensor{}
					if constB {
						consts[1], consts[3] = b, zb
					}
					qRun(t, name, qBuild("MatMulInteger", 4, consts), newQMatMulInteger, newMatMulInteger, in, rep%2 == 1)
					continue
				}
				// y_scale grows as √k, as the spread of the sums does, to keep most
				// outputs off the saturation.
				k := s.a[len(s.a)-1]
				as := qScales(rng, 0.01, 0.02)
				bs := qScales(rng, 0.01, 0.02)
				if rep%2 == 1 {
					bs = qScales(rng, 0.01, 0.02, n)
				}
				ys := qScales(rng, 0.03, 0.06)
				ys.Data.([]float32)[0] *= float32(math.Sqrt(float64(k)))
				yz := qZero(rng, rep%3 == 0)
				in := []*tensor.Tensor{a, as, za, b, bs, zb, ys, yz}
				consts := map[int]*tensor.Tensor{}
				if constB {
					consts[3], consts[5] = b, zb
				}
				qRun(t, name, qBuild("QLinearMatMul", 8, consts), newQLinearMatMulFast, newQLinearMatMul, in, rep%2 == 1)
			}
		}
	}
}

func TestQConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	type convCase struct {
		x, w               []int
		strides, pads, dil []int64
		group              int64
		autoPad            string
	}
	cases := []convCase{
		{x: []int{1, 3, 7, 7}, w: []int{4, 3, 3, 3}},
		{x: []int{2, 4, 9, 8}, w: []int{6, 4, 3, 3}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 8, 10, 10}, w: []int{16, 8, 1, 1}},
		{x: []int{1, 8, 10, 10}, w: []int{16, 8, 1, 1}, strides: []int64{2, 2}},
		{x: []int{1, 6, 11, 9}, w: []int{6, 2, 3, 2}, group: 3, strides: []int64{2, 1}, pads: []int64{1, 0, 2, 1}},
		{x: []int{1, 4, 12, 12}, w: []int{5, 4, 3, 3}, dil: []int64{2, 2}, pads: []int64{2, 2, 2, 2}},
		{x: []int{1, 4, 9, 9}, w: []int{4, 1, 3, 3}, group: 4, autoPad: "SAME_UPPER"},
		{x: []int{1, 3, 8, 8}, w: []int{7, 3, 5, 5}, strides: []int64{3, 3}, autoPad: "SAME_LOWER"},
		{x: []int{2, 5, 20}, w: []int{8, 5, 3}, pads: []int64{1, 2}, strides: []int64{2}},
		{x: []int{1, 64, 14, 14}, w: []int{40, 64, 3, 3}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 8, 6, 6}, w: []int{200, 8, 3, 3}, pads: []int64{1, 1, 1, 1}}, // im2col: many channels, narrow rows
		// Stride-2 rows wide enough for q8.Evens' vectors, with odd and
		// even widths and both column phases.
		{x: []int{1, 3, 5, 151}, w: []int{4, 3, 3, 3}, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 4, 4, 130}, w: []int{5, 4, 1, 1}, strides: []int64{2, 2}},
		{x: []int{1, 2, 3, 96}, w: []int{3, 2, 3, 7}, strides: []int64{1, 2}, pads: []int64{1, 3, 1, 3}},
	}
	v := 0
	for ci, cc := range cases {
		var attrs []*ir.Attribute
		if cc.strides != nil {
			attrs = append(attrs, nnAttrInts("strides", cc.strides...))
		}
		if cc.pads != nil {
			attrs = append(attrs, nnAttrInts("pads", cc.pads...))
		}
		if cc.dil != nil {
			attrs = append(attrs, nnAttrInts("dilations", cc.dil...))
		}
		if cc.group != 0 {
			attrs = append(attrs, nnAttrInt("group", cc.group))
		}
		if cc.autoPad != "" {
			attrs = append(attrs, nnAttrString("auto_pad", cc.autoPad))
		}
		m := cc.w[0]
		for _, linear := range []bool{false, true} {
			for rep := 0; rep < 4; rep++ {
				v++
				sx, sw := v%2 == 0, rep%2 == 0
				x, w := qRand8(rng, sx, cc.x...), qRand8(rng, sw, cc.w...)
				xz := qZero(rng, sx)
				wz := qZero(rng, sw)
				if rep >= 2 {
					wz = qZero(rng, sw, m)
				}
				if rep == 0 && sw {
					wz = tensor.FromSlice([]int8{0})
				}
				constW := rep != 1
				name := fmt.Sprintf("case %d,x=%v(%v),w=%v(%v),linear=%v,rep=%d", ci, cc.x, sx, cc.w, sw, linear, rep)
				if !linear {
					in := []*tensor.Tensor{x, w, xz, wz}
					consts := map[int]*tensor.Tensor{}
					if constW {
						consts[1], consts[3] = w, wz
					}
					qRun(t, name, qBuild("ConvInteger", 4, consts, attrs...), newQConvInteger, newConvInteger, in, rep%2 == 0)
					continue
				}
				k := cc.w[1] * tensor.NumElements(cc.w[2:])
				xs := qScales(rng, 0.01, 0.02)
				ws := qScales(rng, 0.01, 0.02)
				if rep%2 == 1 {
					ws = qScales(rng, 0.01, 0.02, m)
				}
				ys := qScales(rng, 0.03, 0.06)
				ys.Data.([]float32)[0] *= float32(math.Sqrt(float64(k)))
				yz := qZero(rng, rep == 3)
				in := []*tensor.Tensor{x, xs, xz, w, ws, wz, ys, yz}
				if rep != 2 {
					bias := make([]int32, m)
					for i := range bias {
						bias[i] = int32(rng.IntN(40001) - 20000)
					}
					in = append(in, tensor.FromSlice(bias, m))
				}
				consts := map[int]*tensor.Tensor{}
				if constW {
					consts[3], consts[5] = w, wz
				}
				qRun(t, name, qBuild("QLinearConv", len(in), consts, attrs...), newQLinearConvFast, newQLinearConv, in, rep%2 == 0)
			}
		}
	}
}

// TestQRegistered checks that the registry picks the fast kernels and
// that they fall back to the reference for what they do not cover.
func TestQRegistered(t *testing.T) {
	for _, op := range []string{"MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv"} {
		k, err := Default.Build(qBuild(op, 8, nil))
		if err != nil {
			t.Fatal(err)
		}
		switch k.(type) {
		case *qMatMul, *qConv:
		default:
			t.Errorf("%s: registry built %T, want the fast kernel", op, k)
		}
	}
	// A batched B whose batch dimensions differ from A's: the reference
	// broadcasts it.
	rng := rand.New(rand.NewPCG(45, 46))
	a, b := qRand8(rng, false, 2, 3, 4), qRand8(rng, true, 1, 4, 5)
	in := []*tensor.Tensor{a, b}
	fk, _ := newQMatMulInteger(qBuild("MatMulInteger", 2, nil))
	if fk.(*qMatMul).fast(&Context{}, in) != nil {
		t.Fatal("fast kernel took a broadcast batch")
	}
	got, err := fk.(Kernel).Run(&Context{}, in)
	if err != nil {
		t.Fatal(err)
	}
	rk, _ := newMatMulInteger(qBuild("MatMulInteger", 2, nil))
	want, _ := rk.(Kernel).Run(&Context{}, in)
	qCompare(t, "fallback", got[0], want[0])
	// A declared float input is declined at build.
	bf := qBuild("MatMulInteger", 2, nil)
	bf.InputTypes = []ir.Type{ir.TensorType(tensor.Float32, nil), ir.TensorType(tensor.Int8, nil)}
	if _, err := newQMatMulInteger(bf); err != ErrDecline {
		t.Errorf("float input: err = %v, want ErrDecline", err)
	}
}

// TestQMatMulIntegerToFloat holds the fused op to the nodes it replaces,
// MatMulInteger → Cast → Mul(a_scale·b_scale) → Add(bias), bit for bit.
func TestQMatMulIntegerToFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for v, s := range []struct{ a, b []int }{
		{[]int{1, 64}, []int{64, 40}},
		{[]int{3, 17, 100}, []int{100, 70}},
		{[]int{128, 96}, []int{96, 33}},
	} {
		n := s.b[1]
		a, b := qRand8(rng, false, s.a...), qRand8(rng, true, s.b...)
		za, zb := qZero(rng, false), qZero(rng, true)
		sa := qScales(rng, 0.01, 0.02)
		sb := qScales(rng, 0.001, 0.002, n)
		var bias *tensor.Tensor
		if v != 1 {
			bias = qScales(rng, -1, 1, n)
		}
		in := []*tensor.Tensor{a, b, sa, sb, za, zb, bias}
		consts := map[int]*tensor.Tensor{}
		if v != 2 {
			consts[1], consts[3], consts[5] = b, sb, zb
		}
		bd := qBuild("MatMulIntegerToFloat", 7, consts)
		bd.Node.Domain = "com.microsoft"
		k, err := Default.Build(bd)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.(Kernel).Run(&Context{Par: qPar3}, in)
		if err != nil {
			t.Fatal(err)
		}
		rk, _ := newMatMulInteger(qBuild("MatMulInteger", 4, nil))
		acc, err := rk.(Kernel).Run(&Context{}, []*tensor.Tensor{a, b, za, zb})
		if err != nil {
			t.Fatal(err)
		}
		g := got[0].Data.([]float32)
		for i, x := range acc[0].Data.([]int32) {
			j := i % n
			want := float32(x) * (sa.Data.([]float32)[0] * sb.Data.([]float32)[j])
			if bias != nil {
				want += bias.Data.([]float32)[j]
			}
			if math.Float32bits(g[i]) != math.Float32bits(want) {
				t.Fatalf("case %d: element %d = %g, want %g", v, i, g[i], want)
			}
		}
	}
}
