package onnx

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx/onnxpb"
	"github.com/inferd/inferd/tensor"
)

// SaveOptions configure Save.
type SaveOptions struct {
	// ExternalDataThreshold, if positive, writes every initializer of at
	// least this many bytes to a data file beside the model instead of
	// into it. Models over 2 GB must use it: protobuf messages cannot be
	// larger.
	ExternalDataThreshold int64
	// ExternalDataName is the data file's name (default: model file name
	// + ".data").
	ExternalDataName string
}

// Save writes m to path.
func Save(path string, m *ir.Model, opts SaveOptions) error {
	var ext *extWriter
	if opts.ExternalDataThreshold > 0 {
		name := opts.ExternalDataName
		if name == "" {
			name = filepath.Base(path) + ".data"
		}
		f, err := os.Create(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			return fmt.Errorf("onnx: %w", err)
		}
		defer f.Close()
		ext = &extWriter{f: f, name: name, threshold: opts.ExternalDataThreshold}
	}
	mp, err := toProto(m, ext)
	if err != nil {
		return err
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	if ext != nil {
		if err := ext.f.Close(); err != nil {
			return fmt.Errorf("onnx: %w", err)
		}
	}
	return os.WriteFile(path, data, 0o644)
}

// Encode serializes m with every tensor inside the message.
func Encode(m *ir.Model) ([]byte, error) {
	mp, err := ToProto(m)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(mp)
}

// ToProto converts m to a ModelProto.
func ToProto(m *ir.Model) (*onnxpb.ModelProto, error) { return toProto(m, nil) }

type extWriter struct {
	f         *os.File
	name      string
	off       int64
	threshold int64
}

func (w *extWriter) put(tp *onnxpb.TensorProto, t *tensor.Tensor) error {
	raw, err := rawOf(t)
	if err != nil {
		return err
	}
	// Align each tensor to 4 KiB, as ONNX's own writer does, so data can
	// be memory-mapped.
	if pad := (4096 - w.off%4096) % 4096; pad > 0 {
		if _, err := w.f.Write(make([]byte, pad)); err != nil {
			return err
		}
		w.off += pad
	}
	if _, err := w.f.Write(raw); err != nil {
		return err
	}
	tp.RawData = nil
	tp.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	tp.ExternalData = []*onnxpb.StringStringEntryProto{
		{Key: strPtr("location"), Value: strPtr(w.name)},
		{Key: strPtr("offset"), Value: strPtr(fmt.Sprint(w.off))},
		{Key: strPtr("length"), Value: strPtr(fmt.Sprint(len(raw)))},
	}
	w.off += int64(len(raw))
	return nil
}

func toProto(m *ir.Model, ext *extWriter) (*onnxpb.ModelProto, error) {
	mp := &onnxpb.ModelProto{
		IrVersion:       int64Ptr(m.IRVersion),
		ProducerName:    strPtr(m.ProducerName),
		ProducerVersion: strPtr(m.ProducerVersion),
		Domain:          strPtr(m.Domain),
		ModelVersion:    int64Ptr(m.ModelVersion),
		DocString:       strPtr(m.DocString),
	}
	for _, o := range m.Opsets {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: strPtr(o.Domain), Version: int64Ptr(o.Version)})
	}
	for _, kv := range m.Metadata {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: strPtr(kv.Key), Value: strPtr(kv.Value)})
	}
	e := &encoder{ext: ext}
	var err error
	if mp.Graph, err = e.graph(m.Graph, true); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	for _, f := range m.Functions {
		fp, err := e.function(f)
		if err != nil {
			return nil, fmt.Errorf("onnx: function %q: %w", f.Name, err)
		}
		mp.Functions = append(mp.Functions, fp)
	}
	return mp, nil
}

type encoder struct{ ext *extWriter }

func (e *encoder) graph(g *ir.Graph, top bool) (*onnxpb.GraphProto, error) {
	if g == nil {
		return nil, fmt.Errorf("nil graph")
	}
	gp := &onnxpb.GraphProto{Name: strPtr(g.Name)}
	if g.DocString != "" {
		gp.DocString = strPtr(g.DocString)
	}
	for _, in := range g.Initializers {
		tp, err := TensorToProto(in.Name, in.Tensor)
		if err != nil {
			return nil, err
		}
		if in.DocString != "" {
			tp.DocString = strPtr(in.DocString)
		}
		if top && e.ext != nil && in.Tensor.DType != tensor.String && int64(in.Tensor.Len()*in.Tensor.DType.Size()) >= e.ext.threshold {
			if err := e.ext.put(tp, in.Tensor); err != nil {
				return nil, fmt.Errorf("initializer %q: %w", in.Name, err)
			}
		}
		gp.Initializer = append(gp.Initializer, tp)
	}
	gp.Input = valueInfosToProto(g.Inputs)
	gp.Output = valueInfosToProto(g.Outputs)
	gp.ValueInfo = valueInfosToProto(g.ValueInfo)
	for _, n := range g.Nodes {
		np, err := e.node(n)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n, err)
		}
		gp.Node = append(gp.Node, np)
	}
	return gp, nil
}

func valueInfosToProto(vis []*ir.ValueInfo) []*onnxpb.ValueInfoProto {
	var out []*onnxpb.ValueInfoProto
	for _, vi := range vis {
		vp := &onnxpb.ValueInfoProto{Name: strPtr(vi.Name), Type: typeToProto(vi.Type)}
		if vi.DocString != "" {
			vp.DocString = strPtr(vi.DocString)
		}
		out = append(out, vp)
	}
	return out
}

func typeToProto(t ir.Type) *onnxpb.TypeProto {
	switch t.Kind {
	case ir.TensorKind:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32Ptr(int32(t.DType)), Shape: shapeToProto(t.Shape)}}}
	case ir.SparseTensorKind:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SparseTensorType{SparseTensorType: &onnxpb.TypeProto_SparseTensor{
			ElemType: int32Ptr(int32(t.DType)), Shape: shapeToProto(t.Shape)}}}
	case ir.SequenceKind:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{ElemType: elemToProto(t.Elem)}}}
	case ir.OptionalKind:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_OptionalType{OptionalType: &onnxpb.TypeProto_Optional{ElemType: elemToProto(t.Elem)}}}
	case ir.MapKind:
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_MapType{MapType: &onnxpb.TypeProto_Map{KeyType: int32Ptr(int32(t.KeyType)), ValueType: elemToProto(t.Elem)}}}
	}
	return nil
}

func elemToProto(t *ir.Type) *onnxpb.TypeProto {
	if t == nil {
		return nil
	}
	return typeToProto(*t)
}

func shapeToProto(s ir.Shape) *onnxpb.TensorShapeProto {
	if s == nil {
		return nil
	}
	sp := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{}}
	for _, d := range s {
		dp := &onnxpb.TensorShapeProto_Dimension{}
		switch {
		case d.Param != "":
			dp.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
		case d.Value >= 0:
			dp.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Value}
		}
		sp.Dim = append(sp.Dim, dp)
	}
	return sp
}

func (e *encoder) node(n *ir.Node) (*onnxpb.NodeProto, error) {
	np := &onnxpb.NodeProto{Input: n.Inputs, Output: n.Outputs, OpType: strPtr(n.OpType)}
	if n.Name != "" {
		np.Name = strPtr(n.Name)
	}
	if n.Domain != "" {
		np.Domain = strPtr(n.Domain)
	}
	if n.DocString != "" {
		np.DocString = strPtr(n.DocString)
	}
	for _, a := range n.Attrs {
		ap, err := e.attr(a)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		np.Attribute = append(np.Attribute, ap)
	}
	return np, nil
}

func (e *encoder) attr(a *ir.Attribute) (*onnxpb.AttributeProto, error) {
	ap := &onnxpb.AttributeProto{Name: strPtr(a.Name), Type: onnxpb.AttributeProto_AttributeType(a.Type).Enum()}
	if a.RefAttrName != "" {
		ap.RefAttrName = strPtr(a.RefAttrName)
	}
	if a.DocString != "" {
		ap.DocString = strPtr(a.DocString)
	}
	var err error
	switch a.Type {
	case ir.AttrFloat:
		ap.F = &a.F
	case ir.AttrInt:
		ap.I = &a.I
	case ir.AttrString:
		ap.S = a.S
		if ap.S == nil {
			ap.S = []byte{}
		}
	case ir.AttrTensor:
		if ap.T, err = TensorToProto("", a.T); err != nil {
			return nil, err
		}
	case ir.AttrGraph:
		if ap.G, err = e.graph(a.G, false); err != nil {
			return nil, err
		}
	case ir.AttrFloats:
		ap.Floats = a.Floats
	case ir.AttrInts:
		ap.Ints = a.Ints
	case ir.AttrStrings:
		ap.Strings = a.Strings
	case ir.AttrTensors:
		for _, t := range a.Tensors {
			tp, err := TensorToProto("", t)
			if err != nil {
				return nil, err
			}
			ap.Tensors = append(ap.Tensors, tp)
		}
	case ir.AttrGraphs:
		for _, g := range a.Graphs {
			gp, err := e.graph(g, false)
			if err != nil {
				return nil, err
			}
			ap.Graphs = append(ap.Graphs, gp)
		}
	case ir.AttrTypeProto:
		if a.TP != nil {
			ap.Tp = typeToProto(*a.TP)
		}
	case ir.AttrTypes:
		for _, t := range a.TPs {
			ap.TypeProtos = append(ap.TypeProtos, typeToProto(t))
		}
	}
	return ap, nil
}

func (e *encoder) function(f *ir.Function) (*onnxpb.FunctionProto, error) {
	fp := &onnxpb.FunctionProto{Name: strPtr(f.Name), Domain: strPtr(f.Domain), Input: f.Inputs, Output: f.Outputs, Attribute: f.AttrNames}
	if f.Overload != "" {
		fp.Overload = strPtr(f.Overload)
	}
	if f.DocString != "" {
		fp.DocString = strPtr(f.DocString)
	}
	for _, o := range f.Opsets {
		fp.OpsetImport = append(fp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: strPtr(o.Domain), Version: int64Ptr(o.Version)})
	}
	for _, a := range f.AttrProtos {
		ap, err := e.attr(a)
		if err != nil {
			return nil, err
		}
		fp.AttributeProto = append(fp.AttributeProto, ap)
	}
	for _, n := range f.Nodes {
		np, err := e.node(n)
		if err != nil {
			return nil, err
		}
		fp.Node = append(fp.Node, np)
	}
	fp.ValueInfo = valueInfosToProto(f.ValueInfo)
	return fp, nil
}
