package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestDropoutInference(t *testing.T) {
	x := shpF(shpDims(2, 2), 1, 2, 3, 4)
	outs := shpRun(t, "Dropout", 13, nil, 2, x)
	shpEq(t, outs[0], x)
	if !shpSameData(outs[0], x) {
		t.Error("inference Dropout copied its input")
	}
	shpEq(t, outs[1], shpB(shpDims(2, 2), true, true, true, true))
	// training_mode false ignores the ratio.
	outs = shpRun(t, "Dropout", 13, nil, 2, x, tensor.Scalar(float32(0.7)), tensor.Scalar(false))
	shpEq(t, outs[0], x)
	// Training with ratio 0 is a copy too.
	outs = shpRun(t, "Dropout", 13, nil, 2, x, tensor.Scalar(float32(0)), tensor.Scalar(true))
	shpEq(t, outs[0], x)
	shpEq(t, outs[1], shpB(shpDims(2, 2), true, true, true, true))
	// Old opsets: ratio attribute, mask of the data type before opset 10.
	outs = shpRun(t, "Dropout", 7, []*ir.Attribute{shpAF("ratio", 0.2)}, 2, x)
	shpEq(t, outs[0], x)
	shpEq(t, outs[1], shpF(shpDims(2, 2), 1, 1, 1, 1))
	outs = shpRun(t, "Dropout", 10, nil, 2, x)
	shpEq(t, outs[1], shpB(shpDims(2, 2), true, true, true, true))
	// Without a mask output none is made.
	outs = shpRun(t, "Dropout", 13, nil, 1, x)
	if len(outs) > 1 && outs[1] != nil {
		t.Error("mask made though not asked for")
	}
}

func TestDropoutTraining(t *testing.T) {
	const n = 10000
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%7) + 1
	}
	x := shpF(shpDims(n), v...)
	seed := []*ir.Attribute{shpAI("seed", 42)}
	run := func() []*tensor.Tensor {
		return shpRun(t, "Dropout", 13, seed, 2, x, tensor.Scalar(float32(0.25)), tensor.Scalar(true))
	}
	a, b := run(), run()
	shpEq(t, a[0], b[0]) // same seed, same result
	shpEq(t, a[1], b[1])
	out, mask := a[0].Data.([]float32), a[1].Data.([]bool)
	kept := 0
	for i, m := range mask {
		want := float32(0)
		if m {
			kept++
			want = v[i] * float32(1/(1-0.25)) // scale × data
		}
		if out[i] != want {
			t.Fatalf("out[%d] = %v, want %v (mask %v)", i, out[i], want, m)
		}
	}
	// About 75% kept: 7500 ± 5σ (σ ≈ 43).
	if kept < 7280 || kept > 7720 {
		t.Errorf("kept %d of %d with ratio 0.25", kept, n)
	}
	other := shpRun(t, "Dropout", 13, []*ir.Attribute{shpAI("seed", 7)}, 2, x, tensor.Scalar(float32(0.25)), tensor.Scalar(true))
	same := true
	for i, m := range other[1].Data.([]bool) {
		if m != mask[i] {
			same = false
			break
		}
	}
	if same {
		t.Error("different seeds gave the same mask")
	}
	shpErr(t, "ratio", "Dropout", 13, nil, x, tensor.Scalar(float32(1)), tensor.Scalar(true))
}
