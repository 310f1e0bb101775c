package compress_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/inferd/inferd/compress"
	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/quantize"
	"github.com/inferd/inferd/tensor"
)

func randTensor(rng *rand.Rand, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.NumElements(shape))
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensor.FromSlice(v, shape...)
}

func run(t *testing.T, m *ir.Model, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	s, err := engine.Compile(m, engine.Options{Threads: 1})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// relL2 returns ‖a-b‖/‖a‖.
func relL2(t *testing.T, a, b *tensor.Tensor) float64 {
	t.Helper()
	av, err := kernels.Float64s(a)
	if err != nil {
		t.Fatal(err)
	}
	bv, err := kernels.Float64s(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(av) != len(bv) {
		t.Fatalf("%v vs %v", a, b)
	}
	var d, n float64
	for i := range av {
		d += (av[i] - bv[i]) * (av[i] - bv[i])
		n += av[i] * av[i]
	}
	return math.Sqrt(d / n)
}

func encode(t *testing.T, m *ir.Model) []byte {
	t.Helper()
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func f32(dims ...int) ir.Type { return ir.TensorType(tensor.Float32, ir.ShapeOf(dims...)) }

// convChain builds x → conv1(w1,b1) → relu → pool → conv2(w2,b2) → flatten → fc(w3, b3) → y,
// where conv1's output channels in dead have zero weights and bias, and
// conv2's output channels in dead2 too: pruning exactly those channels
// must not change y.
func convChain(dead, dead2 []int) (*ir.Model, map[string]*tensor.Tensor) {
	rng := rand.New(rand.NewPCG(5, 6))
	w1, b1 := randTensor(rng, 8, 3, 3, 3), randTensor(rng, 8)
	for _, c := range dead {
		clear(w1.Data.([]float32)[c*27 : (c+1)*27])
		b1.Data.([]float32)[c] = -1 // negative: Relu makes the channel 0
	}
	w2, b2 := randTensor(rng, 6, 8, 3, 3), randTensor(rng, 6)
	for _, c := range dead2 {
		clear(w2.Data.([]float32)[c*72 : (c+1)*72])
		b2.Data.([]float32)[c] = 0
	}
	g := &ir.Graph{
		Inputs:  []*ir.ValueInfo{{Name: "x", Type: ir.TensorType(tensor.Float32, ir.Shape{{Param: "N"}, {Value: 3}, {Value: 8}, {Value: 8}})}},
		Outputs: []*ir.ValueInfo{{Name: "y"}},
		Initializers: []*ir.Initializer{
			{Name: "w1", Tensor: w1}, {Name: "b1", Tensor: b1}, {Name: "w2", Tensor: w2}, {Name: "b2", Tensor: b2},
			{Name: "w3", Tensor: randTensor(rng, 5, 6*2*2)}, {Name: "b3", Tensor: randTensor(rng, 5)},
		},
		Nodes: []*ir.Node{
			{Name: "conv1", OpType: "Conv", Inputs: []string{"x", "w1", "b1"}, Outputs: []string{"c1"},
				Attrs: []*ir.Attribute{{Name: "pads", Type: ir.AttrInts, Ints: []int64{1, 1, 1, 1}}}},
			{Name: "relu", OpType: "Relu", Inputs: []string{"c1"}, Outputs: []string{"r1"}},
			{Name: "pool", OpType: "MaxPool", Inputs: []string{"r1"}, Outputs: []string{"p1"},
				Attrs: []*ir.Attribute{{Name: "kernel_shape", Type: ir.AttrInts, Ints: []int64{2, 2}}, {Name: "strides", Type: ir.AttrInts, Ints: []int64{2, 2}}}},
			{Name: "conv2", OpType: "Conv", Inputs: []string{"p1", "w2", "b2"}, Outputs: []string{"c2"}},
			{Name: "flat", OpType: "Flatten", Inputs: []string{"c2"}, Outputs: []string{"f"}},
			{Name: "fc", OpType: "Gemm", Inputs: []string{"f", "w3", "b3"}, Outputs: []string{"y"},
				Attrs: []*ir.Attribute{{Name: "transB", Type: ir.AttrInt, I: 1}}},
		},
	}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	return m, map[string]*tensor.Tensor{"x": randTensor(rng, 2, 3, 8, 8)}
}

func TestChannelPruningExact(t *testing.T) {
	// 25% of 8 channels is 2 (conv1), of 6 is 1 (conv2): exactly the dead ones.
	m, in := convChain([]int{1, 6}, []int{4})
	before := encode(t, m)
	c, rep, err := compress.Compress(m, compress.Options{Prune: compress.Channels, Sparsity: 0.25, MinParams: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, encode(t, m)) {
		t.Fatal("Compress modified its input model")
	}
	shape := func(name string) []int { return c.Graph.Initializer(name).Tensor.Shape }
	for name, want := range map[string][]int{"w1": {6, 3, 3, 3}, "b1": {6}, "w2": {5, 6, 3, 3}, "b2": {5}, "w3": {5, 5 * 2 * 2}} {
		if got := shape(name); !slices.Equal(got, want) {
			t.Errorf("%s: shape %v, want %v", name, got, want)
		}
	}
	if rep.Dense {
		t.Error("channel pruning reported as dense")
	}
	if rep.ParamsAfter >= rep.ParamsBefore {
		t.Errorf("parameters %d -> %d", rep.ParamsBefore, rep.ParamsAfter)
	}
	// fc's output is a graph output: it is kept, with the reason.
	var reasons []string
	for _, s := range rep.Skipped {
		reasons = append(reasons, s.Node+": "+s.What)
	}
	if !slices.ContainsFunc(reasons, func(s string) bool { return strings.HasPrefix(s, "fc: ") && strings.Contains(s, "graph output") }) {
		t.Errorf("skips = %v, want fc kept as a graph output", reasons)
	}
	if e := relL2(t, run(t, m, in)["y"], run(t, c, in)["y"]); e > 1e-5 {
		t.Errorf("pruning dead channels changed the output: rel L2 %.3g", e)
	}
}

func TestChannelPruningRefusesResidual(t *testing.T) {
	m, _ := convChain(nil, nil)
	g := m.Graph
	// conv2 reads p1, and so does an Add: conv1's channels cannot go.
	g.Initializers = append(g.Initializers, &ir.Initializer{Name: "w4", Tensor: randTensor(rand.New(rand.NewPCG(1, 1)), 8, 8, 1, 1)})
	g.Nodes = append(g.Nodes,
		&ir.Node{Name: "side", OpType: "Conv", Inputs: []string{"p1", "w4"}, Outputs: []string{"s"}},
		&ir.Node{Name: "res", OpType: "Add", Inputs: []string{"s", "p1"}, Outputs: []string{"z"}})
	g.Outputs = append(g.Outputs, &ir.ValueInfo{Name: "z"})
	_, rep, err := compress.Compress(m, compress.Options{Prune: compress.Channels, Sparsity: 0.25, MinParams: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range rep.Changes {
		if ch.Node == "conv1" || ch.Node == "side" {
			t.Errorf("%s pruned although its output reaches a residual Add", ch.Node)
		}
	}
}

func TestMagnitudeAndNM(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	g := &ir.Graph{
		Inputs:       []*ir.ValueInfo{{Name: "x", Type: f32(3, 16)}},
		Outputs:      []*ir.ValueInfo{{Name: "y"}},
		Initializers: []*ir.Initializer{{Name: "w", Tensor: randTensor(rng, 16, 32)}},
		Nodes:        []*ir.Node{{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
	}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	c, rep, err := compress.Compress(m, compress.Options{Prune: compress.Magnitude, Sparsity: 0.75})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ZerosAfter != 384 || !rep.Dense {
		t.Errorf("magnitude 75%% of 512: %d zeros (dense %v), want 384", rep.ZerosAfter, rep.Dense)
	}
	c, _, err = compress.Compress(m, compress.Options{Prune: compress.NM, N: 2, M: 4})
	if err != nil {
		t.Fatal(err)
	}
	// MatMul's weight is [K, N]: groups of 4 run down each column.
	w := c.Graph.Initializer("w").Tensor.Data.([]float32)
	for col := 0; col < 32; col++ {
		for k0 := 0; k0 < 16; k0 += 4 {
			nz := 0
			for k := k0; k < k0+4; k++ {
				if w[k*32+col] != 0 {
					nz++
				}
			}
			if nz != 2 {
				t.Fatalf("column %d rows %d..%d: %d non-zeros, want 2", col, k0, k0+3, nz)
			}
		}
	}
}

func TestLowRankExact(t *testing.T) {
	// A rank-3 weight: 99% of its energy needs at most rank 3, and the
	// factors reproduce it.
	rng := rand.New(rand.NewPCG(2, 3))
	a, b := randTensor(rng, 64, 3).Data.([]float32), randTensor(rng, 3, 48).Data.([]float32)
	w := make([]float32, 64*48)
	for i := 0; i < 64; i++ {
		for j := 0; j < 48; j++ {
			for r := 0; r < 3; r++ {
				w[i*48+j] += a[i*3+r] * b[r*48+j]
			}
		}
	}
	// Stored transposed for a Gemm with transB, to cover that layout.
	wt := make([]float32, len(w))
	for i := 0; i < 64; i++ {
		for j := 0; j < 48; j++ {
			wt[j*64+i] = w[i*48+j]
		}
	}
	g := &ir.Graph{
		Inputs:  []*ir.ValueInfo{{Name: "x", Type: f32(4, 64)}},
		Outputs: []*ir.ValueInfo{{Name: "y"}},
		Initializers: []*ir.Initializer{{Name: "w", Tensor: tensor.FromSlice(wt, 48, 64)},
			{Name: "bias", Tensor: randTensor(rng, 48)}},
		Nodes: []*ir.Node{{Name: "fc", OpType: "Gemm", Inputs: []string{"x", "w", "bias"}, Outputs: []string{"y"},
			Attrs: []*ir.Attribute{{Name: "transB", Type: ir.AttrInt, I: 1}, {Name: "alpha", Type: ir.AttrFloat, F: 0.5}}}},
	}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	c, rep, err := compress.Compress(m, compress.Options{LowRank: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || !strings.HasPrefix(rep.Changes[0].What, "rank 3 ") {
		t.Fatalf("changes %+v, want rank 3", rep.Changes)
	}
	in := map[string]*tensor.Tensor{"x": randTensor(rng, 4, 64)}
	if e := relL2(t, run(t, m, in)["y"], run(t, c, in)["y"]); e > 1e-4 {
		t.Errorf("rel L2 %.3g after an exact low-rank factorization", e)
	}
	if rep.ParamsAfter >= rep.ParamsBefore {
		t.Errorf("parameters %d -> %d", rep.ParamsBefore, rep.ParamsAfter)
	}
}

func TestShareWeightsExact(t *testing.T) {
	// Four distinct values: four clusters reproduce the weight exactly.
	rng := rand.New(rand.NewPCG(4, 4))
	vals := []float32{-1.5, -0.25, 0.5, 2}
	w := make([]float32, 32*32)
	for i := range w {
		w[i] = vals[rng.IntN(4)]
	}
	g := &ir.Graph{
		Inputs:       []*ir.ValueInfo{{Name: "x", Type: f32(2, 32)}},
		Outputs:      []*ir.ValueInfo{{Name: "y"}},
		Initializers: []*ir.Initializer{{Name: "w", Tensor: tensor.FromSlice(w, 32, 32)}},
		Nodes:        []*ir.Node{{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}},
	}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	c, rep, err := compress.Compress(m, compress.Options{ShareWeights: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ParamBytesAfter >= rep.ParamBytesBefore/3 {
		t.Errorf("weights %d -> %d bytes, want about 4x smaller", rep.ParamBytesBefore, rep.ParamBytesAfter)
	}
	in := map[string]*tensor.Tensor{"x": randTensor(rng, 2, 32)}
	if e := relL2(t, run(t, m, in)["y"], run(t, c, in)["y"]); e > 1e-6 {
		t.Errorf("rel L2 %.3g with as many clusters as values", e)
	}
}

func TestDigitsAndDeterminism(t *testing.T) {
	root := filepath.Join("..", "models", "digits")
	m, err := onnx.Load(filepath.Join(root, "1", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := quantize.ReadSamples(filepath.Join(root, "test"), m.Graph.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	base := run(t, m, test[0])["logits"]
	for _, opts := range []compress.Options{
		{Prune: compress.Magnitude, Sparsity: 0.5},
		{Prune: compress.NM, N: 2, M: 4},
		{Prune: compress.Channels, Sparsity: 0.25},
		{LowRank: 0.95},
		{ShareWeights: 32},
		{Prune: compress.Channels, Sparsity: 0.25, ShareWeights: 64},
	} {
		a, rep, err := compress.Compress(m, opts)
		if err != nil {
			t.Fatalf("%+v: %v", opts, err)
		}
		b, _, err := compress.Compress(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encode(t, a), encode(t, b)) {
			t.Errorf("%+v: two runs wrote different models", opts)
		}
		e := relL2(t, base, run(t, a, test[0])["logits"])
		t.Logf("%+v: %d changes, params %d -> %d, zeros %d, logits rel L2 %.3g", opts, len(rep.Changes), rep.ParamsBefore, rep.ParamsAfter, rep.ZerosAfter, e)
	}
}

func TestOptionErrors(t *testing.T) {
	m, _ := convChain(nil, nil)
	for _, opts := range []compress.Options{
		{},
		{Prune: compress.Magnitude},
		{Prune: "random", Sparsity: 0.5},
		{Prune: compress.NM, N: 4, M: 2},
		{LowRank: 1.5},
		{ShareWeights: 1000},
	} {
		if _, _, err := compress.Compress(m, opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
	}
}
