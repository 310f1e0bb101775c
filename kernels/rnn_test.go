package kernels

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/inferd/inferd/internal/parallel"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestRNNHandValues(t *testing.T) {
	// RNN, H=I=1, W=R=1, no bias: h1 = tanh(0.5), h2 = tanh(0.25 + h1).
	x := tensor.FromSlice([]float32{0.5, 0.25}, 2, 1, 1)
	one := tensor.FromSlice([]float32{1}, 1, 1, 1)
	out, err := redTestNode(t, "RNN", 14, []*ir.Attribute{redAInt("hidden_size", 1)}, 2, x, one, one)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "rnn Y", out[0], []int{2, 1, 1, 1}, []float64{0.46211715726000974, 0.6120027304448654}, 1e-6)
	redCheckF(t, "rnn Y_h", out[1], []int{1, 1, 1}, []float64{0.6120027304448654}, 1e-6)

	// LSTM, H=I=1, W=1, R=0, x=1: i=o=f=σ(1), c = σ(1)·tanh(1),
	// h = σ(1)·tanh(c).
	x1 := tensor.FromSlice([]float32{1}, 1, 1, 1)
	w4 := tensor.FromSlice([]float32{1, 1, 1, 1}, 1, 4, 1)
	r4 := tensor.FromSlice([]float32{0, 0, 0, 0}, 1, 4, 1)
	out, err = redTestNode(t, "LSTM", 7, []*ir.Attribute{redAInt("hidden_size", 1)}, 3, x1, w4, r4)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "lstm Y_h", out[1], []int{1, 1, 1}, []float64{0.36960635293570576}, 1e-6)
	redCheckF(t, "lstm Y_c", out[2], []int{1, 1, 1}, []float64{0.5567699411459397}, 1e-6)

	// GRU, H=I=1, W=1, R=0, x=1, h0=0: z=σ(1), h~=tanh(1), H=(1-z)·h~.
	w3 := tensor.FromSlice([]float32{1, 1, 1}, 1, 3, 1)
	r3 := tensor.FromSlice([]float32{0, 0, 0}, 1, 3, 1)
	out, err = redTestNode(t, "GRU", 7, []*ir.Attribute{redAInt("hidden_size", 1)}, 2, x1, w3, r3)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "gru Y_h", out[1], []int{1, 1, 1}, []float64{0.20482421480982513}, 1e-6)
}

// rnnRefConfig describes one reference run.
type rnnRefConfig struct {
	cell        rnnCell
	dir         string
	layout      int
	seq, batch  int
	in, hid     int
	bias        bool
	peep        bool
	initH       bool
	initC       bool
	lens        []int
	acts        []string
	alpha, beta []float32
	clip        float32
	inputForget bool
	lbr         bool
}

func rnnRefAct(name string, alpha, beta float64, x float64) float64 {
	switch strings.ToLower(name) {
	case "sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "tanh":
		return math.Tanh(x)
	case "relu":
		return math.Max(0, x)
	case "affine":
		return alpha*x + beta
	case "leakyrelu":
		if x < 0 {
			return alpha * x
		}
		return x
	case "thresholdedrelu":
		if x < alpha {
			return 0
		}
		return x
	case "scaledtanh":
		return alpha * math.Tanh(beta*x)
	case "hardsigmoid":
		return math.Min(1, math.Max(0, alpha*x+beta))
	case "elu":
		if x < 0 {
			return alpha * (math.Exp(x) - 1)
		}
		return x
	case "softsign":
		return x / (1 + math.Abs(x))
	case "softplus":
		return math.Log(1 + math.Exp(x))
	}
	panic(name)
}

// rnnReference computes Y ([S, D, B, H]), Y_h and Y_c ([D, B, H]) straight
// from the ONNX equations, one batch row and time step at a time.
func rnnReference(cf rnnRefConfig, x, w, r, bias, p, h0, c0 []float64, acts []string, alphas, betas []float64) (y, yh, yc []float64) {
	D := 1
	if cf.dir == "bidirectional" {
		D = 2
	}
	S, B, I, H := cf.seq, cf.batch, cf.in, cf.hid
	G := cf.cell.gates()
	per := cf.cell.nacts()
	y = make([]float64, S*D*B*H)
	yh = make([]float64, D*B*H)
	yc = make([]float64, D*B*H)
	for d := 0; d < D; d++ {
		rev := cf.dir == "reverse" || d == 1
		fn := func(i int, v float64) float64 {
			if cf.clip > 0 {
				v = math.Max(-float64(cf.clip), math.Min(float64(cf.clip), v))
			}
			return rnnRefAct(acts[d*per+i], alphas[d*per+i], betas[d*per+i], v)
		}
		// proj(g, t, b, hv) = Xt·Wgᵀ + hv·Rgᵀ + Wbg + Rbg for unit u.
		wx := func(g, u, t, b int) float64 {
			s := 0.0
			for k := 0; k < I; k++ {
				s += x[(t*B+b)*I+k] * w[((d*G+g)*H+u)*I+k]
			}
			if bias != nil {
				s += bias[d*2*G*H+g*H+u]
			}
			return s
		}
		rx := func(g, u int, hv []float64) float64 {
			s := 0.0
			for k := 0; k < H; k++ {
				s += hv[k] * r[((d*G+g)*H+u)*H+k]
			}
			if bias != nil {
				s += bias[d*2*G*H+G*H+g*H+u]
			}
			return s
		}
		for b := 0; b < B; b++ {
			L := S
			if cf.lens != nil {
				L = cf.lens[b]
			}
			h := make([]float64, H)
			c := make([]float64, H)
			if h0 != nil {
				copy(h, h0[(d*B+b)*H:])
			}
			if c0 != nil {
				copy(c, c0[(d*B+b)*H:])
			}
			for s := 0; s < L; s++ {
				t := s
				if rev {
					t = L - 1 - s
				}
				hn := make([]float64, H)
				switch cf.cell {
				case rnnPlain:
					for u := 0; u < H; u++ {
						hn[u] = fn(0, wx(0, u, t, b)+rx(0, u, h))
					}
				case rnnGRU:
					z := make([]float64, H)
					rg := make([]float64, H)
					for u := 0; u < H; u++ {
						z[u] = fn(0, wx(0, u, t, b)+rx(0, u, h))
						rg[u] = fn(0, wx(1, u, t, b)+rx(1, u, h))
					}
					rh := make([]float64, H)
					for u := 0; u < H; u++ {
						rh[u] = rg[u] * h[u]
					}
					for u := 0; u < H; u++ {
						var hh float64
						if cf.lbr {
							hh = fn(1, wx(2, u, t, b)+rg[u]*rx(2, u, h))
						} else {
							hh = fn(1, wx(2, u, t, b)+rx(2, u, rh))
						}
						hn[u] = (1-z[u])*hh + z[u]*h[u]
					}
				case rnnLSTM:
					cn := make([]float64, H)
					for u := 0; u < H; u++ {
						var pi, po, pf float64
						if p != nil {
							pi, po, pf = p[d*3*H+u], p[d*3*H+H+u], p[d*3*H+2*H+u]
						}
						ig := fn(0, wx(0, u, t, b)+rx(0, u, h)+pi*c[u])
						fg := fn(0, wx(2, u, t, b)+rx(2, u, h)+pf*c[u])
						if cf.inputForget {
							fg = 1 - ig
						}
						cg := fn(1, wx(3, u, t, b)+rx(3, u, h))
						cn[u] = fg*c[u] + ig*cg
						og := fn(0, wx(1, u, t, b)+rx(1, u, h)+po*cn[u])
						hn[u] = og * rnnRefAct(acts[d*per+2], alphas[d*per+2], betas[d*per+2], cn[u])
					}
					c = cn
				}
				h = hn
				copy(y[((t*D+d)*B+b)*H:], h)
			}
			copy(yh[(d*B+b)*H:], h)
			copy(yc[(d*B+b)*H:], c)
		}
	}
	return y, yh, yc
}

func rnnRandSlice(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = (rng.Float64()*2 - 1) * scale
	}
	return v
}

func rnnF32(v []float64, shape ...int) *tensor.Tensor {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.FromSlice(f, shape...)
}

// rnnRound rounds values to float32 so the reference sees what the kernel sees.
func rnnRound(v []float64) []float64 {
	for i := range v {
		v[i] = float64(float32(v[i]))
	}
	return v
}

// rnnSwap01 turns [a, b, rest] into [b, a, rest].
func rnnSwap01(v []float64, a, b, rest int) []float64 {
	out := make([]float64, len(v))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(out[(j*a+i)*rest:(j*a+i+1)*rest], v[(i*b+j)*rest:(i*b+j+1)*rest])
		}
	}
	return out
}

func rnnRunConfig(t *testing.T, rng *rand.Rand, cf rnnRefConfig, dt tensor.DType) {
	t.Helper()
	D := 1
	if cf.dir == "bidirectional" {
		D = 2
	}
	S, B, I, H, G := cf.seq, cf.batch, cf.in, cf.hid, cf.cell.gates()
	x := rnnRound(rnnRandSlice(rng, S*B*I, 1))
	w := rnnRound(rnnRandSlice(rng, D*G*H*I, 0.6))
	r := rnnRound(rnnRandSlice(rng, D*G*H*H, 0.6))
	var bias, p, h0, c0 []float64
	in := make([]*tensor.Tensor, 8)
	xin := x
	if cf.layout == 1 {
		xin = rnnSwap01(x, S, B, I)
		in[0] = rnnF32(xin, B, S, I)
	} else {
		in[0] = rnnF32(xin, S, B, I)
	}
	in[1] = rnnF32(w, D, G*H, I)
	in[2] = rnnF32(r, D, G*H, H)
	if cf.bias {
		bias = rnnRound(rnnRandSlice(rng, D*2*G*H, 0.5))
		in[3] = rnnF32(bias, D, 2*G*H)
	}
	if cf.lens != nil {
		l := make([]int32, B)
		for i, v := range cf.lens {
			l[i] = int32(v)
		}
		in[4] = tensor.FromSlice(l, B)
	}
	state := func(v []float64) *tensor.Tensor {
		if cf.layout == 1 {
			return rnnF32(rnnSwap01(v, D, B, H), B, D, H)
		}
		return rnnF32(v, D, B, H)
	}
	if cf.initH {
		h0 = rnnRound(rnnRandSlice(rng, D*B*H, 1))
		in[5] = state(h0)
	}
	if cf.initC {
		c0 = rnnRound(rnnRandSlice(rng, D*B*H, 1))
		in[6] = state(c0)
	}
	if cf.peep {
		p = rnnRound(rnnRandSlice(rng, D*3*H, 0.5))
		in[7] = rnnF32(p, D, 3*H)
	}
	nin := 3
	for i := range in {
		if in[i] != nil {
			nin = i + 1
		}
	}
	in = in[:nin]
	if dt != tensor.Float32 {
		for i, v := range in {
			if v != nil && v.DType == tensor.Float32 {
				f, _ := Float64s(v)
				in[i], _ = FromFloat64s(dt, v.Shape, f)
			}
		}
	}
	attrs := []*ir.Attribute{redAInt("hidden_size", int64(H)), redAString("direction", cf.dir)}
	if cf.layout != 0 {
		attrs = append(attrs, redAInt("layout", int64(cf.layout)))
	}
	acts := cf.acts
	if acts != nil {
		attrs = append(attrs, redAStrings("activations", acts...))
	} else {
		for d := 0; d < D; d++ {
			acts = append(acts, cf.cell.defaultActs()...)
		}
	}
	if cf.alpha != nil {
		attrs = append(attrs, redAFloats("activation_alpha", cf.alpha...))
	}
	if cf.beta != nil {
		attrs = append(attrs, redAFloats("activation_beta", cf.beta...))
	}
	// Per-activation alpha and beta for the reference, consumed in order
	// by the functions that take them.
	alphas := make([]float64, len(acts))
	betas := make([]float64, len(acts))
	ai, bi := 0, 0
	for i, a := range acts {
		switch strings.ToLower(a) {
		case "affine", "scaledtanh", "hardsigmoid":
			alphas[i], betas[i] = float64(cf.alpha[ai]), float64(cf.beta[bi])
			ai++
			bi++
		case "leakyrelu", "thresholdedrelu", "elu":
			alphas[i] = float64(cf.alpha[ai])
			ai++
		}
	}
	if cf.clip > 0 {
		attrs = append(attrs, redAFloat("clip", cf.clip))
	}
	if cf.inputForget {
		attrs = append(attrs, redAInt("input_forget", 1))
	}
	if cf.lbr {
		attrs = append(attrs, redAInt("linear_before_reset", 1))
	}
	nout := 2
	if cf.cell == rnnLSTM {
		nout = 3
	}
	y, yh, yc := rnnReference(cf, x, w, r, bias, p, h0, c0, acts, alphas, betas)
	// W and R as runtime inputs (packed per run) and, for float32, as
	// initializers (packed when the kernel is built), run on one thread
	// (no Parallel), two (directions one per thread) and four (large
	// steps split over the threads).
	for _, mode := range []struct {
		constWR bool
		threads int
	}{{false, 0}, {true, 1}, {true, 2}, {true, 4}} {
		if mode.constWR && dt != tensor.Float32 {
			continue
		}
		var out []*tensor.Tensor
		var err error
		if mode.constWR {
			out, err = rnnRunConst(cf.cell.String(), attrs, nout, mode.threads, in...)
		} else {
			out, err = redTestNode(t, cf.cell.String(), 14, attrs, nout, in...)
		}
		if err != nil {
			t.Fatalf("%+v: %v", cf, err)
		}
		rnnCheckOut(t, cf, dt, out, y, yh, yc, fmt.Sprintf("const=%v threads=%d", mode.constWR, mode.threads))
	}
}

// rnnCheckOut compares a run's outputs with the reference's.
func rnnCheckOut(t *testing.T, cf rnnRefConfig, dt tensor.DType, out []*tensor.Tensor, y, yh, yc []float64, mode string) {
	t.Helper()
	S, B, H, D := cf.seq, cf.batch, cf.hid, 1
	if cf.dir == "bidirectional" {
		D = 2
	}
	tol := 2e-5
	if dt == tensor.Float16 {
		tol = 5e-3
	}
	what := fmt.Sprintf("%v %s layout=%d batch=%d hid=%d lens=%v %s", cf.cell, cf.dir, cf.layout, cf.batch, cf.hid, cf.lens, mode)
	if cf.layout == 0 {
		redCheckF(t, what+" Y", out[0], []int{S, D, B, H}, y, tol)
		redCheckF(t, what+" Y_h", out[1], []int{D, B, H}, yh, tol)
		if cf.cell == rnnLSTM {
			redCheckF(t, what+" Y_c", out[2], []int{D, B, H}, yc, tol)
		}
	} else {
		// Y: [S, D, B, H] -> [B, S, D, H].
		y1 := make([]float64, len(y))
		for s := 0; s < S; s++ {
			for d := 0; d < D; d++ {
				for b := 0; b < B; b++ {
					copy(y1[((b*S+s)*D+d)*H:((b*S+s)*D+d+1)*H], y[((s*D+d)*B+b)*H:])
				}
			}
		}
		redCheckF(t, what+" Y", out[0], []int{B, S, D, H}, y1, tol)
		redCheckF(t, what+" Y_h", out[1], []int{B, D, H}, rnnSwap01(yh, D, B, H), tol)
		if cf.cell == rnnLSTM {
			redCheckF(t, what+" Y_c", out[2], []int{B, D, H}, rnnSwap01(yc, D, B, H), tol)
		}
	}
}

// rnnRunConst builds op with inputs 1 and 2 (W and R) as compile-time
// constants and runs it on threads threads (1: serially, without Parallel).
func rnnRunConst(op string, attrs []*ir.Attribute, nout, threads int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	n := &ir.Node{Name: "n", OpType: op, Attrs: attrs}
	for i, x := range in {
		if x == nil {
			n.Inputs = append(n.Inputs, "")
		} else {
			n.Inputs = append(n.Inputs, "in"+string(rune('0'+i)))
		}
	}
	for i := 0; i < nout; i++ {
		n.Outputs = append(n.Outputs, "out"+string(rune('0'+i)))
	}
	k, err := Default.Build(&Build{Node: n, Opset: 14, Const: func(i int) *tensor.Tensor {
		if i == 1 || i == 2 {
			return in[i]
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	c := &Context{Ctx: context.Background()}
	if threads > 1 {
		pool := parallel.New(threads)
		defer pool.Close()
		c.Par, c.Threads = pool.For, threads
	}
	return k.(Kernel).Run(c, in)
}

func TestRNNAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var cfgs []rnnRefConfig
	for _, cell := range []rnnCell{rnnPlain, rnnGRU, rnnLSTM} {
		for _, dir := range []string{"forward", "reverse", "bidirectional"} {
			for layout := 0; layout < 2; layout++ {
				cfgs = append(cfgs,
					rnnRefConfig{cell: cell, dir: dir, layout: layout, seq: 4, batch: 3, in: 5, hid: 6},
					rnnRefConfig{cell: cell, dir: dir, layout: layout, seq: 5, batch: 6, in: 3, hid: 4,
						bias: true, initH: true, initC: cell == rnnLSTM, peep: cell == rnnLSTM, lens: []int{5, 2, 0, 3, 1, 5}},
				)
			}
		}
	}
	cfgs = append(cfgs,
		rnnRefConfig{cell: rnnGRU, dir: "bidirectional", seq: 3, batch: 5, in: 4, hid: 5, bias: true, initH: true, lbr: true, lens: []int{3, 1, 2, 3, 0}},
		rnnRefConfig{cell: rnnGRU, dir: "forward", seq: 3, batch: 2, in: 4, hid: 3, lbr: true},
		rnnRefConfig{cell: rnnLSTM, dir: "forward", seq: 4, batch: 2, in: 3, hid: 4, bias: true, inputForget: true, clip: 0.7, peep: true},
		rnnRefConfig{cell: rnnGRU, dir: "reverse", seq: 4, batch: 2, in: 3, hid: 4, bias: true, clip: 0.3},
		rnnRefConfig{cell: rnnPlain, dir: "bidirectional", seq: 4, batch: 2, in: 3, hid: 4, bias: true,
			acts: []string{"LeakyRelu", "ScaledTanh"}, alpha: []float32{0.2, 0.8}, beta: []float32{1.5}},
		rnnRefConfig{cell: rnnLSTM, dir: "forward", seq: 3, batch: 2, in: 3, hid: 4, bias: true,
			acts: []string{"HardSigmoid", "Affine", "softsign"}, alpha: []float32{0.3, 0.5}, beta: []float32{0.4, 0.1}},
		rnnRefConfig{cell: rnnGRU, dir: "forward", seq: 3, batch: 2, in: 3, hid: 4, bias: true,
			acts: []string{"Relu", "Elu"}, alpha: []float32{0.7}},
		rnnRefConfig{cell: rnnPlain, dir: "forward", seq: 3, batch: 2, in: 3, hid: 4, bias: true,
			acts: []string{"ThresholdedRelu"}, alpha: []float32{0.1}},
		rnnRefConfig{cell: rnnPlain, dir: "reverse", seq: 3, batch: 2, in: 3, hid: 4, acts: []string{"Softplus"}},
		// Large enough for the parallel GEMM and step paths.
		rnnRefConfig{cell: rnnLSTM, dir: "bidirectional", seq: 7, batch: 9, in: 40, hid: 70, bias: true, initH: true, initC: true, lens: []int{7, 3, 5, 7, 1, 6, 2, 7, 4}},
		rnnRefConfig{cell: rnnGRU, dir: "forward", layout: 1, seq: 6, batch: 5, in: 33, hid: 90, bias: true, initH: true, lens: []int{6, 3, 5, 1, 2}},
		rnnRefConfig{cell: rnnGRU, dir: "reverse", seq: 6, batch: 1, in: 33, hid: 200, bias: true, lbr: true},
		rnnRefConfig{cell: rnnPlain, dir: "forward", seq: 5, batch: 4, in: 50, hid: 150, bias: true},
		// Steps large enough to be split over more than two threads
		// (rnnStepFlops), the directions then run one after the other.
		rnnRefConfig{cell: rnnLSTM, dir: "bidirectional", seq: 3, batch: 8, in: 16, hid: 256, bias: true, initH: true, initC: true, peep: true, lens: []int{3, 1, 2, 3, 0, 3, 2, 1}},
		rnnRefConfig{cell: rnnGRU, dir: "forward", seq: 3, batch: 6, in: 10, hid: 300, bias: true, initH: true, lens: []int{3, 2, 3, 1, 3, 0}},
		rnnRefConfig{cell: rnnGRU, dir: "bidirectional", layout: 1, seq: 2, batch: 5, in: 10, hid: 330, bias: true, lbr: true, clip: 0.9},
		rnnRefConfig{cell: rnnPlain, dir: "reverse", seq: 3, batch: 8, in: 12, hid: 512, bias: true, initH: true},
		// Batch 1 (a GEMV per step) with peepholes, clip and input_forget,
		// directions one per thread.
		rnnRefConfig{cell: rnnLSTM, dir: "bidirectional", seq: 6, batch: 1, in: 24, hid: 40, bias: true, initH: true, initC: true, peep: true, clip: 1.5},
		rnnRefConfig{cell: rnnLSTM, dir: "bidirectional", layout: 1, seq: 5, batch: 1, in: 24, hid: 40, bias: true, inputForget: true},
	)
	for _, cf := range cfgs {
		rnnRunConfig(t, rng, cf, tensor.Float32)
	}
	for _, cell := range []rnnCell{rnnPlain, rnnGRU, rnnLSTM} {
		cf := rnnRefConfig{cell: cell, dir: "bidirectional", seq: 3, batch: 2, in: 3, hid: 4, bias: true, initH: true}
		rnnRunConfig(t, rng, cf, tensor.Float64)
		rnnRunConfig(t, rng, cf, tensor.Float16)
	}
}

// TestRNNTimeBlocks runs sequences longer than one block of time steps
// (rnnBlockFloats, made small here): blocks whose last one is partial,
// walked backwards by the reverse direction; with layout 1 and batch > 1
// each block's rows of X are gathered.
func TestRNNTimeBlocks(t *testing.T) {
	old := rnnBlockFloats
	rnnBlockFloats = 100
	t.Cleanup(func() { rnnBlockFloats = old })
	rng := rand.New(rand.NewSource(2))
	for _, cf := range []rnnRefConfig{
		{cell: rnnGRU, dir: "bidirectional", layout: 1, seq: 11, batch: 3, in: 5, hid: 8, bias: true, lens: []int{11, 4, 10}},
		{cell: rnnLSTM, dir: "reverse", seq: 7, batch: 2, in: 5, hid: 6, bias: true, initH: true},
		{cell: rnnLSTM, dir: "bidirectional", layout: 1, seq: 9, batch: 1, in: 5, hid: 6, bias: true, initC: true},
		{cell: rnnPlain, dir: "bidirectional", seq: 10, batch: 4, in: 3, hid: 9, bias: true, lens: []int{10, 9, 3, 1}},
	} {
		rnnRunConfig(t, rng, cf, tensor.Float32)
	}
}

func TestRNNErrors(t *testing.T) {
	x := tensor.New(tensor.Float32, 2, 1, 3)
	w := tensor.New(tensor.Float32, 1, 4, 3)
	r := tensor.New(tensor.Float32, 1, 4, 4)
	run := func(op string, attrs []*ir.Attribute, in ...*tensor.Tensor) error {
		_, err := redTestNode(t, op, 14, attrs, 2, in...)
		return err
	}
	if err := run("RNN", []*ir.Attribute{redAInt("hidden_size", 4)}, x, w, r); err != nil {
		t.Fatal(err)
	}
	if err := run("RNN", []*ir.Attribute{redAInt("hidden_size", 5)}, x, w, r); err == nil {
		t.Fatal("hidden_size mismatch accepted")
	}
	if err := run("RNN", nil, x, tensor.New(tensor.Float32, 1, 4, 2), r); err == nil {
		t.Fatal("W of wrong shape accepted")
	}
	if err := run("RNN", []*ir.Attribute{redAString("direction", "sideways")}, x, w, r); err == nil {
		t.Fatal("bad direction accepted")
	}
	if err := run("RNN", []*ir.Attribute{redAStrings("activations", "Swish")}, x, w, r); err == nil {
		t.Fatal("unknown activation accepted")
	}
	if err := run("RNN", []*ir.Attribute{redAStrings("activations", "Tanh", "Tanh", "Tanh")}, x, w, r); err == nil {
		t.Fatal("three activations for a forward RNN accepted")
	}
	if err := run("LSTM", nil, x, w, r); err == nil {
		t.Fatal("LSTM with one gate's weights accepted")
	}
	lens := tensor.FromSlice([]int32{3}, 1)
	if err := run("RNN", nil, x, w, r, nil, lens); err == nil {
		t.Fatal("sequence_lens beyond the sequence accepted")
	}
	if err := run("RNN", nil, x, w, tensor.New(tensor.Float64, 1, 4, 4)); err == nil {
		t.Fatal("mixed types accepted")
	}
	if err := run("RNN", nil, tensor.New(tensor.Float32, 2, 3), w, r); err == nil {
		t.Fatal("rank-2 X accepted")
	}
}

// TestRNNAllocs checks that a float32 run with constant weights allocates
// nothing once warm, serially and with the directions on two threads.
func TestRNNAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewSource(3))
	S, B, I, H := 5, 1, 8, 16
	for _, op := range []string{"LSTM", "GRU", "RNN"} {
		G := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[op]
		in := []*tensor.Tensor{
			rnnF32(rnnRandSlice(rng, S*B*I, 1), S, B, I),
			rnnF32(rnnRandSlice(rng, 2*G*H*I, 0.5), 2, G*H, I),
			rnnF32(rnnRandSlice(rng, 2*G*H*H, 0.5), 2, G*H, H),
			rnnF32(rnnRandSlice(rng, 2*2*G*H, 0.5), 2, 2*G*H),
		}
		n := &ir.Node{Name: "n", OpType: op, Inputs: []string{"x", "w", "r", "b"}, Outputs: []string{"y", "yh"},
			Attrs: []*ir.Attribute{redAInt("hidden_size", int64(H)), redAString("direction", "bidirectional")}}
		k, err := Default.Build(&Build{Node: n, Opset: 14, Const: func(i int) *tensor.Tensor {
			if i == 1 || i == 2 {
				return in[i]
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{1, 2} {
			c := &Context{Ctx: context.Background(), Arena: NewArena(1)}
			if threads > 1 {
				pool := parallel.New(threads)
				defer pool.Close()
				c.Par, c.Threads = pool.For, threads
			}
			run := func() {
				c.Arena.Begin(0)
				if _, err := k.(Kernel).Run(c, in); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if got := testing.AllocsPerRun(20, run); got != 0 {
				t.Errorf("%s on %d threads: %v allocations per run, want 0", op, threads, got)
			}
		}
	}
}
