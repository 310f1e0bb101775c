package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestTranspose(t *testing.T) {
	x := shpIota(2, 3)
	shpEq(t, shpRun1(t, "Transpose", 13, nil, x), shpF(shpDims(3, 2), 0, 3, 1, 4, 2, 5))

	// [2,3,4] with perm [1,2,0]: out[j,k,i] = x[i,j,k] = 12i+4j+k.
	y := shpIota(2, 3, 4)
	got := shpRun1(t, "Transpose", 13, []*ir.Attribute{shpAIs("perm", 1, 2, 0)}, y)
	want := make([]float32, 24)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				want[(j*4+k)*2+i] = float32(12*i + 4*j + k)
			}
		}
	}
	shpEq(t, got, shpF(shpDims(3, 4, 2), want...))

	// Moving only size-1 axes is a view.
	z := shpIota(1, 3, 1, 2)
	got = shpRun1(t, "Transpose", 13, []*ir.Attribute{shpAIs("perm", 2, 1, 3, 0)}, z)
	if !tensor.EqualShapes(got.Shape, []int{1, 3, 2, 1}) || !shpSameData(got, z) {
		t.Errorf("size-1 transpose: got %v", got)
	}

	s := shpS(shpDims(2, 2), "a", "b", "c", "d")
	shpEq(t, shpRun1(t, "Transpose", 13, nil, s), shpS(shpDims(2, 2), "a", "c", "b", "d"))

	shpErr(t, "not a permutation", "Transpose", 13, []*ir.Attribute{shpAIs("perm", 0, 0)}, x)
	shpErr(t, "want 2", "Transpose", 13, []*ir.Attribute{shpAIs("perm", 0)}, x)
}

func TestTransposeLarge(t *testing.T) {
	// Big enough to go through the parallel path.
	const n, m = 300, 257
	x := shpIota(n, m)
	got := shpRun1(t, "Transpose", 13, nil, x)
	d := got.Data.([]float32)
	for i := range n {
		for j := range m {
			if d[j*n+i] != float32(i*m+j) {
				t.Fatalf("out[%d,%d] = %v, want %v", j, i, d[j*n+i], i*m+j)
			}
		}
	}
}

func TestDepthToSpace(t *testing.T) {
	// N=1, C=4, H=1, W=2, blocksize 2: output [1,1,2,4].
	x := shpIota(1, 4, 1, 2)
	// DCR: out[0,0,h*2+bh,w*2+bw] = x[0, bh*2+bw, h, w].
	got := shpRun1(t, "DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 2)}, x)
	shpEq(t, got, shpF(shpDims(1, 1, 2, 4), 0, 2, 1, 3, 4, 6, 5, 7))
	// CRD with one output channel is the same layout as DCR.
	got = shpRun1(t, "DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 2), shpAS("mode", "CRD")}, x)
	shpEq(t, got, shpF(shpDims(1, 1, 2, 4), 0, 2, 1, 3, 4, 6, 5, 7))

	// C=8, blocksize 2, H=W=1: DCR channel c' of the output at (bh,bw)
	// reads channel (bh*2+bw)*2+c'; CRD reads c'*4+bh*2+bw.
	y := shpIota(1, 8, 1, 1)
	got = shpRun1(t, "DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 2)}, y)
	shpEq(t, got, shpF(shpDims(1, 2, 2, 2), 0, 2, 4, 6, 1, 3, 5, 7))
	got = shpRun1(t, "DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 2), shpAS("mode", "CRD")}, y)
	shpEq(t, got, shpF(shpDims(1, 2, 2, 2), 0, 1, 2, 3, 4, 5, 6, 7))

	shpErr(t, "multiple", "DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 2)}, shpIota(1, 3, 1, 1))
}

func TestSpaceToDepth(t *testing.T) {
	// [1,1,2,4] → [1,4,1,2]: out channel bh*2+bw at (0,w) = x[0,0,bh,w*2+bw].
	x := shpIota(1, 1, 2, 4)
	got := shpRun1(t, "SpaceToDepth", 13, []*ir.Attribute{shpAI("blocksize", 2)}, x)
	shpEq(t, got, shpF(shpDims(1, 4, 1, 2), 0, 2, 1, 3, 4, 6, 5, 7))
	// SpaceToDepth undoes DepthToSpace (DCR).
	y := shpIota(2, 8, 3, 2)
	d := shpRun1(t, "DepthToSpace", 13, []*ir.Attribute{shpAI("blocksize", 2)}, y)
	back := shpRun1(t, "SpaceToDepth", 13, []*ir.Attribute{shpAI("blocksize", 2)}, d)
	shpEq(t, back, y)
	shpErr(t, "multiples", "SpaceToDepth", 13, []*ir.Attribute{shpAI("blocksize", 2)}, shpIota(1, 1, 3, 4))
}

func TestTransposeAllPerms(t *testing.T) {
	// Every permutation of a 4-D tensor, checked against index arithmetic;
	// the sizes let the tiled path run for the transposing ones.
	shape := []int{3, 10, 2, 9}
	x := shpIota(shape...)
	st := tensor.Strides(shape)
	var perms [][]int
	var gen func(p []int, used []bool)
	gen = func(p []int, used []bool) {
		if len(p) == 4 {
			perms = append(perms, append([]int(nil), p...))
			return
		}
		for a := range 4 {
			if !used[a] {
				used[a] = true
				gen(append(p, a), used)
				used[a] = false
			}
		}
	}
	gen(nil, make([]bool, 4))
	for _, p := range perms {
		got := shpRun1(t, "Transpose", 13, []*ir.Attribute{shpAIs("perm", int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3]))}, x)
		oshape := []int{shape[p[0]], shape[p[1]], shape[p[2]], shape[p[3]]}
		if !tensor.EqualShapes(got.Shape, oshape) {
			t.Fatalf("perm %v: shape %v, want %v", p, got.Shape, oshape)
		}
		d := got.Data.([]float32)
		k := 0
		for i0 := range oshape[0] {
			for i1 := range oshape[1] {
				for i2 := range oshape[2] {
					for i3 := range oshape[3] {
						want := i0*st[p[0]] + i1*st[p[1]] + i2*st[p[2]] + i3*st[p[3]]
						if d[k] != float32(want) {
							t.Fatalf("perm %v: out[%d,%d,%d,%d] = %v, want %v", p, i0, i1, i2, i3, d[k], want)
						}
						k++
					}
				}
			}
		}
	}
}

func TestTransposeLarge3D(t *testing.T) {
	// Tiled and split across threads, with an outer axis.
	x := shpIota(4, 130, 70)
	got := shpRun1(t, "Transpose", 13, []*ir.Attribute{shpAIs("perm", 0, 2, 1)}, x)
	d := got.Data.([]float32)
	for b := range 4 {
		for i := range 70 {
			for j := range 130 {
				if want := float32((b*130+j)*70 + i); d[(b*70+i)*130+j] != want {
					t.Fatalf("out[%d,%d,%d] = %v, want %v", b, i, j, d[(b*70+i)*130+j], want)
				}
			}
		}
	}
}
