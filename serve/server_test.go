package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/serve/kservepb"
	"github.com/inferd/inferd/tensor"
)

// testServer is a Server listening on 127.0.0.1 at random ports.
type testServer struct {
	srv     *Server
	url     string // http://127.0.0.1:port
	metrics string // http://127.0.0.1:port/metrics
	grpc    kservepb.GRPCInferenceServiceClient
	conn    *grpc.ClientConn
	reg     *prometheus.Registry
	cancel  context.CancelFunc
}

// startServer starts a server on repo, loads its models and stops it when
// the test ends.
func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	var logger *slog.Logger
	if os.Getenv("INFERD_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := NewServer(opts, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	hl, gl, ml := listen(), listen(), listen()
	hs := &http.Server{Handler: srv.HTTPHandler()}
	ms := &http.Server{Handler: srv.MetricsHandler()}
	go hs.Serve(hl)
	go ms.Serve(ml)
	go srv.GRPCServer().Serve(gl)
	ctx, cancel := context.WithCancel(context.Background())
	srv.Start(ctx)
	go srv.Poll(ctx)
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, url: "http://" + hl.Addr().String(), metrics: "http://" + ml.Addr().String() + "/metrics",
		grpc: kservepb.NewGRPCInferenceServiceClient(conn), conn: conn, reg: reg, cancel: cancel}
	t.Cleanup(func() {
		cancel()
		conn.Close()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		hs.Shutdown(sctx)
		ms.Shutdown(sctx)
		srv.GRPCServer().GracefulStop()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// do sends a request and returns the status and body.
func (ts *testServer) do(t *testing.T, method, path string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// lenetPath is the example model shipped in the repository.
const lenetPath = "../models/lenet/1/model.onnx"

// addModel copies src into <repo>/<name>/<version>/model.onnx.
func addModel(t *testing.T, repo, name string, version int, src string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, name, itoa(version), "model.onnx"), data)
}

func itoa(i int) string { return strconv.Itoa(i) }

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Write then rename, as a deployment tool would, so a poll never sees
	// half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// writeMixedModel writes a model with a variable batch dimension and
// inputs of several datatypes: y = x + x (FP32 [N,4]), i2 = i (INT32
// [N,3]), s2 = s (BYTES [N,2]), h2 = h (FP16 [N,2]), b2 = b (BOOL [N,2]).
func writeMixedModel(t *testing.T, path string) {
	t.Helper()
	n := ir.Dim{Value: -1, Param: "N"}
	in := func(name string, dt tensor.DType, d int) *ir.ValueInfo {
		return &ir.ValueInfo{Name: name, Type: ir.TensorType(dt, ir.Shape{n, {Value: int64(d)}})}
	}
	g := &ir.Graph{
		Name:    "mixed",
		Inputs:  []*ir.ValueInfo{in("x", tensor.Float32, 4), in("i", tensor.Int32, 3), in("s", tensor.String, 2), in("h", tensor.Float16, 2), in("b", tensor.Bool, 2)},
		Outputs: []*ir.ValueInfo{in("y", tensor.Float32, 4), in("i2", tensor.Int32, 3), in("s2", tensor.String, 2), in("h2", tensor.Float16, 2), in("b2", tensor.Bool, 2)},
		Nodes: []*ir.Node{
			{Name: "add", OpType: "Add", Inputs: []string{"x", "x"}, Outputs: []string{"y"}},
			{Name: "id_i", OpType: "Identity", Inputs: []string{"i"}, Outputs: []string{"i2"}},
			{Name: "id_s", OpType: "Identity", Inputs: []string{"s"}, Outputs: []string{"s2"}},
			{Name: "id_h", OpType: "Identity", Inputs: []string{"h"}, Outputs: []string{"h2"}},
			{Name: "id_b", OpType: "Identity", Inputs: []string{"b"}, Outputs: []string{"b2"}},
		},
	}
	m := &ir.Model{IRVersion: 8, Opsets: []ir.OpsetImport{{Version: 17}}, Graph: g}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnx.Save(path, m, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// lenetRepo returns a repository with lenet version 1 and config text.
func lenetRepo(t *testing.T, config string) string {
	t.Helper()
	repo := t.TempDir()
	addModel(t, repo, "lenet", 1, lenetPath)
	if config != "" {
		writeFile(t, filepath.Join(repo, "lenet", ConfigFile), []byte(config))
	}
	return repo
}

const lenetConfig = `
name: "lenet"
max_batch_size: 8
dynamic_batching { }
`

// digit returns a [n,1,28,28] input of deterministic values.
func digit(n int) []float32 {
	x := make([]float32, n*784)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.01))
	}
	return x
}

// engineOutput runs lenet directly, for comparison.
func engineOutput(t *testing.T, x []float32, n int) []float32 {
	t.Helper()
	m, err := onnx.Load(lenetPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := engine.Compile(m, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*tensor.Tensor{"input": tensor.FromSlice(x, n, 1, 28, 28)})
	if err != nil {
		t.Fatal(err)
	}
	return tensor.Data[float32](out["log_probs"])
}

func closeTo(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type inferResponseJSON struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name       string          `json:"name"`
		Datatype   string          `json:"datatype"`
		Shape      []int           `json:"shape"`
		Data       json.RawMessage `json:"data"`
		Parameters map[string]any  `json:"parameters"`
	} `json:"outputs"`
}

func tensorOf(x []float32, shape ...int) *tensor.Tensor { return tensor.FromSlice(x, shape...) }
