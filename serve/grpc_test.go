package serve

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/inferd/inferd/serve/kservepb"
)

func TestGRPC(t *testing.T) {
	ts := startServer(t, Options{ModelRepository: lenetRepo(t, lenetConfig)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ts.grpc

	if r, err := c.ServerLive(ctx, &kservepb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive: %v %v", r, err)
	}
	if r, err := c.ServerReady(ctx, &kservepb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady: %v %v", r, err)
	}
	if r, err := c.ModelReady(ctx, &kservepb.ModelReadyRequest{Name: "lenet", Version: "1"}); err != nil || !r.Ready {
		t.Errorf("ModelReady: %v %v", r, err)
	}
	if r, err := c.ModelReady(ctx, &kservepb.ModelReadyRequest{Name: "nope"}); err != nil || r.Ready {
		t.Errorf("ModelReady(nope): %v %v", r, err)
	}
	if r, err := c.ServerMetadata(ctx, &kservepb.ServerMetadataRequest{}); err != nil || r.Name != "inferd" || !slices.Contains(r.Extensions, "model_repository") {
		t.Errorf("ServerMetadata: %v %v", r, err)
	}
	md, err := c.ModelMetadata(ctx, &kservepb.ModelMetadataRequest{Name: "lenet"})
	if err != nil || md.Platform != Platform || !slices.Equal(md.Inputs[0].Shape, []int64{-1, 1, 28, 28}) || md.Outputs[0].Name != "log_probs" {
		t.Errorf("ModelMetadata: %v %v", md, err)
	}
	cfg, err := c.ModelConfig(ctx, &kservepb.ModelConfigRequest{Name: "lenet"})
	if err != nil || cfg.Config.MaxBatchSize != 8 || cfg.Config.GetDynamicBatching() == nil {
		t.Errorf("ModelConfig: %v %v", cfg, err)
	}
	h, err := healthpb.NewHealthClient(ts.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "inference.GRPCInferenceService"})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v %v", h, err)
	}

	x := digit(2)
	want := engineOutput(t, x, 2)
	// raw_input_contents / raw_output_contents, as tritonclient sends.
	r, err := c.ModelInfer(ctx, &kservepb.ModelInferRequest{
		ModelName: "lenet", Id: "g1",
		Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{2, 1, 28, 28}}},
		RawInputContents: [][]byte{f32bytes(x)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.ModelName != "lenet" || r.ModelVersion != "1" || r.Id != "g1" || r.Outputs[0].Datatype != "FP32" || !slices.Equal(r.Outputs[0].Shape, []int64{2, 10}) {
		t.Fatalf("ModelInfer: %v", r)
	}
	closeTo(t, "raw", bytesF32(r.RawOutputContents[0]), want)
	// Typed contents.
	r, err = c.ModelInfer(ctx, &kservepb.ModelInferRequest{
		ModelName: "lenet", ModelVersion: "1",
		Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28},
			Contents: &kservepb.InferTensorContents{Fp32Contents: x[:784]}}},
		Outputs: []*kservepb.ModelInferRequest_InferRequestedOutputTensor{{Name: "log_probs"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "typed", bytesF32(r.RawOutputContents[0]), want[:10])

	// Errors carry the gRPC code of their kind.
	for _, tc := range []struct {
		name string
		req  *kservepb.ModelInferRequest
		code codes.Code
		msg  string
	}{
		{"unknown model", &kservepb.ModelInferRequest{ModelName: "nope", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1}, Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1}}}}}, codes.NotFound, `unknown model "nope"`},
		{"wrong shape", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28}}}, RawInputContents: [][]byte{make([]byte, 100)}}, codes.InvalidArgument, "100 bytes of data, but FP32 [1,1,28,28] takes 3136"},
		{"raw count", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28}}}, RawInputContents: [][]byte{nil, nil}}, codes.InvalidArgument, "raw_input_contents has 2 entries for 1 inputs"},
		{"wrong dtype", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "INT64", Shape: []int64{1, 1, 28, 28}, Contents: &kservepb.InferTensorContents{Int64Contents: make([]int64, 784)}}}}, codes.InvalidArgument, "datatype INT64, but the model takes FP32"},
		{"bad version", &kservepb.ModelInferRequest{ModelName: "lenet", ModelVersion: "latest"}, codes.InvalidArgument, `model version "latest" is not a positive integer`},
		{"negative dim", &kservepb.ModelInferRequest{ModelName: "lenet", Inputs: []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{-1, 1, 28, 28}}}}, codes.InvalidArgument, "dimension 0 is -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ModelInfer(ctx, tc.req)
			if s, _ := status.FromError(err); s.Code() != tc.code || !strings.Contains(s.Message(), tc.msg) {
				t.Errorf("got %v, want %v containing %q", err, tc.code, tc.msg)
			}
		})
	}

	// A stream of requests, one of them bad.
	stream, err := c.ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		req := &kservepb.ModelInferRequest{ModelName: "lenet", Id: string(rune('a' + i)),
			Inputs:           []*kservepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 1, 28, 28}}},
			RawInputContents: [][]byte{f32bytes(x[:784])}}
		if i == 3 {
			req.RawInputContents[0] = req.RawInputContents[0][:10]
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	got := map[string]string{}
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.ErrorMessage != "" {
			got[r.InferResponse.Id] = "error"
			continue
		}
		closeTo(t, "stream", bytesF32(r.InferResponse.RawOutputContents[0]), want[:10])
		got[r.InferResponse.Id] = "ok"
	}
	if want := map[string]string{"a": "ok", "b": "ok", "c": "ok", "d": "error", "e": "ok"}; !mapsEqual(got, want) {
		t.Errorf("stream responses %v, want %v", got, want)
	}

	st, err := c.ModelStatistics(ctx, &kservepb.ModelStatisticsRequest{Name: "lenet"})
	if err != nil || len(st.ModelStats) != 1 || st.ModelStats[0].InferenceStats.Success.Count != 6 || st.ModelStats[0].InferenceCount != 7 {
		t.Errorf("ModelStatistics: %v %v", st, err)
	}
	idx, err := c.RepositoryIndex(ctx, &kservepb.RepositoryIndexRequest{})
	if err != nil || len(idx.Models) != 1 || idx.Models[0].State != "READY" {
		t.Errorf("RepositoryIndex: %v %v", idx, err)
	}
	if _, err := c.RepositoryModelLoad(ctx, &kservepb.RepositoryModelLoadRequest{ModelName: "lenet"}); status.Code(err) != codes.Unimplemented {
		t.Errorf("RepositoryModelLoad in mode none: %v, want Unimplemented", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestGRPCDatatypes(t *testing.T) {
	repo := t.TempDir()
	writeMixedModel(t, filepath.Join(repo, "mixed", "1", "model.onnx"))
	ts := startServer(t, Options{ModelRepository: repo})
	ctx := context.Background()
	r, err := ts.grpc.ModelInfer(ctx, &kservepb.ModelInferRequest{
		ModelName: "mixed",
		Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "FP32", Shape: []int64{1, 4}, Contents: &kservepb.InferTensorContents{Fp32Contents: []float32{1, 2, 3, 4}}},
			{Name: "i", Datatype: "INT32", Shape: []int64{1, 3}, Contents: &kservepb.InferTensorContents{IntContents: []int32{7, 8, 9}}},
			{Name: "s", Datatype: "BYTES", Shape: []int64{1, 2}, Contents: &kservepb.InferTensorContents{BytesContents: [][]byte{[]byte("ab"), {0xff}}}},
			{Name: "h", Datatype: "FP16", Shape: []int64{1, 2}},
			{Name: "b", Datatype: "BOOL", Shape: []int64{1, 2}, Contents: &kservepb.InferTensorContents{BoolContents: []bool{false, true}}},
		},
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "FP16 data travels in raw_input_contents only") {
		t.Errorf("FP16 without raw contents: %v", err)
	}
	r, err = ts.grpc.ModelInfer(ctx, &kservepb.ModelInferRequest{
		ModelName: "mixed",
		Inputs: []*kservepb.ModelInferRequest_InferInputTensor{
			{Name: "x", Datatype: "FP32", Shape: []int64{1, 4}}, {Name: "i", Datatype: "INT32", Shape: []int64{1, 3}},
			{Name: "s", Datatype: "BYTES", Shape: []int64{1, 2}}, {Name: "h", Datatype: "FP16", Shape: []int64{1, 2}},
			{Name: "b", Datatype: "BOOL", Shape: []int64{1, 2}},
		},
		RawInputContents: [][]byte{f32bytes([]float32{1, 2, 3, 4}), {7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0},
			{2, 0, 0, 0, 'a', 'b', 1, 0, 0, 0, 0xff}, {0x00, 0x3c, 0x00, 0xc0}, {0, 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for i, o := range r.Outputs {
		got[o.Name] = r.RawOutputContents[i]
	}
	if string(got["s2"]) != "\x02\x00\x00\x00ab\x01\x00\x00\x00\xff" || string(got["h2"]) != "\x00\x3c\x00\xc0" || string(got["b2"]) != "\x00\x01" {
		t.Errorf("outputs %v", got)
	}
	closeTo(t, "y", bytesF32(got["y"]), []float32{2, 4, 6, 8})
}
