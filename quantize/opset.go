package quantize

import (
	"fmt"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// reduceAxesInput18 are the reductions whose axes moved from an attribute
// to an input in opset 18 (ReduceSum moved in 13).
var reduceAxesInput18 = map[string]bool{
	"ReduceMax": true, "ReduceMin": true, "ReduceMean": true, "ReduceProd": true,
	"ReduceL1": true, "ReduceL2": true, "ReduceLogSum": true, "ReduceLogSumExp": true, "ReduceSumSquare": true,
}

// upgradeOpset raises m's ai.onnx opset import to v (which must be at most
// 21), rewriting the nodes whose meaning changed on the way: reductions
// whose axes became an input (18) and GridSample's renamed modes (20). It
// refuses models it cannot rewrite exactly: GroupNormalization from
// opsets 18–20 (its scale and bias changed shape in 21) and changed ops
// inside subgraphs. It also raises the IR version to what opset 21 needs.
func upgradeOpset(m *ir.Model, v int64) error {
	from := m.OpsetVersion("")
	if from >= v {
		return nil
	}
	if v > 21 {
		return fmt.Errorf("quantize: cannot upgrade to opset %d", v)
	}
	x := newGraphIndex(m.Graph)
	var check func(g *ir.Graph, sub bool) error
	check = func(g *ir.Graph, sub bool) error {
		for _, n := range g.Nodes {
			if ir.CanonicalDomain(n.Domain) != "" {
				continue
			}
			changes := (reduceAxesInput18[n.OpType] && from < 18 && v >= 18 && n.Attr("axes") != nil) ||
				(n.OpType == "GridSample" && from < 20 && v >= 20)
			if n.OpType == "GroupNormalization" && from < 21 && v >= 21 {
				return fmt.Errorf("quantize: node %s: GroupNormalization changed meaning in opset 21; cannot upgrade the model from opset %d", n, from)
			}
			if changes && sub {
				return fmt.Errorf("quantize: node %s inside a subgraph needs rewriting for opset %d; not supported", n, v)
			}
			if changes {
				if err := upgradeNode(x, n, v); err != nil {
					return err
				}
			}
			for _, sg := range n.Subgraphs() {
				if err := check(sg, true); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := check(m.Graph, false); err != nil {
		return err
	}
	setOpset(m, v)
	if m.IRVersion < 10 {
		m.IRVersion = 10
	}
	return nil
}

func upgradeNode(x *graphIndex, n *ir.Node, v int64) error {
	switch {
	case reduceAxesInput18[n.OpType]:
		axes := n.Attr("axes").Ints
		name := x.addInit(n.Name+"_axes", tensor.FromSlice(append([]int64(nil), axes...), len(axes)))
		var attrs []*ir.Attribute
		for _, a := range n.Attrs {
			if a.Name != "axes" {
				attrs = append(attrs, a)
			}
		}
		n.Attrs = attrs
		n.Inputs = append(n.Inputs[:1:1], name)
	case n.OpType == "GridSample":
		if a := n.Attr("mode"); a != nil {
			mode := string(a.S)
			switch mode {
			case "bilinear":
				mode = "linear"
			case "bicubic":
				mode = "cubic"
			}
			n.SetAttr(&ir.Attribute{Name: "mode", Type: ir.AttrString, S: []byte(mode)})
		}
	}
	return nil
}
