package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/inferd/inferd/tensor"
)

// tfPath is a parsed TF Serving REST path below /v1/models/:
// MODEL[/versions/N][/metadata | :predict].
type tfPath struct {
	model   string
	version int64
	verb    string // "", "metadata", "predict"
}

func parseTFPath(rest string) (tfPath, error) {
	var p tfPath
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		p.verb = rest[i+1:]
		rest = rest[:i]
		if p.verb != "predict" {
			return p, errorf(CodeNotFound, "TF Serving method %q is not supported (only :predict)", p.verb)
		}
	}
	parts := strings.Split(rest, "/")
	p.model = parts[0]
	parts = parts[1:]
	if len(parts) >= 2 && parts[0] == "versions" {
		v, err := ParseVersion(parts[1])
		if err != nil {
			return p, err
		}
		p.version = v
		parts = parts[2:]
	} else if len(parts) >= 2 && parts[0] == "labels" {
		return p, errorf(CodeInvalidArgument, "version labels are not supported by inferd; use /versions/N")
	}
	if len(parts) == 1 && parts[0] == "metadata" && p.verb == "" {
		p.verb = "metadata"
		parts = nil
	}
	if len(parts) != 0 || p.model == "" {
		return p, errorf(CodeNotFound, "no TF Serving endpoint /v1/models/%s", rest)
	}
	return p, nil
}

func (s *Server) tfGet(w http.ResponseWriter, r *http.Request) {
	p, err := parseTFPath(r.PathValue("rest"))
	if err != nil {
		writeError(w, err)
		return
	}
	switch p.verb {
	case "":
		s.tfStatus(w, p)
	case "metadata":
		s.tfMetadata(w, p)
	default:
		writeError(w, errorf(CodeInvalidArgument, "use POST for :%s", p.verb))
	}
}

// tfStatus answers GetModelStatus: the state of each version.
func (s *Server) tfStatus(w http.ResponseWriter, p tfPath) {
	idx, err := s.mgr.Index(false)
	if err != nil {
		writeError(w, err)
		return
	}
	type status struct {
		ErrorCode    string `json:"error_code"`
		ErrorMessage string `json:"error_message"`
	}
	type versionStatus struct {
		Version string `json:"version"`
		State   string `json:"state"`
		Status  status `json:"status"`
	}
	var out []versionStatus
	for _, e := range idx {
		if e.Name != p.model || e.Version == "" {
			continue
		}
		if p.version != 0 && e.Version != strconv.FormatInt(p.version, 10) {
			continue
		}
		vs := versionStatus{Version: e.Version, Status: status{ErrorCode: "OK"}}
		switch e.State {
		case StateReady:
			vs.State = "AVAILABLE"
		case StateLoading:
			vs.State = "LOADING"
		default:
			vs.State = "END"
			if e.Reason != "unloaded" && e.Reason != "" {
				vs.Status = status{ErrorCode: "UNKNOWN", ErrorMessage: e.Reason}
			}
		}
		out = append(out, vs)
	}
	if len(out) == 0 {
		if p.version != 0 {
			writeError(w, errorf(CodeNotFound, "could not find version %d of model %q", p.version, p.model))
		} else {
			writeError(w, errorf(CodeNotFound, "could not find any versions of model %q", p.model))
		}
		return
	}
	writeJSON(w, map[string]any{"model_version_status": out})
}

// tfMetadata answers GetModelMetadata with a serving_default signature.
func (s *Server) tfMetadata(w http.ResponseWriter, p tfPath) {
	md, err := s.mgr.Metadata(p.model, p.version)
	if err != nil {
		writeError(w, err)
		return
	}
	type dim struct {
		Size string `json:"size"`
		Name string `json:"name"`
	}
	type tinfo struct {
		Dtype       string `json:"dtype"`
		TensorShape struct {
			Dim         []dim `json:"dim"`
			UnknownRank bool  `json:"unknown_rank"`
		} `json:"tensor_shape"`
		Name string `json:"name"`
	}
	conv := func(ts []TensorMetadata) map[string]tinfo {
		out := map[string]tinfo{}
		for _, t := range ts {
			var ti tinfo
			ti.Name = t.Name
			dt, _ := kserveDType(t.Datatype)
			info, _ := infoByDType(dt)
			ti.Dtype = info.tf
			ti.TensorShape.Dim = []dim{}
			for _, d := range t.Shape {
				ti.TensorShape.Dim = append(ti.TensorShape.Dim, dim{Size: strconv.FormatInt(d, 10)})
			}
			out[t.Name] = ti
		}
		return out
	}
	version := md.Versions[len(md.Versions)-1]
	if p.version != 0 {
		version = strconv.FormatInt(p.version, 10)
	}
	writeJSON(w, map[string]any{
		"model_spec": map[string]string{"name": p.model, "signature_name": "", "version": version},
		"metadata": map[string]any{"signature_def": map[string]any{
			"signature_def": map[string]any{"serving_default": map[string]any{
				"inputs": conv(md.Inputs), "outputs": conv(md.Outputs), "method_name": "tensorflow/serving/predict",
			}},
		}},
	})
}

func (s *Server) tfPost(w http.ResponseWriter, r *http.Request) {
	p, err := parseTFPath(r.PathValue("rest"))
	if err != nil {
		writeError(w, err)
		return
	}
	if p.verb != "predict" {
		writeError(w, errorf(CodeNotFound, "no TF Serving endpoint POST /v1/models/%s", r.PathValue("rest")))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.metrics.modelFailure(s.mgr.metricsModel(p.model), CodeOf(err))
		writeError(w, err)
		return
	}
	specs, batched, err := s.mgr.inputSpecs(p.model, p.version)
	if err != nil {
		s.metrics.modelFailure(s.mgr.metricsModel(p.model), CodeOf(err))
		writeError(w, err)
		return
	}
	req, rows, err := decodePredict(body, specs)
	if err != nil {
		s.metrics.modelFailure(s.mgr.metricsModel(p.model), CodeOf(err))
		writeError(w, err)
		return
	}
	_ = batched
	req.Model, req.Version = p.model, p.version
	resp, err := s.mgr.Infer(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := encodePredict(resp, rows)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// decodePredict reads a TF Serving predict request in the row
// ("instances") or columnar ("inputs") format.
func decodePredict(body []byte, specs []tensorSpec) (*InferRequest, bool, error) {
	var pr struct {
		SignatureName string          `json:"signature_name"`
		Instances     json.RawMessage `json:"instances"`
		Inputs        json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal(body, &pr); err != nil {
		return nil, false, errorf(CodeInvalidArgument, "malformed predict request JSON: %v", err)
	}
	if pr.SignatureName != "" && pr.SignatureName != "serving_default" {
		return nil, false, errorf(CodeInvalidArgument, "signature %q: inferd models have only serving_default", pr.SignatureName)
	}
	switch {
	case pr.Instances != nil && pr.Inputs != nil:
		return nil, false, errorf(CodeInvalidArgument, "a predict request has either \"instances\" or \"inputs\", not both")
	case pr.Instances != nil:
		req, err := decodeRows(pr.Instances, specs)
		return req, true, err
	case pr.Inputs != nil:
		req, err := decodeColumns(pr.Inputs, specs)
		return req, false, err
	}
	return nil, false, errorf(CodeInvalidArgument, "a predict request needs \"instances\" (row format) or \"inputs\" (columnar format)")
}

func decodeRows(raw json.RawMessage, specs []tensorSpec) (*InferRequest, error) {
	var rows []json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, errorf(CodeInvalidArgument, "\"instances\" must be a list: %v", err)
	}
	if len(rows) == 0 {
		return nil, errorf(CodeInvalidArgument, "\"instances\" is empty")
	}
	// Per input, the rows' values.
	cols := make([][]json.RawMessage, len(specs))
	for i, row := range rows {
		obj, isObj := asObject(row)
		if len(specs) == 1 && (!isObj || obj[specs[0].name] == nil) {
			cols[0] = append(cols[0], row)
			continue
		}
		if !isObj {
			return nil, errorf(CodeInvalidArgument, "instance %d: the model has %d inputs, so each instance is an object keyed by input name", i, len(specs))
		}
		for k := range obj {
			if !hasSpec(specs, k) {
				return nil, errorf(CodeInvalidArgument, "instance %d: the model has no input %q (inputs: %s)", i, k, specNames(specs))
			}
		}
		for k, s := range specs {
			v, ok := obj[s.name]
			if !ok {
				return nil, errorf(CodeInvalidArgument, "instance %d: missing input %q", i, s.name)
			}
			cols[k] = append(cols[k], v)
		}
	}
	req := &InferRequest{}
	for k, s := range specs {
		var item []int
		parts := make([]*tensor.Tensor, len(cols[k]))
		for i, v := range cols[k] {
			t, err := decodeJSONNested(v, s.dtype)
			if err != nil {
				return nil, errorf(CodeInvalidArgument, "instance %d: input %q: %v", i, s.name, err)
			}
			if i == 0 {
				item = t.Shape
			} else if !tensor.EqualShapes(item, t.Shape) {
				return nil, errorf(CodeInvalidArgument, "instance %d: input %q has shape %s, but instance 0 has %s: instances must have the same shape", i, s.name, tensor.ShapeString(t.Shape), tensor.ShapeString(item))
			}
			parts[i] = t
		}
		req.Inputs = append(req.Inputs, Tensor{Name: s.name, Tensor: stack(parts)})
	}
	return req, nil
}

func decodeColumns(raw json.RawMessage, specs []tensorSpec) (*InferRequest, error) {
	obj, isObj := asObject(raw)
	req := &InferRequest{}
	if !isObj || (len(specs) == 1 && obj[specs[0].name] == nil) {
		if len(specs) != 1 {
			return nil, errorf(CodeInvalidArgument, "the model has %d inputs, so \"inputs\" is an object keyed by input name", len(specs))
		}
		t, err := decodeJSONNested(raw, specs[0].dtype)
		if err != nil {
			return nil, errorf(CodeInvalidArgument, "input %q: %v", specs[0].name, err)
		}
		req.Inputs = []Tensor{{Name: specs[0].name, Tensor: t}}
		return req, nil
	}
	for k, v := range obj {
		i := -1
		for j, s := range specs {
			if s.name == k {
				i = j
			}
		}
		if i < 0 {
			return nil, errorf(CodeInvalidArgument, "the model has no input %q (inputs: %s)", k, specNames(specs))
		}
		t, err := decodeJSONNested(v, specs[i].dtype)
		if err != nil {
			return nil, errorf(CodeInvalidArgument, "input %q: %v", k, err)
		}
		req.Inputs = append(req.Inputs, Tensor{Name: k, Tensor: t})
	}
	return req, nil
}

func hasSpec(specs []tensorSpec, name string) bool {
	for _, s := range specs {
		if s.name == name {
			return true
		}
	}
	return false
}

// asObject reports whether raw is a JSON object other than {"b64": ...}
// and returns its members.
func asObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(t, &m) != nil {
		return nil, false
	}
	if _, ok := m["b64"]; ok && len(m) == 1 {
		return nil, false
	}
	return m, true
}

// stack joins tensors of one shape along a new first dimension.
func stack(parts []*tensor.Tensor) *tensor.Tensor {
	first := parts[0]
	t := tensor.New(first.DType, append([]int{len(parts)}, first.Shape...)...)
	dst := reflect.ValueOf(t.Data)
	n := first.Len()
	for i, p := range parts {
		tensor.CopySlice(dst.Slice(i*n, (i+1)*n).Interface(), p.Data)
	}
	return t
}

// decodeJSONNested reads a value whose shape is its array nesting; the
// arrays must be rectangular.
func decodeJSONNested(raw []byte, dt tensor.DType) (*tensor.Tensor, error) {
	d := jsonScanner{buf: raw}
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return nil, fmt.Errorf("no value")
	}
	var counts []int // array length at each depth
	leafDepth := -1
	out := tensor.MakeSlice(dt, 0)
	var err error
	var walk func(depth int) error
	walk = func(depth int) error {
		if d.pos >= len(d.buf) {
			return fmt.Errorf("unexpected end of value")
		}
		if d.buf[d.pos] != '[' {
			if leafDepth >= 0 && depth != leafDepth {
				return fmt.Errorf("ragged nesting: values at depths %d and %d", leafDepth, depth)
			}
			leafDepth = depth
			tok, kind, err2 := d.value()
			if err2 != nil {
				return err2
			}
			out, err = appendElem(out, dt, tok, kind)
			return err
		}
		if depth >= 32 {
			return fmt.Errorf("arrays nested more than 32 deep")
		}
		d.pos++
		n := 0
		for {
			d.skipSpace()
			if d.pos >= len(d.buf) {
				return fmt.Errorf("unterminated array")
			}
			if d.buf[d.pos] == ']' {
				d.pos++
				break
			}
			if n > 0 {
				if d.buf[d.pos] != ',' {
					return fmt.Errorf("unexpected %q in array", d.buf[d.pos])
				}
				d.pos++
				d.skipSpace()
			}
			if err := walk(depth + 1); err != nil {
				return err
			}
			n++
		}
		for len(counts) <= depth {
			counts = append(counts, -1)
		}
		if counts[depth] < 0 {
			counts[depth] = n
		} else if counts[depth] != n {
			return fmt.Errorf("ragged arrays: lengths %d and %d at depth %d", counts[depth], n, depth)
		}
		return nil
	}
	if err := walk(0); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return nil, fmt.Errorf("unexpected %q after the value", d.buf[d.pos])
	}
	if leafDepth >= 0 && leafDepth != len(counts) {
		return nil, fmt.Errorf("ragged nesting: values at depth %d inside arrays %d deep", leafDepth, len(counts))
	}
	shape := counts
	if tensor.NumElements(shape) != tensor.SliceLen(out) {
		return nil, fmt.Errorf("ragged arrays: %d values for shape %s", tensor.SliceLen(out), tensor.ShapeString(shape))
	}
	return &tensor.Tensor{DType: dt, Shape: append([]int{}, shape...), Data: out}, nil
}

// encodePredict writes a predict response: "predictions" (one entry per
// batch row) after a row-format request, else "outputs".
func encodePredict(resp *InferResponse, rows bool) ([]byte, error) {
	var b []byte
	var err error
	if rows {
		b = append(b, `{"predictions":[`...)
		n := -1
		for _, o := range resp.Outputs {
			if len(o.Shape) == 0 {
				return nil, fmt.Errorf("output %q is a scalar: use the columnar format (\"inputs\")", o.Name)
			}
			if n >= 0 && o.Shape[0] != n {
				return nil, fmt.Errorf("outputs have different batch sizes: use the columnar format (\"inputs\")")
			}
			n = o.Shape[0]
		}
		for i := range max(n, 0) {
			if i > 0 {
				b = append(b, ',')
			}
			if len(resp.Outputs) == 1 {
				o := resp.Outputs[0]
				per := tensor.NumElements(o.Shape[1:])
				if b, err = appendNested(b, o.Tensor, i*per, o.Shape[1:]); err != nil {
					return nil, err
				}
				continue
			}
			b = append(b, '{')
			for k, o := range resp.Outputs {
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendQuote(b, o.Name)
				b = append(b, ':')
				per := tensor.NumElements(o.Shape[1:])
				if b, err = appendNested(b, o.Tensor, i*per, o.Shape[1:]); err != nil {
					return nil, err
				}
			}
			b = append(b, '}')
		}
		return append(b, "]}"...), nil
	}
	b = append(b, `{"outputs":`...)
	if len(resp.Outputs) == 1 {
		o := resp.Outputs[0]
		if b, err = appendNested(b, o.Tensor, 0, o.Shape); err != nil {
			return nil, err
		}
		return append(b, '}'), nil
	}
	b = append(b, '{')
	for k, o := range resp.Outputs {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, o.Name)
		b = append(b, ':')
		if b, err = appendNested(b, o.Tensor, 0, o.Shape); err != nil {
			return nil, err
		}
	}
	return append(b, "}}"...), nil
}

// appendNested writes the elements of t from offset off as nested arrays
// of the given shape.
func appendNested(b []byte, t *tensor.Tensor, off int, shape []int) ([]byte, error) {
	if len(shape) == 0 {
		return appendScalar(b, t, off)
	}
	per := tensor.NumElements(shape[1:])
	b = append(b, '[')
	for i := range shape[0] {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendNested(b, t, off+i*per, shape[1:]); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func appendScalar(b []byte, t *tensor.Tensor, i int) ([]byte, error) {
	if s, ok := t.Data.([]string); ok {
		if utf8.ValidString(s[i]) {
			j, _ := json.Marshal(s[i])
			return append(b, j...), nil
		}
		b = append(b, `{"b64":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(s[i]))
		return append(b, `"}`...), nil
	}
	one := &tensor.Tensor{DType: t.DType, Shape: []int{1}, Data: reflect.ValueOf(t.Data).Slice(i, i+1).Interface()}
	b2, err := appendJSONData(b, one)
	if err != nil {
		return nil, err
	}
	// appendJSONData wrote "[v]": drop the brackets.
	v := b2[len(b)+1 : len(b2)-1]
	return append(b, v...), nil
}
