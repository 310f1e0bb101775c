package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestSlice(t *testing.T) {
	// x[i,j] = 4i + j, shape [2,4].
	x := shpIota(2, 4)
	i64 := func(v ...int64) *tensor.Tensor { return shpI(shpDims(len(v)), v...) }
	// Spec example 1: starts [1,0], ends [2,3], steps [1,2].
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(1, 0), i64(2, 3), i64(0, 1), i64(1, 2)), shpF(shpDims(1, 2), 4, 6))
	// Spec example 2: starts [0,1], ends [-1,1000].
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(0, 1), i64(-1, 1000)), shpF(shpDims(1, 3), 1, 2, 3))
	// Negative steps, reversing with INT_MIN.
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(-1), i64(math.MinInt64), i64(1), i64(-1)),
		shpF(shpDims(2, 4), 3, 2, 1, 0, 7, 6, 5, 4))
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(20, 10), i64(0, 0), nil, i64(-1, -2)),
		shpF(shpDims(1, 2), 7, 5))
	// Negative axes, int32 indices.
	got := shpRun1(t, "Slice", 13, nil, x, shpI32(shpDims(1), 1), shpI32(shpDims(1), 3), shpI32(shpDims(1), -1))
	shpEq(t, got, shpF(shpDims(2, 2), 1, 2, 5, 6))
	// Out-of-bounds start gives an empty result.
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(5), i64(10), i64(1)), shpF(shpDims(2, 0)))
	// A whole-tensor slice is a view.
	got = shpRun1(t, "Slice", 13, nil, x, i64(0), i64(math.MaxInt64))
	if !shpSameData(got, x) || !tensor.EqualShapes(got.Shape, x.Shape) {
		t.Errorf("whole slice: got %v", got)
	}
	// Huge steps do not overflow.
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(0), i64(math.MaxInt64), i64(1), i64(math.MaxInt64)), shpF(shpDims(2, 1), 0, 4))
	shpEq(t, shpRun1(t, "Slice", 13, nil, x, i64(3), i64(math.MinInt64), i64(1), i64(math.MinInt64)), shpF(shpDims(2, 1), 3, 7))
	// Opset 1: attributes.
	got = shpRun1(t, "Slice", 1, []*ir.Attribute{shpAIs("starts", 1), shpAIs("ends", 3), shpAIs("axes", 1)}, x)
	shpEq(t, got, shpF(shpDims(2, 2), 1, 2, 5, 6))
	got = shpRun1(t, "Slice", 9, []*ir.Attribute{shpAIs("starts", 1, -2), shpAIs("ends", 2, 100)}, x)
	shpEq(t, got, shpF(shpDims(1, 2), 6, 7))
	// Strings.
	s := shpS(shpDims(3), "a", "b", "c")
	shpEq(t, shpRun1(t, "Slice", 13, nil, s, i64(-1), i64(-4), i64(0), i64(-2)), shpS(shpDims(2), "c", "a"))

	shpErr(t, "zero step", "Slice", 13, nil, x, i64(0), i64(1), i64(0), i64(0))
	shpErr(t, "repeated", "Slice", 13, nil, x, i64(0, 0), i64(1, 1), i64(1, 1))
	shpErr(t, "differ in length", "Slice", 13, nil, x, i64(0, 0), i64(1))
	shpErr(t, "out of range", "Slice", 13, nil, x, i64(0), i64(1), i64(2))
}

func TestSlice3D(t *testing.T) {
	// A 3-D slice with steps on every axis, checked element by element.
	x := shpIota(5, 6, 7)
	got := shpRun1(t, "Slice", 13, nil, x,
		shpI(shpDims(3), 4, 1, -1), shpI(shpDims(3), 0, 6, 0), shpI(shpDims(3), 0, 1, 2), shpI(shpDims(3), -2, 2, -3))
	// axis 0: 4, 2; axis 1: 1, 3, 5; axis 2: 6, 3.
	var want []float32
	for _, i := range []int{4, 2} {
		for _, j := range []int{1, 3, 5} {
			for _, k := range []int{6, 3} {
				want = append(want, float32((i*6+j)*7+k))
			}
		}
	}
	shpEq(t, got, shpF(shpDims(2, 3, 2), want...))
}
