package serve

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/inferd/inferd/serve/kservepb"
	"github.com/inferd/inferd/tensor"
)

// grpcServer implements inference.GRPCInferenceService.
type grpcServer struct {
	kservepb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func grpcError(err error) error {
	return status.Error(grpcCode(err), err.Error())
}

func (g *grpcServer) ServerLive(context.Context, *kservepb.ServerLiveRequest) (*kservepb.ServerLiveResponse, error) {
	return &kservepb.ServerLiveResponse{Live: true}, nil
}

func (g *grpcServer) ServerReady(context.Context, *kservepb.ServerReadyRequest) (*kservepb.ServerReadyResponse, error) {
	return &kservepb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcServer) ModelReady(_ context.Context, r *kservepb.ModelReadyRequest) (*kservepb.ModelReadyResponse, error) {
	v, err := ParseVersion(r.Version)
	if err != nil {
		return nil, grpcError(err)
	}
	return &kservepb.ModelReadyResponse{Ready: g.s.mgr.ModelReady(r.Name, v) && !g.s.closing.Load()}, nil
}

func (g *grpcServer) ServerMetadata(context.Context, *kservepb.ServerMetadataRequest) (*kservepb.ServerMetadataResponse, error) {
	return &kservepb.ServerMetadataResponse{Name: Name, Version: Version, Extensions: Extensions}, nil
}

func (g *grpcServer) ModelMetadata(_ context.Context, r *kservepb.ModelMetadataRequest) (*kservepb.ModelMetadataResponse, error) {
	v, err := ParseVersion(r.Version)
	if err != nil {
		return nil, grpcError(err)
	}
	md, err := g.s.mgr.Metadata(r.Name, v)
	if err != nil {
		return nil, grpcError(err)
	}
	conv := func(ts []TensorMetadata) []*kservepb.ModelMetadataResponse_TensorMetadata {
		out := make([]*kservepb.ModelMetadataResponse_TensorMetadata, len(ts))
		for i, t := range ts {
			out[i] = &kservepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
		}
		return out
	}
	return &kservepb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform, Inputs: conv(md.Inputs), Outputs: conv(md.Outputs)}, nil
}

func (g *grpcServer) ModelInfer(ctx context.Context, r *kservepb.ModelInferRequest) (*kservepb.ModelInferResponse, error) {
	resp, err := g.infer(ctx, r)
	if err != nil {
		return nil, grpcError(err)
	}
	return resp, nil
}

func (g *grpcServer) infer(ctx context.Context, r *kservepb.ModelInferRequest) (*kservepb.ModelInferResponse, error) {
	req, err := decodeGRPCRequest(r)
	if err != nil {
		g.s.metrics.modelFailure(g.s.mgr.metricsModel(r.ModelName), CodeOf(err))
		return nil, err
	}
	resp, err := g.s.mgr.Infer(ctx, req)
	if err != nil {
		return nil, err
	}
	return encodeGRPCResponse(resp)
}

// ModelStreamInfer answers each request of the stream with one response
// (or an error message), as they complete.
func (g *grpcServer) ModelStreamInfer(stream kservepb.GRPCInferenceService_ModelStreamInferServer) error {
	ctx := stream.Context()
	var mu sync.Mutex // serializes Send
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // requests of one stream running at once
	defer wg.Wait()
	for {
		r, err := stream.Recv()
		if err != nil {
			return nil // io.EOF or the client went away
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := g.infer(ctx, r)
			out := &kservepb.ModelStreamInferResponse{InferResponse: resp}
			if err != nil {
				out = &kservepb.ModelStreamInferResponse{ErrorMessage: err.Error(), InferResponse: &kservepb.ModelInferResponse{
					ModelName: r.ModelName, ModelVersion: r.ModelVersion, Id: r.Id}}
			}
			mu.Lock()
			defer mu.Unlock()
			stream.Send(out)
		})
	}
}

func (g *grpcServer) ModelConfig(_ context.Context, r *kservepb.ModelConfigRequest) (*kservepb.ModelConfigResponse, error) {
	v, err := ParseVersion(r.Version)
	if err != nil {
		return nil, grpcError(err)
	}
	cfg, err := g.s.mgr.Config(r.Name, v)
	if err != nil {
		return nil, grpcError(err)
	}
	return &kservepb.ModelConfigResponse{Config: cfg}, nil
}

func (g *grpcServer) ModelStatistics(_ context.Context, r *kservepb.ModelStatisticsRequest) (*kservepb.ModelStatisticsResponse, error) {
	v, err := ParseVersion(r.Version)
	if err != nil {
		return nil, grpcError(err)
	}
	st, err := g.s.mgr.Stats(r.Name, v)
	if err != nil {
		return nil, grpcError(err)
	}
	d := func(x duration) *kservepb.StatisticDuration {
		return &kservepb.StatisticDuration{Count: x.Count, Ns: x.Ns}
	}
	out := &kservepb.ModelStatisticsResponse{}
	for _, s := range st {
		ms := &kservepb.ModelStatistics{
			Name: s.Name, Version: s.Version, LastInference: s.LastInference,
			InferenceCount: s.InferenceCount, ExecutionCount: s.ExecutionCount,
			InferenceStats: &kservepb.InferStatistics{
				Success: d(s.InferenceStats.Success), Fail: d(s.InferenceStats.Fail), Queue: d(s.InferenceStats.Queue),
				ComputeInput: d(s.InferenceStats.ComputeInput), ComputeInfer: d(s.InferenceStats.ComputeInfer),
				ComputeOutput: d(s.InferenceStats.ComputeOutput), CacheHit: d(s.InferenceStats.CacheHit), CacheMiss: d(s.InferenceStats.CacheMiss),
			},
		}
		for _, b := range s.BatchStats {
			ms.BatchStats = append(ms.BatchStats, &kservepb.InferBatchStatistics{
				BatchSize: b.BatchSize, ComputeInput: d(b.ComputeInput), ComputeInfer: d(b.ComputeInfer), ComputeOutput: d(b.ComputeOutput)})
		}
		out.ModelStats = append(out.ModelStats, ms)
	}
	return out, nil
}

func (g *grpcServer) RepositoryIndex(_ context.Context, r *kservepb.RepositoryIndexRequest) (*kservepb.RepositoryIndexResponse, error) {
	if r.RepositoryName != "" {
		return nil, status.Errorf(codes.InvalidArgument, "repository %q: inferd serves one unnamed repository", r.RepositoryName)
	}
	idx, err := g.s.mgr.Index(r.Ready)
	if err != nil {
		return nil, grpcError(err)
	}
	out := &kservepb.RepositoryIndexResponse{}
	for _, e := range idx {
		out.Models = append(out.Models, &kservepb.RepositoryIndexResponse_ModelIndex{Name: e.Name, Version: e.Version, State: e.State, Reason: e.Reason})
	}
	return out, nil
}

func (g *grpcServer) RepositoryModelLoad(ctx context.Context, r *kservepb.RepositoryModelLoadRequest) (*kservepb.RepositoryModelLoadResponse, error) {
	for k := range r.Parameters {
		return nil, status.Errorf(codes.InvalidArgument, "load parameter %q is not supported by inferd: write the files into the repository", k)
	}
	err := g.s.mgr.Load(ctx, r.ModelName)
	g.s.updateHealth()
	if err != nil {
		return nil, grpcError(loadError(err))
	}
	return &kservepb.RepositoryModelLoadResponse{}, nil
}

func (g *grpcServer) RepositoryModelUnload(ctx context.Context, r *kservepb.RepositoryModelUnloadRequest) (*kservepb.RepositoryModelUnloadResponse, error) {
	err := g.s.mgr.Unload(ctx, r.ModelName)
	g.s.updateHealth()
	if err != nil {
		return nil, grpcError(err)
	}
	return &kservepb.RepositoryModelUnloadResponse{}, nil
}

// decodeGRPCRequest converts a ModelInferRequest.
func decodeGRPCRequest(r *kservepb.ModelInferRequest) (*InferRequest, error) {
	v, err := ParseVersion(r.ModelVersion)
	if err != nil {
		return nil, err
	}
	req := &InferRequest{Model: r.ModelName, Version: v, ID: r.Id, Inputs: make([]Tensor, 0, len(r.Inputs))}
	for k, p := range r.Parameters {
		switch k {
		case "timeout":
			req.Timeout = p.GetInt64Param()
		case "sequence_id", "sequence_start", "sequence_end", "priority":
			if p.GetInt64Param() != 0 || p.GetBoolParam() || p.GetUint64Param() != 0 || p.GetStringParam() != "" {
				return nil, errorf(CodeInvalidArgument, "request parameter %q is not supported by inferd", k)
			}
		}
	}
	if len(r.Inputs) == 0 {
		return nil, errorf(CodeInvalidArgument, "the request has no inputs")
	}
	if n := len(r.RawInputContents); n > 0 && n != len(r.Inputs) {
		return nil, errorf(CodeInvalidArgument, "raw_input_contents has %d entries for %d inputs", n, len(r.Inputs))
	}
	for i, in := range r.Inputs {
		dt, ok := kserveDType(in.Datatype)
		if !ok {
			return nil, errorf(CodeInvalidArgument, "input %q: unknown datatype %q", in.Name, in.Datatype)
		}
		shape, err := shapeFromInt64(in.Shape)
		if err != nil {
			return nil, errorf(CodeInvalidArgument, "input %q: %v", in.Name, err)
		}
		if _, ok := in.Parameters["shared_memory_region"]; ok {
			return nil, errorf(CodeInvalidArgument, "input %q: shared memory is not supported by inferd", in.Name)
		}
		var t *tensor.Tensor
		if len(r.RawInputContents) > 0 {
			if in.Contents != nil {
				return nil, errorf(CodeInvalidArgument, "input %q has both contents and raw_input_contents", in.Name)
			}
			t, err = decodeRaw(dt, shape, r.RawInputContents[i])
		} else {
			t, err = decodeContents(dt, shape, in.Contents)
		}
		if err != nil {
			return nil, errorf(CodeInvalidArgument, "input %q: %v", in.Name, err)
		}
		req.Inputs = append(req.Inputs, Tensor{Name: in.Name, Tensor: t})
	}
	for _, o := range r.Outputs {
		if _, ok := o.Parameters["classification"]; ok {
			return nil, errorf(CodeInvalidArgument, "output %q: the classification extension is not supported by inferd", o.Name)
		}
		if _, ok := o.Parameters["shared_memory_region"]; ok {
			return nil, errorf(CodeInvalidArgument, "output %q: shared memory is not supported by inferd", o.Name)
		}
		req.Outputs = append(req.Outputs, o.Name)
	}
	return req, nil
}

// decodeContents makes a tensor from typed InferTensorContents.
func decodeContents(dt tensor.DType, shape []int, c *kservepb.InferTensorContents) (*tensor.Tensor, error) {
	n, err := elementCount(shape)
	if err != nil {
		return nil, err
	}
	have := func(got int) error {
		if got != n {
			return fmt.Errorf("contents hold %d elements, but shape %s holds %d", got, tensor.ShapeString(shape), n)
		}
		return nil
	}
	if dt == tensor.Float16 || dt == tensor.BFloat16 {
		return nil, fmt.Errorf("%s data travels in raw_input_contents only", kserveName(dt))
	}
	if c == nil {
		if n == 0 {
			return tensor.New(dt, shape...), nil
		}
		return nil, fmt.Errorf("no contents and no raw_input_contents")
	}
	t := &tensor.Tensor{DType: dt, Shape: shape}
	switch dt {
	case tensor.Bool:
		err = have(len(c.BoolContents))
		t.Data = c.BoolContents
	case tensor.Int8, tensor.Int16, tensor.Int32:
		if err = have(len(c.IntContents)); err == nil {
			t.Data, err = narrowInts(dt, c.IntContents)
		}
	case tensor.Int64:
		err = have(len(c.Int64Contents))
		t.Data = c.Int64Contents
	case tensor.Uint8, tensor.Uint16, tensor.Uint32:
		if err = have(len(c.UintContents)); err == nil {
			t.Data, err = narrowUints(dt, c.UintContents)
		}
	case tensor.Uint64:
		err = have(len(c.Uint64Contents))
		t.Data = c.Uint64Contents
	case tensor.Float32:
		err = have(len(c.Fp32Contents))
		t.Data = c.Fp32Contents
	case tensor.Float64:
		err = have(len(c.Fp64Contents))
		t.Data = c.Fp64Contents
	case tensor.String:
		if err = have(len(c.BytesContents)); err == nil {
			s := make([]string, n)
			for i, b := range c.BytesContents {
				s[i] = string(b)
			}
			t.Data = s
		}
	default:
		return nil, fmt.Errorf("%s data travels in raw_input_contents only", kserveName(dt))
	}
	if err != nil {
		return nil, err
	}
	if t.Data == nil {
		t.Data = tensor.MakeSlice(dt, 0)
	}
	return t, nil
}

func narrowInts(dt tensor.DType, in []int32) (any, error) {
	lo, hi := int32(math.MinInt8), int32(math.MaxInt8)
	switch dt {
	case tensor.Int32:
		return in, nil
	case tensor.Int16:
		lo, hi = math.MinInt16, math.MaxInt16
	}
	out := tensor.MakeSlice(dt, len(in))
	for i, v := range in {
		if v < lo || v > hi {
			return nil, fmt.Errorf("element %d: %d overflows %s", i, v, kserveName(dt))
		}
		switch o := out.(type) {
		case []int8:
			o[i] = int8(v)
		case []int16:
			o[i] = int16(v)
		}
	}
	return out, nil
}

func narrowUints(dt tensor.DType, in []uint32) (any, error) {
	hi := uint32(math.MaxUint8)
	switch dt {
	case tensor.Uint32:
		return in, nil
	case tensor.Uint16:
		hi = math.MaxUint16
	}
	out := tensor.MakeSlice(dt, len(in))
	for i, v := range in {
		if v > hi {
			return nil, fmt.Errorf("element %d: %d overflows %s", i, v, kserveName(dt))
		}
		switch o := out.(type) {
		case []uint8:
			o[i] = uint8(v)
		case []uint16:
			o[i] = uint16(v)
		}
	}
	return out, nil
}

// encodeGRPCResponse puts every output in raw_output_contents, as Triton
// does.
func encodeGRPCResponse(resp *InferResponse) (*kservepb.ModelInferResponse, error) {
	out := &kservepb.ModelInferResponse{
		ModelName: resp.Model, ModelVersion: strconv.FormatInt(resp.Version, 10), Id: resp.ID,
		Outputs:           make([]*kservepb.ModelInferResponse_InferOutputTensor, len(resp.Outputs)),
		RawOutputContents: make([][]byte, len(resp.Outputs)),
	}
	// The output messages in one allocation (they are only pointed to,
	// never copied).
	msgs := make([]kservepb.ModelInferResponse_InferOutputTensor, len(resp.Outputs))
	for i, o := range resp.Outputs {
		m := &msgs[i]
		m.Name, m.Datatype, m.Shape = o.Name, kserveName(o.DType), shapeToInt64(o.Shape)
		out.Outputs[i] = m
		raw, err := rawBytes(o.Tensor)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		out.RawOutputContents[i] = raw
	}
	return out, nil
}
