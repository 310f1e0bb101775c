package kernels

import (
	"reflect"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Unit tests of the sequence and optional kernels (If, Loop, Scan and
// SequenceMap need the engine's subgraphs: see engine/controlflow_test.go).

func ctlBuild(t *testing.T, op string, nin int, attrs ...*ir.Attribute) ValueKernel {
	t.Helper()
	k, err := ctlTryBuild(op, nin, attrs...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return k
}

func ctlTryBuild(op string, nin int, attrs ...*ir.Attribute) (ValueKernel, error) {
	n := &ir.Node{Name: "n", OpType: op, Outputs: []string{"y"}, Attrs: attrs}
	for i := range nin {
		n.Inputs = append(n.Inputs, string(rune('a'+i)))
	}
	k, err := Default.Build(&Build{Node: n, Opset: 18, InputTypes: make([]ir.Type, nin), OutputTypes: make([]ir.Type, 1)})
	if err != nil {
		return nil, err
	}
	return k.(ValueKernel), nil
}

func ctlRun1(t *testing.T, k ValueKernel, in ...any) any {
	t.Helper()
	out, err := k.RunValues(&Context{}, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("got %d outputs, want 1", len(out))
	}
	return out[0]
}

func ctlRunErr(t *testing.T, k ValueKernel, want string, in ...any) {
	t.Helper()
	_, err := k.RunValues(&Context{}, in)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got error %v, want one containing %q", err, want)
	}
}

func ctlWantT(t *testing.T, got any, want *tensor.Tensor) {
	t.Helper()
	g, ok := got.(*tensor.Tensor)
	if !ok {
		t.Fatalf("got %T, want a tensor", got)
	}
	if g.DType != want.DType || len(g.Shape) != len(want.Shape) || (len(g.Shape) > 0 && !reflect.DeepEqual(g.Shape, want.Shape)) {
		t.Fatalf("got %v, want %v", g, want)
	}
	if g.Len() == 0 && want.Len() == 0 {
		return
	}
	if !reflect.DeepEqual(g.Data, want.Data) {
		t.Fatalf("got %v %v, want %v", g, g.Data, want.Data)
	}
}

func ctlWantSeq(t *testing.T, got any, dt tensor.DType, want ...*tensor.Tensor) {
	t.Helper()
	s, ok := got.(*tensor.Sequence)
	if !ok {
		t.Fatalf("got %T, want a sequence", got)
	}
	if s.ElemType != dt {
		t.Fatalf("got element type %v, want %v", s.ElemType, dt)
	}
	if len(s.Tensors) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(s.Tensors), len(want))
	}
	for i := range want {
		ctlWantT(t, s.Tensors[i], want[i])
	}
}

func ctlI(v ...int64) *tensor.Tensor   { return tensor.FromSlice(v, len(v)) }
func ctlF(v ...float32) *tensor.Tensor { return tensor.FromSlice(v, len(v)) }

func ctlSeq3() *tensor.Sequence {
	return &tensor.Sequence{ElemType: tensor.Int64, Tensors: []*tensor.Tensor{ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9)}}
}

func TestSequenceEmpty(t *testing.T) {
	ctlWantSeq(t, ctlRun1(t, ctlBuild(t, "SequenceEmpty", 0)), tensor.Float32)
	ctlWantSeq(t, ctlRun1(t, ctlBuild(t, "SequenceEmpty", 0, &ir.Attribute{Name: "dtype", Type: ir.AttrInt, I: 7})), tensor.Int64)
	if _, err := ctlTryBuild("SequenceEmpty", 0, &ir.Attribute{Name: "dtype", Type: ir.AttrInt, I: 99}); err == nil {
		t.Fatal("dtype 99 accepted")
	}
}

func TestSequenceConstruct(t *testing.T) {
	k := ctlBuild(t, "SequenceConstruct", 2)
	ctlWantSeq(t, ctlRun1(t, k, ctlI(1), ctlI(2, 3)), tensor.Int64, ctlI(1), ctlI(2, 3))
	ctlRunErr(t, k, "same element type", ctlI(1), ctlF(2))
}

func TestSequenceInsert(t *testing.T) {
	k := ctlBuild(t, "SequenceInsert", 3)
	s := ctlSeq3()
	x := ctlI(10, 11, 12)
	// At the back (position omitted), as ONNX's sequence_insert_at_back.
	ctlWantSeq(t, ctlRun1(t, k, s, x, nil), tensor.Int64, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9), x)
	// At the front, as ONNX's sequence_insert_at_front.
	ctlWantSeq(t, ctlRun1(t, k, s, x, tensor.FromSlice([]int64{0}, 1)), tensor.Int64, x, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9))
	// -1 inserts before the last; n (3) appends; int32 positions work.
	ctlWantSeq(t, ctlRun1(t, k, s, x, tensor.Scalar[int64](-1)), tensor.Int64, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), x, ctlI(8, 9))
	ctlWantSeq(t, ctlRun1(t, k, s, x, tensor.Scalar[int32](3)), tensor.Int64, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9), x)
	ctlWantSeq(t, ctlRun1(t, k, s, x, tensor.Scalar[int64](-3)), tensor.Int64, x, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9))
	ctlRunErr(t, k, "out of range", s, x, tensor.Scalar[int64](4))
	ctlRunErr(t, k, "out of range", s, x, tensor.Scalar[int64](-4))
	ctlRunErr(t, k, "cannot insert", s, ctlF(1), nil)
	ctlRunErr(t, k, "want a sequence", x, x, nil)
	// The input sequence is unchanged.
	ctlWantSeq(t, s, tensor.Int64, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9))
	// Into an empty sequence.
	ctlWantSeq(t, ctlRun1(t, k, &tensor.Sequence{ElemType: tensor.Int64}, x, nil), tensor.Int64, x)
}

func TestSequenceAt(t *testing.T) {
	k := ctlBuild(t, "SequenceAt", 2)
	s := ctlSeq3()
	ctlWantT(t, ctlRun1(t, k, s, tensor.Scalar[int64](1)), ctlI(5, 6, 7))
	ctlWantT(t, ctlRun1(t, k, s, tensor.Scalar[int32](-1)), ctlI(8, 9))
	ctlWantT(t, ctlRun1(t, k, s, tensor.Scalar[int64](-3)), ctlI(1, 2, 3, 4))
	ctlRunErr(t, k, "out of range", s, tensor.Scalar[int64](3))
	ctlRunErr(t, k, "out of range", s, tensor.Scalar[int64](-4))
	ctlRunErr(t, k, "int32 or int64", s, tensor.Scalar[float32](0))
	ctlRunErr(t, k, "missing", s, nil)
}

func TestSequenceErase(t *testing.T) {
	k := ctlBuild(t, "SequenceErase", 2)
	s := ctlSeq3()
	ctlWantSeq(t, ctlRun1(t, k, s, nil), tensor.Int64, ctlI(1, 2, 3, 4), ctlI(5, 6, 7))
	ctlWantSeq(t, ctlRun1(t, k, s, tensor.Scalar[int64](0)), tensor.Int64, ctlI(5, 6, 7), ctlI(8, 9))
	ctlWantSeq(t, ctlRun1(t, k, s, tensor.Scalar[int64](-2)), tensor.Int64, ctlI(1, 2, 3, 4), ctlI(8, 9))
	ctlRunErr(t, k, "out of range", s, tensor.Scalar[int64](3))
	ctlRunErr(t, k, "empty", &tensor.Sequence{ElemType: tensor.Int64}, nil)
	ctlWantSeq(t, s, tensor.Int64, ctlI(1, 2, 3, 4), ctlI(5, 6, 7), ctlI(8, 9))
}

func TestSequenceLength(t *testing.T) {
	k := ctlBuild(t, "SequenceLength", 1)
	ctlWantT(t, ctlRun1(t, k, ctlSeq3()), tensor.Scalar[int64](3))
	ctlWantT(t, ctlRun1(t, k, &tensor.Sequence{ElemType: tensor.Float32}), tensor.Scalar[int64](0))
}

func TestConcatFromSequence(t *testing.T) {
	a := tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	b := tensor.FromSlice([]float32{5, 6}, 2, 1)
	c := tensor.FromSlice([]float32{7, 8, 9, 10}, 2, 2)
	seq := func(ts ...*tensor.Tensor) *tensor.Sequence {
		return &tensor.Sequence{ElemType: tensor.Float32, Tensors: ts}
	}
	axis := func(v int64) *ir.Attribute { return &ir.Attribute{Name: "axis", Type: ir.AttrInt, I: v} }
	newAxis := &ir.Attribute{Name: "new_axis", Type: ir.AttrInt, I: 1}

	k := ctlBuild(t, "ConcatFromSequence", 1, axis(1))
	ctlWantT(t, ctlRun1(t, k, seq(a, b, c)), tensor.FromSlice([]float32{1, 2, 5, 7, 8, 3, 4, 6, 9, 10}, 2, 5))
	ctlRunErr(t, k, "empty", seq())
	k = ctlBuild(t, "ConcatFromSequence", 1, axis(-2))
	ctlWantT(t, ctlRun1(t, k, seq(a, c)), tensor.FromSlice([]float32{1, 2, 3, 4, 7, 8, 9, 10}, 4, 2))
	ctlRunErr(t, k, "may differ only on axis 0", seq(a, b))
	// Stacking: axis 0 → [2,2,2]; axis 2 (= rank, allowed with new_axis) → [2,2,2] interleaved.
	k = ctlBuild(t, "ConcatFromSequence", 1, axis(0), newAxis)
	ctlWantT(t, ctlRun1(t, k, seq(a, c)), tensor.FromSlice([]float32{1, 2, 3, 4, 7, 8, 9, 10}, 2, 2, 2))
	k = ctlBuild(t, "ConcatFromSequence", 1, axis(2), newAxis)
	ctlWantT(t, ctlRun1(t, k, seq(a, c)), tensor.FromSlice([]float32{1, 7, 2, 8, 3, 9, 4, 10}, 2, 2, 2))
	k = ctlBuild(t, "ConcatFromSequence", 1, axis(-1), newAxis)
	ctlWantT(t, ctlRun1(t, k, seq(a, c)), tensor.FromSlice([]float32{1, 7, 2, 8, 3, 9, 4, 10}, 2, 2, 2))
	ctlRunErr(t, k, "may differ only", seq(a, b))
	// Scalars stack into a vector.
	k = ctlBuild(t, "ConcatFromSequence", 1, axis(0), newAxis)
	ctlWantT(t, ctlRun1(t, k, seq(tensor.Scalar[float32](1), tensor.Scalar[float32](2))), ctlF(1, 2))
	k = ctlBuild(t, "ConcatFromSequence", 1, axis(2))
	ctlRunErr(t, k, "out of range", seq(a, c))
	if _, err := ctlTryBuild("ConcatFromSequence", 1); err == nil || !strings.Contains(err.Error(), "axis") {
		t.Fatalf("got %v, want a missing axis error", err)
	}
}

func TestSplitToSequence(t *testing.T) {
	x := tensor.FromSlice([]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2, 5)
	attr := func(name string, v int64) *ir.Attribute { return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v} }

	// Default: pieces of 1 along axis 0, kept or squeezed.
	k := ctlBuild(t, "SplitToSequence", 2)
	ctlWantSeq(t, ctlRun1(t, k, x, nil), tensor.Int64,
		tensor.FromSlice([]int64{1, 2, 3, 4, 5}, 1, 5), tensor.FromSlice([]int64{6, 7, 8, 9, 10}, 1, 5))
	k = ctlBuild(t, "SplitToSequence", 2, attr("keepdims", 0))
	ctlWantSeq(t, ctlRun1(t, k, x, nil), tensor.Int64, ctlI(1, 2, 3, 4, 5), ctlI(6, 7, 8, 9, 10))

	// Scalar split 2 along axis 1 (5 wide): 2, 2, 1; keepdims is ignored.
	k = ctlBuild(t, "SplitToSequence", 2, attr("axis", 1), attr("keepdims", 0))
	ctlWantSeq(t, ctlRun1(t, k, x, tensor.Scalar[int64](2)), tensor.Int64,
		tensor.FromSlice([]int64{1, 2, 6, 7}, 2, 2), tensor.FromSlice([]int64{3, 4, 8, 9}, 2, 2), tensor.FromSlice([]int64{5, 10}, 2, 1))
	// 1-D split [1, 0, 4] along axis -1.
	k = ctlBuild(t, "SplitToSequence", 2, attr("axis", -1))
	ctlWantSeq(t, ctlRun1(t, k, x, tensor.FromSlice([]int32{1, 0, 4}, 3)), tensor.Int64,
		tensor.FromSlice([]int64{1, 6}, 2, 1), tensor.FromSlice([]int64{}, 2, 0), tensor.FromSlice([]int64{2, 3, 4, 5, 7, 8, 9, 10}, 2, 4))
	ctlRunErr(t, k, "sums to", x, tensor.FromSlice([]int64{1, 2}, 2))
	ctlRunErr(t, k, "positive", x, tensor.Scalar[int64](0))
	ctlRunErr(t, k, "scalar or 1-D", x, tensor.FromSlice([]int64{5}, 1, 1))
	k = ctlBuild(t, "SplitToSequence", 2, attr("axis", 2))
	ctlRunErr(t, k, "out of range", x, nil)
}

func TestOptional(t *testing.T) {
	typ := &ir.Attribute{Name: "type", Type: ir.AttrTypeProto, TP: &ir.Type{Kind: ir.TensorKind, DType: tensor.Float32}}
	k := ctlBuild(t, "Optional", 1)
	x := ctlF(1, 2)
	o, ok := ctlRun1(t, k, x).(*tensor.Optional)
	if !ok || o.Value != any(x) {
		t.Fatalf("got %#v, want an optional holding x", o)
	}
	s := ctlSeq3()
	if o := ctlRun1(t, k, s).(*tensor.Optional); o.Value != any(s) {
		t.Fatalf("got %#v, want an optional holding the sequence", o)
	}
	k = ctlBuild(t, "Optional", 0, typ)
	if o := ctlRun1(t, k).(*tensor.Optional); o.Value != nil {
		t.Fatalf("got %#v, want an empty optional", o)
	}
	if _, err := ctlTryBuild("Optional", 0); err == nil || !strings.Contains(err.Error(), "type") {
		t.Fatalf("got %v, want an error about the missing type", err)
	}

	has := ctlBuild(t, "OptionalHasElement", 1)
	ctlWantT(t, ctlRun1(t, has, &tensor.Optional{Value: x}), tensor.Scalar(true))
	ctlWantT(t, ctlRun1(t, has, &tensor.Optional{}), tensor.Scalar(false))
	ctlWantT(t, ctlRun1(t, has, x), tensor.Scalar(true))
	ctlWantT(t, ctlRun1(t, has, s), tensor.Scalar(true))
	ctlWantT(t, ctlRun1(t, has, nil), tensor.Scalar(false))

	get := ctlBuild(t, "OptionalGetElement", 1)
	if v := ctlRun1(t, get, &tensor.Optional{Value: s}); v != any(s) {
		t.Fatalf("got %v, want the sequence", v)
	}
	if v := ctlRun1(t, get, x); v != any(x) {
		t.Fatalf("got %v, want the tensor", v)
	}
	ctlRunErr(t, get, "empty optional", &tensor.Optional{})
	ctlRunErr(t, get, "missing", nil)
}
