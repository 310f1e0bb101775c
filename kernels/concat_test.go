package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestConcat(t *testing.T) {
	a := shpF(shpDims(2, 2), 1, 2, 3, 4)
	b := shpF(shpDims(2, 1), 5, 6)
	c := shpF(shpDims(1, 2), 7, 8)
	shpEq(t, shpRun1(t, "Concat", 13, []*ir.Attribute{shpAI("axis", 1)}, a, b), shpF(shpDims(2, 3), 1, 2, 5, 3, 4, 6))
	shpEq(t, shpRun1(t, "Concat", 13, []*ir.Attribute{shpAI("axis", -2)}, a, c), shpF(shpDims(3, 2), 1, 2, 3, 4, 7, 8))
	// Empty inputs take part without adding anything.
	e := shpF(shpDims(2, 0))
	shpEq(t, shpRun1(t, "Concat", 13, []*ir.Attribute{shpAI("axis", 1)}, e, b, e), b)
	s := shpRun1(t, "Concat", 13, []*ir.Attribute{shpAI("axis", 0)}, shpS(shpDims(1), "x"), shpS(shpDims(2), "y", "z"))
	shpEq(t, s, shpS(shpDims(3), "x", "y", "z"))
	// Opset 1 defaults to axis 1.
	shpEq(t, shpRun1(t, "Concat", 1, nil, a, b), shpF(shpDims(2, 3), 1, 2, 5, 3, 4, 6))
	shpErr(t, "incompatible", "Concat", 13, []*ir.Attribute{shpAI("axis", 0)}, a, b)
	shpErr(t, "int64", "Concat", 13, []*ir.Attribute{shpAI("axis", 0)}, a, shpI(shpDims(1, 2), 1, 2))
	if _, err := shpBuild("Concat", 13, nil, 2, 1); err == nil {
		t.Error("Concat-13 without axis built")
	}
}

func TestSplit(t *testing.T) {
	x := shpF(shpDims(6), 1, 2, 3, 4, 5, 6)
	outs := shpRun(t, "Split", 13, nil, 3, x)
	shpEq(t, outs[0], shpF(shpDims(2), 1, 2))
	shpEq(t, outs[2], shpF(shpDims(2), 5, 6))
	outs = shpRun(t, "Split", 13, nil, 2, x, shpI(shpDims(2), 2, 4))
	shpEq(t, outs[0], shpF(shpDims(2), 1, 2))
	shpEq(t, outs[1], shpF(shpDims(4), 3, 4, 5, 6))
	outs = shpRun(t, "Split", 11, []*ir.Attribute{shpAIs("split", 0, 6, 0)}, 3, x)
	shpEq(t, outs[0], shpF(shpDims(0)))
	shpEq(t, outs[1], x)
	shpEq(t, outs[2], shpF(shpDims(0)))

	y := shpIota(2, 4)
	outs = shpRun(t, "Split", 13, []*ir.Attribute{shpAI("axis", 1)}, 2, y, shpI(shpDims(2), 1, 3))
	shpEq(t, outs[0], shpF(shpDims(2, 1), 0, 4))
	shpEq(t, outs[1], shpF(shpDims(2, 3), 1, 2, 3, 5, 6, 7))

	// Opset 18 num_outputs: chunks of ceil(7/3) = 3, the last one smaller.
	z := shpF(shpDims(7), 1, 2, 3, 4, 5, 6, 7)
	outs = shpRun(t, "Split", 18, []*ir.Attribute{shpAI("num_outputs", 3)}, 3, z)
	shpEq(t, outs[0], shpF(shpDims(3), 1, 2, 3))
	shpEq(t, outs[1], shpF(shpDims(3), 4, 5, 6))
	shpEq(t, outs[2], shpF(shpDims(1), 7))
	// 9 into 4: 3, 3, 3, 0.
	outs = shpRun(t, "Split", 18, []*ir.Attribute{shpAI("num_outputs", 4)}, 4, shpIota(9))
	shpEq(t, outs[3], shpF(shpDims(0)))
	shpEq(t, outs[2], shpF(shpDims(3), 6, 7, 8))

	if _, err := shpTry("Split", 13, nil, 4, x); err == nil {
		t.Error("uneven Split-13 without split succeeded")
	}
	if _, err := shpTry("Split", 13, nil, 2, x, shpI(shpDims(2), 2, 3)); err == nil {
		t.Error("Split with a bad sum succeeded")
	}
}

func TestTile(t *testing.T) {
	x := shpF(shpDims(2, 2), 1, 2, 3, 4)
	got := shpRun1(t, "Tile", 13, nil, x, shpI(shpDims(2), 2, 3))
	shpEq(t, got, shpF(shpDims(4, 6),
		1, 2, 1, 2, 1, 2,
		3, 4, 3, 4, 3, 4,
		1, 2, 1, 2, 1, 2,
		3, 4, 3, 4, 3, 4))
	got = shpRun1(t, "Tile", 13, nil, x, shpI(shpDims(2), 1, 0))
	shpEq(t, got, shpF(shpDims(2, 0)))
	b := shpRun1(t, "Tile", 13, nil, shpB(shpDims(2), true, false), shpI(shpDims(1), 2))
	shpEq(t, b, shpB(shpDims(4), true, false, true, false))
	shpErr(t, "want [2]", "Tile", 13, nil, x, shpI(shpDims(1), 2))
	shpErr(t, "invalid entry", "Tile", 13, nil, x, shpI(shpDims(2), 1, -1))
	// Tile-1: tiles along one axis.
	got = shpRun1(t, "Tile", 1, nil, x, tensor.Scalar(int64(2)), tensor.Scalar(int64(0)))
	shpEq(t, got, shpF(shpDims(4, 2), 1, 2, 3, 4, 1, 2, 3, 4))
}

func TestPad(t *testing.T) {
	x := shpF(shpDims(3, 2), 1, 1.25, 2.25, 3.5, 4.5, 5.75)
	pads := shpI(shpDims(4), 0, 2, 0, 0)
	shpEq(t, shpRun1(t, "Pad", 13, nil, x, pads),
		shpF(shpDims(3, 4), 0, 0, 1, 1.25, 0, 0, 2.25, 3.5, 0, 0, 4.5, 5.75))
	shpEq(t, shpRun1(t, "Pad", 13, []*ir.Attribute{shpAS("mode", "reflect")}, x, pads),
		shpF(shpDims(3, 4), 1, 1.25, 1, 1.25, 2.25, 3.5, 2.25, 3.5, 4.5, 5.75, 4.5, 5.75))
	shpEq(t, shpRun1(t, "Pad", 13, []*ir.Attribute{shpAS("mode", "edge")}, x, pads),
		shpF(shpDims(3, 4), 1, 1, 1, 1.25, 2.25, 2.25, 2.25, 3.5, 4.5, 4.5, 4.5, 5.75))
	shpEq(t, shpRun1(t, "Pad", 19, []*ir.Attribute{shpAS("mode", "wrap")}, x, shpI(shpDims(4), 2, 1, 1, 1)),
		shpF(shpDims(6, 4),
			3.5, 2.25, 3.5, 2.25,
			5.75, 4.5, 5.75, 4.5,
			1.25, 1, 1.25, 1,
			3.5, 2.25, 3.5, 2.25,
			5.75, 4.5, 5.75, 4.5,
			1.25, 1, 1.25, 1))
	// Constant value and negative pads (cropping).
	v := shpF(shpDims(4), 1, 2, 3, 4)
	shpEq(t, shpRun1(t, "Pad", 13, nil, v, shpI(shpDims(2), -1, 2), tensor.Scalar(float32(9))),
		shpF(shpDims(5), 2, 3, 4, 9, 9))
	// Reflect beyond one period: [1 2 3] padded by 4 on the left.
	w := shpF(shpDims(3), 1, 2, 3)
	shpEq(t, shpRun1(t, "Pad", 13, []*ir.Attribute{shpAS("mode", "reflect")}, w, shpI(shpDims(2), 4, 0)),
		shpF(shpDims(7), 1, 2, 3, 2, 1, 2, 3))
	// Opset 18 axes.
	shpEq(t, shpRun1(t, "Pad", 18, nil, x, shpI(shpDims(2), 1, 1), nil, shpI(shpDims(1), -2)),
		shpF(shpDims(5, 2), 0, 0, 1, 1.25, 2.25, 3.5, 4.5, 5.75, 0, 0))
	// Opset 2: attributes.
	shpEq(t, shpRun1(t, "Pad", 2, []*ir.Attribute{shpAIs("pads", 1, 0), shpAF("value", 7)}, w),
		shpF(shpDims(4), 7, 1, 2, 3))
	// Strings and the empty-string default.
	s := shpS(shpDims(2), "a", "b")
	shpEq(t, shpRun1(t, "Pad", 13, nil, s, shpI(shpDims(2), 1, 1)), shpS(shpDims(4), "", "a", "b", ""))
	shpEq(t, shpRun1(t, "Pad", 13, nil, s, shpI(shpDims(2), 0, 1), tensor.Scalar("z")), shpS(shpDims(3), "a", "b", "z"))
	shpErr(t, "want 4", "Pad", 13, nil, x, shpI(shpDims(2), 1, 1))
	shpErr(t, "remove more", "Pad", 13, nil, w, shpI(shpDims(2), -2, -2))
}

func TestPadLarge(t *testing.T) {
	// Edge padding of a 3-D tensor big enough for the parallel path.
	x := shpIota(4, 100, 90)
	got := shpRun1(t, "Pad", 13, []*ir.Attribute{shpAS("mode", "edge")}, x, shpI(shpDims(6), 0, 1, 2, 1, 0, 3))
	if !tensor.EqualShapes(got.Shape, []int{5, 101, 95}) {
		t.Fatalf("got %v", got)
	}
	d := got.Data.([]float32)
	for i := range 5 {
		for j := range 101 {
			for k := range 95 {
				si := min(i, 3)
				sj := min(max(j-1, 0), 99)
				sk := min(max(k-2, 0), 89)
				if want := float32((si*100+sj)*90 + sk); d[(i*101+j)*95+k] != want {
					t.Fatalf("out[%d,%d,%d] = %v, want %v", i, j, k, d[(i*101+j)*95+k], want)
				}
			}
		}
	}
}
