package ir_test

import (
	"fmt"
	"strings"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Builders for hand-written graphs.

// dims makes a shape from ints (sizes), strings (symbols) and "?"
// (unknown).
func dims(ds ...any) ir.Shape {
	s := ir.Shape{}
	for _, d := range ds {
		switch d := d.(type) {
		case int:
			s = append(s, ir.Dim{Value: int64(d)})
		case string:
			if d == "?" {
				s = append(s, ir.Dim{Value: -1})
			} else {
				s = append(s, ir.Dim{Value: -1, Param: d})
			}
		default:
			panic(fmt.Sprintf("dims: %T", d))
		}
	}
	return s
}

func input(name string, dt tensor.DType, ds ...any) *ir.ValueInfo {
	return &ir.ValueInfo{Name: name, Type: ir.TensorType(dt, dims(ds...))}
}

func f32(name string, ds ...any) *ir.ValueInfo { return input(name, tensor.Float32, ds...) }

func output(name string) *ir.ValueInfo { return &ir.ValueInfo{Name: name} }

// node makes a node; ins and outs are comma-separated value names (an
// empty item is an omitted optional value).
func node(op, name, ins, outs string, attrs ...*ir.Attribute) *ir.Node {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	return &ir.Node{Name: name, OpType: op, Inputs: split(ins), Outputs: split(outs), Attrs: attrs}
}

func aInt(name string, v int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInt, I: v}
}

func aInts(name string, v ...int64) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrInts, Ints: v}
}

func aFloats(name string, v ...float32) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrFloats, Floats: v}
}

func aString(name, v string) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrString, S: []byte(v)}
}

func aGraph(name string, g *ir.Graph) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrGraph, G: g}
}

func aTensor(name string, t *tensor.Tensor) *ir.Attribute {
	return &ir.Attribute{Name: name, Type: ir.AttrTensor, T: t}
}

// i64 makes a 1-D int64 initializer.
func i64(name string, v ...int64) *ir.Initializer {
	return &ir.Initializer{Name: name, Tensor: tensor.FromSlice(v, len(v))}
}

// scalarInit makes a scalar initializer.
func scalarInit[T tensor.Elem](name string, v T) *ir.Initializer {
	return &ir.Initializer{Name: name, Tensor: tensor.Scalar(v)}
}

// weights makes a zero float32 initializer of the given shape.
func weights(name string, shape ...int) *ir.Initializer {
	return &ir.Initializer{Name: name, Tensor: tensor.New(tensor.Float32, shape...)}
}

func floats(name string, v ...float32) *ir.Initializer {
	return &ir.Initializer{Name: name, Tensor: tensor.FromSlice(v, len(v))}
}

// model wraps a graph in a model of the given default-domain opset.
func model(opset int64, g *ir.Graph) *ir.Model {
	return &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Domain: "", Version: opset}}, Graph: g}
}
