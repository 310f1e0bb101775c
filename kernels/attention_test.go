package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Attention is checked against a float64 loop over the definition in
// optimize/FUSED_OPS.md, written here from scratch: transposes by index
// arithmetic, numpy broadcasting of the batch axes and of the mask, and
// softmax as exp(x - max) / Σ.

// attnArr is a float64 test array in row-major order.
type attnArr struct {
	shape []int
	data  []float64
}

func attnRandArr(rng *rand.Rand, shape ...int) attnArr {
	a := attnArr{shape: shape, data: make([]float64, tensor.NumElements(shape))}
	for i := range a.data {
		a.data[i] = float64(float32(rng.NormFloat64()))
	}
	return a
}

func (a attnArr) strides() []int {
	st := make([]int, len(a.shape))
	acc := 1
	for i := len(a.shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= a.shape[i]
	}
	return st
}

// permute is ONNX Transpose: output axis i is input axis perm[i].
func (a attnArr) permute(perm []int) attnArr {
	if perm == nil {
		return a
	}
	st := a.strides()
	out := attnArr{shape: make([]int, len(perm)), data: make([]float64, len(a.data))}
	for i, p := range perm {
		out.shape[i] = a.shape[p]
	}
	idx := make([]int, len(perm))
	for k := range out.data {
		src := 0
		for i, p := range perm {
			src += idx[i] * st[p]
		}
		out.data[k] = a.data[src]
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < out.shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// inverse returns the permutation that undoes perm.
func attnInverse(perm []int) []int {
	if perm == nil {
		return nil
	}
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}

// at reads a at the trailing-aligned, broadcast index idx (len(idx) ≥ rank).
func (a attnArr) at(idx []int) float64 {
	st := a.strides()
	off, lead := 0, len(idx)-len(a.shape)
	for i, n := range a.shape {
		if n != 1 {
			off += idx[lead+i] * st[i]
		}
	}
	return a.data[off]
}

func (a attnArr) tensor32() *tensor.Tensor {
	t := tensor.New(tensor.Float32, a.shape...)
	for i, v := range a.data {
		t.Data.([]float32)[i] = float32(v)
	}
	return t
}

// attnReference computes logical Y [batch..., Sq, Dv] from logical Q, KT,
// V and the mask (nil data: none).
func attnReference(q, kt, v, m attnArr, scale float64) attnArr {
	r := func(a attnArr) int { return len(a.shape) }
	nb := max(r(q), r(kt), r(v)) - 2
	if m.data != nil {
		nb = max(nb, r(m)-2)
	}
	batch := make([]int, nb)
	for i := range batch {
		batch[i] = 1
		for _, a := range []attnArr{q, kt, v, m} {
			if a.data == nil {
				continue
			}
			if j := i - (nb - (r(a) - 2)); j >= 0 && a.shape[j] != 1 {
				batch[i] = a.shape[j]
			}
		}
	}
	sq, d := q.shape[r(q)-2], q.shape[r(q)-1]
	sk, dv := kt.shape[r(kt)-1], v.shape[r(v)-1]
	y := attnArr{shape: append(append([]int{}, batch...), sq, dv)}
	y.data = make([]float64, tensor.NumElements(y.shape))
	s := make([]float64, sk)
	bidx := make([]int, nb)
	for yo := 0; yo < len(y.data); yo += sq * dv {
		ix := append(append([]int{}, bidx...), 0, 0)
		for i := 0; i < sq; i++ {
			mx := math.Inf(-1)
			for j := 0; j < sk; j++ {
				acc := 0.0
				for k := 0; k < d; k++ {
					ix[nb], ix[nb+1] = i, k
					a := q.at(ix)
					ix[nb], ix[nb+1] = k, j
					acc += a * kt.at(ix)
				}
				s[j] = scale * acc
				if m.data != nil {
					ix[nb], ix[nb+1] = i, j
					s[j] += m.at(ix)
				}
				mx = math.Max(mx, s[j])
			}
			sum := 0.0
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for c := 0; c < dv; c++ {
				acc := 0.0
				for j := range s {
					ix[nb], ix[nb+1] = j, c
					acc += s[j] / sum * v.at(ix)
				}
				y.data[yo+i*dv+c] = acc
			}
		}
		for i := nb - 1; i >= 0; i-- {
			if bidx[i]++; bidx[i] < batch[i] {
				break
			}
			bidx[i] = 0
		}
	}
	return y
}

type attnCase struct {
	name string
	// Logical shapes of Q, KT, V; mask shape (nil: no mask).
	q, kt, v, m []int
	// Layout attributes (nil: absent).
	qp, ktp, vp, yp []int
	// maskInf puts -inf into the mask: 1 some entries, 2 also a whole row.
	maskInf int
	// general is set where the float32 kernel must take the general path.
	general bool
}

func attnCases() []attnCase {
	return []attnCase{
		{name: "plain", q: []int{2, 3, 7, 20}, kt: []int{2, 3, 20, 11}, v: []int{2, 3, 11, 13}},
		{name: "mask [B,1,1,Sk]", q: []int{2, 3, 7, 20}, kt: []int{2, 3, 20, 11}, v: []int{2, 3, 11, 13}, m: []int{2, 1, 1, 11}, maskInf: 1},
		{name: "mask [B,1,Sq,Sk]", q: []int{2, 3, 9, 24}, kt: []int{2, 3, 24, 5}, v: []int{2, 3, 5, 24}, m: []int{2, 1, 9, 5}},
		// A mask constant along the keys changes nothing but -inf rows.
		{name: "mask [B,H,Sq,1]", q: []int{2, 3, 9, 24}, kt: []int{2, 3, 24, 5}, v: []int{2, 3, 5, 24}, m: []int{2, 3, 9, 1}, maskInf: 1},
		{name: "mask [Sq,Sk]", q: []int{3, 6, 17}, kt: []int{3, 17, 10}, v: []int{3, 10, 4}, m: []int{6, 10}},
		{name: "mask [Sk]", q: []int{3, 6, 17}, kt: []int{3, 17, 10}, v: []int{3, 10, 4}, m: []int{10}, maskInf: 1},
		{name: "mask scalar", q: []int{3, 6, 17}, kt: []int{3, 17, 10}, v: []int{3, 10, 4}, m: []int{}},
		{name: "mask widens batch", q: []int{3, 6, 17}, kt: []int{3, 17, 10}, v: []int{3, 10, 4}, m: []int{2, 1, 6, 10}},
		{name: "mask -inf row", q: []int{2, 5, 8}, kt: []int{2, 8, 6}, v: []int{2, 6, 3}, m: []int{2, 5, 6}, maskInf: 2},
		{name: "batch broadcast", q: []int{2, 3, 5, 19}, kt: []int{3, 19, 8}, v: []int{1, 3, 8, 7}},
		{name: "2-D", q: []int{33, 40}, kt: []int{40, 50}, v: []int{50, 31}, m: []int{1, 50}},
		{name: "one query", q: []int{4, 1, 32}, kt: []int{4, 32, 70}, v: []int{4, 70, 32}, m: []int{4, 1, 70}},
		{name: "one key", q: []int{4, 9, 32}, kt: []int{4, 32, 1}, v: []int{4, 1, 32}},
		{name: "many row blocks", q: []int{1, 2, 300, 24}, kt: []int{1, 2, 24, 200}, v: []int{1, 2, 200, 20}, m: []int{1, 1, 1, 200}, maskInf: 1},
		{name: "many row blocks, Q transposed, mask rows", q: []int{1, 2, 300, 24}, kt: []int{1, 2, 24, 200}, v: []int{1, 2, 200, 20},
			m: []int{1, 1, 300, 200}, qp: []int{0, 1, 3, 2}, maskInf: 1},
		// BERT's head split: [B,S,H,D] transposed [0,2,1,3], K [0,2,3,1],
		// and Y transposed back.
		{name: "bert layout", q: []int{2, 4, 13, 12}, kt: []int{2, 4, 12, 17}, v: []int{2, 4, 17, 12}, m: []int{2, 1, 1, 17},
			qp: []int{0, 2, 1, 3}, ktp: []int{0, 2, 3, 1}, vp: []int{0, 2, 1, 3}, yp: []int{0, 2, 1, 3}, maskInf: 1},
		// torch.nn.MultiheadAttention's: [S, B·H, D] transposed [1,0,2],
		// K [1,2,0].
		{name: "mha layout", q: []int{6, 10, 8}, kt: []int{6, 8, 10}, v: []int{6, 10, 8}, m: []int{6, 1, 10},
			qp: []int{1, 0, 2}, ktp: []int{1, 2, 0}, vp: []int{1, 0, 2}, yp: []int{1, 0, 2}},
		// Q and V stored transposed (their rows are the unit-stride axis).
		{name: "transposed Q and V", q: []int{2, 7, 5}, kt: []int{2, 5, 9}, v: []int{2, 9, 6},
			qp: []int{0, 2, 1}, vp: []int{0, 2, 1}},
		// Only the output permuted, in a way that moves its last axis: the
		// general path.
		{name: "y_perm moves Dv", q: []int{2, 7, 5}, kt: []int{2, 5, 9}, v: []int{2, 9, 6}, yp: []int{2, 0, 1}, general: true},
		{name: "perm moves batch", q: []int{2, 3, 7, 5}, kt: []int{2, 3, 5, 9}, v: []int{2, 3, 9, 6},
			ktp: []int{1, 0, 2, 3}},
	}
}

// attnBuild builds the Attention kernel of a case.
func attnBuild(t testing.TB, tc attnCase, scale float32, dt tensor.DType) Kernel {
	t.Helper()
	attrs := []*ir.Attribute{{Name: "scale", Type: ir.AttrFloat, F: scale}}
	for i, p := range [][]int{tc.qp, tc.ktp, tc.vp, tc.yp} {
		if p == nil {
			continue
		}
		a := &ir.Attribute{Name: attnPermNames[i], Type: ir.AttrInts}
		for _, v := range p {
			a.Ints = append(a.Ints, int64(v))
		}
		attrs = append(attrs, a)
	}
	n := &ir.Node{Name: "attn", OpType: "Attention", Domain: ir.DomainInferd, Inputs: []string{"q", "kt", "v"}, Outputs: []string{"y"}, Attrs: attrs}
	if tc.m != nil {
		n.Inputs = append(n.Inputs, "m")
	}
	in := make([]ir.Type, len(n.Inputs))
	for i := range in {
		in[i] = ir.Type{Kind: ir.TensorKind, DType: dt}
	}
	k, err := Default.Build(&Build{Node: n, Opset: 1, InputTypes: in, OutputTypes: make([]ir.Type, 1),
		Const: func(int) *tensor.Tensor { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return k.(Kernel)
}

// attnInputs makes a case's logical operands and the stored tensors.
func attnInputs(rng *rand.Rand, tc attnCase) (logical [4]attnArr, stored []*tensor.Tensor) {
	for i, p := range [][]int{tc.qp, tc.ktp, tc.vp} {
		shape := [][]int{tc.q, tc.kt, tc.v}[i]
		// The stored operand is the one whose transpose by p is the
		// logical shape.
		st := attnArr{shape: shape}.permuteShape(attnInverse(p))
		s := attnRandArr(rng, st...)
		logical[i] = s.permute(p)
		stored = append(stored, s.tensor32())
	}
	if tc.m != nil {
		m := attnRandArr(rng, tc.m...)
		if tc.maskInf > 0 {
			for i := range m.data {
				if i%3 == 1 {
					m.data[i] = math.Inf(-1)
				}
			}
			if tc.maskInf == 2 {
				n := tc.m[len(tc.m)-1]
				for i := n; i < 2*n; i++ {
					m.data[i] = math.Inf(-1)
				}
			}
		}
		logical[3] = m
		stored = append(stored, m.tensor32())
	}
	return logical, stored
}

func (a attnArr) permuteShape(perm []int) []int {
	if perm == nil {
		return a.shape
	}
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = a.shape[p]
	}
	return out
}

// attnClose compares got with want elementwise: NaN where want is NaN,
// else within float32 rounding of the products and exponentials.
func attnClose(t *testing.T, name string, got *tensor.Tensor, want attnArr) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape, want.shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.shape)
	}
	g, _ := Float32s(got)
	for i, w := range want.data {
		x := float64(g[i])
		if math.IsNaN(w) != math.IsNaN(x) || !math.IsNaN(w) && math.Abs(x-w) > 2e-5+2e-5*math.Abs(w) {
			t.Fatalf("%s: element %d is %v, want %v", name, i, x, w)
		}
	}
}

func TestAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range attnCases() {
		logical, stored := attnInputs(rng, tc)
		scale := float32(0.3)
		want := attnReference(logical[0], logical[1], logical[2], logical[3], float64(scale)).permute(tc.yp)
		k := attnBuild(t, tc, scale, tensor.Float32)
		if _, fast, _ := k.(*attnKernel).fast(&Context{}, stored[0], stored[1], stored[2], input(stored, 3)); fast == tc.general {
			t.Errorf("%s: fused path taken: %v, want %v", tc.name, fast, !tc.general)
		}
		for _, par := range []bool{false, true} {
			c := &Context{Arena: NewArena(1), Scratch: &Scratch{}}
			if par {
				c.Par, c.Pool, c.Threads = linalgTestPool.For, linalgTestPool, 4
			}
			out, err := k.Run(c, stored)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			attnClose(t, fmt.Sprintf("%s (parallel %v)", tc.name, par), out[0], want)
		}
		// float64 takes the general path.
		k64 := attnBuild(t, tc, scale, tensor.Float64)
		in64 := make([]*tensor.Tensor, len(stored))
		for i, s := range stored {
			in64[i] = tensor.New(tensor.Float64, s.Shape...)
			for j, v := range s.Data.([]float32) {
				in64[i].Data.([]float64)[j] = float64(v)
			}
		}
		out, err := k64.Run(&Context{}, in64)
		if err != nil {
			t.Fatalf("%s float64: %v", tc.name, err)
		}
		attnClose(t, tc.name+" float64", out[0], want)
	}
}

func TestAttentionErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	bad := []struct {
		name string
		tc   attnCase
	}{
		{"Q columns vs KT rows", attnCase{q: []int{2, 3, 4}, kt: []int{2, 5, 6}, v: []int{2, 6, 4}}},
		{"KT keys vs V rows", attnCase{q: []int{2, 3, 4}, kt: []int{2, 4, 6}, v: []int{2, 5, 4}}},
		{"batch", attnCase{q: []int{2, 3, 4}, kt: []int{3, 4, 6}, v: []int{2, 6, 4}}},
		{"mask", attnCase{q: []int{2, 3, 4}, kt: []int{2, 4, 6}, v: []int{2, 6, 4}, m: []int{2, 3, 5}}},
	}
	for _, b := range bad {
		_, stored := attnInputs(rng, b.tc)
		if _, err := attnBuild(t, b.tc, 1, tensor.Float32).Run(&Context{}, stored); err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
	// A perm that does not fit its input's rank.
	tc := attnCase{q: []int{2, 3, 4}, kt: []int{2, 4, 6}, v: []int{2, 6, 4}, yp: []int{1, 0, 2}}
	_, stored := attnInputs(rng, tc)
	tc.qp = []int{1, 0, 2, 3}
	if _, err := attnBuild(t, tc, 1, tensor.Float32).Run(&Context{}, stored); err == nil {
		t.Error("q_perm of rank 4 for a rank-3 Q: no error")
	}
	tc.qp, tc.yp = nil, []int{0, 1}
	if _, err := attnBuild(t, tc, 1, tensor.Float32).Run(&Context{}, stored); err == nil {
		t.Error("y_perm of rank 2 for a rank-3 Y: no error")
	}
	n := &ir.Node{Name: "attn", OpType: "Attention", Domain: ir.DomainInferd, Inputs: []string{"q", "kt", "v"}, Outputs: []string{"y"},
		Attrs: []*ir.Attribute{{Name: "q_perm", Type: ir.AttrInts, Ints: []int64{0, 0, 1}}}}
	if _, err := Default.Build(&Build{Node: n, Opset: 1, InputTypes: make([]ir.Type, 3), OutputTypes: make([]ir.Type, 1),
		Const: func(int) *tensor.Tensor { return nil }}); err == nil {
		t.Error("q_perm [0 0 1]: no error")
	}
}

// TestAttentionAllocs checks that the fused path allocates nothing once
// warm, serially and on the pool.
func TestAttentionAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	var tc attnCase
	for _, c := range attnCases() {
		if c.name == "bert layout" {
			tc = c
		}
	}
	_, stored := attnInputs(rng, tc)
	k := attnBuild(t, tc, 0.5, tensor.Float32)
	for _, par := range []bool{false, true} {
		c := &Context{Arena: NewArena(1), Scratch: &Scratch{}}
		if par {
			c.Par, c.Pool, c.Threads = linalgTestPool.For, linalgTestPool, 4
		}
		run := func() {
			c.Arena.Begin(0)
			c.Scratch.Reset()
			if _, err := k.Run(c, stored); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if got := testing.AllocsPerRun(20, run); got != 0 && !raceEnabled {
			t.Errorf("parallel %v: %v allocations per run, want 0", par, got)
		}
	}
}

// BenchmarkAttention times one BERT-style layer's attention (12 heads of
// 32 over 128 tokens, mask [B,1,1,S]): fused in the stored head-split
// layout, fused on transposed operands, and the general path (the standard
// kernels in sequence) on the same.
func BenchmarkAttention(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	split := attnCase{q: []int{1, 12, 128, 32}, kt: []int{1, 12, 32, 128}, v: []int{1, 12, 128, 32}, m: []int{1, 1, 1, 128},
		qp: []int{0, 2, 1, 3}, ktp: []int{0, 2, 3, 1}, vp: []int{0, 2, 1, 3}, yp: []int{0, 2, 1, 3}}
	plain := split
	plain.qp, plain.ktp, plain.vp, plain.yp = nil, nil, nil, nil
	for _, bc := range []struct {
		name    string
		tc      attnCase
		general bool
	}{{"fused/split", split, false}, {"fused/plain", plain, false}, {"general/plain", plain, true}} {
		_, stored := attnInputs(rng, bc.tc)
		k := attnBuild(b, bc.tc, 0.17, tensor.Float32).(*attnKernel)
		c := &Context{Arena: NewArena(1), Scratch: &Scratch{}}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c.Arena.Begin(0)
				c.Scratch.Reset()
				var err error
				if bc.general {
					_, err = k.general(c, stored[0], stored[1], stored[2], stored[3])
				} else {
					_, err = k.Run(c, stored)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
