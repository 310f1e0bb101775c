package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestGather(t *testing.T) {
	// x[i,j] = 10i + j, shape [3,3].
	x := shpF(shpDims(3, 3), 0, 1, 2, 10, 11, 12, 20, 21, 22)
	got := shpRun1(t, "Gather", 13, nil, x, shpI(shpDims(2, 2), 0, 1, 1, 2))
	shpEq(t, got, shpF(shpDims(2, 2, 3), 0, 1, 2, 10, 11, 12, 10, 11, 12, 20, 21, 22))
	got = shpRun1(t, "Gather", 13, []*ir.Attribute{shpAI("axis", 1)}, x, shpI32(shpDims(1, 2), 2, -3))
	shpEq(t, got, shpF(shpDims(3, 1, 2), 2, 0, 12, 10, 22, 20))
	// Scalar index drops the axis.
	got = shpRun1(t, "Gather", 13, nil, x, tensor.Scalar(int64(-1)))
	shpEq(t, got, shpF(shpDims(3), 20, 21, 22))
	s := shpRun1(t, "Gather", 13, nil, shpS(shpDims(3), "a", "b", "c"), shpI(shpDims(4), 2, 2, 0, 1))
	shpEq(t, s, shpS(shpDims(4), "c", "c", "a", "b"))
	shpErr(t, "index 3 is out of range", "Gather", 13, nil, x, shpI(shpDims(2), 0, 3))
	shpErr(t, "indices[1]: index -4", "Gather", 13, nil, x, shpI(shpDims(2), 0, -4))
	shpErr(t, "int32 or int64", "Gather", 13, nil, x, shpF(shpDims(1), 0))
}

func TestGatherLarge(t *testing.T) {
	// An embedding lookup big enough for the parallel path.
	x := shpIota(50, 1000)
	idx := make([]int64, 40)
	for i := range idx {
		idx[i] = int64((i * 7) % 50)
	}
	got := shpRun1(t, "Gather", 13, nil, x, shpI(shpDims(40), idx...))
	d := got.Data.([]float32)
	for i, k := range idx {
		for j := range 1000 {
			if d[i*1000+j] != float32(int(k)*1000+j) {
				t.Fatalf("out[%d,%d] = %v", i, j, d[i*1000+j])
			}
		}
	}
}

func TestGatherElements(t *testing.T) {
	x := shpF(shpDims(2, 2), 1, 2, 3, 4)
	got := shpRun1(t, "GatherElements", 13, []*ir.Attribute{shpAI("axis", 1)}, x, shpI(shpDims(2, 2), 0, 0, 1, 0))
	shpEq(t, got, shpF(shpDims(2, 2), 1, 1, 4, 3))
	y := shpF(shpDims(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9)
	got = shpRun1(t, "GatherElements", 13, nil, y, shpI32(shpDims(2, 3), 1, 2, 0, 2, 0, -1))
	shpEq(t, got, shpF(shpDims(2, 3), 4, 8, 3, 7, 2, 9))
	shpErr(t, "index 2 is out of range", "GatherElements", 13, nil, x, shpI(shpDims(1, 2), 0, 2))
	shpErr(t, "exceeds", "GatherElements", 13, []*ir.Attribute{shpAI("axis", 1)}, x, shpI(shpDims(3, 1), 0, 0, 0))
}

func TestGatherND(t *testing.T) {
	x := shpI32(shpDims(2, 2), 0, 1, 2, 3)
	shpEq(t, shpRun1(t, "GatherND", 13, nil, x, shpI(shpDims(2, 2), 0, 0, 1, 1)), shpI32(shpDims(2), 0, 3))
	shpEq(t, shpRun1(t, "GatherND", 13, nil, x, shpI(shpDims(2, 1), 1, 0)), shpI32(shpDims(2, 2), 2, 3, 0, 1))
	y := shpF(shpDims(2, 2, 2), 0, 1, 2, 3, 4, 5, 6, 7)
	shpEq(t, shpRun1(t, "GatherND", 13, nil, y, shpI(shpDims(2, 2), 0, 1, 1, 0)), shpF(shpDims(2, 2), 2, 3, 4, 5))
	shpEq(t, shpRun1(t, "GatherND", 13, nil, y, shpI(shpDims(2, 1, 2), 0, 1, 1, 0)), shpF(shpDims(2, 1, 2), 2, 3, 4, 5))
	// batch_dims = 1: each batch indexes its own slice.
	got := shpRun1(t, "GatherND", 13, []*ir.Attribute{shpAI("batch_dims", 1)}, y, shpI(shpDims(2, 1), 1, 0))
	shpEq(t, got, shpF(shpDims(2, 2), 2, 3, 4, 5))
	got = shpRun1(t, "GatherND", 13, []*ir.Attribute{shpAI("batch_dims", 1)}, y, shpI(shpDims(2, 2, 2), 0, 1, 1, 1, -1, 0, 0, 0))
	shpEq(t, got, shpF(shpDims(2, 2), 1, 3, 6, 4))
	shpErr(t, "indices[1][0]: index 2", "GatherND", 13, nil, x, shpI(shpDims(2, 2), 0, 0, 2, 0))
	shpErr(t, "last dimension", "GatherND", 13, nil, x, shpI(shpDims(1, 3), 0, 0, 0))
	shpErr(t, "batch dimension", "GatherND", 13, []*ir.Attribute{shpAI("batch_dims", 1)}, y, shpI(shpDims(3, 1), 0, 0, 0))
}

func TestCompress(t *testing.T) {
	x := shpF(shpDims(3, 2), 1, 2, 3, 4, 5, 6)
	got := shpRun1(t, "Compress", 11, []*ir.Attribute{shpAI("axis", 0)}, x, shpB(shpDims(3), false, true, true))
	shpEq(t, got, shpF(shpDims(2, 2), 3, 4, 5, 6))
	got = shpRun1(t, "Compress", 11, []*ir.Attribute{shpAI("axis", -1)}, x, shpB(shpDims(2), false, true))
	shpEq(t, got, shpF(shpDims(3, 1), 2, 4, 6))
	// Without an axis the input is flattened; a short condition keeps the
	// first elements only.
	got = shpRun1(t, "Compress", 11, nil, x, shpB(shpDims(3), false, true, true))
	shpEq(t, got, shpF(shpDims(2), 2, 3))
	shpErr(t, "bool", "Compress", 11, nil, x, shpI(shpDims(1), 1))
}

func TestOneHot(t *testing.T) {
	vals := shpF(shpDims(2), 0, 1)
	got := shpRun1(t, "OneHot", 11, nil, shpI(shpDims(3), 0, 2, -1), tensor.Scalar(int64(3)), vals)
	shpEq(t, got, shpF(shpDims(3, 3), 1, 0, 0, 0, 0, 1, 0, 0, 1))
	// axis 0, out-of-range index gives all off, float indices truncate.
	got = shpRun1(t, "OneHot", 11, []*ir.Attribute{shpAI("axis", 0)},
		shpF(shpDims(3), 1.7, 5, 0), shpF(shpDims(1), 2), shpI(shpDims(2), 2, 9))
	shpEq(t, got, shpI(shpDims(2, 3), 2, 2, 9, 9, 2, 2))
	// [2] indices with axis 1 and strings.
	got = shpRun1(t, "OneHot", 11, []*ir.Attribute{shpAI("axis", -2)},
		shpI32(shpDims(2, 1), 1, 0), tensor.Scalar(int32(2)), shpS(shpDims(2), "off", "on"))
	shpEq(t, got, shpS(shpDims(2, 2, 1), "off", "on", "on", "off"))
	// Opset 9 has no negative indices: they are out of range.
	got = shpRun1(t, "OneHot", 9, nil, shpI(shpDims(2), -1, 1), tensor.Scalar(int64(2)), vals)
	shpEq(t, got, shpF(shpDims(2, 2), 0, 0, 0, 1))
	shpErr(t, "want [2]", "OneHot", 11, nil, shpI(shpDims(1), 0), tensor.Scalar(int64(3)), shpF(shpDims(3), 0, 1, 2))
	shpErr(t, "depth", "OneHot", 11, nil, shpI(shpDims(1), 0), tensor.Scalar(int64(0)), vals)
}

func TestNonZero(t *testing.T) {
	x := shpF(shpDims(2, 2), 1, 0, 1, 1)
	shpEq(t, shpRun1(t, "NonZero", 13, nil, x), shpI(shpDims(2, 3), 0, 1, 1, 0, 0, 1))
	shpEq(t, shpRun1(t, "NonZero", 13, nil, shpB(shpDims(3), false, true, false)), shpI(shpDims(1, 1), 1))
	shpEq(t, shpRun1(t, "NonZero", 13, nil, shpS(shpDims(3), "", "a", "b")), shpI(shpDims(1, 2), 1, 2))
	shpEq(t, shpRun1(t, "NonZero", 13, nil, shpI(shpDims(0))), shpI(shpDims(1, 0)))
	shpEq(t, shpRun1(t, "NonZero", 13, nil, tensor.Scalar(int32(5))), shpI(shpDims(1, 1), 0))
	// Negative zero is zero.
	neg := tensor.FromSlice([]tensor.F16{0x8000, 0x3c00}, 2)
	shpEq(t, shpRun1(t, "NonZero", 13, nil, neg), shpI(shpDims(1, 1), 1))
}
