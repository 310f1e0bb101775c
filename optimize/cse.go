package optimize

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// cse is common-subexpression elimination. Small initializers with the
// same type, shape and bits are merged first; then a node that applies the
// same operator with the same attributes to the same inputs as an earlier
// node is removed, and its readers read the earlier node's outputs.
// Random ops, nodes with subgraphs and nodes whose outputs are graph
// outputs are left alone.
type cse struct{}

func (cse) Name() string { return "cse" }

// cseMaxInitBytes bounds the initializers compared by content.
const cseMaxInitBytes = 64 << 10

func (cse) Run(ctx context.Context, g *Graph) (bool, error) {
	changed := mergeInitializers(g)
	seen := map[string]*ir.Node{}
	for _, n := range g.Nodes() {
		if g.Removed(n) || randomOps[n.OpType] || len(n.Subgraphs()) > 0 || len(n.Outputs) == 0 {
			continue
		}
		key, ok := cseKey(n)
		if !ok {
			continue
		}
		first := seen[key]
		if first == nil {
			seen[key] = n
			continue
		}
		if anyOutput(g, n) || len(first.Outputs) != len(n.Outputs) {
			continue
		}
		for i, o := range n.Outputs {
			if o != "" && first.Outputs[i] == "" {
				goto next
			}
		}
		for i, o := range n.Outputs {
			if o != "" {
				g.Forward(o, first.Outputs[i])
			}
		}
		g.RemoveNode(n)
		changed = true
	next:
	}
	return changed, nil
}

// mergeInitializers makes readers of equal small initializers read one.
func mergeInitializers(g *Graph) bool {
	byHash := map[uint64][]*ir.Initializer{}
	changed := false
	for _, in := range g.G.Initializers {
		t := in.Tensor
		if g.IsInput(in.Name) || g.IsOutput(in.Name) || t == nil || tensorBytes(t) > cseMaxInitBytes {
			continue
		}
		h := hashTensor(t)
		var same *ir.Initializer
		for _, c := range byHash[h] {
			if tensorsEqual(c.Tensor, t) {
				same = c
				break
			}
		}
		if same == nil {
			byHash[h] = append(byHash[h], in)
			continue
		}
		if len(g.Consumers(in.Name)) > 0 {
			g.Forward(in.Name, same.Name)
			changed = true
		}
	}
	return changed
}

func hashTensor(t *tensor.Tensor) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d%v", t.DType, t.Shape)
	if raw, err := tensor.EncodeRaw(nil, t.Data); err == nil {
		h.Write(raw)
	} else {
		fmt.Fprintf(h, "%v", t.Data)
	}
	return h.Sum64()
}

// cseKey describes what n computes; two nodes with equal keys compute the
// same values.
func cseKey(n *ir.Node) (string, bool) {
	var b strings.Builder
	b.WriteString(ir.CanonicalDomain(n.Domain))
	b.WriteByte('|')
	b.WriteString(n.OpType)
	b.WriteByte('|')
	ins := n.Inputs
	if commutativeOps[n.OpType] && len(ins) == 2 && ir.CanonicalDomain(n.Domain) == "" {
		ins = []string{ins[0], ins[1]}
		sort.Strings(ins)
	}
	for _, in := range ins {
		b.WriteString(in)
		b.WriteByte(0)
	}
	fmt.Fprintf(&b, "|%d|", len(n.Outputs))
	attrs := append([]*ir.Attribute(nil), n.Attrs...)
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	for _, a := range attrs {
		if a.RefAttrName != "" {
			return "", false
		}
		fmt.Fprintf(&b, "%s:%d=", a.Name, a.Type)
		switch a.Type {
		case ir.AttrFloat:
			fmt.Fprintf(&b, "%x", math.Float32bits(a.F))
		case ir.AttrInt:
			fmt.Fprintf(&b, "%d", a.I)
		case ir.AttrString:
			fmt.Fprintf(&b, "%q", a.S)
		case ir.AttrFloats:
			for _, f := range a.Floats {
				fmt.Fprintf(&b, "%x,", math.Float32bits(f))
			}
		case ir.AttrInts:
			fmt.Fprintf(&b, "%v", a.Ints)
		case ir.AttrStrings:
			fmt.Fprintf(&b, "%q", a.Strings)
		case ir.AttrTensor:
			if a.T == nil || tensorBytes(a.T) > cseMaxInitBytes {
				return "", false
			}
			raw, err := tensor.EncodeRaw(nil, a.T.Data)
			if err != nil {
				return "", false
			}
			fmt.Fprintf(&b, "%d%v%x", a.T.DType, a.T.Shape, raw)
		default:
			return "", false
		}
		b.WriteByte(';')
	}
	return b.String(), true
}
