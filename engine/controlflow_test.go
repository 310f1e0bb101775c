package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/tensor"
)

// These tests build graphs by hand and run the control-flow, sequence and
// optional kernels through the engine. The simple ops the bodies need are
// test-only kernels under Test* names in a private registry, which hands
// every other op to kernels.Default.

func cfRegistry() *kernels.Registry {
	r := kernels.NewRegistry()
	for _, op := range []string{"If", "Loop", "Scan", "SequenceEmpty", "SequenceConstruct", "SequenceInsert",
		"SequenceAt", "SequenceErase", "SequenceLength", "ConcatFromSequence", "SplitToSequence", "SequenceMap",
		"Optional", "OptionalHasElement", "OptionalGetElement", "Identity"} {
		r.Register(kernels.Spec{Op: op, New: kernels.Default.Build})
	}
	r.Register(kernels.Spec{Op: "TestAdd", New: func(b *kernels.Build) (any, error) {
		return kernels.KernelFunc(func(c *kernels.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			a, bb := in[0], in[1]
			if a.DType != bb.DType {
				return nil, fmt.Errorf("TestAdd: %v + %v", a, bb)
			}
			shape, err := kernels.BroadcastShapes(a.Shape, bb.Shape)
			if err != nil {
				return nil, err
			}
			out := c.Alloc(a.DType, shape...)
			switch x := a.Data.(type) {
			case []float32:
				kernels.Binary(x, a.Shape, bb.Data.([]float32), bb.Shape, out.Data.([]float32), shape, func(p, q float32) float32 { return p + q })
			case []int64:
				kernels.Binary(x, a.Shape, bb.Data.([]int64), bb.Shape, out.Data.([]int64), shape, func(p, q int64) int64 { return p + q })
			default:
				return nil, fmt.Errorf("TestAdd: %v", a)
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	}})
	r.Register(kernels.Spec{Op: "TestLess", New: func(b *kernels.Build) (any, error) {
		return kernels.KernelFunc(func(c *kernels.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			a, bb := in[0], in[1]
			shape, err := kernels.BroadcastShapes(a.Shape, bb.Shape)
			if err != nil {
				return nil, err
			}
			out := c.Alloc(tensor.Bool, shape...)
			switch x := a.Data.(type) {
			case []float32:
				kernels.Binary(x, a.Shape, bb.Data.([]float32), bb.Shape, out.Data.([]bool), shape, func(p, q float32) bool { return p < q })
			case []int64:
				kernels.Binary(x, a.Shape, bb.Data.([]int64), bb.Shape, out.Data.([]bool), shape, func(p, q int64) bool { return p < q })
			default:
				return nil, fmt.Errorf("TestLess: %v", a)
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	}})
	r.Register(kernels.Spec{Op: "TestIdentity", New: func(b *kernels.Build) (any, error) {
		return cfValueFunc(func(c *kernels.Context, in []any) ([]any, error) { return []any{in[0]}, nil }), nil
	}})
	r.Register(kernels.Spec{Op: "TestConst", New: func(b *kernels.Build) (any, error) {
		v := b.Attrs().Tensor("value")
		if v == nil {
			return nil, errors.New("TestConst needs value")
		}
		return kernels.KernelFunc(func(c *kernels.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return []*tensor.Tensor{v}, nil
		}), nil
	}})
	r.Register(kernels.Spec{Op: "TestShape", New: func(b *kernels.Build) (any, error) {
		return kernels.KernelFunc(func(c *kernels.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			s := make([]int64, len(in[0].Shape))
			for i, d := range in[0].Shape {
				s[i] = int64(d)
			}
			return []*tensor.Tensor{tensor.FromSlice(s, len(s))}, nil
		}), nil
	}})
	return r
}

type cfValueFunc func(c *kernels.Context, in []any) ([]any, error)

func (f cfValueFunc) RunValues(c *kernels.Context, in []any) ([]any, error) { return f(c, in) }

// ---- graph building helpers ----

func nd(op string, ins, outs []string, attrs ...*ir.Attribute) *ir.Node {
	return &ir.Node{Name: op + "_" + strings.Join(outs, "_"), OpType: op, Inputs: ins, Outputs: outs, Attrs: attrs}
}

func ins(names ...string) []string { return names }

func gAttr(name string, g *ir.Graph) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrGraph, G: g}
}

func iAttr(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func isAttr(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func tAttr(name string, t *tensor.Tensor) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrTensor, T: t}
}

func tv(name string, dt tensor.DType, dims ...int) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: ir.TensorType(dt, ir.ShapeOf(dims...))}
}

func anyv(name string) *ir.ValueInfo { return &ir.ValueInfo{Name: name} }

func seqv(name string, dt tensor.DType) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: ir.Type{Kind: ir.SequenceKind, Elem: &ir.Type{Kind: ir.TensorKind, DType: dt}}}
}

func optv(name string) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: ir.Type{Kind: ir.OptionalKind}}
}

func model(g *ir.Graph, opset int64) *ir.Model {
	return &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Domain: "", Version: opset}}, Graph: g}
}

func runModel(t *testing.T, g *ir.Graph, opset int64, inputs map[string]any) map[string]any {
	t.Helper()
	out, err := runModelErr(context.Background(), g, opset, inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runModelErr(ctx context.Context, g *ir.Graph, opset int64, inputs map[string]any) (map[string]any, error) {
	s, err := engine.Compile(model(g, opset), engine.Options{Threads: 2, Registry: cfRegistry()})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.RunValues(ctx, inputs)
}

func wantTensor(t *testing.T, name string, got any, want *tensor.Tensor) {
	t.Helper()
	g, ok := got.(*tensor.Tensor)
	if !ok {
		t.Fatalf("%s: got %T, want a tensor", name, got)
	}
	if g.DType != want.DType || !reflect.DeepEqual(g.Shape, want.Shape) && !(len(g.Shape) == 0 && len(want.Shape) == 0) {
		t.Fatalf("%s: got %v, want %v", name, g, want)
	}
	if tensor.SliceLen(g.Data) == 0 && tensor.SliceLen(want.Data) == 0 && reflect.TypeOf(g.Data) == reflect.TypeOf(want.Data) {
		return
	}
	if !reflect.DeepEqual(g.Data, want.Data) {
		t.Fatalf("%s: got data %v, want %v", name, g.Data, want.Data)
	}
}

func wantSeq(t *testing.T, name string, got any, want ...*tensor.Tensor) {
	t.Helper()
	s, ok := got.(*tensor.Sequence)
	if !ok {
		t.Fatalf("%s: got %T, want a sequence", name, got)
	}
	if len(s.Tensors) != len(want) {
		t.Fatalf("%s: got %d tensors, want %d", name, len(s.Tensors), len(want))
	}
	for i := range want {
		wantTensor(t, fmt.Sprintf("%s[%d]", name, i), s.Tensors[i], want[i])
	}
}

func f32(v ...float32) []float32 { return v }
func i64(v ...int64) []int64     { return v }

// ---- If ----

func TestIfBranchesCaptureOuterValues(t *testing.T) {
	// then: x + 1 (x captured from the main graph); else: a [2,2]
	// constant (a different shape); a third If returns x itself.
	then := &ir.Graph{Name: "then",
		Nodes: []*ir.Node{
			nd("TestConst", nil, ins("one"), tAttr("value", tensor.Scalar[float32](1))),
			nd("TestAdd", ins("x", "one"), ins("then_out")),
		},
		Outputs: []*ir.ValueInfo{anyv("then_out")},
	}
	els := &ir.Graph{Name: "else",
		Nodes:   []*ir.Node{nd("TestConst", nil, ins("else_out"), tAttr("value", tensor.FromSlice(f32(7, 8, 9, 10), 2, 2)))},
		Outputs: []*ir.ValueInfo{anyv("else_out")},
	}
	passX := &ir.Graph{Name: "pass", Outputs: []*ir.ValueInfo{anyv("x")}}
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{tv("cond", tensor.Bool), tv("x", tensor.Float32, 3)},
		Nodes: []*ir.Node{
			nd("If", ins("cond"), ins("res"), gAttr("then_branch", then), gAttr("else_branch", els)),
			nd("If", ins("cond"), ins("res2"), gAttr("then_branch", passX), gAttr("else_branch", passX)),
		},
		Outputs: []*ir.ValueInfo{anyv("res"), anyv("res2")},
	}
	x := tensor.FromSlice(f32(1, 2, 3), 3)
	out := runModel(t, g, 13, map[string]any{"cond": tensor.Scalar(true), "x": x})
	wantTensor(t, "res", out["res"], tensor.FromSlice(f32(2, 3, 4), 3))
	wantTensor(t, "res2", out["res2"], x)
	out = runModel(t, g, 13, map[string]any{"cond": tensor.Scalar(false), "x": x})
	wantTensor(t, "res", out["res"], tensor.FromSlice(f32(7, 8, 9, 10), 2, 2))
}

func TestIfSequenceAndOptionalOutputs(t *testing.T) {
	// then: an empty optional; else: optional(sequence(x)).
	then := &ir.Graph{Name: "then",
		Nodes: []*ir.Node{nd("Optional", nil, ins("empty"), &ir.Attribute{Name: "type", Type: ir.AttrTypeProto,
			TP: &ir.Type{Kind: ir.SequenceKind, Elem: &ir.Type{Kind: ir.TensorKind, DType: tensor.Float32}}})},
		Outputs: []*ir.ValueInfo{optv("empty")},
	}
	els := &ir.Graph{Name: "else",
		Nodes: []*ir.Node{
			nd("SequenceConstruct", ins("x"), ins("seq")),
			nd("Optional", ins("seq"), ins("opt")),
		},
		Outputs: []*ir.ValueInfo{optv("opt")},
	}
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{tv("cond", tensor.Bool), tv("x", tensor.Float32, 2)},
		Nodes: []*ir.Node{
			nd("If", ins("cond"), ins("res"), gAttr("then_branch", then), gAttr("else_branch", els)),
			nd("OptionalHasElement", ins("res"), ins("has")),
		},
		Outputs: []*ir.ValueInfo{optv("res"), tv("has", tensor.Bool)},
	}
	x := tensor.FromSlice(f32(5, 6), 2)
	out := runModel(t, g, 16, map[string]any{"cond": tensor.Scalar(true), "x": x})
	if o, ok := out["res"].(*tensor.Optional); !ok || o.Value != nil {
		t.Fatalf("then: got %#v, want an empty optional", out["res"])
	}
	wantTensor(t, "has", out["has"], tensor.Scalar(false))
	out = runModel(t, g, 16, map[string]any{"cond": tensor.Scalar(false), "x": x})
	o, ok := out["res"].(*tensor.Optional)
	if !ok || o.Value == nil {
		t.Fatalf("else: got %#v, want a non-empty optional", out["res"])
	}
	wantSeq(t, "res", o.Value, x)
	wantTensor(t, "has", out["has"], tensor.Scalar(true))
}

func TestIfRejectsBadCondition(t *testing.T) {
	br := &ir.Graph{Name: "b", Outputs: []*ir.ValueInfo{anyv("x")}}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{anyv("cond"), tv("x", tensor.Float32, 1)},
		Nodes:   []*ir.Node{nd("If", ins("cond"), ins("res"), gAttr("then_branch", br), gAttr("else_branch", br))},
		Outputs: []*ir.ValueInfo{anyv("res")},
	}
	_, err := runModelErr(context.Background(), g, 13, map[string]any{"cond": tensor.FromSlice(f32(1), 1), "x": tensor.FromSlice(f32(1), 1)})
	if err == nil || !strings.Contains(err.Error(), "want bool") {
		t.Fatalf("got %v, want an error about a non-bool condition", err)
	}
	// A branch missing is a compile-time error.
	g.Nodes[0].Attrs = g.Nodes[0].Attrs[:1]
	if _, err := engine.Compile(model(g, 13), engine.Options{Registry: cfRegistry()}); err == nil || !strings.Contains(err.Error(), "else_branch") {
		t.Fatalf("got %v, want an error naming else_branch", err)
	}
}

// ---- Loop ----

// loopSumBody: y_out = y_in + i; scan = y_out; cond_out = y_out < limit
// (or cond_in passed through when limit is nil).
func loopSumBody(limit *tensor.Tensor) *ir.Graph {
	b := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{tv("i", tensor.Int64), tv("cond_in", tensor.Bool), tv("y_in", tensor.Int64)},
		Nodes: []*ir.Node{
			nd("TestAdd", ins("y_in", "i"), ins("y_out")),
			nd("TestIdentity", ins("y_out"), ins("scan")),
		},
		Outputs: []*ir.ValueInfo{tv("cond_out", tensor.Bool), tv("y_out", tensor.Int64), tv("scan", tensor.Int64)},
	}
	if limit == nil {
		b.Nodes = append(b.Nodes, nd("TestIdentity", ins("cond_in"), ins("cond_out")))
	} else {
		b.Nodes = append(b.Nodes, nd("TestConst", nil, ins("limit"), tAttr("value", limit)),
			nd("TestLess", ins("y_out", "limit"), ins("cond_out")))
	}
	return b
}

func loopGraph(body *ir.Graph, m, cond string) *ir.Graph {
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{tv("y0", tensor.Int64)},
		Nodes:   []*ir.Node{nd("Loop", ins(m, cond, "y0"), ins("y", "scan_out"), gAttr("body", body))},
		Outputs: []*ir.ValueInfo{anyv("y"), anyv("scan_out")},
	}
	if m != "" {
		g.Inputs = append(g.Inputs, tv(m, tensor.Int64))
	}
	if cond != "" {
		g.Inputs = append(g.Inputs, tv(cond, tensor.Bool))
	}
	return g
}

func TestLoopTripCount(t *testing.T) {
	// y: 10 → 10+0=10 → 10+1=11 → 11+2=13 → 13+3=16.
	g := loopGraph(loopSumBody(nil), "M", "cond")
	out := runModel(t, g, 11, map[string]any{"y0": tensor.Scalar[int64](10), "M": tensor.Scalar[int64](4), "cond": tensor.Scalar(true)})
	wantTensor(t, "y", out["y"], tensor.Scalar[int64](16))
	wantTensor(t, "scan_out", out["scan_out"], tensor.FromSlice(i64(10, 11, 13, 16), 4))

	// cond false: no iteration; the scan output is empty with the body's
	// declared (scalar) shape after the new axis.
	out = runModel(t, g, 11, map[string]any{"y0": tensor.Scalar[int64](10), "M": tensor.Scalar[int64](4), "cond": tensor.Scalar(false)})
	wantTensor(t, "y", out["y"], tensor.Scalar[int64](10))
	wantTensor(t, "scan_out", out["scan_out"], tensor.FromSlice(i64(), 0))

	// The body leaves the scan output's type unknown: an empty scan takes
	// the element type declared for the Loop's output.
	body := loopSumBody(nil)
	body.Outputs[2] = anyv("scan")
	g2 := loopGraph(body, "M", "")
	g2.Outputs[1] = tv("scan_out", tensor.Int64, 0)
	out = runModel(t, g2, 11, map[string]any{"y0": tensor.Scalar[int64](10), "M": tensor.Scalar[int64](0)})
	wantTensor(t, "scan_out", out["scan_out"], tensor.FromSlice(i64(), 0))

	// M only (a for loop).
	g = loopGraph(loopSumBody(nil), "M", "")
	out = runModel(t, g, 11, map[string]any{"y0": tensor.Scalar[int64](1), "M": tensor.Scalar[int64](3)})
	wantTensor(t, "y", out["y"], tensor.Scalar[int64](4)) // 1, 2, 4
}

func TestLoopWhileCondition(t *testing.T) {
	// y: 0, 1, 3, 6, 10, 15, 21; the body's condition y < 20 turns false
	// at 21, after 7 iterations.
	want := tensor.FromSlice(i64(0, 1, 3, 6, 10, 15, 21), 7)
	for _, c := range []struct{ m, cond string }{{"", "cond"}, {"", ""}, {"M", ""}, {"M", "cond"}} {
		t.Run(c.m+"_"+c.cond, func(t *testing.T) {
			g := loopGraph(loopSumBody(tensor.Scalar[int64](20)), c.m, c.cond)
			in := map[string]any{"y0": tensor.Scalar[int64](0)}
			if c.m != "" {
				in["M"] = tensor.Scalar[int64](100)
			}
			if c.cond != "" {
				in["cond"] = tensor.Scalar(true)
			}
			out := runModel(t, g, 13, in)
			wantTensor(t, "y", out["y"], tensor.Scalar[int64](21))
			wantTensor(t, "scan_out", out["scan_out"], want)
		})
	}
	// The trip count still bounds a loop whose condition stays true.
	g := loopGraph(loopSumBody(tensor.Scalar[int64](20)), "M", "cond")
	out := runModel(t, g, 13, map[string]any{"y0": tensor.Scalar[int64](0), "M": tensor.Scalar[int64](3), "cond": tensor.Scalar(true)})
	wantTensor(t, "scan_out", out["scan_out"], tensor.FromSlice(i64(0, 1, 3), 3))
}

func TestLoopCancellation(t *testing.T) {
	// No trip count, a condition that stays true: only the context stops it.
	g := loopGraph(loopSumBody(nil), "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := runModelErr(ctx, g, 13, map[string]any{"y0": tensor.Scalar[int64](0)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's deadline error", err)
	}
}

func TestLoopScanOutputRank(t *testing.T) {
	// The scan output of a [2] value over 3 iterations is [3,2]; its
	// empty form (M = 0) is [0,2] from the declared body output shape.
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{tv("i", tensor.Int64), tv("c", tensor.Bool), tv("v_in", tensor.Float32, 2)},
		Nodes: []*ir.Node{
			nd("TestConst", nil, ins("inc"), tAttr("value", tensor.FromSlice(f32(1, 10), 2))),
			nd("TestAdd", ins("v_in", "inc"), ins("v_out")),
			nd("TestIdentity", ins("c"), ins("c_out")),
		},
		Outputs: []*ir.ValueInfo{tv("c_out", tensor.Bool), tv("v_out", tensor.Float32, 2), tv("v_out", tensor.Float32, 2)},
	}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{tv("M", tensor.Int64), tv("v0", tensor.Float32, 2)},
		Nodes:   []*ir.Node{nd("Loop", ins("M", "", "v0"), ins("v", "vs"), gAttr("body", body))},
		Outputs: []*ir.ValueInfo{anyv("v"), anyv("vs")},
	}
	v0 := tensor.FromSlice(f32(0, 0), 2)
	out := runModel(t, g, 13, map[string]any{"M": tensor.Scalar[int64](3), "v0": v0})
	wantTensor(t, "v", out["v"], tensor.FromSlice(f32(3, 30), 2))
	wantTensor(t, "vs", out["vs"], tensor.FromSlice(f32(1, 10, 2, 20, 3, 30), 3, 2))
	out = runModel(t, g, 13, map[string]any{"M": tensor.Scalar[int64](0), "v0": v0})
	wantTensor(t, "v", out["v"], v0)
	wantTensor(t, "vs", out["vs"], tensor.FromSlice(f32(), 0, 2))
}

func TestLoopNestedScopes(t *testing.T) {
	// main: a = base + base (only the Loop body's inner If reads it);
	// Loop body: acc_out = If(cond_in, then: acc_in + a, else: acc_in).
	// The If inside the body reads a from two scopes up and acc_in from
	// one scope up; a must stay alive in main's frame for the Loop.
	then := &ir.Graph{Name: "then",
		Nodes:   []*ir.Node{nd("TestAdd", ins("acc_in", "a"), ins("t_out"))},
		Outputs: []*ir.ValueInfo{anyv("t_out")},
	}
	els := &ir.Graph{Name: "else", Outputs: []*ir.ValueInfo{anyv("acc_in")}}
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{tv("i", tensor.Int64), tv("cond_in", tensor.Bool), tv("acc_in", tensor.Float32)},
		Nodes: []*ir.Node{
			nd("If", ins("cond_in"), ins("acc_out"), gAttr("then_branch", then), gAttr("else_branch", els)),
			nd("TestIdentity", ins("cond_in"), ins("cond_out")),
		},
		Outputs: []*ir.ValueInfo{anyv("cond_out"), anyv("acc_out")},
	}
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{tv("base", tensor.Float32), tv("M", tensor.Int64), tv("go", tensor.Bool)},
		Nodes: []*ir.Node{
			nd("TestAdd", ins("base", "base"), ins("a")),
			nd("TestConst", nil, ins("zero"), tAttr("value", tensor.Scalar[float32](0))),
			nd("Loop", ins("M", "go", "zero"), ins("acc"), gAttr("body", body)),
		},
		Outputs: []*ir.ValueInfo{anyv("acc")},
	}
	out := runModel(t, g, 13, map[string]any{"base": tensor.Scalar[float32](1.5), "M": tensor.Scalar[int64](4), "go": tensor.Scalar(true)})
	wantTensor(t, "acc", out["acc"], tensor.Scalar[float32](12))
}

func TestLoopSequenceCarried(t *testing.T) {
	// Like ONNX's loop13_seq: each iteration appends [i] to a sequence.
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{tv("i", tensor.Int64), tv("cond_in", tensor.Bool), seqv("seq_in", tensor.Int64)},
		Nodes: []*ir.Node{
			nd("TestIdentity", ins("cond_in"), ins("cond_out")),
			nd("SequenceInsert", ins("seq_in", "i"), ins("seq_out")),
		},
		Outputs: []*ir.ValueInfo{tv("cond_out", tensor.Bool), seqv("seq_out", tensor.Int64)},
	}
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{tv("M", tensor.Int64)},
		Nodes: []*ir.Node{
			nd("SequenceEmpty", nil, ins("empty"), iAttr("dtype", int64(tensor.Int64))),
			nd("Loop", ins("M", "", "empty"), ins("seq"), gAttr("body", body)),
			nd("ConcatFromSequence", ins("seq"), ins("cat"), iAttr("axis", 0), iAttr("new_axis", 1)),
		},
		Outputs: []*ir.ValueInfo{seqv("seq", tensor.Int64), anyv("cat")},
	}
	out := runModel(t, g, 13, map[string]any{"M": tensor.Scalar[int64](3)})
	wantSeq(t, "seq", out["seq"], tensor.Scalar[int64](0), tensor.Scalar[int64](1), tensor.Scalar[int64](2))
	wantTensor(t, "cat", out["cat"], tensor.FromSlice(i64(0, 1, 2), 3))
}

func TestLoopOptionalCarriedBecomesSequence(t *testing.T) {
	// Like ONNX's loop16_seq_none: the first iteration gets an empty
	// optional, later ones the sequence the body made.
	then := &ir.Graph{Name: "then",
		Nodes: []*ir.Node{
			nd("TestConst", nil, ins("zero"), tAttr("value", tensor.Scalar[int64](0))),
			nd("SequenceConstruct", ins("zero"), ins("init")),
		},
		Outputs: []*ir.ValueInfo{anyv("init")},
	}
	els := &ir.Graph{Name: "else",
		Nodes:   []*ir.Node{nd("OptionalGetElement", ins("opt_in"), ins("got"))},
		Outputs: []*ir.ValueInfo{anyv("got")},
	}
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{tv("i", tensor.Int64), tv("cond_in", tensor.Bool), optv("opt_in")},
		Nodes: []*ir.Node{
			nd("TestIdentity", ins("cond_in"), ins("cond_out")),
			nd("OptionalHasElement", ins("opt_in"), ins("has")),
			nd("If", ins("has"), ins("seq"), gAttr("then_branch", els), gAttr("else_branch", then)),
			nd("SequenceInsert", ins("seq", "i"), ins("seq_out")),
		},
		Outputs: []*ir.ValueInfo{tv("cond_out", tensor.Bool), anyv("seq_out")},
	}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{tv("M", tensor.Int64), optv("opt")},
		Nodes:   []*ir.Node{nd("Loop", ins("M", "", "opt"), ins("res"), gAttr("body", body))},
		Outputs: []*ir.ValueInfo{anyv("res")},
	}
	out := runModel(t, g, 16, map[string]any{"M": tensor.Scalar[int64](2), "opt": &tensor.Optional{}})
	wantSeq(t, "res", out["res"], tensor.Scalar[int64](0), tensor.Scalar[int64](0), tensor.Scalar[int64](1))
}

func TestLoopBodyErrors(t *testing.T) {
	// A body whose condition output is not a bool.
	body := loopSumBody(nil)
	body.Nodes[2] = nd("TestIdentity", ins("y_in"), ins("cond_out"))
	g := loopGraph(body, "M", "")
	_, err := runModelErr(context.Background(), g, 13, map[string]any{"y0": tensor.Scalar[int64](0), "M": tensor.Scalar[int64](2)})
	if err == nil || !strings.Contains(err.Error(), "condition") {
		t.Fatalf("got %v, want an error about the condition", err)
	}
	// A body with the wrong number of inputs fails at compile time.
	body = loopSumBody(nil)
	body.Inputs = body.Inputs[:2]
	body.Nodes = body.Nodes[2:]
	body.Outputs = body.Outputs[:1]
	if _, err := engine.Compile(model(loopGraph(body, "M", ""), 13), engine.Options{Registry: cfRegistry()}); err == nil || !strings.Contains(err.Error(), "inputs") {
		t.Fatalf("got %v, want an error about the body's inputs", err)
	}
}

// ---- Scan ----

func scanSumBody() *ir.Graph {
	return &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{tv("sum_in", tensor.Float32, 2), tv("next", tensor.Float32, 2)},
		Nodes: []*ir.Node{
			nd("TestAdd", ins("sum_in", "next"), ins("sum_out")),
			nd("TestIdentity", ins("sum_out"), ins("scan_out")),
		},
		Outputs: []*ir.ValueInfo{tv("sum_out", tensor.Float32, 2), tv("scan_out", tensor.Float32, 2)},
	}
}

func TestScan9(t *testing.T) {
	x := tensor.FromSlice(f32(1, 2, 3, 4, 5, 6), 3, 2)
	init := tensor.FromSlice(f32(0, 0), 2)
	for _, c := range []struct {
		name      string
		attrs     []*ir.Attribute
		x         *tensor.Tensor
		sum, scan *tensor.Tensor
	}{
		// Forward: sums (1,2), (4,6), (9,12).
		{"forward", nil, x, tensor.FromSlice(f32(9, 12), 2), tensor.FromSlice(f32(1, 2, 4, 6, 9, 12), 3, 2)},
		// Reverse input: (5,6), (8,10), (9,12).
		{"reverse_in", []*ir.Attribute{isAttr("scan_input_directions", 1)}, x,
			tensor.FromSlice(f32(9, 12), 2), tensor.FromSlice(f32(5, 6, 8, 10, 9, 12), 3, 2)},
		// Reverse output: forward sums prepended.
		{"reverse_out", []*ir.Attribute{isAttr("scan_output_directions", 1)}, x,
			tensor.FromSlice(f32(9, 12), 2), tensor.FromSlice(f32(9, 12, 4, 6, 1, 2), 3, 2)},
		// Output axis 1: [2,3], the transpose of forward.
		{"out_axis_1", []*ir.Attribute{isAttr("scan_output_axes", 1)}, x,
			tensor.FromSlice(f32(9, 12), 2), tensor.FromSlice(f32(1, 4, 9, 2, 6, 12), 2, 3)},
		{"out_axis_neg1", []*ir.Attribute{isAttr("scan_output_axes", -1)}, x,
			tensor.FromSlice(f32(9, 12), 2), tensor.FromSlice(f32(1, 4, 9, 2, 6, 12), 2, 3)},
		// Input axis 1 over x transposed ([2,3]): same as forward.
		{"in_axis_1", []*ir.Attribute{isAttr("scan_input_axes", 1)}, tensor.FromSlice(f32(1, 3, 5, 2, 4, 6), 2, 3),
			tensor.FromSlice(f32(9, 12), 2), tensor.FromSlice(f32(1, 2, 4, 6, 9, 12), 3, 2)},
		// Zero steps: the state passes through, the scan output is [0,2].
		{"empty", nil, tensor.FromSlice(f32(), 0, 2), init, tensor.FromSlice(f32(), 0, 2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			attrs := append([]*ir.Attribute{gAttr("body", scanSumBody()), iAttr("num_scan_inputs", 1)}, c.attrs...)
			g := &ir.Graph{Name: "main",
				Inputs:  []*ir.ValueInfo{anyv("init"), anyv("x")},
				Nodes:   []*ir.Node{nd("Scan", ins("init", "x"), ins("sum", "scan"), attrs...)},
				Outputs: []*ir.ValueInfo{anyv("sum"), anyv("scan")},
			}
			out := runModel(t, g, 11, map[string]any{"init": init, "x": c.x})
			wantTensor(t, "sum", out["sum"], c.sum)
			wantTensor(t, "scan", out["scan"], c.scan)
		})
	}
}

func TestScan9BadAttributes(t *testing.T) {
	for _, attrs := range [][]*ir.Attribute{
		{iAttr("num_scan_inputs", 0)},
		{iAttr("num_scan_inputs", 1), isAttr("scan_input_directions", 2)},
		{iAttr("num_scan_inputs", 1), isAttr("scan_output_axes", 0, 0)},
	} {
		g := &ir.Graph{Name: "main",
			Inputs:  []*ir.ValueInfo{anyv("init"), anyv("x")},
			Nodes:   []*ir.Node{nd("Scan", ins("init", "x"), ins("sum", "scan"), append(attrs, gAttr("body", scanSumBody()))...)},
			Outputs: []*ir.ValueInfo{anyv("sum"), anyv("scan")},
		}
		if _, err := engine.Compile(model(g, 11), engine.Options{Registry: cfRegistry()}); err == nil {
			t.Errorf("attributes %v: compiled, want an error", attrs[len(attrs)-1].Name)
		}
	}
}

func TestScan8(t *testing.T) {
	// Batch of 2, max sequence length 3; batch 1 has length 2 and scans
	// backward. Batch 0 sums (1,2),(3,4),(5,6) from init (0,0); batch 1
	// sums (9,10) then (7,8) from init (100,100).
	x := tensor.FromSlice(f32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), 2, 3, 2)
	init := tensor.FromSlice(f32(0, 0, 100, 100), 2, 2)
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{anyv("lens"), anyv("init"), anyv("x")},
		Nodes: []*ir.Node{nd("Scan", ins("lens", "init", "x"), ins("sum", "scan"),
			gAttr("body", scanSumBody()), iAttr("num_scan_inputs", 1))},
		Outputs: []*ir.ValueInfo{anyv("sum"), anyv("scan")},
	}
	out := runModel(t, g, 8, map[string]any{"lens": tensor.FromSlice(i64(3, 3), 2), "init": init, "x": x})
	wantTensor(t, "sum", out["sum"], tensor.FromSlice(f32(9, 12, 127, 130), 2, 2))
	wantTensor(t, "scan", out["scan"], tensor.FromSlice(f32(1, 2, 4, 6, 9, 12, 107, 108, 116, 118, 127, 130), 2, 3, 2))

	g.Nodes[0].Attrs = append(g.Nodes[0].Attrs, isAttr("directions", 1))
	out = runModel(t, g, 8, map[string]any{"lens": tensor.FromSlice(i64(3, 2), 2), "init": init, "x": x})
	// Batch 0 reversed: (5,6),(8,10),(9,12). Batch 1 over its 2 steps
	// reversed: (109,110),(116,118), then zero padding.
	wantTensor(t, "sum", out["sum"], tensor.FromSlice(f32(9, 12, 116, 118), 2, 2))
	wantTensor(t, "scan", out["scan"], tensor.FromSlice(f32(5, 6, 8, 10, 9, 12, 109, 110, 116, 118, 0, 0), 2, 3, 2))

	// Without sequence_lens.
	g.Nodes[0].Inputs[0] = ""
	g.Inputs = g.Inputs[1:]
	out = runModel(t, g, 8, map[string]any{"init": init, "x": x})
	wantTensor(t, "sum", out["sum"], tensor.FromSlice(f32(9, 12, 127, 130), 2, 2))
}

// ---- SequenceMap ----

func TestSequenceMap(t *testing.T) {
	// out0 = a + b (a from a sequence, b a broadcast tensor), out1 =
	// Shape(a + c) with c from a second sequence.
	body := &ir.Graph{Name: "body",
		Inputs: []*ir.ValueInfo{anyv("a"), anyv("b"), anyv("c")},
		Nodes: []*ir.Node{
			nd("TestAdd", ins("a", "b"), ins("o0")),
			nd("TestAdd", ins("a", "c"), ins("ac")),
			nd("TestShape", ins("ac"), ins("o1")),
		},
		Outputs: []*ir.ValueInfo{anyv("o0"), anyv("o1")},
	}
	g := &ir.Graph{Name: "main",
		Inputs:  []*ir.ValueInfo{seqv("s1", tensor.Float32), tv("b", tensor.Float32), seqv("s2", tensor.Float32)},
		Nodes:   []*ir.Node{nd("SequenceMap", ins("s1", "b", "s2"), ins("r0", "r1"), gAttr("body", body))},
		Outputs: []*ir.ValueInfo{anyv("r0"), anyv("r1")},
	}
	s1 := &tensor.Sequence{ElemType: tensor.Float32, Tensors: []*tensor.Tensor{
		tensor.FromSlice(f32(1, 2), 2), tensor.FromSlice(f32(3, 4, 5), 3)}}
	s2 := &tensor.Sequence{ElemType: tensor.Float32, Tensors: []*tensor.Tensor{
		tensor.FromSlice(f32(1), 1), tensor.FromSlice(f32(1, 1, 1, 1, 1, 1), 2, 3)}}
	out := runModel(t, g, 17, map[string]any{"s1": s1, "b": tensor.Scalar[float32](10), "s2": s2})
	wantSeq(t, "r0", out["r0"], tensor.FromSlice(f32(11, 12), 2), tensor.FromSlice(f32(13, 14, 15), 3))
	wantSeq(t, "r1", out["r1"], tensor.FromSlice(i64(2), 1), tensor.FromSlice(i64(2, 3), 2))

	// Mismatched sequence lengths.
	s2.Tensors = s2.Tensors[:1]
	_, err := runModelErr(context.Background(), g, 17, map[string]any{"s1": s1, "b": tensor.Scalar[float32](10), "s2": s2})
	if err == nil || !strings.Contains(err.Error(), "same length") {
		t.Fatalf("got %v, want a sequence length error", err)
	}

	// An empty input sequence gives empty outputs.
	out = runModel(t, g, 17, map[string]any{"s1": &tensor.Sequence{ElemType: tensor.Float32},
		"b": tensor.Scalar[float32](10), "s2": &tensor.Sequence{ElemType: tensor.Float32}})
	wantSeq(t, "r0", out["r0"])
	if s := out["r1"].(*tensor.Sequence); s.ElemType != tensor.Float32 {
		t.Fatalf("empty r1 has element type %v, want float32 (the fallback)", s.ElemType)
	}
	// With the node's output declared, its element type is used.
	g.Outputs[1] = seqv("r1", tensor.Int64)
	out = runModel(t, g, 17, map[string]any{"s1": &tensor.Sequence{ElemType: tensor.Float32},
		"b": tensor.Scalar[float32](10), "s2": &tensor.Sequence{ElemType: tensor.Float32}})
	if s := out["r1"].(*tensor.Sequence); s.ElemType != tensor.Int64 || len(s.Tensors) != 0 {
		t.Fatalf("empty r1: got %v with %d tensors, want an empty int64 sequence", s.ElemType, len(s.Tensors))
	}
}

// ---- Identity on sequences and optionals ----

func TestIdentityValues(t *testing.T) {
	g := &ir.Graph{Name: "main",
		Inputs: []*ir.ValueInfo{seqv("s", tensor.Float32), optv("o")},
		Nodes: []*ir.Node{
			nd("Identity", ins("s"), ins("s2")),
			nd("Identity", ins("o"), ins("o2")),
		},
		Outputs: []*ir.ValueInfo{anyv("s2"), anyv("o2")},
	}
	s := &tensor.Sequence{ElemType: tensor.Float32, Tensors: []*tensor.Tensor{tensor.FromSlice(f32(1), 1)}}
	o := &tensor.Optional{Value: tensor.Scalar[int64](4)}
	out := runModel(t, g, 16, map[string]any{"s": s, "o": o})
	if out["s2"] != any(s) || out["o2"] != any(o) {
		t.Fatalf("got %v %v, want the inputs back", out["s2"], out["o2"])
	}
}

func TestLoopConcurrentRuns(t *testing.T) {
	// One session, many goroutines: compiled bodies hold no run state.
	g := loopGraph(loopSumBody(tensor.Scalar[int64](1000)), "M", "cond")
	s, err := engine.Compile(model(g, 13), engine.Options{Threads: 2, Registry: cfRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			m := int64(w + 1)
			out, err := s.RunValues(context.Background(), map[string]any{"y0": tensor.Scalar[int64](0), "M": tensor.Scalar(m), "cond": tensor.Scalar(true)})
			if err == nil {
				// y after m iterations is 0+1+…+(m-1).
				if got := out["y"].(*tensor.Tensor).Data.([]int64)[0]; got != m*(m-1)/2 {
					err = fmt.Errorf("M=%d: y = %d, want %d", m, got, m*(m-1)/2)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
