package serve

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/inferd/inferd/serve/kservepb"
)

// TestBadRequestsAre4xx sends requests that are wrong in less common ways
// to every front end and checks each gets a 4xx (or a gRPC client error
// code) with a {"error": ...} body, never a 5xx, and that the server
// keeps serving.
func TestBadRequestsAre4xx(t *testing.T) {
	repo := lenetRepo(t, lenetConfig)
	writeMixedModel(t, filepath.Join(repo, "mixed", "1", "model.onnx"))
	ts := startServer(t, Options{ModelRepository: repo, MaxRequestBytes: 1 << 20})
	good := digit(1)
	hdr := func(v any) []string {
		return []string{HeaderContentLength, strconv.Itoa(len(mustJSON(t, v)))}
	}
	bin := func(v any, raw []byte) []byte { return append(mustJSON(t, v), raw...) }
	lenetIn := func(extra map[string]any) map[string]any {
		in := map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "FP32"}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"inputs": []any{in}}
	}
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		header             []string
	}{
		{"data null", "POST", "/v2/models/lenet/infer", mustJSON(t, lenetIn(map[string]any{"data": nil})), nil},
		{"shape null", "POST", "/v2/models/lenet/infer", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "data": good}}}), nil},
		{"shape of strings", "POST", "/v2/models/lenet/infer", []byte(`{"inputs":[{"name":"input","shape":["1"],"datatype":"FP32","data":[1]}]}`), nil},
		{"shape overflow", "POST", "/v2/models/lenet/infer", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int64{1 << 40, 1 << 40}, "datatype": "FP32", "data": []int{1}}}}), nil},
		{"batch 0", "POST", "/v2/models/lenet/infer", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{0, 1, 28, 28}, "datatype": "FP32", "data": []int{}}}}), nil},
		{"BYTES into FP32", "POST", "/v2/models/lenet/infer", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "BYTES", "data": make([]string, 784)}}}), nil},
		{"nested wrong", "POST", "/v2/models/lenet/infer", mustJSON(t, lenetIn(map[string]any{"data": [][]any{{1, []int{2}}}})), nil},
		{"parameters not an object", "POST", "/v2/models/lenet/infer", []byte(`{"parameters":5,"inputs":[]}`), nil},
		{"input parameters not an object", "POST", "/v2/models/lenet/infer", mustJSON(t, lenetIn(map[string]any{"parameters": []int{1}, "data": good})), nil},
		{"binary size a string", "POST", "/v2/models/lenet/infer", bin(lenetIn(map[string]any{"parameters": map[string]any{"binary_data_size": "3136"}}), f32bytes(good)), hdr(lenetIn(map[string]any{"parameters": map[string]any{"binary_data_size": "3136"}}))},
		{"binary size negative", "POST", "/v2/models/lenet/infer", bin(lenetIn(map[string]any{"parameters": map[string]any{"binary_data_size": -4}}), nil), hdr(lenetIn(map[string]any{"parameters": map[string]any{"binary_data_size": -4}}))},
		{"binary BYTES bad lengths", "POST", "/v2/models/mixed/infer", bin(map[string]any{"inputs": []any{map[string]any{"name": "s", "shape": []int{1, 2}, "datatype": "BYTES", "parameters": map[string]any{"binary_data_size": 6}}}}, []byte{9, 0, 0, 0, 'a', 'b'}), hdr(map[string]any{"inputs": []any{map[string]any{"name": "s", "shape": []int{1, 2}, "datatype": "BYTES", "parameters": map[string]any{"binary_data_size": 6}}}})},
		{"binary_data_output not bool", "POST", "/v2/models/lenet/infer", mustJSON(t, map[string]any{"parameters": map[string]any{"binary_data_output": "yes"}, "inputs": lenetIn(map[string]any{"data": good})["inputs"]}), nil},
		{"input twice", "POST", "/v2/models/lenet/infer", mustJSON(t, map[string]any{"inputs": []any{lenetIn(map[string]any{"data": good})["inputs"].([]any)[0], lenetIn(map[string]any{"data": good})["inputs"].([]any)[0]}}), nil},
		{"missing input", "POST", "/v2/models/mixed/infer", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "x", "shape": []int{1, 4}, "datatype": "FP32", "data": []float32{1, 2, 3, 4}}}}), nil},
		{"batch mismatch", "POST", "/v2/models/mixed/infer", mustJSON(t, map[string]any{"inputs": []any{
			map[string]any{"name": "x", "shape": []int{1, 4}, "datatype": "FP32", "data": []float32{1, 2, 3, 4}},
			map[string]any{"name": "i", "shape": []int{2, 3}, "datatype": "INT32", "data": []int{1, 2, 3, 4, 5, 6}},
			map[string]any{"name": "s", "shape": []int{1, 2}, "datatype": "BYTES", "data": []string{"a", "b"}},
			map[string]any{"name": "h", "shape": []int{1, 2}, "datatype": "FP16", "data": []float32{1, 2}},
			map[string]any{"name": "b", "shape": []int{1, 2}, "datatype": "BOOL", "data": []bool{true, false}}}}), nil},
		{"INT32 overflow", "POST", "/v2/models/mixed/infer", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "i", "shape": []int{1, 3}, "datatype": "INT32", "data": []int64{1, 2, 1 << 40}}}}), nil},
		{"empty body", "POST", "/v2/models/lenet/infer", nil, nil},
		{"version zero", "POST", "/v2/models/lenet/versions/0/infer", mustJSON(t, lenetIn(map[string]any{"data": good})), nil},
		{"version huge", "GET", "/v2/models/lenet/versions/99999999999999999999999", nil, nil},
		{"dot model", "GET", "/v2/models/../ready", nil, nil},
		{"stats unknown", "GET", "/v2/models/nope/stats", nil, nil},
		{"config unknown version", "GET", "/v2/models/lenet/versions/7/config", nil, nil},
		{"index bad JSON", "POST", "/v2/repository/index", []byte(`{"ready":"yes"}`), nil},
		{"load in mode none", "POST", "/v2/repository/models/lenet/load", nil, nil},
		{"unload in mode none", "POST", "/v2/repository/models/lenet/unload", nil, nil},
		{"load config parameter", "POST", "/v2/repository/models/lenet/load", []byte(`{"parameters":{"config":"{}"}}`), nil},
		{"GET infer", "GET", "/v2/models/lenet/infer", nil, nil},
		{"TF inputs list", "POST", "/v1/models/mixed:predict", []byte(`{"inputs":[[1,2,3,4]]}`), nil},
		{"TF instances not a list", "POST", "/v1/models/lenet:predict", []byte(`{"instances":{"input":1}}`), nil},
		{"TF wrong shape", "POST", "/v1/models/lenet:predict", []byte(`{"instances":[[1,2,3]]}`), nil},
		{"TF b64 not base64", "POST", "/v1/models/mixed:predict", []byte(`{"instances":[{"x":[1,2,3,4],"i":[1,2,3],"s":[{"b64":"%%"},"a"],"h":[1,2],"b":[true,false]}]}`), nil},
		{"TF b64 into FP32", "POST", "/v1/models/lenet:predict", []byte(`{"instances":[{"b64":"AAAA"}]}`), nil},
		{"TF bad version", "GET", "/v1/models/lenet/versions/x", nil, nil},
		{"TF labels", "GET", "/v1/models/lenet/labels/stable", nil, nil},
		{"TF malformed", "POST", "/v1/models/lenet:predict", []byte(`{"instances":`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := ts.do(t, tc.method, tc.path, tc.body, tc.header...)
			if st < 400 || st > 499 {
				t.Errorf("%s %s: status %d %s, want 4xx", tc.method, tc.path, st, body)
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Errorf("%s %s: body %q is not {\"error\": ...}", tc.method, tc.path, body)
			}
		})
	}

	ctx := context.Background()
	fp32 := func(shape []int64, raw []byte) *kservepb.ModelInferRequest {
		return &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: shape}}, RawInputContents: [][]byte{raw}}
	}
	for _, tc := range []struct {
		name string
		req  *kservepb.ModelInferRequest
	}{
		{"no inputs", &kservepb.ModelInferRequest{ModelName: "lenet"}},
		{"FP16 contents", &kservepb.ModelInferRequest{ModelName: "mixed", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "h", Datatype: "FP16", Shape: []int64{1, 2}, Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1, 2}}}}}},
		{"contents count", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28}, Contents: &kservepb.InferTensorContents{Fp32Contents: good[:5]}}}}},
		{"contents and raw", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28}, Contents: &kservepb.InferTensorContents{Fp32Contents: good}}}, RawInputContents: [][]byte{f32bytes(good)}}},
		{"INT8 overflow", &kservepb.ModelInferRequest{ModelName: "mixed", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "i", Datatype: "INT8", Shape: []int64{1, 3}, Contents: &kservepb.InferTensorContents{IntContents: []int32{1, 2, 300}}}}}},
		{"BYTES raw bad", &kservepb.ModelInferRequest{ModelName: "mixed", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "s", Datatype: "BYTES", Shape: []int64{1, 2}}}, RawInputContents: [][]byte{{200, 0, 0, 0}}}},
		{"shape overflow", fp32([]int64{1 << 40, 1 << 40}, nil)},
		{"batch 9", fp32([]int64{9, 1, 28, 28}, f32bytes(digit(9)))},
		{"unknown output", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: fp32([]int64{1, 1, 28, 28}, nil).Inputs, RawInputContents: [][]byte{f32bytes(good)}, Outputs: []*kservepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "probs"}}}},
		{"unknown model", &kservepb.ModelInferRequest{ModelName: "nope", Inputs: fp32([]int64{1, 1, 28, 28}, nil).Inputs, RawInputContents: [][]byte{f32bytes(good)}}},
		{"sequence id", &kservepb.ModelInferRequest{ModelName: "lenet", Parameters: map[string]*kservepb.InferParameter{"sequence_id": {ParameterChoice: &kservepb.InferParameter_Int64Param{Int64Param: 3}}}, Inputs: fp32([]int64{1, 1, 28, 28}, nil).Inputs, RawInputContents: [][]byte{f32bytes(good)}}},
	} {
		t.Run("grpc "+tc.name, func(t *testing.T) {
			_, err := ts.grpc.ModelInfer(ctx, tc.req)
			switch status.Code(err) {
			case codes.InvalidArgument, codes.NotFound, codes.ResourceExhausted, codes.Unimplemented:
			default:
				t.Errorf("got %v, want a client error code", err)
			}
			if err != nil && strings.TrimSpace(status.Convert(err).Message()) == "" {
				t.Errorf("error without a message")
			}
		})
	}
	if st, body, _ := ts.do(t, "POST", "/v2/models/lenet/infer", mustJSON(t, lenetIn(map[string]any{"data": good}))); st != 200 {
		t.Fatalf("after bad requests: %d %s", st, body)
	}
}
