package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/inferd/inferd/tensor"
)

// HeaderContentLength is the binary tensor extension's header: the length
// of the JSON part of a body that binary tensor data follows.
const HeaderContentLength = "Inference-Header-Content-Length"

// jsonInferRequest is the KServe v2 JSON inference request. Parameters
// are structs of the keys inferd acts on (others are ignored, as before
// any protocol extension that defines them): decoding into structs
// allocates no map per tensor.
type jsonInferRequest struct {
	ID         string              `json:"id"`
	Parameters jsonRequestParams   `json:"parameters"`
	Inputs     []jsonInput         `json:"inputs"`
	Outputs    []jsonOutputRequest `json:"outputs"`
}

type jsonRequestParams struct {
	BinaryDataOutput json.RawMessage `json:"binary_data_output"`
	Timeout          json.RawMessage `json:"timeout"`
	SequenceID       json.RawMessage `json:"sequence_id"`
	SequenceStart    json.RawMessage `json:"sequence_start"`
	SequenceEnd      json.RawMessage `json:"sequence_end"`
	Priority         json.RawMessage `json:"priority"`
}

// jsonSharedMemory are the shared-memory parameters, which inferd refuses.
type jsonSharedMemory struct {
	Region   json.RawMessage `json:"shared_memory_region"`
	ByteSize json.RawMessage `json:"shared_memory_byte_size"`
	Offset   json.RawMessage `json:"shared_memory_offset"`
}

func (p *jsonSharedMemory) set() bool {
	return p.Region != nil || p.ByteSize != nil || p.Offset != nil
}

type jsonInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters jsonInputParams `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

type jsonInputParams struct {
	BinaryDataSize json.RawMessage `json:"binary_data_size"`
	jsonSharedMemory
}

type jsonOutputRequest struct {
	Name       string           `json:"name"`
	Parameters jsonOutputParams `json:"parameters"`
}

type jsonOutputParams struct {
	BinaryData     json.RawMessage `json:"binary_data"`
	Classification json.RawMessage `json:"classification"`
	jsonSharedMemory
}

// httpInfer is a decoded HTTP inference request and how to answer it.
type httpInfer struct {
	req *InferRequest
	// binary says per requested output that sets binary_data whether its
	// data goes in the binary part of the response; allBinary is for the
	// others. A request names few outputs: a slice beats a map.
	binary    []outputBinary
	allBinary bool
	r         InferRequest // req points here: one allocation for both
}

// outputBinary is one output's binary_data parameter.
type outputBinary struct {
	name string
	on   bool
}

// isBinary reports whether output name goes in the binary part.
func (hi *httpInfer) isBinary(name string) bool {
	for i := len(hi.binary) - 1; i >= 0; i-- { // the last mention wins
		if hi.binary[i].name == name {
			return hi.binary[i].on
		}
	}
	return hi.allBinary
}

// decodeInferRequest decodes a KServe v2 HTTP inference request body.
// headerLen is the Inference-Header-Content-Length value, or -1 when the
// body is JSON only. Every error is a CodeInvalidArgument *Error.
func decodeInferRequest(body []byte, headerLen int) (*httpInfer, error) {
	jsonPart, bin := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > len(body) {
			return nil, errorf(CodeInvalidArgument, "%s is %d, but the body has only %d bytes", HeaderContentLength, headerLen, len(body))
		}
		jsonPart, bin = body[:headerLen], body[headerLen:]
	}
	jr, ok := decodeHeaderFast(jsonPart)
	if !ok {
		jr = jsonInferRequest{}
		if err := json.Unmarshal(jsonPart, &jr); err != nil {
			return nil, errorf(CodeInvalidArgument, "malformed inference request JSON: %v", err)
		}
	}
	hi := &httpInfer{}
	hi.req, hi.r = &hi.r, InferRequest{ID: jr.ID}
	p := &jr.Parameters
	if p.BinaryDataOutput != nil {
		b, err := boolParam("binary_data_output", p.BinaryDataOutput)
		if err != nil {
			return nil, err
		}
		hi.allBinary = b
	}
	if p.Timeout != nil {
		n, err := intParam("timeout", p.Timeout)
		if err != nil {
			return nil, err
		}
		hi.req.Timeout = n
	}
	// Sequence batching and priorities are not supported; a request that
	// relies on them is refused rather than run with the wrong semantics.
	for _, q := range [...]struct {
		k string
		v json.RawMessage
	}{{"sequence_id", p.SequenceID}, {"sequence_start", p.SequenceStart}, {"sequence_end", p.SequenceEnd}, {"priority", p.Priority}} {
		if q.v != nil && !isZeroParam(q.v) {
			return nil, errorf(CodeInvalidArgument, "request parameter %q is not supported by inferd", q.k)
		}
	}
	if len(jr.Inputs) == 0 {
		return nil, errorf(CodeInvalidArgument, "the request has no inputs")
	}
	hi.req.Inputs = make([]Tensor, 0, len(jr.Inputs))
	for _, in := range jr.Inputs {
		t, used, err := decodeJSONInput(in, bin)
		if err != nil {
			return nil, err
		}
		bin = bin[used:]
		hi.req.Inputs = append(hi.req.Inputs, Tensor{Name: in.Name, Tensor: t})
	}
	if len(bin) != 0 {
		return nil, errorf(CodeInvalidArgument, "%d bytes of binary data follow the last input's", len(bin))
	}
	if len(jr.Outputs) > 0 {
		hi.req.Outputs = make([]string, 0, len(jr.Outputs))
	}
	for _, o := range jr.Outputs {
		if o.Name == "" {
			return nil, errorf(CodeInvalidArgument, "a requested output has no name")
		}
		hi.req.Outputs = append(hi.req.Outputs, o.Name)
		op := &o.Parameters
		if op.Classification != nil {
			return nil, errorf(CodeInvalidArgument, "output %q: the classification extension is not supported by inferd", o.Name)
		}
		if op.set() {
			return nil, errorf(CodeInvalidArgument, "output %q: shared memory is not supported by inferd", o.Name)
		}
		if op.BinaryData != nil {
			b, err := boolParam("binary_data", op.BinaryData)
			if err != nil {
				return nil, err
			}
			hi.binary = append(hi.binary, outputBinary{o.Name, b})
		}
	}
	return hi, nil
}

// decodeJSONInput makes one input tensor from its JSON and, with the
// binary extension, from the front of bin; it returns the bytes it used.
func decodeJSONInput(in jsonInput, bin []byte) (*tensor.Tensor, int, error) {
	if in.Name == "" {
		return nil, 0, errorf(CodeInvalidArgument, "an input has no name")
	}
	dt, ok := kserveDType(in.Datatype)
	if !ok {
		return nil, 0, errorf(CodeInvalidArgument, "input %q: unknown datatype %q", in.Name, in.Datatype)
	}
	if in.Shape == nil {
		return nil, 0, errorf(CodeInvalidArgument, "input %q has no shape", in.Name)
	}
	shape, err := shapeFromInt64(in.Shape)
	if err != nil {
		return nil, 0, errorf(CodeInvalidArgument, "input %q: %v", in.Name, err)
	}
	if in.Parameters.set() {
		return nil, 0, errorf(CodeInvalidArgument, "input %q: shared memory is not supported by inferd", in.Name)
	}
	size := -1
	if v := in.Parameters.BinaryDataSize; v != nil {
		n, err := intParam("binary_data_size", v)
		if err != nil {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: %v", in.Name, err)
		}
		if n < 0 {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: binary_data_size %d is negative", in.Name, n)
		}
		size = int(min(n, int64(len(bin))+1))
	}
	if size >= 0 {
		if in.Data != nil {
			return nil, 0, errorf(CodeInvalidArgument, "input %q has both binary_data_size and data", in.Name)
		}
		if size > len(bin) {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: binary_data_size says more bytes than the %d left in the body (truncated binary payload?)", in.Name, len(bin))
		}
		t, err := decodeRaw(dt, shape, bin[:size])
		if err != nil {
			return nil, 0, errorf(CodeInvalidArgument, "input %q: binary data: %v", in.Name, err)
		}
		return t, size, nil
	}
	if in.Data == nil {
		return nil, 0, errorf(CodeInvalidArgument, "input %q has neither data nor binary_data_size", in.Name)
	}
	n, err := elementCount(shape)
	if err != nil {
		return nil, 0, errorf(CodeInvalidArgument, "input %q: %v", in.Name, err)
	}
	if n > len(in.Data) {
		// Each element takes at least one byte of JSON.
		return nil, 0, errorf(CodeInvalidArgument, "input %q: shape %v holds %d elements, more than the data can", in.Name, in.Shape, n)
	}
	data, err := decodeJSONData(in.Data, dt, n)
	if err != nil {
		return nil, 0, errorf(CodeInvalidArgument, "input %q: data: %v", in.Name, err)
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: data}, 0, nil
}

func boolParam(k string, v json.RawMessage) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, errorf(CodeInvalidArgument, "parameter %q: %s is not a boolean", k, v)
	}
	return b, nil
}

func intParam(k string, v json.RawMessage) (int64, error) {
	if plainJSONInt(v) {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n, nil
		}
	}
	var n int64
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, errorf(CodeInvalidArgument, "parameter %q: %s is not an integer", k, v)
	}
	return n, nil
}

// plainJSONInt reports whether v is a JSON integer literal,
// -?(0|[1-9][0-9]*), which strconv.ParseInt reads as json.Unmarshal does
// (ParseInt alone also takes "+1" and "007").
func plainJSONInt(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 || v[0] == '0' && len(v) > 1 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isZeroParam(v json.RawMessage) bool {
	s := string(bytes.TrimSpace(v))
	return s == "0" || s == "false" || s == "null" || s == `""`
}

// encodeInferResponse writes the KServe v2 JSON response; outputs asked
// for in binary go after the JSON, whose length is returned (-1 if no
// output is binary).
func encodeInferResponse(resp *InferResponse, hi *httpInfer) ([]byte, int, error) {
	head, bins, err := encodeInferResponseParts(resp, hi)
	if err != nil || bins == nil {
		return head, -1, err
	}
	n := len(head)
	for _, b := range bins {
		head = append(head, b...)
	}
	return head, n, nil
}

// encodeInferResponseParts returns the JSON part of the response and, if
// any output is binary, the binary data of each such output in order (nil
// if none). The binary parts may alias the output tensors' storage.
func encodeInferResponseParts(resp *InferResponse, hi *httpInfer) ([]byte, [][]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"model_name":`...)
	b = strconv.AppendQuote(b, resp.Model)
	b = append(b, `,"model_version":"`...)
	b = strconv.AppendInt(b, resp.Version, 10)
	b = append(b, '"')
	if resp.ID != "" {
		b = append(b, `,"id":`...)
		idj, _ := json.Marshal(resp.ID)
		b = append(b, idj...)
	}
	b = append(b, `,"outputs":[`...)
	var binOuts []*tensor.Tensor
	for i, o := range resp.Outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		nj, _ := json.Marshal(o.Name)
		b = append(b, nj...)
		b = append(b, `,"datatype":"`...)
		b = append(b, kserveName(o.DType)...)
		b = append(b, `","shape":[`...)
		for k, d := range o.Shape {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, ']')
		if hi.isBinary(o.Name) {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(rawSize(o.Tensor)), 10)
			b = append(b, "}}"...)
			binOuts = append(binOuts, o.Tensor)
			continue
		}
		b = append(b, `,"data":`...)
		var err error
		if b, err = appendJSONData(b, o.Tensor); err != nil {
			return nil, nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	if len(binOuts) == 0 {
		return b, nil, nil
	}
	bins := make([][]byte, len(binOuts))
	for i, t := range binOuts {
		var err error
		if bins[i], err = rawBytes(t); err != nil {
			return nil, nil, err
		}
	}
	return b, bins, nil
}
