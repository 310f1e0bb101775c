package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestNLLLoss(t *testing.T) {
	// input (N=2, C=3), targets [2, 0].
	x := tensor.FromSlice([]float32{-1, -2, -3, -4, -5, -6}, 2, 3)
	tg := tensor.FromSlice([]int64{2, 0}, 2)
	w := tensor.FromSlice([]float32{0.5, 1, 2}, 3)
	cases := []struct {
		red    string
		weight *tensor.Tensor
		ii     *int64
		shape  []int
		want   []float64
	}{
		{"none", nil, nil, []int{2}, []float64{3, 4}},
		{"sum", nil, nil, []int{}, []float64{7}},
		{"mean", nil, nil, []int{}, []float64{3.5}},
		{"none", w, nil, []int{2}, []float64{6, 2}},
		{"sum", w, nil, []int{}, []float64{8}},
		{"mean", w, nil, []int{}, []float64{8.0 / 2.5}},
		{"mean", nil, new(int64(0)), []int{}, []float64{3}},
		{"mean", w, new(int64(2)), []int{}, []float64{2.0 / 0.5}},
		{"none", w, new(int64(2)), []int{2}, []float64{0, 2}},
	}
	for _, cs := range cases {
		attrs := []*ir.Attribute{redAString("reduction", cs.red)}
		if cs.ii != nil {
			attrs = append(attrs, redAInt("ignore_index", *cs.ii))
		}
		in := []*tensor.Tensor{x, tg}
		if cs.weight != nil {
			in = append(in, cs.weight)
		}
		out, err := redTestNode(t, "NegativeLogLikelihoodLoss", 13, attrs, 1, in...)
		if err != nil {
			t.Fatal(err)
		}
		if out[0].DType != tensor.Float32 {
			t.Fatalf("dtype %v", out[0].DType)
		}
		redCheckF(t, "nll "+cs.red, out[0], cs.shape, cs.want, 1e-6)
	}
}

func TestNLLLossND(t *testing.T) {
	// input (N=1, C=2, d1=3): classes along axis 1.
	x := tensor.FromSlice([]float64{-1, -2, -3, -4, -5, -6}, 1, 2, 3)
	tg := tensor.FromSlice([]int32{1, 0, -1}, 1, 3)
	out, err := redTestNode(t, "NegativeLogLikelihoodLoss", 12,
		[]*ir.Attribute{redAString("reduction", "none"), redAInt("ignore_index", -1)}, 1, x, tg)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "nd", out[0], []int{1, 3}, []float64{4, 2, 0}, 1e-12)
	out, err = redTestNode(t, "NegativeLogLikelihoodLoss", 12,
		[]*ir.Attribute{redAInt("ignore_index", -1)}, 1, x, tg)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "nd mean", out[0], []int{}, []float64{3}, 1e-12)
	// Out-of-range targets are errors unless ignored.
	if _, err := redTestNode(t, "NegativeLogLikelihoodLoss", 12, nil, 1, x, tg); err == nil {
		t.Fatal("target -1 accepted without ignore_index")
	}
	if _, err := redTestNode(t, "NegativeLogLikelihoodLoss", 12, nil, 1, x, tensor.FromSlice([]int32{0, 2, 1}, 1, 3)); err == nil {
		t.Fatal("target 2 accepted with C=2")
	}
	if _, err := redTestNode(t, "NegativeLogLikelihoodLoss", 12, nil, 1, x, tensor.FromSlice([]int32{0, 1}, 1, 2)); err == nil {
		t.Fatal("target of wrong shape accepted")
	}
	if _, err := redTestNode(t, "NegativeLogLikelihoodLoss", 12, []*ir.Attribute{redAString("reduction", "avg")}, 1, x, tg); err == nil {
		t.Fatal("bad reduction accepted")
	}
}

func TestSoftmaxCrossEntropyLoss(t *testing.T) {
	// scores (N=2, C=2): log-softmax of [0, ln 3] is [ln 1/4, ln 3/4].
	l3 := float32(math.Log(3))
	x := tensor.FromSlice([]float32{0, l3, l3, 0}, 2, 2)
	tg := tensor.FromSlice([]int64{0, 0}, 2)
	q, tq := math.Log(0.25), math.Log(0.75)
	out, err := redTestNode(t, "SoftmaxCrossEntropyLoss", 13, []*ir.Attribute{redAString("reduction", "none")}, 2, x, tg)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "sce none", out[0], []int{2}, []float64{-q, -tq}, 1e-6)
	redCheckF(t, "log_prob", out[1], []int{2, 2}, []float64{q, tq, tq, q}, 1e-6)
	w := tensor.FromSlice([]float32{2, 1}, 2)
	out, err = redTestNode(t, "SoftmaxCrossEntropyLoss", 13, nil, 1, x, tg, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%d outputs for a one-output node", len(out))
	}
	redCheckF(t, "sce mean w", out[0], []int{}, []float64{(-2*q - 2*tq) / 4}, 1e-6)
	// N-d with ignore_index, sum.
	x3 := tensor.FromSlice([]float64{0, 0, 0, lossLn3()}, 1, 2, 2) // positions: d=0 [0,0], d=1 [0,ln3]
	tg3 := tensor.FromSlice([]int64{1, 7}, 1, 2)
	out, err = redTestNode(t, "SoftmaxCrossEntropyLoss", 13,
		[]*ir.Attribute{redAString("reduction", "sum"), redAInt("ignore_index", 7)}, 1, x3, tg3)
	if err != nil {
		t.Fatal(err)
	}
	redCheckF(t, "sce nd", out[0], []int{}, []float64{math.Log(2)}, 1e-12)
}

func lossLn3() float64 { return math.Log(3) }
