package ir_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

func TestVerify(t *testing.T) {
	body := func(nodes ...*ir.Node) *ir.Graph {
		return &ir.Graph{Name: "body", Nodes: nodes, Outputs: []*ir.ValueInfo{output("b")}}
	}
	cases := []struct {
		name  string
		g     *ir.Graph
		funcs []*ir.Function
		want  []string // each must appear in the joined error; none means valid
	}{
		{name: "valid", g: &ir.Graph{
			Inputs:       []*ir.ValueInfo{f32("X", 2), f32("W", 2)},
			Initializers: []*ir.Initializer{weights("W", 2)}, // an input with a default
			Nodes:        []*ir.Node{node("Add", "a", "X,W", "Y"), node("Relu", "r", "Y", "Z"), node("Dropout", "d", "Z", "D,")},
			Outputs:      []*ir.ValueInfo{output("D"), output("X")},
		}},
		{name: "valid_subgraph_reads_outer", g: &ir.Graph{
			Inputs: []*ir.ValueInfo{input("c", tensor.Bool), f32("X", 2)},
			Nodes: []*ir.Node{
				node("Relu", "r", "X", "Y"),
				node("If", "if", "c", "Z", aGraph("then_branch", body(node("Neg", "n", "Y", "b"))), aGraph("else_branch", body(node("Abs", "ab", "X", "b")))),
			},
			Outputs: []*ir.ValueInfo{output("Z")},
		}},
		{name: "missing_input", g: &ir.Graph{
			Inputs:  []*ir.ValueInfo{f32("X", 2)},
			Nodes:   []*ir.Node{node("Add", "add", "X,nowhere", "Y")},
			Outputs: []*ir.ValueInfo{output("Y")},
		}, want: []string{`node "add" (Add): input "nowhere" is not produced by any node, graph input, initializer or enclosing graph`}},
		{name: "produced_twice", g: &ir.Graph{
			Inputs:       []*ir.ValueInfo{f32("X", 2)},
			Initializers: []*ir.Initializer{weights("W", 2)},
			Nodes:        []*ir.Node{node("Relu", "r1", "X", "Y"), node("Neg", "r2", "X", "Y"), node("Abs", "r3", "X", "W")},
			Outputs:      []*ir.ValueInfo{output("Y")},
		}, want: []string{
			`node "r2" (Neg): value "Y" is produced twice: by node "r1" (Relu) and by node "r2" (Neg)`,
			`node "r3" (Abs): value "W" is produced twice: by an initializer and by node "r3" (Abs)`,
		}},
		{name: "output_not_produced", g: &ir.Graph{
			Name:    "main",
			Inputs:  []*ir.ValueInfo{f32("X", 2)},
			Nodes:   []*ir.Node{node("Relu", "r", "X", "Y")},
			Outputs: []*ir.ValueInfo{output("Y"), output("Q")},
		}, want: []string{`graph "main": output "Q" is not produced`}},
		{name: "later_producer", g: &ir.Graph{
			Inputs:  []*ir.ValueInfo{f32("X", 2)},
			Nodes:   []*ir.Node{node("Neg", "second", "Y", "Z"), node("Relu", "first", "X", "Y")},
			Outputs: []*ir.ValueInfo{output("Z")},
		}, want: []string{`node "second" (Neg): input "Y" is produced by a later node "first" (Relu)`}},
		{name: "cycle", g: &ir.Graph{
			Inputs: []*ir.ValueInfo{f32("X", 2)},
			Nodes: []*ir.Node{
				node("Add", "a", "X,C", "A"),
				node("Relu", "b", "A", "B"),
				node("Neg", "c", "B", "C"),
			},
			Outputs: []*ir.ValueInfo{output("C")},
		}, want: []string{
			`node "a" (Add): input "C" is produced by a later node "c" (Neg)`,
			`node "a" (Add): is on or after a cycle: no order can run nodes "a" (Add), "b" (Relu), "c" (Neg)`,
		}},
		{name: "self_loop", g: &ir.Graph{
			Inputs:  []*ir.ValueInfo{f32("X", 2)},
			Nodes:   []*ir.Node{node("Add", "a", "X,A", "A")},
			Outputs: []*ir.ValueInfo{output("A")},
		}, want: []string{`node "a" (Add): input "A" is the node's own output`}},
		{name: "subgraph_reads_later_value", g: &ir.Graph{
			Inputs: []*ir.ValueInfo{input("c", tensor.Bool), f32("X", 2)},
			Nodes: []*ir.Node{
				node("If", "if", "c", "Z", aGraph("then_branch", body(node("Neg", "n", "Y", "b"))), aGraph("else_branch", body(node("Abs", "ab", "X", "b")))),
				node("Relu", "r", "X", "Y"),
			},
			Outputs: []*ir.ValueInfo{output("Z")},
		}, want: []string{`node "n" (Neg): input "Y" is not produced by any node, graph input, initializer or enclosing graph`}},
		{name: "subgraph_redefines_outer", g: &ir.Graph{
			Inputs: []*ir.ValueInfo{input("c", tensor.Bool), f32("X", 2)},
			Nodes: []*ir.Node{
				node("If", "if", "c", "Z", aGraph("then_branch", &ir.Graph{Name: "then", Nodes: []*ir.Node{node("Neg", "n", "X", "X")}, Outputs: []*ir.ValueInfo{output("X")}}),
					aGraph("else_branch", body(node("Abs", "ab", "X", "b")))),
			},
			Outputs: []*ir.ValueInfo{output("Z")},
		}, want: []string{`node "n" (Neg): value "X" redefines the enclosing graph's value (from a graph input)`}},
		{name: "function_body", g: &ir.Graph{Inputs: []*ir.ValueInfo{f32("X", 2)}, Outputs: []*ir.ValueInfo{output("X")}},
			funcs: []*ir.Function{{Name: "F", Inputs: []string{"a"}, Outputs: []string{"c"}, Nodes: []*ir.Node{node("Add", "fadd", "a,b", "c")}}},
			want:  []string{`node "fadd" (Add): input "b" is not produced`}},
	}
	fused := func(op string) *ir.Node { n := node(op, "f", "X", "Y"); n.Domain = ir.DomainInferd; return n }
	cases = append(cases, []struct {
		name  string
		g     *ir.Graph
		funcs []*ir.Function
		want  []string
	}{
		{name: "domain_not_imported", g: &ir.Graph{
			Inputs: []*ir.ValueInfo{f32("X", 2)},
			Nodes: []*ir.Node{func() *ir.Node {
				n := node("MatMulIntegerToFloat", "mf", "X", "Y")
				n.Domain = ir.DomainMicrosoft
				return n
			}()},
			Outputs: []*ir.ValueInfo{output("Y")},
		}, want: []string{`node "mf" (com.microsoft.MatMulIntegerToFloat): domain "com.microsoft" is not imported`}},
		{name: "inferd_op", g: &ir.Graph{Inputs: []*ir.ValueInfo{f32("X", 2)}, Nodes: []*ir.Node{fused("BiasGelu")}, Outputs: []*ir.ValueInfo{output("Y")}}},
		{name: "inferd_unknown_op", g: &ir.Graph{Inputs: []*ir.ValueInfo{f32("X", 2)}, Nodes: []*ir.Node{fused("FusedSoftmax")}, Outputs: []*ir.ValueInfo{output("Y")}},
			want: []string{`node "f" (ai.inferd.FusedSoftmax): FusedSoftmax is no operator of ai.inferd`}},
		{name: "initializer_no_data", g: &ir.Graph{
			Inputs: []*ir.ValueInfo{f32("X", 2)}, Initializers: []*ir.Initializer{{Name: "W"}},
			Nodes: []*ir.Node{node("Add", "a", "X,W", "Y")}, Outputs: []*ir.ValueInfo{output("Y")},
		}, want: []string{`initializer "W" has no data`}},
		{name: "function_imports_its_domain", g: &ir.Graph{Inputs: []*ir.ValueInfo{f32("X", 2)}, Outputs: []*ir.ValueInfo{output("X")}},
			funcs: []*ir.Function{{Name: "F", Inputs: []string{"X"}, Outputs: []string{"Y"}, Nodes: []*ir.Node{fused("Gelu")},
				Opsets: []ir.OpsetImport{{Domain: ir.DomainInferd, Version: 1}}}}},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := model(17, tc.g)
			if tc.name == "inferd_op" || tc.name == "inferd_unknown_op" {
				m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: ir.DomainInferd, Version: 1})
			}
			m.Functions = tc.funcs
			err := ir.Verify(m)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = nil, want %q", tc.want)
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) || len(joined.Unwrap()) != len(tc.want) {
				t.Errorf("Verify = %v, want %d errors", err, len(tc.want))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Verify =\n%v\nwant it to contain\n%s", err, w)
				}
			}
			var e *ir.Error
			if !errors.As(err, &e) {
				t.Errorf("Verify's errors are not *ir.Error")
			}
		})
	}
}

func TestVerifyNoGraph(t *testing.T) {
	if err := ir.Verify(&ir.Model{}); err == nil {
		t.Error("Verify of a model with no graph = nil")
	}
}
