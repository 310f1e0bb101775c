package kernels

import (
	"math"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestTopK(t *testing.T) {
	x := shpF(shpDims(3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	outs := shpRun(t, "TopK", 11, nil, 2, x, shpI(shpDims(1), 3))
	shpEq(t, outs[0], shpF(shpDims(3, 3), 3, 2, 1, 7, 6, 5, 11, 10, 9))
	shpEq(t, outs[1], shpI(shpDims(3, 3), 3, 2, 1, 3, 2, 1, 3, 2, 1))
	// Smallest along axis 0.
	outs = shpRun(t, "TopK", 11, []*ir.Attribute{shpAI("axis", 0), shpAI("largest", 0)}, 2, x, shpI(shpDims(1), 2))
	shpEq(t, outs[0], shpF(shpDims(2, 4), 0, 1, 2, 3, 4, 5, 6, 7))
	shpEq(t, outs[1], shpI(shpDims(2, 4), 0, 0, 0, 0, 1, 1, 1, 1))
	// Ties go to the lower index, both ways.
	y := shpI32(shpDims(6), 3, 1, 3, 2, 1, 3)
	outs = shpRun(t, "TopK", 11, nil, 2, y, shpI(shpDims(1), 4))
	shpEq(t, outs[0], shpI32(shpDims(4), 3, 3, 3, 2))
	shpEq(t, outs[1], shpI(shpDims(4), 0, 2, 5, 3))
	outs = shpRun(t, "TopK", 11, []*ir.Attribute{shpAI("largest", 0)}, 2, y, shpI(shpDims(1), 3))
	shpEq(t, outs[0], shpI32(shpDims(3), 1, 1, 2))
	shpEq(t, outs[1], shpI(shpDims(3), 1, 4, 3))
	// Opset 1: k attribute; uint8 and NaN (ranks above everything).
	outs = shpRun(t, "TopK", 1, []*ir.Attribute{shpAI("k", 2)}, 2, tensor.FromSlice([]uint8{5, 200, 7}, 3))
	shpEq(t, outs[0], tensor.FromSlice([]uint8{200, 7}, 2))
	nan := float32(math.NaN())
	outs = shpRun(t, "TopK", 11, nil, 2, shpF(shpDims(3), 1, nan, 2), shpI(shpDims(1), 1))
	shpEq(t, outs[1], shpI(shpDims(1), 1))
	// k = 0 and k = n.
	outs = shpRun(t, "TopK", 11, nil, 2, x, shpI(shpDims(1), 0))
	shpEq(t, outs[1], shpI(shpDims(3, 0)))
	shpErr(t, "k = 5", "TopK", 11, nil, x, shpI(shpDims(1), 5))
}

func TestTopKLarge(t *testing.T) {
	// A pseudo-random row checked against a selection by hand: repeated
	// passes picking the best remaining element.
	const n = 5000
	v := make([]float32, 2*n)
	s := uint32(1)
	for i := range v {
		s = s*1664525 + 1013904223
		v[i] = float32(s>>16) / 256
	}
	x := shpF(shpDims(2, n), v...)
	const k = 25
	outs := shpRun(t, "TopK", 11, nil, 2, x, shpI(shpDims(1), k))
	vals, inds := outs[0].Data.([]float32), outs[1].Data.([]int64)
	for r := range 2 {
		used := map[int]bool{}
		for q := range k {
			best := -1
			for j := range n {
				if used[j] {
					continue
				}
				if best < 0 || v[r*n+j] > v[r*n+best] {
					best = j
				}
			}
			used[best] = true
			if inds[r*k+q] != int64(best) || vals[r*k+q] != v[r*n+best] {
				t.Fatalf("row %d rank %d: got index %d value %v, want %d %v", r, q, inds[r*k+q], vals[r*k+q], best, v[r*n+best])
			}
		}
	}
}

func TestArgMaxMin(t *testing.T) {
	x := shpF(shpDims(2, 3), 2, 9, 9, 5, 1, 5)
	shpEq(t, shpRun1(t, "ArgMax", 13, nil, x), shpI(shpDims(1, 3), 1, 0, 0))
	shpEq(t, shpRun1(t, "ArgMax", 13, []*ir.Attribute{shpAI("axis", 1), shpAI("keepdims", 0)}, x), shpI(shpDims(2), 1, 0))
	shpEq(t, shpRun1(t, "ArgMax", 13, []*ir.Attribute{shpAI("axis", -1), shpAI("select_last_index", 1)}, x), shpI(shpDims(2, 1), 2, 2))
	shpEq(t, shpRun1(t, "ArgMin", 13, []*ir.Attribute{shpAI("axis", 1)}, x), shpI(shpDims(2, 1), 0, 1))
	shpEq(t, shpRun1(t, "ArgMin", 13, []*ir.Attribute{shpAI("axis", 1), shpAI("keepdims", 0), shpAI("select_last_index", 1)},
		shpI(shpDims(2, 3), 4, 4, 7, -1, 0, -1)), shpI(shpDims(2), 1, 2))
	h := tensor.FromSlice([]tensor.F16{tensor.F16FromFloat32(-1), tensor.F16FromFloat32(3), tensor.F16FromFloat32(2)}, 3)
	shpEq(t, shpRun1(t, "ArgMax", 13, []*ir.Attribute{shpAI("keepdims", 0)}, h), tensor.Scalar(int64(1)))
	shpErr(t, "empty", "ArgMax", 13, nil, shpF(shpDims(0, 2)))
}

func TestCumSum(t *testing.T) {
	x := shpF(shpDims(5), 1, 2, 3, 4, 5)
	ax := tensor.Scalar(int32(0))
	shpEq(t, shpRun1(t, "CumSum", 14, nil, x, ax), shpF(shpDims(5), 1, 3, 6, 10, 15))
	shpEq(t, shpRun1(t, "CumSum", 14, []*ir.Attribute{shpAI("exclusive", 1)}, x, ax), shpF(shpDims(5), 0, 1, 3, 6, 10))
	shpEq(t, shpRun1(t, "CumSum", 14, []*ir.Attribute{shpAI("reverse", 1)}, x, ax), shpF(shpDims(5), 15, 14, 12, 9, 5))
	shpEq(t, shpRun1(t, "CumSum", 14, []*ir.Attribute{shpAI("reverse", 1), shpAI("exclusive", 1)}, x, ax), shpF(shpDims(5), 14, 12, 9, 5, 0))
	y := shpI(shpDims(2, 3), 1, 2, 3, 4, 5, 6)
	shpEq(t, shpRun1(t, "CumSum", 14, nil, y, tensor.Scalar(int64(0))), shpI(shpDims(2, 3), 1, 2, 3, 5, 7, 9))
	shpEq(t, shpRun1(t, "CumSum", 14, nil, y, shpI(shpDims(1), -1)), shpI(shpDims(2, 3), 1, 3, 6, 4, 9, 15))
	h := tensor.FromSlice([]tensor.BF16{tensor.BF16FromFloat32(1), tensor.BF16FromFloat32(2)}, 2)
	shpEq(t, shpRun1(t, "CumSum", 14, nil, h, ax), tensor.FromSlice([]tensor.BF16{tensor.BF16FromFloat32(1), tensor.BF16FromFloat32(3)}, 2))
	shpErr(t, "out of range", "CumSum", 14, nil, x, tensor.Scalar(int64(1)))
}

func TestTrilu(t *testing.T) {
	x := shpIota(3, 4) // 0..11
	shpEq(t, shpRun1(t, "Trilu", 14, nil, x), shpF(shpDims(3, 4), 0, 1, 2, 3, 0, 5, 6, 7, 0, 0, 10, 11))
	shpEq(t, shpRun1(t, "Trilu", 14, nil, x, tensor.Scalar(int64(1))), shpF(shpDims(3, 4), 0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11))
	shpEq(t, shpRun1(t, "Trilu", 14, []*ir.Attribute{shpAI("upper", 0)}, x), shpF(shpDims(3, 4), 0, 0, 0, 0, 4, 5, 0, 0, 8, 9, 10, 0))
	shpEq(t, shpRun1(t, "Trilu", 14, []*ir.Attribute{shpAI("upper", 0)}, x, tensor.Scalar(int64(-1))), shpF(shpDims(3, 4), 0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0))
	shpEq(t, shpRun1(t, "Trilu", 14, nil, x, tensor.Scalar(int64(-7))), x)
	shpEq(t, shpRun1(t, "Trilu", 14, nil, x, tensor.Scalar(int64(9))), shpF(shpDims(3, 4), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	// Batched, bool.
	b := shpB(shpDims(2, 2, 2), true, true, true, true, true, true, true, true)
	shpEq(t, shpRun1(t, "Trilu", 14, []*ir.Attribute{shpAI("upper", 0)}, b), shpB(shpDims(2, 2, 2), true, false, true, true, true, false, true, true))
	shpErr(t, "rank ≥ 2", "Trilu", 14, nil, shpF(shpDims(2), 1, 2))
}

func TestUnique(t *testing.T) {
	x := shpF(shpDims(6), 2, 1, 1, 3, 4, 3)
	outs := shpRun(t, "Unique", 11, nil, 4, x)
	shpEq(t, outs[0], shpF(shpDims(4), 1, 2, 3, 4))
	shpEq(t, outs[1], shpI(shpDims(4), 1, 0, 3, 4))
	shpEq(t, outs[2], shpI(shpDims(6), 1, 0, 0, 2, 3, 2))
	shpEq(t, outs[3], shpI(shpDims(4), 2, 1, 2, 1))
	outs = shpRun(t, "Unique", 11, []*ir.Attribute{shpAI("sorted", 0)}, 4, x)
	shpEq(t, outs[0], shpF(shpDims(4), 2, 1, 3, 4))
	shpEq(t, outs[1], shpI(shpDims(4), 0, 1, 3, 4))
	shpEq(t, outs[2], shpI(shpDims(6), 0, 1, 1, 2, 3, 2))
	shpEq(t, outs[3], shpI(shpDims(4), 1, 2, 2, 1))
	// Along an axis: rows of [[1,0,0],[1,0,0],[2,3,4]] -> two unique rows.
	y := shpF(shpDims(3, 3), 1, 0, 0, 1, 0, 0, 2, 3, 4)
	outs = shpRun(t, "Unique", 11, []*ir.Attribute{shpAI("axis", 0)}, 4, y)
	shpEq(t, outs[0], shpF(shpDims(2, 3), 1, 0, 0, 2, 3, 4))
	shpEq(t, outs[1], shpI(shpDims(2), 0, 2))
	shpEq(t, outs[2], shpI(shpDims(3), 0, 0, 1))
	shpEq(t, outs[3], shpI(shpDims(2), 2, 1))
	// Columns of [[1,0,1],[2,9,2]]: columns 0 and 2 are equal; (0,9) < (1,2).
	z := shpI(shpDims(2, 3), 1, 0, 1, 2, 9, 2)
	outs = shpRun(t, "Unique", 11, []*ir.Attribute{shpAI("axis", -1)}, 4, z)
	shpEq(t, outs[0], shpI(shpDims(2, 2), 0, 1, 9, 2))
	shpEq(t, outs[1], shpI(shpDims(2), 1, 0))
	shpEq(t, outs[2], shpI(shpDims(3), 1, 0, 1))
	shpEq(t, outs[3], shpI(shpDims(2), 1, 2))
	// Strings.
	outs = shpRun(t, "Unique", 11, nil, 1, shpS(shpDims(4), "b", "a", "b", "c"))
	shpEq(t, outs[0], shpS(shpDims(3), "a", "b", "c"))
}

func TestReverseSequence(t *testing.T) {
	// time_axis 0, batch_axis 1: x[t,b] = 4t + b, shape [4,4].
	x := shpIota(4, 4)
	lens := shpI(shpDims(4), 4, 3, 2, 1)
	got := shpRun1(t, "ReverseSequence", 10, nil, x, lens)
	shpEq(t, got, shpF(shpDims(4, 4),
		12, 9, 6, 3,
		8, 5, 2, 7,
		4, 1, 10, 11,
		0, 13, 14, 15))
	// batch_axis 0, time_axis 1 with an inner dimension.
	y := shpIota(2, 3, 2)
	got = shpRun1(t, "ReverseSequence", 10, []*ir.Attribute{shpAI("batch_axis", 0), shpAI("time_axis", 1)}, y, shpI(shpDims(2), 3, 2))
	shpEq(t, got, shpF(shpDims(2, 3, 2), 4, 5, 2, 3, 0, 1, 8, 9, 6, 7, 10, 11))
	shpErr(t, "sequence_lens[0] = 5", "ReverseSequence", 10, nil, x, shpI(shpDims(4), 5, 1, 1, 1))
	if _, err := shpBuild("ReverseSequence", 10, []*ir.Attribute{shpAI("batch_axis", 1), shpAI("time_axis", 1)}, 2, 1); err == nil {
		t.Error("equal axes accepted")
	}
}
