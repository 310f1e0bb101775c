package ir_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// in sets n's domain.
func in(domain string, n *ir.Node) *ir.Node {
	n.Domain = domain
	return n
}

// The expected shapes follow optimize/FUSED_OPS.md, each operator's
// definition by the standard operators it replaces.
func TestInferFused(t *testing.T) {
	const d = ir.DomainInferd
	u8 := func(name string, ds ...any) *ir.ValueInfo { return input(name, tensor.Uint8, ds...) }
	runInferCases(t, []inferCase{
		{name: "fused_conv", in: []*ir.ValueInfo{f32("X", "N", 3, 32, 32), f32("Z", "N", 8, 16, 16)},
			init: []*ir.Initializer{weights("W", 8, 3, 3, 3), weights("B", 8)},
			nodes: []*ir.Node{in(d, node("FusedConv", "c", "X,W,B,Z", "Y", aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2),
				aString("activation", "Relu")))},
			want: map[string]string{"Y": "float32[N,8,16,16]"}},
		{name: "fused_gemm_matmul", in: []*ir.ValueInfo{f32("A", "N", 8), f32("X", "B", "S", 8)},
			init: []*ir.Initializer{weights("W", 16, 8), weights("C", 16), weights("V", 8, 4), weights("b", 4)},
			nodes: []*ir.Node{
				in(d, node("FusedGemm", "g", "A,W,C", "Y", aInt("transB", 1), aString("activation", "Tanh"))),
				in(d, node("FusedMatMul", "m", "X,V,b", "Z", aString("activation", "Relu"))),
			},
			want: map[string]string{"Y": "float32[N,16]", "Z": "float32[B,S,4]"}},
		{name: "attention", in: []*ir.ValueInfo{f32("Q", "B", 12, "S", 64), f32("KT", "B", 12, 64, "T"), f32("V", "B", 1, "T", 32), f32("M", "B", 1, 1, "T")},
			nodes: []*ir.Node{in(d, node("Attention", "a", "Q,KT,V,M", "Y"))},
			want:  map[string]string{"Y": "float32[B,12,S,32]"}},
		{name: "attention_layout", in: []*ir.ValueInfo{f32("Q", "B", "S", 12, 64), f32("K", "B", "T", 12, 64), f32("V", "B", "T", 12, 32),
			f32("M", "B", 1, 1, "T"), f32("Q3", "S", "N", 16), f32("M2", 2, 1, "S", "S")},
			nodes: []*ir.Node{
				in(d, node("Attention", "a", "Q,K,V,M", "Y", aInts("q_perm", 0, 2, 1, 3), aInts("kt_perm", 0, 2, 3, 1),
					aInts("v_perm", 0, 2, 1, 3), aInts("y_perm", 0, 2, 1, 3))),
				// torch's MultiheadAttention layout; the mask widens the batch.
				in(d, node("Attention", "b", "Q3,Q3,Q3,M2", "Z", aInts("q_perm", 1, 0, 2), aInts("kt_perm", 1, 2, 0),
					aInts("v_perm", 1, 0, 2), aInts("y_perm", 0, 2, 1, 3))),
			},
			want: map[string]string{"Y": "float32[B,S,12,32]", "Z": "float32[2,S,N,16]"}},
		{name: "skip_layernorm_gelu", in: []*ir.ValueInfo{f32("X", "B", "S", 16), f32("K", "?", "S", 16)},
			init: []*ir.Initializer{weights("G", 16), weights("Bt", 16)},
			nodes: []*ir.Node{
				in(d, node("SkipLayerNormalization", "sl", "X,K,G,Bt", "Y,Sum")),
				in(d, node("BiasGelu", "bg", "Y,Bt", "Z")),
				in(d, node("Gelu", "g", "Z", "Z2", aString("approximate", "tanh"))),
				in(d, node("LayerNormalization", "ln", "Z2,G,Bt", "L,Mean,InvStd", aInt("axis", -1))),
			},
			want: map[string]string{"Y": "float32[B,S,16]", "Sum": "float32[B,S,16]", "Z": "float32[B,S,16]",
				"Z2": "float32[B,S,16]", "L": "float32[B,S,16]", "Mean": "float32[B,S,1]", "InvStd": "float32[B,S,1]"}},
		{name: "qlinear", in: []*ir.ValueInfo{u8("X", "N", 3, 8, 8), u8("A", "N", 16), u8("P", "N", 1, 16), f32("s"), input("zp", tensor.Int8), u8("z8")},
			init: []*ir.Initializer{{Name: "W", Tensor: tensor.New(tensor.Int8, 4, 3, 3, 3)}, {Name: "Wm", Tensor: tensor.New(tensor.Int8, 16, 5)}},
			nodes: []*ir.Node{
				in(d, node("QLinearConv", "qc", "X,s,z8,W,s,zp,s,z8", "Yc", aInts("pads", 1, 1, 1, 1))),
				in(d, node("QLinearMatMul", "qm", "A,s,z8,Wm,s,zp,s,zp", "Ym")),
				in(d, node("QLinearAdd", "qa", "A,s,z8,P,s,z8,s,z8", "Ya")),
				in(d, node("QLinearGlobalAveragePool", "qp", "X,s,z8,s,zp", "Yp")),
				in(ir.DomainMicrosoft, node("MatMulIntegerToFloat", "mf", "A,Wm,s,s,z8,zp", "Yf")),
			},
			want: map[string]string{"Yc": "uint8[N,4,8,8]", "Ym": "int8[N,5]", "Ya": "uint8[N,N,16]",
				"Yp": "int8[N,3,1,1]", "Yf": "float32[N,5]"}},
		{name: "cumprod", in: []*ir.ValueInfo{f32("X", "N", 5)}, init: []*ir.Initializer{scalarInit("ax", int64(1))},
			nodes: []*ir.Node{node("CumProd", "cp", "X,ax", "Y")},
			want:  map[string]string{"Y": "float32[N,5]"}},
	})
}

func TestInferFusedErrors(t *testing.T) {
	const d = ir.DomainInferd
	for _, tc := range []inferCase{
		{name: "attention_keys", in: []*ir.ValueInfo{f32("Q", 2, 4, 8), f32("KT", 2, 8, 6), f32("V", 2, 5, 3)},
			nodes: []*ir.Node{in(d, node("Attention", "a", "Q,KT,V", "Y"))}, want: map[string]string{"a": "rows for 6 keys"}},
		{name: "attention_perm", in: []*ir.ValueInfo{f32("Q", 2, 4, 8), f32("KT", 2, 8, 6), f32("V", 2, 6, 3)},
			nodes: []*ir.Node{in(d, node("Attention", "a", "Q,KT,V", "Y", aInts("q_perm", 1, 0)))}, want: map[string]string{"a": "does not fit"}},
		{name: "attention_y_perm", in: []*ir.ValueInfo{f32("Q", 2, 4, 8), f32("KT", 2, 8, 6), f32("V", 2, 6, 3)},
			nodes: []*ir.Node{in(d, node("Attention", "a", "Q,KT,V", "Y", aInts("y_perm", 0, 1, 1)))}, want: map[string]string{"a": "not a permutation"}},
		{name: "skip_shape", in: []*ir.ValueInfo{f32("X", 2, 4, 8), f32("K", 2, 5, 8)},
			nodes: []*ir.Node{in(d, node("SkipLayerNormalization", "s", "X,K", "Y"))}, want: map[string]string{"s": "differ in shape"}},
		{name: "fused_conv_channels", in: []*ir.ValueInfo{f32("X", 1, 4, 8, 8)}, init: []*ir.Initializer{weights("W", 8, 3, 3, 3)},
			nodes: []*ir.Node{in(d, node("FusedConv", "c", "X,W", "Y"))}, want: map[string]string{"c": "channels"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := infer(t, tc.model())
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			for node, w := range tc.want {
				if msg := errs[0].Error(); !strings.Contains(msg, `"`+node+`"`) || !strings.Contains(msg, w) {
					t.Errorf("error %q, want one naming node %q and saying %q", msg, node, w)
				}
			}
		})
	}
}

// TestInferValues checks InferInfo.Values: the followed elements of shape
// arithmetic, and values of sibling subgraphs that share a name kept
// apart.
func TestInferValues(t *testing.T) {
	branch := func(name string, attrs ...*ir.Attribute) *ir.Graph {
		return &ir.Graph{Name: name, Nodes: []*ir.Node{node("Shape", name+"_n", "X", "y", attrs...)}, Outputs: []*ir.ValueInfo{output("y")}}
	}
	g := &ir.Graph{Name: "main",
		Inputs:       []*ir.ValueInfo{f32("X", "N", 3, 4), input("c", tensor.Bool)},
		Initializers: []*ir.Initializer{i64("i", 2, 0, -1)},
		Nodes: []*ir.Node{
			node("Shape", "s", "X", "S"),
			node("Gather", "g", "S,i", "G", aInt("axis", 0)),
			node("Mul", "m", "G,i", "P"),
			node("If", "if", "c", "Z", aGraph("then_branch", branch("then")), aGraph("else_branch", branch("else", aInt("start", 1)))),
		},
	}
	m := model(17, g)
	info := &ir.InferInfo{Values: map[*ir.Graph]map[string]ir.Value{}}
	if err := ir.InferShapes(m, nil, info); err != nil {
		t.Fatal(err)
	}
	elems := func(es []ir.Elem) string {
		var s []string
		for _, e := range es {
			switch {
			case e.Known:
				s = append(s, strconv.FormatInt(e.V, 10))
			case e.Param != "":
				s = append(s, e.Param)
			default:
				s = append(s, "?")
			}
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	main := info.Values[g]
	for name, want := range map[string]string{"S": "[N 3 4]", "G": "[4 N 4]", "P": "[8 0 -4]", "i": "[2 0 -1]"} {
		if got := elems(main[name].Elems); got != want {
			t.Errorf("%s: elements %s, want %s", name, got, want)
		}
	}
	if main["X"].Elems != nil {
		t.Errorf("X: elements %v of a float input", main["X"].Elems)
	}
	then, els := g.Nodes[3].Attr("then_branch").G, g.Nodes[3].Attr("else_branch").G
	if got := elems(info.Values[then]["y"].Elems); got != "[N 3 4]" {
		t.Errorf("then y: %s, want [N 3 4]", got)
	}
	if got := elems(info.Values[els]["y"].Elems); got != "[3 4]" {
		t.Errorf("else y: %s, want [3 4]", got)
	}
	if _, ok := info.Values[then]["X"]; ok {
		t.Error("the then branch's map holds the enclosing graph's X")
	}
}
