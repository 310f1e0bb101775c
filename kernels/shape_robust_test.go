package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// TestShapeFamilyNoPanics runs every op of the family on many combinations
// of small, often invalid, inputs: each must return a result or an error,
// never panic, and results must be well-formed tensors.
func TestShapeFamilyNoPanics(t *testing.T) {
	pool := []*tensor.Tensor{
		nil,
		tensor.Scalar(int64(-1)),
		tensor.Scalar(int64(2)),
		tensor.Scalar(int64(0)),
		shpI(shpDims(1), 3),
		shpI(shpDims(2), 1, -1),
		shpI(shpDims(3), 2, -7, 1),
		shpI(shpDims(4), 0, 1, -1, 2),
		shpI32(shpDims(2), 1, 5),
		shpI(shpDims(2, 2), 1, 0, -2, 1),
		shpI(shpDims(0)),
		shpIota(2, 3),
		shpIota(3, 1, 2),
		shpF(shpDims(2), 0.5, -1),
		shpF(shpDims(0, 2)),
		tensor.Scalar(float32(1.5)),
		shpS(shpDims(2), "a", ""),
		shpB(shpDims(3), true, false, true),
		tensor.Scalar(true),
		tensor.FromSlice([]tensor.F16{1, 2, 3, 4}, 2, 2),
	}
	ops := []struct {
		op    string
		opset int64
		attrs []*ir.Attribute
	}{
		{"Shape", 15, []*ir.Attribute{shpAI("start", -1)}}, {"Size", 13, nil}, {"Reshape", 14, nil},
		{"Reshape", 14, []*ir.Attribute{shpAI("allowzero", 1)}}, {"Flatten", 13, nil}, {"Squeeze", 13, nil},
		{"Unsqueeze", 13, nil}, {"Expand", 13, nil}, {"Identity", 13, nil}, {"ConstantOfShape", 9, nil},
		{"EyeLike", 9, []*ir.Attribute{shpAI("k", 1)}}, {"Range", 11, nil}, {"Transpose", 13, nil},
		{"Transpose", 13, []*ir.Attribute{shpAIs("perm", 1, 0)}}, {"DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 1)}},
		{"SpaceToDepth", 13, []*ir.Attribute{shpAI("blocksize", 1)}}, {"Concat", 13, []*ir.Attribute{shpAI("axis", -1)}},
		{"Split", 13, nil}, {"Split", 18, []*ir.Attribute{shpAI("num_outputs", 2)}}, {"Tile", 13, nil}, {"Pad", 18, nil},
		{"Pad", 19, []*ir.Attribute{shpAS("mode", "reflect")}}, {"Pad", 19, []*ir.Attribute{shpAS("mode", "wrap")}},
		{"Pad", 19, []*ir.Attribute{shpAS("mode", "edge")}}, {"Slice", 13, nil}, {"Gather", 13, []*ir.Attribute{shpAI("axis", 1)}},
		{"GatherElements", 13, nil}, {"GatherND", 13, nil}, {"GatherND", 13, []*ir.Attribute{shpAI("batch_dims", 1)}},
		{"Compress", 11, []*ir.Attribute{shpAI("axis", 0)}}, {"Compress", 11, nil}, {"OneHot", 11, nil}, {"NonZero", 13, nil},
		{"ScatterElements", 18, []*ir.Attribute{shpAS("reduction", "add")}}, {"ScatterND", 18, []*ir.Attribute{shpAS("reduction", "max")}},
		{"ScatterND", 13, nil}, {"TopK", 11, nil}, {"ArgMax", 13, []*ir.Attribute{shpAI("axis", -1)}}, {"ArgMin", 13, nil},
		{"CumSum", 14, nil}, {"Trilu", 14, nil}, {"Unique", 11, []*ir.Attribute{shpAI("axis", 1)}}, {"Unique", 11, []*ir.Attribute{shpAI("sorted", 0)}},
		{"ReverseSequence", 10, nil}, {"Dropout", 13, nil},
	}
	for _, o := range ops {
		k, err := shpBuild(o.op, o.opset, o.attrs, 4, 2)
		if err != nil {
			t.Fatalf("%s: %v", o.op, err)
		}
		run := func(in []*tensor.Tensor) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s%v on %v: panic: %v", o.op, o.attrs, in, r)
				}
			}()
			var outs []*tensor.Tensor
			if vk, ok := k.(ValueKernel); ok {
				vin := make([]any, len(in))
				for i, x := range in {
					if x != nil {
						vin[i] = x
					}
				}
				vo, err := vk.RunValues(&Context{}, vin)
				if err != nil {
					return
				}
				for _, v := range vo {
					x, _ := v.(*tensor.Tensor)
					outs = append(outs, x)
				}
			} else {
				var err error
				if outs, err = k.(Kernel).Run(&Context{}, in); err != nil {
					return
				}
			}
			for i, x := range outs {
				if x != nil {
					if err := x.Validate(); err != nil {
						t.Fatalf("%s on %v: output %d: %v", o.op, in, i, err)
					}
				}
			}
		}
		for _, a := range pool {
			for _, b := range pool {
				run([]*tensor.Tensor{a, b})
				for _, c := range pool {
					run([]*tensor.Tensor{a, b, c})
					if o.op != "Slice" && o.op != "Pad" {
						continue
					}
					for _, d := range pool {
						run([]*tensor.Tensor{a, b, c, d})
						run([]*tensor.Tensor{a, b, c, d, d})
					}
				}
			}
		}
	}
}
