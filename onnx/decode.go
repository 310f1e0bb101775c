package onnx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx/onnxpb"
	"github.com/inferd/inferd/tensor"
)

// ErrMalformed is wrapped by errors for files that are not valid ONNX.
var ErrMalformed = errors.New("malformed ONNX model")

// Options configure Load and Decode. The zero value is ready to use.
type Options struct {
	// Dir is the folder external data paths are relative to; Load sets it
	// to the model file's folder. Paths that leave it are refused.
	Dir string
	// FS, if set, is used instead of Dir to read external data.
	FS fs.FS
	// MaxTensorBytes, if positive, refuses any single tensor larger than it.
	MaxTensorBytes int64
}

// Load reads an ONNX model file, with external data resolved relative to
// the file's folder.
func Load(path string) (*ir.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := Decode(data, Options{Dir: filepath.Dir(path)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode parses a serialized ModelProto.
func Decode(data []byte, opts Options) (*ir.Model, error) {
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("onnx: %w: %v", ErrMalformed, err)
	}
	return FromProto(&mp, opts)
}

// FromProto converts a ModelProto to an ir.Model.
func FromProto(mp *onnxpb.ModelProto, opts Options) (*ir.Model, error) {
	d := &decoder{opts: opts}
	if opts.FS != nil {
		d.ext = &fsData{fsys: opts.FS}
	} else if opts.Dir != "" {
		d.ext = &dirData{dir: opts.Dir}
	}
	defer d.close()
	if mp.Graph == nil {
		return nil, fmt.Errorf("onnx: %w: model has no graph", ErrMalformed)
	}
	m := &ir.Model{
		IRVersion:       mp.GetIrVersion(),
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		Domain:          mp.GetDomain(),
		ModelVersion:    mp.GetModelVersion(),
		DocString:       mp.GetDocString(),
	}
	for _, o := range mp.GetOpsetImport() {
		m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: ir.CanonicalDomain(o.GetDomain()), Version: o.GetVersion()})
	}
	if len(m.Opsets) == 0 {
		// IR version 2 models without opset_import use opset 1.
		m.Opsets = []ir.OpsetImport{{Domain: "", Version: 1}}
	}
	for _, kv := range mp.GetMetadataProps() {
		m.Metadata = append(m.Metadata, ir.StringEntry{Key: kv.GetKey(), Value: kv.GetValue()})
	}
	var err error
	if m.Graph, err = d.graph(mp.Graph); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	for _, fp := range mp.GetFunctions() {
		f, err := d.function(fp)
		if err != nil {
			return nil, fmt.Errorf("onnx: function %q: %w", fp.GetName(), err)
		}
		m.Functions = append(m.Functions, f)
	}
	return m, nil
}

type decoder struct {
	opts Options
	ext  interface {
		dataReader
		close()
	}
}

func (d *decoder) close() {
	if d.ext != nil {
		d.ext.close()
	}
}

func (d *decoder) tensor(tp *onnxpb.TensorProto) (*tensor.Tensor, error) {
	var ext dataReader
	if d.ext != nil {
		ext = d.ext
	}
	return tensorFromProto(tp, ext, d.opts.MaxTensorBytes)
}

func (d *decoder) graph(gp *onnxpb.GraphProto) (*ir.Graph, error) {
	g := &ir.Graph{Name: gp.GetName(), DocString: gp.GetDocString()}
	for _, tp := range gp.GetInitializer() {
		t, err := d.tensor(tp)
		if err != nil {
			return nil, fmt.Errorf("graph %q: initializer: %w", g.Name, err)
		}
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: tp.GetName(), Tensor: t, DocString: tp.GetDocString()})
	}
	for _, sp := range gp.GetSparseInitializer() {
		t, err := d.sparse(sp)
		if err != nil {
			return nil, fmt.Errorf("graph %q: sparse initializer: %w", g.Name, err)
		}
		g.Initializers = append(g.Initializers, &ir.Initializer{Name: sp.GetValues().GetName(), Tensor: t})
	}
	var err error
	if g.Inputs, err = d.valueInfos(gp.GetInput()); err != nil {
		return nil, fmt.Errorf("graph %q: input: %w", g.Name, err)
	}
	if g.Outputs, err = d.valueInfos(gp.GetOutput()); err != nil {
		return nil, fmt.Errorf("graph %q: output: %w", g.Name, err)
	}
	if g.ValueInfo, err = d.valueInfos(gp.GetValueInfo()); err != nil {
		return nil, fmt.Errorf("graph %q: value_info: %w", g.Name, err)
	}
	for i, np := range gp.GetNode() {
		n, err := d.node(np)
		if err != nil {
			return nil, fmt.Errorf("graph %q: node %d %q (%s): %w", g.Name, i, np.GetName(), np.GetOpType(), err)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

// sparse densifies a SparseTensorProto.
func (d *decoder) sparse(sp *onnxpb.SparseTensorProto) (*tensor.Tensor, error) {
	vals, err := d.tensor(sp.GetValues())
	if err != nil {
		return nil, err
	}
	idx, err := d.tensor(sp.GetIndices())
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(sp.GetDims()))
	for i, v := range sp.GetDims() {
		if v < 0 {
			return nil, fmt.Errorf("negative dimension %d", v)
		}
		shape[i] = int(v)
	}
	ind, ok := idx.Data.([]int64)
	if !ok {
		return nil, fmt.Errorf("sparse indices are %v, want int64", idx.DType)
	}
	out := tensor.New(vals.DType, shape...)
	total := out.Len()
	nnz := vals.Len()
	strides := tensor.Strides(shape)
	for k := 0; k < nnz; k++ {
		var off int
		switch {
		case len(idx.Shape) == 1:
			off = int(ind[k])
		case len(idx.Shape) == 2 && idx.Shape[1] == len(shape):
			for a := range shape {
				off += int(ind[k*len(shape)+a]) * strides[a]
			}
		default:
			return nil, fmt.Errorf("sparse indices have shape %v", idx.Shape)
		}
		if off < 0 || off >= total {
			return nil, fmt.Errorf("sparse index %d out of range", off)
		}
		tensor.SetElem(out.Data, off, vals.Data, k)
	}
	return out, nil
}

func (d *decoder) valueInfos(vps []*onnxpb.ValueInfoProto) ([]*ir.ValueInfo, error) {
	out := make([]*ir.ValueInfo, 0, len(vps))
	for _, vp := range vps {
		t, err := typeFromProto(vp.GetType())
		if err != nil {
			return nil, fmt.Errorf("%q: %w", vp.GetName(), err)
		}
		out = append(out, &ir.ValueInfo{Name: vp.GetName(), Type: t, DocString: vp.GetDocString()})
	}
	return out, nil
}

func typeFromProto(tp *onnxpb.TypeProto) (ir.Type, error) {
	if tp == nil {
		return ir.Type{}, nil
	}
	switch {
	case tp.GetTensorType() != nil:
		tt := tp.GetTensorType()
		return ir.Type{Kind: ir.TensorKind, DType: tensor.DType(tt.GetElemType()), Shape: shapeFromProto(tt.GetShape())}, nil
	case tp.GetSparseTensorType() != nil:
		tt := tp.GetSparseTensorType()
		return ir.Type{Kind: ir.SparseTensorKind, DType: tensor.DType(tt.GetElemType()), Shape: shapeFromProto(tt.GetShape())}, nil
	case tp.GetSequenceType() != nil:
		e, err := typeFromProto(tp.GetSequenceType().GetElemType())
		if err != nil {
			return ir.Type{}, err
		}
		return ir.Type{Kind: ir.SequenceKind, Elem: &e}, nil
	case tp.GetOptionalType() != nil:
		e, err := typeFromProto(tp.GetOptionalType().GetElemType())
		if err != nil {
			return ir.Type{}, err
		}
		return ir.Type{Kind: ir.OptionalKind, Elem: &e}, nil
	case tp.GetMapType() != nil:
		e, err := typeFromProto(tp.GetMapType().GetValueType())
		if err != nil {
			return ir.Type{}, err
		}
		return ir.Type{Kind: ir.MapKind, KeyType: tensor.DType(tp.GetMapType().GetKeyType()), Elem: &e}, nil
	}
	return ir.Type{}, nil
}

func shapeFromProto(sp *onnxpb.TensorShapeProto) ir.Shape {
	if sp == nil {
		return nil
	}
	s := make(ir.Shape, len(sp.GetDim()))
	for i, d := range sp.GetDim() {
		switch {
		case d.GetDimParam() != "":
			s[i] = ir.Dim{Value: -1, Param: d.GetDimParam()}
		case d.Value != nil && d.GetDimValue() >= 0:
			if _, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
				s[i] = ir.Dim{Value: d.GetDimValue()}
			} else {
				s[i] = ir.Dim{Value: -1}
			}
		default:
			s[i] = ir.Dim{Value: -1}
		}
	}
	return s
}

func (d *decoder) node(np *onnxpb.NodeProto) (*ir.Node, error) {
	if np.GetOpType() == "" {
		return nil, fmt.Errorf("%w: node has no op_type", ErrMalformed)
	}
	n := &ir.Node{
		Name:      np.GetName(),
		OpType:    np.GetOpType(),
		Domain:    ir.CanonicalDomain(np.GetDomain()),
		Inputs:    append([]string(nil), np.GetInput()...),
		Outputs:   append([]string(nil), np.GetOutput()...),
		DocString: np.GetDocString(),
	}
	for _, ap := range np.GetAttribute() {
		a, err := d.attr(ap)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", ap.GetName(), err)
		}
		n.Attrs = append(n.Attrs, a)
	}
	return n, nil
}

func (d *decoder) attr(ap *onnxpb.AttributeProto) (*ir.Attribute, error) {
	a := &ir.Attribute{Name: ap.GetName(), Type: ir.AttrType(ap.GetType()), RefAttrName: ap.GetRefAttrName(), DocString: ap.GetDocString()}
	if a.Type == ir.AttrUndefined {
		// Very old models leave type unset: infer it from the field set.
		a.Type = guessAttrType(ap)
	}
	var err error
	switch a.Type {
	case ir.AttrFloat:
		a.F = ap.GetF()
	case ir.AttrInt:
		a.I = ap.GetI()
	case ir.AttrString:
		a.S = ap.GetS()
	case ir.AttrTensor:
		if a.T, err = d.tensor(ap.GetT()); err != nil {
			return nil, err
		}
	case ir.AttrSparse:
		if a.T, err = d.sparse(ap.GetSparseTensor()); err != nil {
			return nil, err
		}
		a.Type = ir.AttrTensor
	case ir.AttrGraph:
		if a.G, err = d.graph(ap.GetG()); err != nil {
			return nil, err
		}
	case ir.AttrFloats:
		a.Floats = ap.GetFloats()
	case ir.AttrInts:
		a.Ints = ap.GetInts()
	case ir.AttrStrings:
		a.Strings = ap.GetStrings()
	case ir.AttrTensors:
		for _, tp := range ap.GetTensors() {
			t, err := d.tensor(tp)
			if err != nil {
				return nil, err
			}
			a.Tensors = append(a.Tensors, t)
		}
	case ir.AttrGraphs:
		for _, gp := range ap.GetGraphs() {
			g, err := d.graph(gp)
			if err != nil {
				return nil, err
			}
			a.Graphs = append(a.Graphs, g)
		}
	case ir.AttrTypeProto:
		t, err := typeFromProto(ap.GetTp())
		if err != nil {
			return nil, err
		}
		a.TP = &t
	case ir.AttrTypes:
		for _, tp := range ap.GetTypeProtos() {
			t, err := typeFromProto(tp)
			if err != nil {
				return nil, err
			}
			a.TPs = append(a.TPs, t)
		}
	case ir.AttrSparses:
		return nil, fmt.Errorf("sparse tensor list attributes are not supported")
	default:
		if a.RefAttrName == "" {
			return nil, fmt.Errorf("%w: unknown attribute type %d", ErrMalformed, ap.GetType())
		}
	}
	return a, nil
}

func guessAttrType(ap *onnxpb.AttributeProto) ir.AttrType {
	switch {
	case ap.F != nil:
		return ir.AttrFloat
	case ap.I != nil:
		return ir.AttrInt
	case ap.S != nil:
		return ir.AttrString
	case ap.T != nil:
		return ir.AttrTensor
	case ap.G != nil:
		return ir.AttrGraph
	case len(ap.Floats) > 0:
		return ir.AttrFloats
	case len(ap.Ints) > 0:
		return ir.AttrInts
	case len(ap.Strings) > 0:
		return ir.AttrStrings
	case len(ap.Tensors) > 0:
		return ir.AttrTensors
	case len(ap.Graphs) > 0:
		return ir.AttrGraphs
	}
	return ir.AttrUndefined
}

func (d *decoder) function(fp *onnxpb.FunctionProto) (*ir.Function, error) {
	f := &ir.Function{
		Name: fp.GetName(), Domain: ir.CanonicalDomain(fp.GetDomain()), Overload: fp.GetOverload(),
		Inputs: fp.GetInput(), Outputs: fp.GetOutput(), AttrNames: fp.GetAttribute(), DocString: fp.GetDocString(),
	}
	for _, o := range fp.GetOpsetImport() {
		f.Opsets = append(f.Opsets, ir.OpsetImport{Domain: ir.CanonicalDomain(o.GetDomain()), Version: o.GetVersion()})
	}
	for _, ap := range fp.GetAttributeProto() {
		a, err := d.attr(ap)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", ap.GetName(), err)
		}
		f.AttrProtos = append(f.AttrProtos, a)
	}
	for i, np := range fp.GetNode() {
		n, err := d.node(np)
		if err != nil {
			return nil, fmt.Errorf("node %d %q (%s): %w", i, np.GetName(), np.GetOpType(), err)
		}
		f.Nodes = append(f.Nodes, n)
	}
	var err error
	if f.ValueInfo, err = d.valueInfos(fp.GetValueInfo()); err != nil {
		return nil, err
	}
	return f, nil
}

// dirData reads external data from files under a folder, through os.Root
// so that no location can reach outside it.
type dirData struct {
	dir   string
	root  *os.Root
	files map[string]*os.File
}

func (e *dirData) open(loc string) (*os.File, error) {
	if f, ok := e.files[loc]; ok {
		return f, nil
	}
	if e.root == nil {
		r, err := os.OpenRoot(e.dir)
		if err != nil {
			return nil, fmt.Errorf("external data folder: %w", err)
		}
		e.root = r
		e.files = map[string]*os.File{}
	}
	if filepath.IsAbs(loc) || !filepath.IsLocal(filepath.FromSlash(loc)) {
		return nil, fmt.Errorf("external data location %q leaves the model's folder", loc)
	}
	f, err := e.root.Open(filepath.FromSlash(loc))
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	e.files[loc] = f
	return f, nil
}

func (e *dirData) size(loc string) (int64, error) {
	f, err := e.open(loc)
	if err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (e *dirData) readExternal(loc string, offset, length int64, dst []byte) error {
	f, err := e.open(loc)
	if err != nil {
		return err
	}
	if _, err := f.ReadAt(dst[:length], offset); err != nil {
		return fmt.Errorf("external data %q at %d: %w", loc, offset, err)
	}
	return nil
}

func (e *dirData) close() {
	for _, f := range e.files {
		f.Close()
	}
	if e.root != nil {
		e.root.Close()
	}
}

// fsData reads external data from an fs.FS.
type fsData struct {
	fsys fs.FS
}

func (e *fsData) size(loc string) (int64, error) {
	if !fs.ValidPath(loc) {
		return 0, fmt.Errorf("external data location %q leaves the model's folder", loc)
	}
	st, err := fs.Stat(e.fsys, loc)
	if err != nil {
		return 0, fmt.Errorf("external data: %w", err)
	}
	return st.Size(), nil
}

func (e *fsData) readExternal(loc string, offset, length int64, dst []byte) error {
	f, err := e.fsys.Open(loc)
	if err != nil {
		return fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	if ra, ok := f.(io.ReaderAt); ok {
		_, err = ra.ReadAt(dst[:length], offset)
	} else {
		if _, err = io.CopyN(io.Discard, f, offset); err == nil {
			_, err = io.ReadFull(f, dst[:length])
		}
	}
	if err != nil {
		return fmt.Errorf("external data %q at %d: %w", loc, offset, err)
	}
	return nil
}

func (e *fsData) close() {}
