package ir

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// AttrType is the type of an attribute's value, numbered as ONNX's
// AttributeProto.AttributeType.
type AttrType int8

// The attribute types.
const (
	AttrUndefined AttrType = 0
	AttrFloat     AttrType = 1
	AttrInt       AttrType = 2
	AttrString    AttrType = 3
	AttrTensor    AttrType = 4
	AttrGraph     AttrType = 5
	AttrFloats    AttrType = 6
	AttrInts      AttrType = 7
	AttrStrings   AttrType = 8
	AttrTensors   AttrType = 9
	AttrGraphs    AttrType = 10
	AttrSparse    AttrType = 11
	AttrSparses   AttrType = 12
	AttrTypeProto AttrType = 13
	AttrTypes     AttrType = 14
)

var attrTypeNames = [...]string{"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints", "strings", "tensors", "graphs", "sparse_tensor", "sparse_tensors", "type_proto", "type_protos"}

func (t AttrType) String() string {
	if int(t) < len(attrTypeNames) && t >= 0 {
		return attrTypeNames[t]
	}
	return fmt.Sprintf("attr_type(%d)", int8(t))
}

// Attribute is one named node attribute. Only the field matching Type is
// meaningful. RefAttrName, inside a function body, names the caller's
// attribute this one takes its value from.
type Attribute struct {
	Name        string
	Type        AttrType
	F           float32
	I           int64
	S           []byte
	T           *tensor.Tensor
	G           *Graph
	TP          *Type
	Floats      []float32
	Ints        []int64
	Strings     [][]byte
	Tensors     []*tensor.Tensor
	Graphs      []*Graph
	TPs         []Type
	RefAttrName string
	DocString   string
}

// Attr returns the node's attribute with the given name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// SetAttr replaces or adds an attribute.
func (n *Node) SetAttr(a *Attribute) {
	for i, b := range n.Attrs {
		if b.Name == a.Name {
			n.Attrs[i] = a
			return
		}
	}
	n.Attrs = append(n.Attrs, a)
}

// String names the node for error messages: `"name" (OpType)`.
func (n *Node) String() string {
	op := n.OpType
	if n.Domain != "" {
		op = n.Domain + "." + op
	}
	return fmt.Sprintf("%q (%s)", n.Name, op)
}

// Input returns the i-th input name, or "" if the node has fewer inputs.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// AttrReader reads typed attributes of one node and remembers the first
// error (a wrong attribute type, a missing required attribute), so a kernel
// reads all it needs and checks Err once:
//
//	a := ir.Attrs(n)
//	axis := a.Int("axis", 0)
//	perm := a.Ints("perm", nil)
//	if err := a.Err(); err != nil { ... }
type AttrReader struct {
	n   *Node
	err error
}

// Attrs returns an AttrReader over n's attributes.
func Attrs(n *Node) *AttrReader { return &AttrReader{n: n} }

// Err returns the first error met, or nil.
func (r *AttrReader) Err() error { return r.err }

func (r *AttrReader) get(name string, want ...AttrType) *Attribute {
	a := r.n.Attr(name)
	if a == nil {
		return nil
	}
	for _, w := range want {
		if a.Type == w {
			return a
		}
	}
	if r.err == nil {
		r.err = fmt.Errorf("attribute %q is %v, want %v", name, a.Type, want[0])
	}
	return nil
}

// Has reports whether the attribute is present.
func (r *AttrReader) Has(name string) bool { return r.n.Attr(name) != nil }

// Int returns an int attribute, or def if absent.
func (r *AttrReader) Int(name string, def int64) int64 {
	if a := r.get(name, AttrInt); a != nil {
		return a.I
	}
	return def
}

// Float returns a float attribute, or def if absent.
func (r *AttrReader) Float(name string, def float32) float32 {
	if a := r.get(name, AttrFloat); a != nil {
		return a.F
	}
	return def
}

// String returns a string attribute, or def if absent.
func (r *AttrReader) String(name string, def string) string {
	if a := r.get(name, AttrString); a != nil {
		return string(a.S)
	}
	return def
}

// Ints returns an ints attribute, or def if absent.
func (r *AttrReader) Ints(name string, def []int64) []int64 {
	if a := r.get(name, AttrInts); a != nil {
		return a.Ints
	}
	return def
}

// Floats returns a floats attribute, or def if absent.
func (r *AttrReader) Floats(name string, def []float32) []float32 {
	if a := r.get(name, AttrFloats); a != nil {
		return a.Floats
	}
	return def
}

// Strings returns a strings attribute, or def if absent.
func (r *AttrReader) Strings(name string, def []string) []string {
	if a := r.get(name, AttrStrings); a != nil {
		out := make([]string, len(a.Strings))
		for i, s := range a.Strings {
			out[i] = string(s)
		}
		return out
	}
	return def
}

// Tensor returns a tensor attribute, or nil if absent.
func (r *AttrReader) Tensor(name string) *tensor.Tensor {
	if a := r.get(name, AttrTensor); a != nil {
		return a.T
	}
	return nil
}

// Graph returns a graph attribute, or nil if absent.
func (r *AttrReader) Graph(name string) *Graph {
	if a := r.get(name, AttrGraph); a != nil {
		return a.G
	}
	return nil
}

// RequireInt returns a required int attribute, recording an error if absent.
func (r *AttrReader) RequireInt(name string) int64 {
	if !r.Has(name) && r.err == nil {
		r.err = fmt.Errorf("required attribute %q is missing", name)
	}
	return r.Int(name, 0)
}

// RequireGraph returns a required graph attribute, recording an error if absent.
func (r *AttrReader) RequireGraph(name string) *Graph {
	if !r.Has(name) && r.err == nil {
		r.err = fmt.Errorf("required attribute %q is missing", name)
	}
	return r.Graph(name)
}

// Fail records err as the reader's error unless one is already recorded,
// so kernels can add their own attribute checks to the same chain.
func (r *AttrReader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}
