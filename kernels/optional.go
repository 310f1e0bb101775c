package kernels

import (
	"fmt"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

// Optional ops. An empty optional is a *tensor.Optional with a nil Value.
// OptionalHasElement and OptionalGetElement also take a plain tensor or
// sequence (opset 18 semantics, accepted at every opset: a Loop body may
// receive the sequence it produced where the first iteration had an
// optional).

func init() {
	register("Optional", newOptional)
	register("OptionalHasElement", newOptionalHasElement)
	register("OptionalGetElement", newOptionalGetElement)
	// Identity on sequences and optionals (opsets 14 and 16). The tensor
	// Identity kernel handles nodes whose input is known to be a tensor;
	// this one passes any value through.
	Default.Register(Spec{Op: "Identity", Priority: 1, New: ctlNewIdentityValue})
}

func newOptional(b *Build) (any, error) {
	a := b.Attrs()
	hasType := a.Has("type")
	if hasType {
		if at := b.Node.Attr("type"); at.Type != ir.AttrTypeProto {
			return nil, fmt.Errorf("attribute \"type\" is %v, want %v", at.Type, ir.AttrTypeProto)
		}
	}
	hasInput := len(b.Node.Inputs) > 0 && b.Node.Inputs[0] != ""
	if !hasInput && !hasType {
		return nil, fmt.Errorf("Optional without an input needs the \"type\" attribute")
	}
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		var v any
		if len(in) > 0 {
			v = in[0]
		}
		switch x := v.(type) {
		case nil:
			return []any{&tensor.Optional{}}, nil
		case *tensor.Tensor:
			if x == nil {
				return []any{&tensor.Optional{}}, nil
			}
		case *tensor.Sequence:
		default:
			return nil, fmt.Errorf("input is %s, want a tensor or a sequence", ctlKind(v))
		}
		return []any{&tensor.Optional{Value: v}}, nil
	}), nil
}

func newOptionalHasElement(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		var v any
		if len(in) > 0 {
			v = in[0]
		}
		has := false
		switch x := v.(type) {
		case nil:
		case *tensor.Optional:
			has = x != nil && x.Value != nil
		case *tensor.Tensor:
			has = x != nil
		case *tensor.Sequence:
			has = x != nil
		default:
			return nil, fmt.Errorf("input is %s, want an optional, a tensor or a sequence", ctlKind(v))
		}
		out := c.Alloc(tensor.Bool)
		out.Data.([]bool)[0] = has
		return []any{out}, nil
	}), nil
}

func newOptionalGetElement(b *Build) (any, error) {
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		var v any
		if len(in) > 0 {
			v = in[0]
		}
		switch x := v.(type) {
		case *tensor.Optional:
			if x == nil || x.Value == nil {
				return nil, fmt.Errorf("input is an empty optional")
			}
			return []any{x.Value}, nil
		case *tensor.Tensor:
			if x != nil {
				return []any{x}, nil
			}
		case *tensor.Sequence:
			if x != nil {
				return []any{x}, nil
			}
		}
		return nil, fmt.Errorf("input is %s, want an optional, a tensor or a sequence", ctlKind(v))
	}), nil
}

// ctlNewIdentityValue builds Identity for nodes whose input may be a
// sequence or an optional; it declines nodes whose input is known to be a
// tensor, leaving them to the tensor kernel.
func ctlNewIdentityValue(b *Build) (any, error) {
	if len(b.InputTypes) > 0 && b.InputTypes[0].Kind == ir.TensorKind {
		return nil, ErrDecline
	}
	return ctlValueFunc(func(c *Context, in []any) ([]any, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("input is missing")
		}
		switch in[0].(type) {
		case *tensor.Tensor, *tensor.Sequence, *tensor.Optional:
		default:
			return nil, fmt.Errorf("input is %s, want a tensor, a sequence or an optional", ctlKind(in[0]))
		}
		return []any{in[0]}, nil
	}), nil
}
