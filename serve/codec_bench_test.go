package serve

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/inferd/inferd/serve/kservepb"
	"github.com/inferd/inferd/tensor"
)

// The request and response codecs for one FP32 input of 784 elements and
// one output of 10, as the protocols carry them. Compare before and after
// a change with
//
//	go test ./serve -run '^$' -bench Codec -benchmem -count 6 > new.txt
//	benchstat old.txt new.txt
func benchRaw(n int) []byte {
	raw := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(i)))
	}
	return raw
}

func BenchmarkCodecHTTPBinaryRequest(b *testing.B) {
	raw := benchRaw(784)
	hdr, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": "input", "shape": []int{1, 784}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs": []any{map[string]any{"name": "logits", "parameters": map[string]any{"binary_data": true}}},
	})
	// Placed as readBodyAligned places it: the binary part 8-byte aligned.
	pad := (8 - len(hdr)%8) % 8
	body := append(append(make([]byte, pad, pad+len(hdr)+len(raw))[pad:], hdr...), raw...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeInferRequest(body, len(hdr)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecHTTPBinaryResponse(b *testing.B) {
	resp := &InferResponse{Model: "m", Version: 1, Outputs: []Tensor{{Name: "logits", Tensor: tensor.New(tensor.Float32, 1, 10)}}}
	hi := &httpInfer{binary: []outputBinary{{"logits", true}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := encodeInferResponseParts(resp, hi); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecGRPCRequest(b *testing.B) {
	r := &kservepb.ModelInferRequest{ModelName: "m",
		Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 784}}},
		RawInputContents: [][]byte{benchRaw(784)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeGRPCRequest(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecGRPCResponse(b *testing.B) {
	resp := &InferResponse{Model: "m", Version: 1, Outputs: []Tensor{{Name: "logits", Tensor: tensor.New(tensor.Float32, 1, 10)}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeGRPCResponse(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHeaderFastAcceptsClients: the headers binary clients send take the
// fast path (tritonclient and perf_analyzer send these keys).
func TestHeaderFastAcceptsClients(t *testing.T) {
	for _, h := range []string{
		`{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32","parameters":{"binary_data_size":3136}}],"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}`,
		`{"id":"7","inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","parameters":{"binary_data_size":64}},{"name":"INPUT1","shape":[1,16],"datatype":"BYTES","parameters":{"binary_data_size":80}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}},{"name":"OUTPUT1","parameters":{"binary_data":false}}],"parameters":{"binary_data_output":true,"timeout":5000}}`,
	} {
		if _, ok := decodeHeaderFast([]byte(h)); !ok {
			t.Errorf("fast path refused %s", h)
		}
	}
}
