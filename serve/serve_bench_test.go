package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/serve/kservepb"
	"github.com/inferd/inferd/tensor"
)

// The server's own work per request, without the network: a one-node
// model (Relu on FP32 [N,784]) behind the gRPC service and the HTTP
// handler, called in process, the response marshalled as the transports
// would. Compare before and after a change with
//
//	go test ./serve -run '^$' -bench ServeInfer -benchmem -count 6 > new.txt
//	benchstat old.txt new.txt

// reluRepo returns a repository with model "m": Relu on FP32 [N,784].
func reluRepo(tb testing.TB, config string) string {
	tb.Helper()
	repo := tb.TempDir()
	vi := func(name string) *ir.ValueInfo {
		return &ir.ValueInfo{Name: name, Type: ir.TensorType(tensor.Float32, ir.Shape{{Value: -1, Param: "N"}, {Value: 784}})}
	}
	g := &ir.Graph{Name: "relu", Inputs: []*ir.ValueInfo{vi("input")}, Outputs: []*ir.ValueInfo{vi("output")},
		Nodes: []*ir.Node{{Name: "relu", OpType: "Relu", Inputs: []string{"input"}, Outputs: []string{"output"}}}}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	path := filepath.Join(repo, "m", "1", "model.onnx")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := onnx.Save(path, m, onnx.SaveOptions{}); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "m", ConfigFile), []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	return repo
}

func benchServer(b *testing.B) *Server {
	srv, err := NewServer(Options{ModelRepository: reluRepo(b, "max_batch_size: 16\ndynamic_batching {}\n")}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

func BenchmarkServeInferGRPC(b *testing.B) {
	srv := benchServer(b)
	g := &grpcServer{s: srv}
	in, err := proto.Marshal(&kservepb.ModelInferRequest{ModelName: "m",
		Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 784}}},
		RawInputContents: [][]byte{benchRaw(784)}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		// What grpc-go does around the handler: unmarshal into a new
		// message, call it, marshal the reply.
		req := new(kservepb.ModelInferRequest)
		if err := proto.Unmarshal(in, req); err != nil {
			b.Fatal(err)
		}
		resp, err := g.ModelInfer(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if out, err = (proto.MarshalOptions{}).MarshalAppend(out[:0], resp); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWriter is a ResponseWriter that keeps nothing but its header.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func BenchmarkServeInferHTTPBinary(b *testing.B) {
	srv := benchServer(b)
	h := srv.HTTPHandler()
	raw := benchRaw(784)
	hdr, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": "input", "shape": []int{1, 784}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs": []any{map[string]any{"name": "output", "parameters": map[string]any{"binary_data": true}}},
	})
	body := append(hdr, raw...)
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest("POST", "/v2/models/m/infer", io.NopCloser(rd))
	req.ContentLength = int64(len(body))
	req.Header.Set(HeaderContentLength, strconv.Itoa(len(hdr)))
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		clear(w.h)
		w.status, w.n = 200, 0
		h.ServeHTTP(w, req)
		if w.status != 200 || w.n != len(raw)+len(`{"model_name":"m","model_version":"1","outputs":[{"name":"output","datatype":"FP32","shape":[1,784],"parameters":{"binary_data_size":3136}}]}`) {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}
