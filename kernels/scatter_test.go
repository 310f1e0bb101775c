package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestScatterElements(t *testing.T) {
	x := shpF(shpDims(3, 3), 0, 0, 0, 0, 0, 0, 0, 0, 0)
	idx := shpI(shpDims(2, 3), 1, 0, 2, 0, 2, 1)
	upd := shpF(shpDims(2, 3), 1, 1.5, 2, 2.5, 3, 3.5)
	// Spec example: out[idx[i][j]][j] = upd[i][j].
	got := shpRun1(t, "ScatterElements", 13, nil, x, idx, upd)
	shpEq(t, got, shpF(shpDims(3, 3), 2.5, 1.5, 0, 1, 0, 3.5, 0, 3, 2))
	// The input is left alone.
	shpEq(t, x, shpF(shpDims(3, 3), 0, 0, 0, 0, 0, 0, 0, 0, 0))

	y := shpF(shpDims(1, 5), 1, 2, 3, 4, 5)
	got = shpRun1(t, "ScatterElements", 13, []*ir.Attribute{shpAI("axis", 1)}, y, shpI32(shpDims(1, 2), 1, -2), shpF(shpDims(1, 2), 1.5, 2.5))
	shpEq(t, got, shpF(shpDims(1, 5), 1, 1.5, 3, 2.5, 5))
	// Reductions with duplicate indices.
	dup := shpI(shpDims(1, 2), 1, 1)
	u := shpF(shpDims(1, 2), 1.5, 2)
	ax := shpAI("axis", 1)
	shpEq(t, shpRun1(t, "ScatterElements", 18, []*ir.Attribute{ax, shpAS("reduction", "add")}, y, dup, u), shpF(shpDims(1, 5), 1, 5.5, 3, 4, 5))
	shpEq(t, shpRun1(t, "ScatterElements", 18, []*ir.Attribute{ax, shpAS("reduction", "mul")}, y, dup, u), shpF(shpDims(1, 5), 1, 6, 3, 4, 5))
	shpEq(t, shpRun1(t, "ScatterElements", 18, []*ir.Attribute{ax, shpAS("reduction", "max")}, y, dup, u), shpF(shpDims(1, 5), 1, 2, 3, 4, 5))
	shpEq(t, shpRun1(t, "ScatterElements", 18, []*ir.Attribute{ax, shpAS("reduction", "min")}, y, dup, u), shpF(shpDims(1, 5), 1, 1.5, 3, 4, 5))
	// float16 reductions compute in float32.
	h := tensor.FromSlice([]tensor.F16{tensor.F16FromFloat32(1), tensor.F16FromFloat32(2)}, 2)
	got = shpRun1(t, "ScatterElements", 18, []*ir.Attribute{shpAS("reduction", "add")}, h, shpI(shpDims(1), 0), tensor.FromSlice([]tensor.F16{tensor.F16FromFloat32(0.5)}, 1))
	shpEq(t, got, tensor.FromSlice([]tensor.F16{tensor.F16FromFloat32(1.5), tensor.F16FromFloat32(2)}, 2))
	// Scatter (opset 9) is ScatterElements without reductions.
	got = shpRun1(t, "Scatter", 9, []*ir.Attribute{ax}, y, shpI(shpDims(1, 1), 4), shpF(shpDims(1, 1), 9))
	shpEq(t, got, shpF(shpDims(1, 5), 1, 2, 3, 4, 9))
	// Strings.
	s := shpRun1(t, "ScatterElements", 13, nil, shpS(shpDims(2), "a", "b"), shpI(shpDims(1), 1), shpS(shpDims(1), "z"))
	shpEq(t, s, shpS(shpDims(2), "a", "z"))
	shpErr(t, "index 5 is out of range", "ScatterElements", 13, []*ir.Attribute{ax}, y, shpI(shpDims(1, 1), 5), shpF(shpDims(1, 1), 9))
	shpErr(t, "shape of indices", "ScatterElements", 13, []*ir.Attribute{ax}, y, shpI(shpDims(1, 1), 0), shpF(shpDims(1, 2), 9, 9))
	shpErr(t, "reduction", "ScatterElements", 18, []*ir.Attribute{shpAS("reduction", "avg")}, y, shpI(shpDims(1, 1), 0), shpF(shpDims(1, 1), 9))
}

func TestScatterND(t *testing.T) {
	x := shpF(shpDims(8), 1, 2, 3, 4, 5, 6, 7, 8)
	got := shpRun1(t, "ScatterND", 13, nil, x, shpI(shpDims(4, 1), 4, 3, 1, 7), shpF(shpDims(4), 9, 10, 11, 12))
	shpEq(t, got, shpF(shpDims(8), 1, 11, 3, 10, 9, 6, 7, 12))
	// Slices: replace rows of a [3,2] tensor.
	y := shpIota(3, 2)
	got = shpRun1(t, "ScatterND", 13, nil, y, shpI(shpDims(2, 1), 2, 0), shpF(shpDims(2, 2), 10, 11, 12, 13))
	shpEq(t, got, shpF(shpDims(3, 2), 12, 13, 2, 3, 10, 11))
	// Reductions with a repeated index.
	idx := shpI(shpDims(2, 2), 1, 1, 1, 1)
	u := shpF(shpDims(2), 2, 3)
	shpEq(t, shpRun1(t, "ScatterND", 16, []*ir.Attribute{shpAS("reduction", "add")}, y, idx, u), shpF(shpDims(3, 2), 0, 1, 2, 8, 4, 5))
	shpEq(t, shpRun1(t, "ScatterND", 16, []*ir.Attribute{shpAS("reduction", "mul")}, y, idx, u), shpF(shpDims(3, 2), 0, 1, 2, 18, 4, 5))
	i64 := shpI(shpDims(3), 5, 6, 7)
	shpEq(t, shpRun1(t, "ScatterND", 18, []*ir.Attribute{shpAS("reduction", "min")}, i64, shpI(shpDims(1, 1), -1), shpI(shpDims(1), 1)), shpI(shpDims(3), 5, 6, 1))
	shpErr(t, "updates has shape", "ScatterND", 13, nil, y, shpI(shpDims(2, 1), 2, 0), shpF(shpDims(2), 1, 2))
	shpErr(t, "indices[0][0]: index 3", "ScatterND", 13, nil, y, shpI(shpDims(1, 1), 3), shpF(shpDims(1, 2), 1, 2))
}
