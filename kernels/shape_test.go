package kernels

import (
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestShapeOp(t *testing.T) {
	x := tensor.New(tensor.Float32, 2, 3, 4)
	shpEq(t, shpRun1(t, "Shape", 13, nil, x), shpI(shpDims(3), 2, 3, 4))
	cases := []struct {
		attrs []*ir.Attribute
		want  []int64
	}{
		{[]*ir.Attribute{shpAI("start", -1)}, []int64{4}},
		{[]*ir.Attribute{shpAI("end", -1)}, []int64{2, 3}},
		{[]*ir.Attribute{shpAI("start", 1), shpAI("end", 2)}, []int64{3}},
		{[]*ir.Attribute{shpAI("start", -10)}, []int64{2, 3, 4}},
		{[]*ir.Attribute{shpAI("end", 10)}, []int64{2, 3, 4}},
		{[]*ir.Attribute{shpAI("start", 2), shpAI("end", 1)}, []int64{}},
	}
	for _, c := range cases {
		shpEq(t, shpRun1(t, "Shape", 15, c.attrs, x), shpI(shpDims(len(c.want)), c.want...))
	}
	shpEq(t, shpRun1(t, "Shape", 15, nil, tensor.Scalar("s")), shpI(shpDims(0)))
}

func TestSize(t *testing.T) {
	shpEq(t, shpRun1(t, "Size", 13, nil, tensor.New(tensor.Bool, 2, 5)), tensor.Scalar(int64(10)))
	shpEq(t, shpRun1(t, "Size", 13, nil, tensor.New(tensor.String, 2, 0)), tensor.Scalar(int64(0)))
}

func TestReshape(t *testing.T) {
	x := shpIota(2, 3, 4)
	cases := []struct {
		spec []int64
		want []int
	}{
		{[]int64{4, 6}, []int{4, 6}},
		{[]int64{0, -1}, []int{2, 12}},
		{[]int64{-1}, []int{24}},
		{[]int64{2, 0, 2, 2}, []int{2, 3, 2, 2}},
		{[]int64{1, 2, 3, 4, 1}, []int{1, 2, 3, 4, 1}},
	}
	for _, c := range cases {
		got := shpRun1(t, "Reshape", 14, nil, x, shpI(shpDims(len(c.spec)), c.spec...))
		if !tensor.EqualShapes(got.Shape, c.want) {
			t.Errorf("Reshape %v: got shape %v, want %v", c.spec, got.Shape, c.want)
		}
		if !shpSameData(got, x) {
			t.Errorf("Reshape %v copied the data", c.spec)
		}
	}
	// allowzero: 0 is a real zero dimension.
	e := tensor.New(tensor.Float32, 0, 3, 4)
	got := shpRun1(t, "Reshape", 14, []*ir.Attribute{shpAI("allowzero", 1)}, e, shpI(shpDims(3), 3, 4, 0))
	if !tensor.EqualShapes(got.Shape, []int{3, 4, 0}) {
		t.Errorf("allowzero: got %v", got.Shape)
	}
	// Opset 1-4: the shape is an attribute.
	got = shpRun1(t, "Reshape", 1, []*ir.Attribute{shpAIs("shape", 6, -1)}, x)
	if !tensor.EqualShapes(got.Shape, []int{6, 4}) {
		t.Errorf("Reshape-1: got %v", got.Shape)
	}
	shpErr(t, "cannot reshape", "Reshape", 14, nil, x, shpI(shpDims(2), 5, 5))
	shpErr(t, "more than one -1", "Reshape", 14, nil, x, shpI(shpDims(2), -1, -1))
	shpErr(t, "cannot reshape", "Reshape", 14, nil, x, shpI(shpDims(2), 5, -1))
	shpErr(t, "both 0 and -1", "Reshape", 14, []*ir.Attribute{shpAI("allowzero", 1)}, e, shpI(shpDims(2), 0, -1))
	shpErr(t, "invalid dimension", "Reshape", 14, nil, x, shpI(shpDims(2), -2, 12))
}

func TestFlatten(t *testing.T) {
	x := shpIota(2, 3, 4, 5)
	for _, c := range []struct {
		axis int64
		want []int
	}{{0, []int{1, 120}}, {1, []int{2, 60}}, {2, []int{6, 20}}, {4, []int{120, 1}}, {-1, []int{24, 5}}, {-4, []int{1, 120}}} {
		got := shpRun1(t, "Flatten", 13, []*ir.Attribute{shpAI("axis", c.axis)}, x)
		if !tensor.EqualShapes(got.Shape, c.want) || !shpSameData(got, x) {
			t.Errorf("Flatten axis %d: got %v", c.axis, got)
		}
	}
	shpErr(t, "out of range", "Flatten", 13, []*ir.Attribute{shpAI("axis", 5)}, x)
}

func TestSqueezeUnsqueeze(t *testing.T) {
	x := shpIota(1, 3, 1, 2)
	got := shpRun1(t, "Squeeze", 13, nil, x)
	if !tensor.EqualShapes(got.Shape, []int{3, 2}) || !shpSameData(got, x) {
		t.Errorf("Squeeze all: got %v", got)
	}
	got = shpRun1(t, "Squeeze", 13, nil, x, shpI(shpDims(1), -2))
	if !tensor.EqualShapes(got.Shape, []int{1, 3, 2}) {
		t.Errorf("Squeeze -2: got %v", got)
	}
	got = shpRun1(t, "Squeeze", 11, []*ir.Attribute{shpAIs("axes", 0)}, x)
	if !tensor.EqualShapes(got.Shape, []int{3, 1, 2}) {
		t.Errorf("Squeeze-11 axes=[0]: got %v", got)
	}
	got = shpRun1(t, "Squeeze", 13, nil, x, shpI(shpDims(0)))
	if !tensor.EqualShapes(got.Shape, []int{3, 2}) {
		t.Errorf("Squeeze with empty axes: got %v", got)
	}
	shpErr(t, "not 1", "Squeeze", 13, nil, x, shpI(shpDims(1), 1))

	y := shpIota(3, 4)
	for _, c := range []struct {
		axes []int64
		want []int
	}{
		{[]int64{0}, []int{1, 3, 4}},
		{[]int64{2}, []int{3, 4, 1}},
		{[]int64{-1}, []int{3, 4, 1}},
		{[]int64{0, 3}, []int{1, 3, 4, 1}},
		{[]int64{3, 0}, []int{1, 3, 4, 1}},
		{[]int64{1, 2, 4}, []int{3, 1, 1, 4, 1}},
	} {
		got := shpRun1(t, "Unsqueeze", 13, nil, y, shpI(shpDims(len(c.axes)), c.axes...))
		if !tensor.EqualShapes(got.Shape, c.want) || !shpSameData(got, y) {
			t.Errorf("Unsqueeze %v: got %v, want %v", c.axes, got, c.want)
		}
	}
	got = shpRun1(t, "Unsqueeze", 11, []*ir.Attribute{shpAIs("axes", 1)}, y)
	if !tensor.EqualShapes(got.Shape, []int{3, 1, 4}) {
		t.Errorf("Unsqueeze-11: got %v", got)
	}
	shpErr(t, "repeated", "Unsqueeze", 13, nil, y, shpI(shpDims(2), 1, 1))
	shpErr(t, "out of range", "Unsqueeze", 13, nil, y, shpI(shpDims(1), 3))
	got = shpRun1(t, "Unsqueeze", 13, nil, tensor.Scalar(true), shpI(shpDims(1), 0))
	shpEq(t, got, shpB(shpDims(1), true))
}

func TestExpand(t *testing.T) {
	x := shpF(shpDims(3, 1), 1, 2, 3)
	got := shpRun1(t, "Expand", 13, nil, x, shpI(shpDims(3), 2, 1, 4))
	shpEq(t, got, shpF(shpDims(2, 3, 4),
		1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
		1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3))
	// The shape may be smaller than the input's: broadcast both ways.
	got = shpRun1(t, "Expand", 13, nil, x, shpI(shpDims(1), 1))
	shpEq(t, got, x)
	s := shpRun1(t, "Expand", 13, nil, shpS(shpDims(1), "a"), shpI(shpDims(2), 2, 2))
	shpEq(t, s, shpS(shpDims(2, 2), "a", "a", "a", "a"))
	shpErr(t, "cannot broadcast", "Expand", 13, nil, x, shpI(shpDims(2), 2, 1))
	got = shpRun1(t, "Expand", 13, nil, x, shpI(shpDims(1), 2))
	shpEq(t, got, shpF(shpDims(3, 2), 1, 1, 2, 2, 3, 3))
}

func TestIdentity(t *testing.T) {
	x := shpS(shpDims(2), "a", "b")
	got := shpRun1(t, "Identity", 14, nil, x)
	shpEq(t, got, x)
	if !shpSameData(got, x) {
		t.Error("Identity copied the data")
	}
	k, err := shpBuild("Identity", 16, nil, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	seq := &tensor.Sequence{ElemType: tensor.Float32}
	out, err := k.(ValueKernel).RunValues(&Context{}, []any{seq})
	if err != nil || out[0] != seq {
		t.Fatalf("Identity of a sequence: %v %v", out, err)
	}
}

func TestConstantOfShape(t *testing.T) {
	got := shpRun1(t, "ConstantOfShape", 9, nil, shpI(shpDims(2), 2, 2))
	shpEq(t, got, shpF(shpDims(2, 2), 0, 0, 0, 0))
	got = shpRun1(t, "ConstantOfShape", 9, []*ir.Attribute{shpAT("value", shpI(shpDims(1), 7))}, shpI(shpDims(2), 1, 3))
	shpEq(t, got, shpI(shpDims(1, 3), 7, 7, 7))
	got = shpRun1(t, "ConstantOfShape", 20, []*ir.Attribute{shpAT("value", shpB(shpDims(1), true))}, shpI(shpDims(0)))
	shpEq(t, got, tensor.Scalar(true))
	got = shpRun1(t, "ConstantOfShape", 9, nil, shpI(shpDims(2), 0, 3))
	shpEq(t, got, shpF(shpDims(0, 3)))
	shpErr(t, "invalid dimension", "ConstantOfShape", 9, nil, shpI(shpDims(1), -1))
}

func TestConstant(t *testing.T) {
	v := shpF(shpDims(2), 1.5, 2.5)
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{shpAT("value", v)}), v)
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{shpAF("value_float", 3)}), tensor.Scalar(float32(3)))
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{{Name: "value_floats", Type: ir.AttrFloats, Floats: []float32{1, 2}}}), shpF(shpDims(2), 1, 2))
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{shpAI("value_int", -4)}), tensor.Scalar(int64(-4)))
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{shpAIs("value_ints", 1, 2, 3)}), shpI(shpDims(3), 1, 2, 3))
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{shpAS("value_string", "hi")}), tensor.Scalar("hi"))
	shpEq(t, shpRun1(t, "Constant", 13, []*ir.Attribute{{Name: "value_strings", Type: ir.AttrStrings, Strings: [][]byte{[]byte("a"), []byte("b")}}}), shpS(shpDims(2), "a", "b"))
	if _, err := shpBuild("Constant", 13, nil, 0, 1); err == nil {
		t.Error("Constant without a value built")
	}
	if _, err := shpBuild("Constant", 13, []*ir.Attribute{shpAI("value_int", 1), shpAF("value_float", 1)}, 0, 1); err == nil {
		t.Error("Constant with two values built")
	}
	if _, err := shpBuild("Constant", 13, []*ir.Attribute{{Name: "sparse_value", Type: ir.AttrSparse}}, 0, 1); err == nil {
		t.Error("Constant with a sparse value built")
	}
}

func TestEyeLike(t *testing.T) {
	x := tensor.New(tensor.Int32, 3, 4)
	shpEq(t, shpRun1(t, "EyeLike", 9, nil, x), shpI32(shpDims(3, 4), 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0))
	got := shpRun1(t, "EyeLike", 9, []*ir.Attribute{shpAI("k", 1), shpAI("dtype", int64(tensor.Float32))}, x)
	shpEq(t, got, shpF(shpDims(3, 4), 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1))
	got = shpRun1(t, "EyeLike", 9, []*ir.Attribute{shpAI("k", -2), shpAI("dtype", int64(tensor.Bool))}, x)
	shpEq(t, got, shpB(shpDims(3, 4), false, false, false, false, false, false, false, false, true, false, false, false))
	shpErr(t, "rank 2", "EyeLike", 9, nil, tensor.New(tensor.Int32, 3))
}

func TestRange(t *testing.T) {
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(int32(10)), tensor.Scalar(int32(6)), tensor.Scalar(int32(-3))),
		shpI32(shpDims(2), 10, 7))
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(float32(1)), tensor.Scalar(float32(5)), tensor.Scalar(float32(2))),
		shpF(shpDims(2), 1, 3))
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(float32(1)), tensor.Scalar(float32(5.5)), tensor.Scalar(float32(1.5))),
		shpF(shpDims(3), 1, 2.5, 4))
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(int64(3)), tensor.Scalar(int64(3)), tensor.Scalar(int64(1))),
		shpI(shpDims(0)))
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(int64(0)), tensor.Scalar(int64(5)), tensor.Scalar(int64(-1))),
		shpI(shpDims(0)))
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(int16(-3)), tensor.Scalar(int16(4)), tensor.Scalar(int16(3))),
		tensor.FromSlice([]int16{-3, 0, 3}, 3))
	shpEq(t, shpRun1(t, "Range", 11, nil, tensor.Scalar(float64(0)), tensor.Scalar(float64(-1)), tensor.Scalar(float64(-0.25))),
		tensor.FromSlice([]float64{0, -0.25, -0.5, -0.75}, 4))
	shpErr(t, "delta is 0", "Range", 11, nil, tensor.Scalar(int64(0)), tensor.Scalar(int64(5)), tensor.Scalar(int64(0)))
	shpErr(t, "like start", "Range", 11, nil, tensor.Scalar(int64(0)), tensor.Scalar(int32(5)), tensor.Scalar(int64(1)))
}
