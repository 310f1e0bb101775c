package serve

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestTFServing(t *testing.T) {
	repo := lenetRepo(t, lenetConfig)
	writeMixedModel(t, filepath.Join(repo, "mixed", "1", "model.onnx"))
	ts := startServer(t, Options{ModelRepository: repo})
	x := digit(2)
	want := engineOutput(t, x, 2)
	img := func(k int) [][][]float32 {
		out := [][][]float32{make([][]float32, 28)}
		for r := range 28 {
			out[0][r] = x[k*784+r*28 : k*784+(r+1)*28]
		}
		return out
	}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		contains     string
	}{
		{"GET", "/v1/models/lenet", nil, 200, `{"model_version_status":[{"version":"1","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}}]}`},
		{"GET", "/v1/models/lenet/versions/1", nil, 200, `"state":"AVAILABLE"`},
		{"GET", "/v1/models/lenet/versions/2", nil, 404, `could not find version 2 of model \"lenet\"`},
		{"GET", "/v1/models/nope", nil, 404, `could not find any versions of model \"nope\"`},
		{"GET", "/v1/models/lenet/metadata", nil, 200, `"inputs":{"input":{"dtype":"DT_FLOAT","tensor_shape":{"dim":[{"size":"-1","name":""},{"size":"1","name":""}`},
		{"GET", "/v1/models/lenet/versions/1/metadata", nil, 200, `"method_name":"tensorflow/serving/predict"`},
		{"POST", "/v1/models/lenet:predict", map[string]any{"instances": []any{img(0), img(1)}}, 200, `{"predictions":[[`},
		{"POST", "/v1/models/lenet/versions/1:predict", map[string]any{"inputs": map[string]any{"input": []any{img(0)}}}, 200, `{"outputs":[[`},
		{"POST", "/v1/models/lenet:predict", map[string]any{"instances": []any{map[string]any{"input": img(0)}}}, 200, `{"predictions":[[`},
		{"POST", "/v1/models/lenet:predict", map[string]any{"instances": []any{img(0), [][]float32{{1}}}}, 400, `instance 1: input \"input\" has shape [1,1], but instance 0 has [1,28,28]`},
		{"POST", "/v1/models/lenet:predict", map[string]any{"instances": []any{}}, 400, `\"instances\" is empty`},
		{"POST", "/v1/models/lenet:predict", map[string]any{"signature_name": "other", "instances": []any{img(0)}}, 400, `signature \"other\"`},
		{"POST", "/v1/models/lenet:predict", map[string]any{"instances": []any{[][]any{{1, []int{2}}}}}, 400, `ragged`},
		{"POST", "/v1/models/lenet:predict", map[string]any{}, 400, `needs \"instances\" (row format) or \"inputs\" (columnar format)`},
		{"POST", "/v1/models/lenet:classify", map[string]any{}, 404, `TF Serving method \"classify\" is not supported`},
		{"POST", "/v1/models/nope:predict", map[string]any{"instances": []any{1}}, 404, `unknown model \"nope\"`},
		{"POST", "/v1/models/mixed:predict", map[string]any{"instances": []any{map[string]any{
			"x": []float32{1, 2, 3, 4}, "i": []int{1, 2, 3}, "s": []any{"plain", map[string]string{"b64": "/wA="}},
			"h": []float32{1, 2}, "b": []bool{true, false}}}}, 200,
			`{"predictions":[{"y":[2,4,6,8],"i2":[1,2,3],"s2":["plain",{"b64":"/wA="}],"h2":[1,2],"b2":[true,false]}]}`},
		{"POST", "/v1/models/mixed:predict", map[string]any{"instances": []any{map[string]any{"x": []float32{1, 2, 3, 4}}}}, 400, `instance 0: missing input \"i\"`},
		{"POST", "/v1/models/mixed:predict", map[string]any{"inputs": map[string]any{"x": [][]float32{{1, 2, 3, 4}}, "i": [][]int{{1, 2, 3}},
			"s": [][]string{{"a", "b"}}, "h": [][]float32{{1, 2}}, "b": [][]bool{{true, true}}}}, 200, `"y":[[2,4,6,8]]`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body []byte
			if tc.body != nil {
				body = mustJSON(t, tc.body)
			}
			status, out, _ := ts.do(t, tc.method, tc.path, body)
			if status != tc.status || !strings.Contains(string(out), tc.contains) {
				t.Errorf("got %d %s, want %d containing %s", status, out, tc.status, tc.contains)
			}
		})
	}
	// Predictions match the engine.
	_, out, _ := ts.do(t, "POST", "/v1/models/lenet:predict", mustJSON(t, map[string]any{"instances": []any{img(0), img(1)}}))
	var pr struct {
		Predictions [][]float32 `json:"predictions"`
	}
	if err := json.Unmarshal(out, &pr); err != nil || len(pr.Predictions) != 2 {
		t.Fatalf("%v %s", err, out)
	}
	closeTo(t, "predictions", append(pr.Predictions[0], pr.Predictions[1]...), want)
}
