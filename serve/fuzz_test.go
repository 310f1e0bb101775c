package serve

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/inferd/inferd/tensor"
)

// FuzzInferJSON feeds the KServe v2 HTTP request decoder (JSON and the
// binary tensor extension) arbitrary bodies. It must never panic; what it
// accepts must be valid tensors, and encoding them as a response and
// decoding that back as a request must give the same tensors.
//
//	go test ./serve -fuzz FuzzInferJSON
func FuzzInferJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/infer/*.json")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		data = bytes.TrimSpace(data)
		f.Add(data, -1)
		if bytes.Contains(data, []byte("binary_data_size")) {
			f.Add(append(append([]byte{}, data...), 0, 0x3c, 0, 0xc0, 2, 0, 0, 0, 'h', 'i'), len(data))
		}
	}
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[0],"datatype":"FP32","data":[]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[3],"datatype":"BYTES","data":["",{"b64":""},"\\u0000"]}]}`), -1)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		if headerLen < -1 {
			headerLen = -1
		}
		hi, err := decodeInferRequest(body, headerLen)
		if err != nil {
			if CodeOf(err) != CodeInvalidArgument {
				t.Fatalf("error %v has code %v, want invalid_argument", err, CodeOf(err))
			}
			return
		}
		resp := &InferResponse{Model: "m", Version: 1, ID: hi.req.ID}
		for _, in := range hi.req.Inputs {
			if err := in.Validate(); err != nil {
				t.Fatalf("input %q: decoded an invalid tensor: %v", in.Name, err)
			}
			resp.Outputs = append(resp.Outputs, in)
		}
		// Round trip: the inputs as a binary response, read back as a request.
		all := &httpInfer{allBinary: true}
		out, n, err := encodeInferResponse(resp, all)
		if err != nil {
			t.Fatalf("encoding accepted inputs: %v", err)
		}
		if n >= 0 {
			n-- // "outputs" becomes "inputs"
		}
		again, err := decodeInferRequest(bytes.Replace(out, []byte(`"outputs"`), []byte(`"inputs"`), 1), n)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", out[:n], err)
		}
		if len(again.req.Inputs) != len(hi.req.Inputs) {
			t.Fatalf("round trip: %d inputs, want %d", len(again.req.Inputs), len(hi.req.Inputs))
		}
		for i, a := range again.req.Inputs {
			b := hi.req.Inputs[i]
			if a.Name != b.Name || a.DType != b.DType || !tensor.EqualShapes(a.Shape, b.Shape) {
				t.Fatalf("round trip: %s %v, want %s %v", a.Name, a.Tensor, b.Name, b.Tensor)
			}
			ra, _ := encodeRaw(nil, a.Tensor)
			rb, _ := encodeRaw(nil, b.Tensor)
			if !bytes.Equal(ra, rb) {
				t.Fatalf("round trip changed the data of %q", a.Name)
			}
		}
	})
}

// FuzzHeaderFast checks that decodeHeaderFast, where it accepts a request
// header, gives what json.Unmarshal gives.
//
//	go test ./serve -fuzz FuzzHeaderFast
func FuzzHeaderFast(f *testing.F) {
	files, _ := filepath.Glob("testdata/infer/*.json")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","parameters":{"binary_data_size":3136}}],"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}`,
		`{"id":"a1","parameters":{"binary_data_output":true,"timeout":1e3,"priority":0,"x":"y"},"inputs":[],"outputs":[]}`,
		` { "inputs" : [ { "name" : "x" , "shape" : [ -0 , 2 ] , "datatype" : "BYTES" , "parameters" : { "binary_data_size" : null , "Binary_Data_Size" : 4 } } ] } `,
		`{"inputs":[{"name":"x","shape":[1.0],"datatype":"FP32","parameters":{"shared_memory_region":"r"}}]}`,
		`{"inputs":[{"name":"x","shape":[9223372036854775808]}]}`,
		`{"inputs":[{"name":"x","data":[1,2]}]}`,
		`{"inputs":[],"inputs":[]}`,
		`{"id":"\u00e9"}`,
		`{"id":"a"} x`,
		`{"parameters":{"timeout":-01}}`,
		`{"parameters":{"timeout":truex}}`,
		`{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2.5e-3],[-0,3E+2]]}]}`,
		`{"inputs":[{"name":"s","shape":[3],"datatype":"BYTES","data":["a\u00e9\n",{"b64":"AAE="},"\ud800"]}]}`,
		`{"inputs":[{"name":"s","data":["\x"]}]}`,
		`{"inputs":[{"name":"s","data":[1,]}]}`,
		`{"inputs":[{"name":"s","data":{"a":[true,false,null],"b":{}}}]}`,
		"{\"inputs\":[{\"name\":\"s\",\"data\":[\"\xff\xfe\"]}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		fast, ok := decodeHeaderFast(src)
		if !ok {
			return
		}
		var want jsonInferRequest
		if err := json.Unmarshal(src, &want); err != nil {
			t.Fatalf("fast path accepted %q, json.Unmarshal: %v", src, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q:\nfast path %+v\njson.Unmarshal %+v", src, fast, want)
		}
	})
}

// FuzzParams checks the shortcuts of boolParam and intParam against
// json.Unmarshal.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"true", "false", "null", "0", "-0", "007", "+1", "12", "-12", "1e3", "1.0", "9223372036854775808", `"1"`, " 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var wantN int64
		errN := json.Unmarshal(v, &wantN)
		n, err := intParam("k", v)
		if (err == nil) != (errN == nil) || err == nil && n != wantN {
			t.Errorf("intParam(%q) = %d, %v; json.Unmarshal: %d, %v", v, n, err, wantN, errN)
		}
		var wantB bool
		errB := json.Unmarshal(v, &wantB)
		b, err := boolParam("k", v)
		if (err == nil) != (errB == nil) || err == nil && b != wantB {
			t.Errorf("boolParam(%q) = %v, %v; json.Unmarshal: %v, %v", v, b, err, wantB, errB)
		}
	})
}
