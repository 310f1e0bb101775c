package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// int4Case is one MatMulInt4 node with its constants, and the float64
// reference of its result worked out from the 4-bit codes, scales and zero
// points as DequantizeLinear defines them.
type int4Case struct {
	node *ir.Node
	w    *tensor.Tensor // [K, N], or [N, K] when trans
	s, z *tensor.Tensor
	bias *tensor.Tensor
}

func int4MakeCase(rng *rand.Rand, k, n, bs int, signed, zp, trans, bias bool, act string) (int4Case, [][]float64) {
	nb := (k + bs - 1) / bs
	lo, hi := 0, 15
	if signed {
		lo, hi = -8, 7
	}
	code := func() int { return lo + rng.IntN(hi-lo+1) }
	wq := make([][]int, k) // [kk][j]
	for kk := range wq {
		wq[kk] = make([]int, n)
		for j := range wq[kk] {
			wq[kk][j] = code()
		}
	}
	sc := make([][]float32, nb)
	zz := make([][]int, nb)
	for b := range sc {
		sc[b], zz[b] = make([]float32, n), make([]int, n)
		for j := range sc[b] {
			sc[b][j] = float32(0.01 + 0.1*rng.Float64())
			if zp {
				zz[b][j] = code()
			}
		}
	}
	dt := tensor.Uint4
	if signed {
		dt = tensor.Int4
	}
	// store writes a [rows][cols] matrix of codes in the stored layout.
	store := func(v [][]int, rows, cols int) *tensor.Tensor {
		shape := []int{rows, cols}
		if trans {
			shape = []int{cols, rows}
		}
		at := func(r, c int) int {
			if trans {
				return c*rows + r
			}
			return r*cols + c
		}
		if signed {
			d := make([]tensor.I4, rows*cols)
			for r := range rows {
				for c := range cols {
					d[at(r, c)] = tensor.I4FromInt64(int64(v[r][c]))
				}
			}
			return &tensor.Tensor{DType: dt, Shape: shape, Data: d}
		}
		d := make([]tensor.U4, rows*cols)
		for r := range rows {
			for c := range cols {
				d[at(r, c)] = tensor.U4FromInt64(int64(v[r][c]))
			}
		}
		return &tensor.Tensor{DType: dt, Shape: shape, Data: d}
	}
	cs := int4Case{w: store(wq, k, n)}
	sd := make([]float32, nb*n)
	for b := range nb {
		for j := range n {
			if trans {
				sd[j*nb+b] = sc[b][j]
			} else {
				sd[b*n+j] = sc[b][j]
			}
		}
	}
	cs.s = &tensor.Tensor{DType: tensor.Float32, Shape: []int{nb, n}, Data: sd}
	if trans {
		cs.s.Shape = []int{n, nb}
	}
	if zp {
		cs.z = store(zz, nb, n)
	}
	bv := make([]float64, n)
	if bias {
		cs.bias = tensor.New(tensor.Float32, n)
		for j := range bv {
			cs.bias.Data.([]float32)[j] = float32(rng.NormFloat64())
			bv[j] = float64(cs.bias.Data.([]float32)[j])
		}
	}
	attrs := []*ir.Attribute{{Name: "block_size", Type: ir.AttrInt, I: int64(bs)}}
	if trans {
		attrs = append(attrs, &ir.Attribute{Name: "trans_b", Type: ir.AttrInt, I: 1})
	}
	if act != "" {
		attrs = append(attrs, &ir.Attribute{Name: "activation", Type: ir.AttrString, S: []byte(act)})
	}
	cs.node = &ir.Node{Name: "q", Domain: ir.DomainInferd, OpType: "MatMulInt4", Attrs: attrs,
		Inputs: []string{"a", "b", "s", "", ""}, Outputs: []string{"y"}}
	if zp {
		cs.node.Inputs[3] = "z"
	}
	if bias {
		cs.node.Inputs[4] = "bias"
	}
	// Reference weight, then W[kk][j] = (q - z)·s in float64; the result
	// for a row x is act(Σ x·W + bias).
	ref := make([][]float64, k)
	for kk := range ref {
		ref[kk] = make([]float64, n)
		for j := range ref[kk] {
			b := kk / bs
			ref[kk][j] = float64(wq[kk][j]-zz[b][j]) * float64(sc[b][j])
		}
	}
	return cs, append(ref, bv)
}

func int4Ref(x []float32, m, k, n int, wb [][]float64, act string) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := wb[k][j]
			for kk := range k {
				s += float64(x[i*k+kk]) * wb[kk][j]
			}
			if act == "Relu" {
				s = math.Max(s, 0)
			}
			out[i*n+j] = s
		}
	}
	return out
}

func (cs int4Case) build(t *testing.T) Kernel {
	t.Helper()
	consts := []*tensor.Tensor{nil, cs.w, cs.s, cs.z, cs.bias}
	k, err := Default.Build(&Build{Node: cs.node, Opset: 1, Const: func(i int) *tensor.Tensor { return consts[i] }})
	if err != nil {
		t.Fatal(err)
	}
	return k.(Kernel)
}

// TestMatMulInt4 checks MatMulInt4 against a float64 reference on codes,
// scales and zero points drawn at random: signed and unsigned, with and
// without zero points, blocks of 32, 64 and 128, K not a multiple of the
// block, N not a multiple of 16, one row and several, serial and over 4
// threads, with zero allocations a run once warm.
func TestMatMulInt4(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	type shape struct {
		lead []int
		k, n int
	}
	shapes := []shape{{[]int{1}, 100, 20}, {[]int{1, 1}, 256, 33}, {[]int{7}, 70, 9}, {[]int{2, 3}, 130, 48}, {nil, 40, 5}, {[]int{17}, 300, 100}}
	for _, sh := range shapes {
		for _, bs := range []int{32, 64, 128} {
			for v := range 8 {
				signed, zp, trans := v&1 != 0, v&2 != 0, v&4 != 0
				act := ""
				if v == 3 || v == 4 {
					act = "Relu"
				}
				name := fmt.Sprintf("%v×%d×%d/b%d/signed=%v,zp=%v,trans=%v", sh.lead, sh.k, sh.n, bs, signed, zp, trans)
				cs, wb := int4MakeCase(rng, sh.k, sh.n, bs, signed, zp, trans, v%3 == 0, act)
				k := cs.build(t)
				xs := append(append([]int(nil), sh.lead...), sh.k)
				x := tensor.New(tensor.Float32, xs...)
				for i := range x.Data.([]float32) {
					x.Data.([]float32)[i] = float32(rng.NormFloat64())
				}
				m := x.Len() / sh.k
				want := int4Ref(x.Data.([]float32), m, sh.k, sh.n, wb, act)
				for _, par := range []bool{false, true} {
					c := &Context{Arena: NewArena(1), Scratch: &Scratch{}}
					if par {
						c.Par, c.Threads = linalgTestPool.For, 4
					}
					var out []*tensor.Tensor
					in := []*tensor.Tensor{x, nil, nil, nil, nil}
					run := func() {
						c.Arena.Begin(0)
						c.Scratch.Reset()
						var err error
						if out, err = k.Run(c, in); err != nil {
							t.Fatal(err)
						}
					}
					run()
					y := out[0]
					if ws := append(append([]int(nil), sh.lead...), sh.n); !tensor.EqualShapes(y.Shape, ws) {
						t.Fatalf("%s: shape %v, want %v", name, y.Shape, ws)
					}
					var num, den float64
					for i, g := range y.Data.([]float32) {
						d := float64(g) - want[i]
						num += d * d
						den += want[i] * want[i]
						// Each product rounds a K-term sum in float32.
						if math.Abs(d) > 1e-5*float64(sh.k)*(1+math.Abs(want[i])) {
							t.Fatalf("%s par=%v: y[%d] = %v, want %v", name, par, i, g, want[i])
						}
					}
					if e := math.Sqrt(num / math.Max(den, 1e-30)); e > 1e-5 {
						t.Errorf("%s par=%v: relative L2 %.3g", name, par, e)
					}
					if !par {
						if a := testing.AllocsPerRun(10, run); a != 0 && !raceEnabled {
							t.Errorf("%s: %v allocations per run, want 0", name, a)
						}
					}
				}
			}
		}
	}
}

// TestMatMulInt4Errors checks that bad nodes and inputs give errors that
// name the fault.
func TestMatMulInt4Errors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cs, _ := int4MakeCase(rng, 64, 16, 32, true, false, false, false, "")
	k := cs.build(t)
	c := &Context{}
	for _, tc := range []struct {
		x    *tensor.Tensor
		want string
	}{
		{tensor.New(tensor.Float32, 2, 63), "has 63 columns, B has 64 rows"},
		{tensor.New(tensor.Float64, 2, 64), "float32"},
		{nil, "float32"},
	} {
		if _, err := k.Run(c, []*tensor.Tensor{tc.x}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("A %v: error %v, want one containing %q", tc.x, err, tc.want)
		}
	}
	build := func(mod func(cs *int4Case, consts []*tensor.Tensor)) error {
		cs, _ := int4MakeCase(rng, 64, 16, 32, true, true, false, false, "")
		consts := []*tensor.Tensor{nil, cs.w, cs.s, cs.z, nil}
		mod(&cs, consts)
		_, err := Default.Build(&Build{Node: cs.node, Opset: 1, Const: func(i int) *tensor.Tensor { return consts[i] }})
		return err
	}
	for name, tc := range map[string]struct {
		mod  func(cs *int4Case, consts []*tensor.Tensor)
		want string
	}{
		"scale shape": {func(cs *int4Case, c []*tensor.Tensor) { c[2] = tensor.New(tensor.Float32, 3, 16) }, "B_scale"},
		"zero type":   {func(cs *int4Case, c []*tensor.Tensor) { c[3] = tensor.New(tensor.Uint8, 2, 16) }, "B_zero_point"},
		"weight type": {func(cs *int4Case, c []*tensor.Tensor) { c[1] = tensor.New(tensor.Float32, 64, 16) }, "int4 or uint4"},
		"not const":   {func(cs *int4Case, c []*tensor.Tensor) { c[1] = nil }, "must be constants"},
		"block":       {func(cs *int4Case, c []*tensor.Tensor) { cs.node.Attrs[0].I = 0 }, "block_size"},
		"bias": {func(cs *int4Case, c []*tensor.Tensor) {
			cs.node.Inputs[4] = "bias"
			c[4] = tensor.New(tensor.Float32, 15)
		}, "bias"},
	} {
		if err := build(tc.mod); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
