package optimize_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

func TestLevels(t *testing.T) {
	for _, c := range []struct {
		s    string
		want optimize.Level
	}{{"none", optimize.LevelNone}, {"basic", optimize.LevelBasic}, {"extended", optimize.LevelExtended}, {"", optimize.LevelExtended}} {
		got, err := optimize.ParseLevel(c.s)
		if err != nil || got != c.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", c.s, got, err, c.want)
		}
	}
	if _, err := optimize.ParseLevel("max"); err == nil {
		t.Error("ParseLevel(max): no error")
	}
	if optimize.LevelDefault.String() != "extended" {
		t.Errorf("the zero level is %v, want extended", optimize.LevelDefault)
	}
	basic, ext := optimize.Passes(optimize.LevelBasic), optimize.Passes(optimize.LevelExtended)
	if len(basic) == 0 || len(ext) <= len(basic) {
		t.Errorf("%d basic passes, %d extended", len(basic), len(ext))
	}
	for _, p := range basic {
		if strings.HasSuffix(p, "-inferd") || strings.Contains(p, "attention") {
			t.Errorf("basic level runs %s", p)
		}
	}
}

func TestDisableEnable(t *testing.T) {
	expectOptimizedOpts(t, convBN, optimize.Options{Level: optimize.LevelBasic, Disable: []string{"fuse-conv-bn"}},
		"Conv BatchNormalization")
	expectOptimizedOpts(t, `
		input x float32[N,4,8,8]
		init w float32[4,4,1,1] rand
		c = Conv(x, w)
		y = Relu(c)
		output y`, optimize.Options{Level: optimize.LevelBasic, Enable: []string{"fuse-conv-activation"}}, "ai.inferd.FusedConv")
	m := parseGraph(t, convBN)
	if _, err := optimize.Run(t.Context(), m, optimize.Options{Disable: []string{"fuse-everything"}}); !errors.Is(err, optimize.ErrUnknownPass) {
		t.Errorf("unknown pass: err = %v, want ErrUnknownPass", err)
	}
	rep, err := optimize.Run(t.Context(), m, optimize.Options{Level: optimize.LevelNone})
	if err != nil || ops(m.Graph) != "Conv BatchNormalization" || rep.NodesAfter() != 2 {
		t.Errorf("level none changed the graph: %s, %v", ops(m.Graph), err)
	}
}

func TestReport(t *testing.T) {
	m := parseGraph(t, convBN)
	rep, err := optimize.Run(t.Context(), m, optimize.Options{Level: optimize.LevelExtended, Evaluator: evaluator()})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteTo(&b)
	out := b.String()
	for _, want := range []string{"fuse-conv-bn", "BatchNormalization", "2 nodes -> 1 nodes", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if rep.Before["BatchNormalization"] != 1 || rep.After["Conv"] != 1 || rep.Changes["fuse-conv-bn"] != 1 {
		t.Errorf("report counts: %+v", rep)
	}
}

func TestInferdDomainImport(t *testing.T) {
	m := expectOptimized(t, `
		input x float32[N,4,8,8]
		init w float32[4,4,1,1] rand
		c = Conv(x, w)
		y = Relu(c)
		output y`, optimize.LevelExtended, "ai.inferd.FusedConv")
	if m.OpsetVersion(ir.DomainInferd) != 1 {
		t.Errorf("optimized model imports %v, want ai.inferd version 1", m.Opsets)
	}
	m = expectOptimized(t, convBN, optimize.LevelExtended, "Conv")
	if m.OpsetVersion(ir.DomainInferd) != 0 {
		t.Errorf("model without fused ops imports %v", m.Opsets)
	}
}

// TestSubgraphs checks that passes run inside If branches and Loop bodies
// and keep the values those capture from the enclosing graph.
func TestSubgraphs(t *testing.T) {
	then := parseGraph(t, `
		init one float32[] = 1
		a = Identity(x)
		c = Constant() value=float32[]:2
		d = Mul(a, c)
		e = Mul(d, one)
		y1 = Add(e, w)
		output y1`).Graph
	els := parseGraph(t, `
		y2 = Neg(x)
		output y2`).Graph
	m := parseGraph(t, `
		input x float32[N,4]
		input cond bool[]
		init w float32[4] rand
		init unused float32[4] rand
		output y`)
	m.Graph.Nodes = []*ir.Node{{Name: "if", OpType: "If", Inputs: []string{"cond"}, Outputs: []string{"y"},
		Attrs: []*ir.Attribute{{Name: "then_branch", Type: ir.AttrGraph, G: then}, {Name: "else_branch", Type: ir.AttrGraph, G: els}}}}
	opt := optimize.Clone(m)
	if _, err := optimize.Run(t.Context(), opt, optimize.Options{Level: optimize.LevelExtended, Evaluator: evaluator(), Verify: true}); err != nil {
		t.Fatal(err)
	}
	if got := ops(opt.Graph.Nodes[0].Attrs[0].G); got != "Mul Add" {
		t.Errorf("then branch: %s, want Mul Add", got)
	}
	if len(opt.Graph.Initializers) != 1 || opt.Graph.Initializers[0].Name != "w" {
		t.Errorf("main graph initializers: want only w (read by the branch)")
	}
	if ops(m.Graph.Nodes[0].Attrs[0].G) != "Identity Constant Mul Mul Add" {
		t.Error("Clone shares the subgraph with the original")
	}
	for _, cond := range []bool{true, false} {
		compareOutputsWith(t, m, opt, map[string]*tensor.Tensor{"cond": tensor.Scalar(cond)})
	}
}

func TestLoopBody(t *testing.T) {
	body := parseGraph(t, `
		input i int64[]
		input c bool[]
		input v float32[N,4]
		wi = Identity(w)
		v2 = Add(v, wi)
		c2 = Identity(c)
		output c2
		output v2`).Graph
	m := parseGraph(t, `
		input x float32[N,4]
		init w float32[4] rand
		init n int64[] = 3
		init t bool[] = 1
		output y`)
	m.Graph.Nodes = []*ir.Node{{Name: "loop", OpType: "Loop", Inputs: []string{"n", "t", "x"}, Outputs: []string{"y"},
		Attrs: []*ir.Attribute{{Name: "body", Type: ir.AttrGraph, G: body}}}}
	opt := optimize.Clone(m)
	if _, err := optimize.Run(t.Context(), opt, optimize.Options{Level: optimize.LevelExtended, Evaluator: evaluator(), Verify: true}); err != nil {
		t.Fatal(err)
	}
	if got := ops(opt.Graph.Nodes[0].Attrs[0].G); got != "Add Identity" {
		t.Errorf("loop body: %s, want Add Identity (the condition passes through)", got)
	}
	compareOutputs(t, m, opt, 1e-6)
}
