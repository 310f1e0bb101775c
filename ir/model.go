package ir

import "github.com/inferd/inferd/tensor"

// Model is a whole ONNX model: metadata, opset imports, the main graph and
// model-local functions.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetImport
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Metadata        []StringEntry
	Graph           *Graph
	Functions       []*Function
}

// OpsetImport names the version of one operator domain ("" is ai.onnx).
type OpsetImport struct {
	Domain  string
	Version int64
}

// StringEntry is one key/value metadata pair.
type StringEntry struct{ Key, Value string }

// The operator domains inferd knows by name.
const (
	DomainONNX     = ""
	DomainML       = "ai.onnx.ml"
	DomainTraining = "ai.onnx.preview.training"
	DomainInferd   = "ai.inferd"
)

// CanonicalDomain maps "ai.onnx" to "", the spelling inferd uses.
func CanonicalDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// OpsetVersion returns the model's imported version of domain, or 0.
func (m *Model) OpsetVersion(domain string) int64 {
	domain = CanonicalDomain(domain)
	for _, o := range m.Opsets {
		if CanonicalDomain(o.Domain) == domain {
			return o.Version
		}
	}
	return 0
}

// Graph is a list of nodes over named values. Value names are unique in a
// graph and its subgraphs' view of it; the empty name marks an omitted
// optional input or output.
type Graph struct {
	Name         string
	DocString    string
	Nodes        []*Node
	Inputs       []*ValueInfo
	Outputs      []*ValueInfo
	ValueInfo    []*ValueInfo
	Initializers []*Initializer
}

// Initializer is a named constant tensor of a graph.
type Initializer struct {
	Name   string
	Tensor *tensor.Tensor
	// DocString is kept for round trips.
	DocString string
}

// Node is one operator application.
type Node struct {
	Name      string
	OpType    string
	Domain    string
	Inputs    []string
	Outputs   []string
	Attrs     []*Attribute
	DocString string
}

// Function is a model-local function (FunctionProto): a named, reusable
// body that nodes of its domain and name call.
type Function struct {
	Name       string
	Domain     string
	Overload   string
	Inputs     []string
	Outputs    []string
	AttrNames  []string
	AttrProtos []*Attribute
	Nodes      []*Node
	Opsets     []OpsetImport
	ValueInfo  []*ValueInfo
	DocString  string
}

// ValueInfo names a value and gives its type.
type ValueInfo struct {
	Name      string
	Type      Type
	DocString string
}

// TypeKind distinguishes the kinds of ONNX value.
type TypeKind int8

// The kinds of value. UnknownKind means the type is not declared.
const (
	UnknownKind TypeKind = iota
	TensorKind
	SequenceKind
	OptionalKind
	MapKind
	SparseTensorKind
)

// Type is an ONNX value type. For tensors DType and Shape are set (Shape nil
// means the rank is unknown); sequences and optionals describe their element
// in Elem; maps have KeyType and Elem.
type Type struct {
	Kind    TypeKind
	DType   tensor.DType
	Shape   Shape
	Elem    *Type
	KeyType tensor.DType
}

// Shape is a tensor shape whose dimensions may be unknown or symbolic. A nil
// Shape is of unknown rank; an empty non-nil Shape is a scalar.
type Shape []Dim

// Dim is one dimension: a known size (Value ≥ 0), a named symbol (Param),
// or unknown (Value < 0, Param empty).
type Dim struct {
	Value int64
	Param string
}

// Known reports whether d has a fixed size.
func (d Dim) Known() bool { return d.Value >= 0 && d.Param == "" }

// String formats d as its size, its symbol, or "?".
func (d Dim) String() string {
	switch {
	case d.Known():
		return itoa(d.Value)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// String formats s as "[N,3,224,224]", or "[?...]" for an unknown rank.
func (s Shape) String() string {
	if s == nil {
		return "[?...]"
	}
	b := []byte{'['}
	for i, d := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d.String()...)
	}
	return string(append(b, ']'))
}

// Static returns the shape as ints if every dimension is known.
func (s Shape) Static() ([]int, bool) {
	if s == nil {
		return nil, false
	}
	out := make([]int, len(s))
	for i, d := range s {
		if !d.Known() {
			return nil, false
		}
		out[i] = int(d.Value)
	}
	return out, true
}

// ShapeOf returns a fully known Shape from ints.
func ShapeOf(dims ...int) Shape {
	s := make(Shape, len(dims))
	for i, d := range dims {
		s[i] = Dim{Value: int64(d)}
	}
	return s
}

// TensorType returns the type of a tensor with the given element type and shape.
func TensorType(dt tensor.DType, s Shape) Type { return Type{Kind: TensorKind, DType: dt, Shape: s} }

// String formats t as e.g. "float32[N,3]", "seq(int64[?...])".
func (t Type) String() string {
	switch t.Kind {
	case TensorKind:
		return t.DType.String() + t.Shape.String()
	case SparseTensorKind:
		return "sparse(" + t.DType.String() + t.Shape.String() + ")"
	case SequenceKind:
		return "seq(" + elemString(t.Elem) + ")"
	case OptionalKind:
		return "optional(" + elemString(t.Elem) + ")"
	case MapKind:
		return "map(" + t.KeyType.String() + "," + elemString(t.Elem) + ")"
	}
	return "unknown"
}

func elemString(t *Type) string {
	if t == nil {
		return "?"
	}
	return t.String()
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
