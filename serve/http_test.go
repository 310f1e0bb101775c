package serve

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestHTTPEndpoints(t *testing.T) {
	ts := startServer(t, Options{ModelRepository: lenetRepo(t, lenetConfig)})
	for _, tc := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/v2/health/live", 200, ""},
		{"GET", "/v2/health/ready", 200, ""},
		{"GET", "/v2", 200, `"name":"inferd"`},
		{"GET", "/v2", 200, `"binary_tensor_data"`},
		{"GET", "/v2/models/lenet", 200, `"inputs":[{"name":"input","datatype":"FP32","shape":[-1,1,28,28]}]`},
		{"GET", "/v2/models/lenet/versions/1", 200, `"versions":["1"]`},
		{"GET", "/v2/models/lenet/ready", 200, ""},
		{"GET", "/v2/models/lenet/versions/1/ready", 200, ""},
		{"GET", "/v2/models/lenet/versions/2/ready", 503, "not ready"},
		{"GET", "/v2/models/nope/ready", 503, "not ready"},
		{"GET", "/v2/models/lenet/config", 200, `"max_batch_size":8`},
		{"GET", "/v2/models/lenet/versions/1/config", 200, `"data_type":"TYPE_FP32"`},
		{"GET", "/v2/models/lenet/stats", 200, `"model_stats":[{"name":"lenet","version":"1"`},
		{"GET", "/v2/models/lenet/versions/1/stats", 200, `"inference_stats"`},
		{"GET", "/v2/models/stats", 200, `"name":"lenet"`},
		{"POST", "/v2/repository/index", 200, `[{"name":"lenet","version":"1","state":"READY"}]`},
		{"GET", "/v2/models/nope", 404, `{"error":"unknown model \"nope\""}`},
		{"GET", "/v2/models/lenet/versions/7", 404, `unknown version 7 of model \"lenet\"`},
		{"GET", "/v2/models/lenet/versions/x", 400, `model version \"x\" is not a positive integer`},
		{"GET", "/v3/whatever", 404, `no endpoint GET /v3/whatever`},
		{"POST", "/v2/repository/models/lenet/load", 400, "not allowed in model control mode \\\"none\\\""},
		{"POST", "/v2/repository/models/lenet/unload", 400, "not allowed in model control mode"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body, _ := ts.do(t, tc.method, tc.path, nil)
			if status != tc.status || !strings.Contains(string(body), tc.contains) {
				t.Errorf("got %d %s, want %d containing %s", status, body, tc.status, tc.contains)
			}
		})
	}
}

func TestHTTPInferLenet(t *testing.T) {
	ts := startServer(t, Options{ModelRepository: lenetRepo(t, lenetConfig)})
	x := digit(2)
	want := engineOutput(t, x, 2)

	t.Run("json", func(t *testing.T) {
		// Nested data, as numpy's tolist() sends it, for one image.
		nested := make([][][][]float32, 1)
		nested[0] = [][][]float32{make([][]float32, 28)}
		for r := range 28 {
			nested[0][0][r] = x[r*28 : (r+1)*28]
		}
		req := map[string]any{"id": "req-1", "inputs": []any{map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "FP32", "data": nested}}}
		status, body, h := ts.do(t, "POST", "/v2/models/lenet/infer", mustJSON(t, req))
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var resp inferResponseJSON
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if resp.ModelName != "lenet" || resp.ModelVersion != "1" || resp.ID != "req-1" || len(resp.Outputs) != 1 {
			t.Fatalf("response %s", body)
		}
		o := resp.Outputs[0]
		if o.Name != "log_probs" || o.Datatype != "FP32" || !slices.Equal(o.Shape, []int{1, 10}) {
			t.Fatalf("output %s %s %v", o.Name, o.Datatype, o.Shape)
		}
		var got []float32
		json.Unmarshal(o.Data, &got)
		closeTo(t, "log_probs", got, want[:10])
	})

	t.Run("binary", func(t *testing.T) {
		// Binary input and output, flat JSON data for nothing: the layout
		// tritonclient's InferInput.set_data_from_numpy(binary_data=True) sends.
		hdr := mustJSON(t, map[string]any{
			"inputs":  []any{map[string]any{"name": "input", "shape": []int{2, 1, 28, 28}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": 2 * 784 * 4}}},
			"outputs": []any{map[string]any{"name": "log_probs", "parameters": map[string]any{"binary_data": true}}},
		})
		body := append(hdr, f32bytes(x)...)
		status, out, h := ts.do(t, "POST", "/v2/models/lenet/versions/1/infer", body, HeaderContentLength, strconv.Itoa(len(hdr)), "Content-Type", "application/octet-stream")
		if status != 200 {
			t.Fatalf("%d %s", status, out)
		}
		n, err := strconv.Atoi(h.Get(HeaderContentLength))
		if err != nil {
			t.Fatalf("response has no %s: %v", HeaderContentLength, h)
		}
		var resp inferResponseJSON
		if err := json.Unmarshal(out[:n], &resp); err != nil {
			t.Fatalf("%v: %s", err, out[:n])
		}
		if size := resp.Outputs[0].Parameters["binary_data_size"]; size != float64(80) {
			t.Errorf("binary_data_size %v, want 80", size)
		}
		closeTo(t, "log_probs", bytesF32(out[n:]), want)
	})

	t.Run("binary_data_output", func(t *testing.T) {
		req := map[string]any{"parameters": map[string]any{"binary_data_output": true},
			"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "FP32", "data": x[:784]}}}
		status, out, h := ts.do(t, "POST", "/v2/models/lenet/infer", mustJSON(t, req))
		if status != 200 || h.Get(HeaderContentLength) == "" {
			t.Fatalf("%d %v %s", status, h, out)
		}
		n, _ := strconv.Atoi(h.Get(HeaderContentLength))
		closeTo(t, "log_probs", bytesF32(out[n:]), want[:10])
	})
}

// TestHTTPDatatypes sends every kind of tensor through a model of
// identities, as JSON and as binary.
func TestHTTPDatatypes(t *testing.T) {
	repo := t.TempDir()
	writeMixedModel(t, filepath.Join(repo, "mixed", "1", "model.onnx"))
	ts := startServer(t, Options{ModelRepository: repo})
	h := []byte{0x00, 0x3c, 0x00, 0xc0} // FP16 1.0 and -2.0, little-endian
	bs := []byte{3, 0, 0, 0, 'a', 'b', 'c', 2, 0, 0, 0, 0xff, 0x00}
	hdr := mustJSON(t, map[string]any{
		"id": "mixed",
		"inputs": []any{
			map[string]any{"name": "x", "shape": []int{1, 4}, "datatype": "FP32", "data": [][]float64{{1, 2.5, -3, 1e-3}}},
			map[string]any{"name": "i", "shape": []int{1, 3}, "datatype": "INT32", "data": []int64{-2147483648, 0, 2147483647}},
			map[string]any{"name": "s", "shape": []int{1, 2}, "datatype": "BYTES", "parameters": map[string]any{"binary_data_size": len(bs)}},
			map[string]any{"name": "h", "shape": []int{1, 2}, "datatype": "FP16", "parameters": map[string]any{"binary_data_size": len(h)}},
			map[string]any{"name": "b", "shape": []int{1, 2}, "datatype": "BOOL", "data": []bool{true, false}},
		},
		"outputs": []any{
			map[string]any{"name": "y"}, map[string]any{"name": "i2"},
			map[string]any{"name": "s2", "parameters": map[string]any{"binary_data": true}},
			map[string]any{"name": "h2", "parameters": map[string]any{"binary_data": true}},
			map[string]any{"name": "b2"},
		},
	})
	body := append(append(append([]byte{}, hdr...), bs...), h...)
	status, out, hd := ts.do(t, "POST", "/v2/models/mixed/infer", body, HeaderContentLength, strconv.Itoa(len(hdr)))
	if status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	n, _ := strconv.Atoi(hd.Get(HeaderContentLength))
	var resp inferResponseJSON
	if err := json.Unmarshal(out[:n], &resp); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range resp.Outputs {
		got[o.Name] = o.Datatype + " " + string(o.Data)
	}
	want := map[string]string{
		"y":  "FP32 [2,5,-6,0.002]",
		"i2": "INT32 [-2147483648,0,2147483647]",
		"s2": "BYTES ",
		"h2": "FP16 ",
		"b2": "BOOL [true,false]",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("output %s: got %q, want %q", k, got[k], w)
		}
	}
	if bin := out[n:]; string(bin) != string(bs)+string(h) {
		t.Errorf("binary outputs %v, want %v", bin, append(bs, h...))
	}
	// The same BYTES as JSON strings, FP16 as numbers, outputs as JSON.
	req := mustJSON(t, map[string]any{"inputs": []any{
		map[string]any{"name": "x", "shape": []int{2, 4}, "datatype": "FP32", "data": []float64{1, 2, 3, 4, 5, 6, 7, 8}},
		map[string]any{"name": "i", "shape": []int{2, 3}, "datatype": "INT32", "data": [][]int{{1, 2, 3}, {4, 5, 6}}},
		map[string]any{"name": "s", "shape": []int{2, 2}, "datatype": "BYTES", "data": []string{"héllo", "", "\"q\"", "x"}},
		map[string]any{"name": "h", "shape": []int{2, 2}, "datatype": "FP16", "data": []float64{1, -2, 0.5, 65504}},
		map[string]any{"name": "b", "shape": []int{2, 2}, "datatype": "BOOL", "data": []bool{true, false, false, true}},
	}, "outputs": []any{map[string]any{"name": "s2"}, map[string]any{"name": "h2"}}})
	status, out, _ = ts.do(t, "POST", "/v2/models/mixed/infer", req)
	if status != 200 {
		t.Fatalf("%d %s", status, out)
	}
	if !strings.Contains(string(out), `"data":["héllo","","\"q\"","x"]`) || !strings.Contains(string(out), `"data":[1,-2,0.5,65504]`) {
		t.Errorf("response %s", out)
	}
	if strings.Contains(string(out), `"name":"y"`) {
		t.Errorf("output y was not asked for: %s", out)
	}
}

func TestHTTPBadRequests(t *testing.T) {
	ts := startServer(t, Options{ModelRepository: lenetRepo(t, lenetConfig), MaxRequestBytes: 1 << 20})
	in := func(shape []int, dt string, data any) []byte {
		return mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": shape, "datatype": dt, "data": data}}})
	}
	good := digit(1)
	hdr := mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": 3136}}}})
	for _, tc := range []struct {
		name   string
		path   string
		body   []byte
		header []string
		status int
		msg    string
	}{
		{"malformed JSON", "lenet", []byte(`{"inputs": [`), nil, 400, "malformed inference request JSON"},
		{"not an object", "lenet", []byte(`[1,2]`), nil, 400, "malformed inference request JSON"},
		{"no inputs", "lenet", []byte(`{"inputs": []}`), nil, 400, "the request has no inputs"},
		{"wrong shape", "lenet", in([]int{1, 1, 28, 27}, "FP32", good[:756]), nil, 400, `input \"input\": shape [1,1,28,27], but the model takes [-1,1,28,28]`},
		{"wrong rank", "lenet", in([]int{784}, "FP32", good), nil, 400, `shape [784], but the model takes [-1,1,28,28]`},
		{"wrong dtype", "lenet", in([]int{1, 1, 28, 28}, "FP64", good), nil, 400, `input \"input\": datatype FP64, but the model takes FP32`},
		{"unknown dtype", "lenet", in([]int{1, 1, 28, 28}, "FLOAT", good), nil, 400, `unknown datatype \"FLOAT\"`},
		{"too few elements", "lenet", in([]int{1, 1, 28, 28}, "FP32", good[:700]), nil, 400, `700 elements, but the shape holds 784`},
		{"too many elements", "lenet", in([]int{1, 1, 28, 28}, "FP32", digit(2)), nil, 400, `more than the 784 elements the shape holds`},
		{"string in FP32", "lenet", in([]int{1}, "FP32", []string{"a"}), nil, 400, `\"a\" is not a number`},
		{"batch too large", "lenet", in([]int{9, 1, 28, 28}, "FP32", digit(9)), nil, 400, `batch size 9 is outside 1..8 (max_batch_size)`},
		{"unknown input", "lenet", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "img", "shape": []int{1}, "datatype": "FP32", "data": []float32{1}}}}), nil, 400, `model \"lenet\" has no input \"img\" (inputs: \"input\")`},
		{"unknown output", "lenet", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "FP32", "data": good}}, "outputs": []any{map[string]any{"name": "probs"}}}), nil, 400, `has no output \"probs\"`},
		{"unknown model", "nope", in([]int{1, 1, 28, 28}, "FP32", good), nil, 404, `unknown model \"nope\"`},
		{"unknown version", "lenet/versions/3", in([]int{1, 1, 28, 28}, "FP32", good), nil, 404, `unknown version 3 of model \"lenet\" (serving: 1)`},
		{"oversized body", "lenet", make([]byte, 2<<20), nil, 413, "exceeds the limit of 1048576 bytes"},
		{"truncated binary", "lenet", append(append([]byte{}, hdr...), f32bytes(good)[:3000]...), []string{HeaderContentLength, strconv.Itoa(len(hdr))}, 400, "binary_data_size says more bytes than the 3000 left in the body (truncated binary payload?)"},
		{"extra binary", "lenet", append(append(append([]byte{}, hdr...), f32bytes(good)...), 1, 2), []string{HeaderContentLength, strconv.Itoa(len(hdr))}, 400, "2 bytes of binary data follow the last input's"},
		{"header length past body", "lenet", hdr, []string{HeaderContentLength, "100000"}, 400, "Inference-Header-Content-Length is 100000, but the body has only"},
		{"header length not a number", "lenet", hdr, []string{HeaderContentLength, "ten"}, 400, `Inference-Header-Content-Length: \"ten\" is not a length`},
		{"classification", "lenet", mustJSON(t, map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{1, 1, 28, 28}, "datatype": "FP32", "data": good}}, "outputs": []any{map[string]any{"name": "log_probs", "parameters": map[string]any{"classification": 3}}}}), nil, 400, "classification extension is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := ts.do(t, "POST", "/v2/models/"+tc.path+"/infer", tc.body, tc.header...)
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("body %q is not {\"error\": ...}", body)
			}
			if status != tc.status || !strings.Contains(string(body), tc.msg) {
				t.Errorf("got %d %s, want %d containing %s", status, body, tc.status, tc.msg)
			}
		})
	}
	// The server is still serving.
	status, body, _ := ts.do(t, "POST", "/v2/models/lenet/infer", in([]int{1, 1, 28, 28}, "FP32", good))
	if status != http.StatusOK {
		t.Fatalf("after bad requests: %d %s", status, body)
	}
	_, stats, _ := ts.do(t, "GET", "/v2/models/lenet/stats", nil)
	if !strings.Contains(string(stats), `"success":{"count":1`) {
		t.Errorf("stats after one good request: %s", stats)
	}
	// Failures are counted by reason; names of unknown models make no series.
	resp, err := http.Get(ts.metrics)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`inferd_request_failure_total{model="",reason="not_found",version=""} 1`,
		`inferd_request_failure_total{model="lenet",reason="invalid_argument",version="1"} 6`,
		`inferd_request_failure_total{model="lenet",reason="not_found",version=""} 1`,
		`inferd_request_failure_total{model="lenet",reason="too_large",version=""} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(metrics), `model="nope"`) {
		t.Errorf("metrics have a series for the unknown model \"nope\"")
	}
}
