package ir_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/tensor"
)

type inferCase struct {
	name  string
	opset int64
	in    []*ir.ValueInfo
	init  []*ir.Initializer
	nodes []*ir.Node
	want  map[string]string
}

func (tc inferCase) model() *ir.Model {
	opset := tc.opset
	if opset == 0 {
		opset = 17
	}
	return model(opset, &ir.Graph{Name: tc.name, Inputs: tc.in, Initializers: tc.init, Nodes: tc.nodes})
}

func runInferCases(t *testing.T, cases []inferCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := infer(t, tc.model())
			for _, err := range errs {
				t.Errorf("unexpected error: %v", err)
			}
			expectTypes(t, got, tc.want)
		})
	}
}

func TestInferElementwise(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "add_broadcast", in: []*ir.ValueInfo{f32("X", "N", 3, 1), f32("Y", 4)},
			nodes: []*ir.Node{node("Add", "add", "X,Y", "Z")},
			want:  map[string]string{"Z": "float32[N,3,4]"}},
		{name: "mul_symbols", in: []*ir.ValueInfo{f32("X", "N", 1), f32("Y", 1, "M"), f32("W", "N", "M")},
			nodes: []*ir.Node{node("Mul", "m", "X,Y", "Z"), node("Sub", "s", "Z,W", "Z2")},
			want:  map[string]string{"Z": "float32[N,M]", "Z2": "float32[N,M]"}},
		{name: "unknown_with_size", in: []*ir.ValueInfo{f32("X", "?", 1), f32("Y", 5, 7)},
			nodes: []*ir.Node{node("Add", "add", "X,Y", "Z")},
			want:  map[string]string{"Z": "float32[5,7]"}},
		{name: "variadic_max", in: []*ir.ValueInfo{f32("A", 3, 1), f32("B", 4), f32("C", 2, 1, 1)},
			nodes: []*ir.Node{node("Max", "max", "A,B,C", "Z")},
			want:  map[string]string{"Z": "float32[2,3,4]"}},
		{name: "compare_where", in: []*ir.ValueInfo{f32("X", "N", 1), f32("Y", 1, 4)},
			nodes: []*ir.Node{node("Less", "lt", "X,Y", "C"), node("Where", "w", "C,X,Y", "Z")},
			want:  map[string]string{"C": "bool[N,4]", "Z": "float32[N,4]"}},
		{name: "cast_softmax_dropout", in: []*ir.ValueInfo{f32("X", "N", 10)},
			nodes: []*ir.Node{
				node("Cast", "c", "X", "I", aInt("to", int64(tensor.Int64))),
				node("Softmax", "sm", "X", "S", aInt("axis", -1)),
				node("Dropout", "d", "X", "D,M"),
			},
			want: map[string]string{"I": "int64[N,10]", "S": "float32[N,10]", "D": "float32[N,10]", "M": "bool[N,10]"}},
		{name: "unknown_op", in: []*ir.ValueInfo{f32("X", 2)},
			nodes: []*ir.Node{node("FooBar", "f", "X", "Y"), node("Relu", "r", "Y", "Z")},
			want:  map[string]string{"Y": "unknown", "Z": "unknown"}},
		{name: "legacy_broadcast_opset6", opset: 6, in: []*ir.ValueInfo{f32("X", 2, 3, 4), f32("B", 3)},
			nodes: []*ir.Node{node("Add", "a", "X,B", "Z", aInt("broadcast", 1), aInt("axis", 1))},
			want:  map[string]string{"Z": "float32[2,3,4]"}},
	})
}

func TestInferLinalg(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "matmul_batched", in: []*ir.ValueInfo{f32("A", "N", "S", 64)}, init: []*ir.Initializer{weights("B", 64, 32)},
			nodes: []*ir.Node{node("MatMul", "mm", "A,B", "Y")},
			want:  map[string]string{"Y": "float32[N,S,32]"}},
		{name: "matmul_vectors", in: []*ir.ValueInfo{f32("a", 3), f32("B", 3, 4), f32("C", 2, 3, 4), f32("d", 4)},
			nodes: []*ir.Node{node("MatMul", "m1", "a,B", "Y1"), node("MatMul", "m2", "C,d", "Y2"), node("MatMul", "m3", "d,d", "Y3")},
			want:  map[string]string{"Y1": "float32[4]", "Y2": "float32[2,3]", "Y3": "float32[]"}},
		{name: "matmul_batch_broadcast", in: []*ir.ValueInfo{f32("A", 2, 1, 3, 4), f32("B", 5, 4, 6)},
			nodes: []*ir.Node{node("MatMul", "mm", "A,B", "Y")},
			want:  map[string]string{"Y": "float32[2,5,3,6]"}},
		{name: "gemm_transB", in: []*ir.ValueInfo{f32("A", "N", 8)}, init: []*ir.Initializer{weights("W", 16, 8), weights("C", 16)},
			nodes: []*ir.Node{node("Gemm", "fc", "A,W,C", "Y", aInt("transB", 1))},
			want:  map[string]string{"Y": "float32[N,16]"}},
		{name: "einsum", in: []*ir.ValueInfo{f32("A", "N", 3, 4), f32("B", "N", 4, 5), f32("P", 3, 4), f32("Q", 4, 5), f32("X", "N", 2, 3, 4), f32("M", 3, 3)},
			nodes: []*ir.Node{
				node("Einsum", "bmm", "A,B", "Y1", aString("equation", "bij,bjk->bik")),
				node("Einsum", "implicit", "P,Q", "Y2", aString("equation", "ij,jk")),
				node("Einsum", "ellipsis", "X", "Y3", aString("equation", "...ij->...ji")),
				node("Einsum", "trace", "M", "Y4", aString("equation", "ii")),
				node("Einsum", "sum", "X", "Y5", aString("equation", "...ij->...")),
			},
			want: map[string]string{"Y1": "float32[N,3,5]", "Y2": "float32[3,5]", "Y3": "float32[N,2,4,3]", "Y4": "float32[]", "Y5": "float32[N,2]"}},
		{name: "quantize", in: []*ir.ValueInfo{f32("X", "N", 4), f32("s"), input("zp", tensor.Int8)},
			nodes: []*ir.Node{
				node("QuantizeLinear", "q", "X,s,zp", "Q"),
				node("DequantizeLinear", "dq", "Q,s,zp", "D"),
				node("DynamicQuantizeLinear", "dyn", "X", "Y,Ys,Yz"),
			},
			want: map[string]string{"Q": "int8[N,4]", "D": "float32[N,4]", "Y": "uint8[N,4]", "Ys": "float32[]", "Yz": "uint8[]"}},
	})
}

func TestInferNN(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "conv_pads_strides", in: []*ir.ValueInfo{f32("X", "N", 3, 224, 224)}, init: []*ir.Initializer{weights("W", 64, 3, 7, 7), weights("B", 64)},
			nodes: []*ir.Node{node("Conv", "conv", "X,W,B", "Y", aInts("strides", 2, 2), aInts("pads", 3, 3, 3, 3))},
			want:  map[string]string{"Y": "float32[N,64,112,112]"}},
		{name: "conv_same_upper", in: []*ir.ValueInfo{f32("X", 1, 3, 15, 15)}, init: []*ir.Initializer{weights("W", 8, 3, 3, 3)},
			nodes: []*ir.Node{node("Conv", "conv", "X,W", "Y", aInts("strides", 2, 2), aString("auto_pad", "SAME_UPPER"))},
			want:  map[string]string{"Y": "float32[1,8,8,8]"}},
		{name: "conv_depthwise_dilated", in: []*ir.ValueInfo{f32("X", 1, 4, 10, 10)}, init: []*ir.Initializer{weights("W", 4, 1, 3, 3)},
			nodes: []*ir.Node{node("Conv", "conv", "X,W", "Y", aInt("group", 4), aInts("dilations", 2, 2))},
			want:  map[string]string{"Y": "float32[1,4,6,6]"}},
		{name: "conv_symbolic_spatial", in: []*ir.ValueInfo{f32("X", "N", 3, "H", "W")}, init: []*ir.Initializer{weights("W", 8, 3, 1, 1)},
			nodes: []*ir.Node{node("Conv", "conv", "X,W", "Y")},
			want:  map[string]string{"Y": "float32[N,8,?,?]"}},
		{name: "maxpool_ceil", in: []*ir.ValueInfo{f32("X", 1, 1, 5, 5), f32("X4", 1, 1, 4, 4)},
			nodes: []*ir.Node{
				node("MaxPool", "p", "X", "Y,I", aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1)),
				// The last window would start past the input: dropped.
				node("MaxPool", "p2", "X4", "Y2", aInts("kernel_shape", 1, 1), aInts("strides", 2, 2), aInt("ceil_mode", 1)),
			},
			want: map[string]string{"Y": "float32[1,1,3,3]", "I": "int64[1,1,3,3]", "Y2": "float32[1,1,2,2]"}},
		{name: "avgpool_valid_same", in: []*ir.ValueInfo{f32("X", "N", 1, 7, 7)},
			nodes: []*ir.Node{
				node("AveragePool", "v", "X", "Y1", aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aString("auto_pad", "VALID")),
				node("AveragePool", "s", "X", "Y2", aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aString("auto_pad", "SAME_LOWER")),
				node("GlobalAveragePool", "g", "X", "Y3"),
			},
			want: map[string]string{"Y1": "float32[N,1,3,3]", "Y2": "float32[N,1,4,4]", "Y3": "float32[N,1,1,1]"}},
		{name: "conv_transpose", in: []*ir.ValueInfo{f32("X", "N", 2, 3, 3)}, init: []*ir.Initializer{weights("W", 2, 4, 3, 3)},
			nodes: []*ir.Node{
				node("ConvTranspose", "ct", "X,W", "Y1", aInts("strides", 2, 2), aInts("output_padding", 1, 1)),
				node("ConvTranspose", "ct2", "X,W", "Y2", aInts("strides", 2, 2), aInts("output_shape", 10, 10)),
			},
			want: map[string]string{"Y1": "float32[N,4,8,8]", "Y2": "float32[N,4,10,10]"}},
		{name: "norms", in: []*ir.ValueInfo{f32("X", "N", "S", 384), f32("I", "N", 16, 8, 8)},
			init: []*ir.Initializer{weights("g", 384), weights("b", 384), weights("c", 16)},
			nodes: []*ir.Node{
				node("LayerNormalization", "ln", "X,g,b", "Y,Mean,InvStd"),
				node("BatchNormalization", "bn", "I,c,c,c,c", "Z"),
				node("InstanceNormalization", "in", "I,c,c", "Z2"),
			},
			want: map[string]string{"Y": "float32[N,S,384]", "Mean": "float32[N,S,1]", "InvStd": "float32[N,S,1]", "Z": "float32[N,16,8,8]", "Z2": "float32[N,16,8,8]"}},
		{name: "resize", in: []*ir.ValueInfo{f32("X", "N", 3, 4, 4)},
			init: []*ir.Initializer{floats("scales", 1, 1, 2, 0.5), i64("sizes", 1, 3, 5, 7), floats("empty")},
			nodes: []*ir.Node{
				node("Resize", "scales", "X,,scales", "Y1"),
				node("Resize", "sizes", "X,,empty,sizes", "Y2"),
			},
			want: map[string]string{"Y1": "float32[N,3,8,2]", "Y2": "float32[1,3,5,7]"}},
		{name: "upsample_opset7", opset: 7, in: []*ir.ValueInfo{f32("X", 1, 1, 2, 2)},
			nodes: []*ir.Node{node("Upsample", "up", "X", "Y", aFloats("scales", 1, 1, 2, 3))},
			want:  map[string]string{"Y": "float32[1,1,4,6]"}},
		{name: "depth_space", in: []*ir.ValueInfo{f32("X", "N", 8, 2, 3)},
			nodes: []*ir.Node{
				node("DepthToSpace", "d2s", "X", "Y", aInt("blocksize", 2)),
				node("SpaceToDepth", "s2d", "Y", "Z", aInt("blocksize", 2)),
			},
			want: map[string]string{"Y": "float32[N,2,4,6]", "Z": "float32[N,8,2,3]"}},
	})
}

func TestInferRNN(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "lstm_bidirectional", in: []*ir.ValueInfo{f32("X", "S", "N", 10)},
			init:  []*ir.Initializer{weights("W", 2, 80, 10), weights("R", 2, 80, 20)},
			nodes: []*ir.Node{node("LSTM", "lstm", "X,W,R", "Y,Yh,Yc", aInt("hidden_size", 20), aString("direction", "bidirectional"))},
			want:  map[string]string{"Y": "float32[S,2,N,20]", "Yh": "float32[2,N,20]", "Yc": "float32[2,N,20]"}},
		{name: "gru_layout1", in: []*ir.ValueInfo{f32("X", "N", "S", 10)},
			init:  []*ir.Initializer{weights("W", 1, 60, 10), weights("R", 1, 60, 20)},
			nodes: []*ir.Node{node("GRU", "gru", "X,W,R", "Y,Yh", aInt("layout", 1))},
			want:  map[string]string{"Y": "float32[N,S,1,20]", "Yh": "float32[N,1,20]"}},
		{name: "rnn_no_y", in: []*ir.ValueInfo{f32("X", 5, 2, 3)},
			init:  []*ir.Initializer{weights("W", 1, 4, 3), weights("R", 1, 4, 4)},
			nodes: []*ir.Node{node("RNN", "rnn", "X,W,R", ",Yh", aInt("hidden_size", 4))},
			want:  map[string]string{"Yh": "float32[1,2,4]"}},
	})
}

func TestInferReduce(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "reduce_opset13", opset: 13, in: []*ir.ValueInfo{f32("X", "N", "S", 384)}, init: []*ir.Initializer{i64("ax", 1)},
			nodes: []*ir.Node{
				node("ReduceMean", "mean", "X", "Y1", aInts("axes", -1)),
				node("ReduceSum", "sum", "X,ax", "Y2", aInt("keepdims", 0)),
				node("ReduceSum", "all", "X", "Y3"),
				node("ReduceMax", "max", "X", "Y4", aInt("keepdims", 0)),
				node("ArgMax", "am", "X", "Y5", aInt("axis", 1), aInt("keepdims", 0)),
			},
			want: map[string]string{"Y1": "float32[N,S,1]", "Y2": "float32[N,384]", "Y3": "float32[1,1,1]", "Y4": "float32[]", "Y5": "int64[N,384]"}},
		{name: "reduce_opset18_inputs", opset: 18, in: []*ir.ValueInfo{f32("X", "N", 4, 5), input("dyn", tensor.Int64, 2)},
			init: []*ir.Initializer{i64("ax", 0, 2), i64("none")},
			nodes: []*ir.Node{
				node("ReduceMax", "max", "X,ax", "Y1"),
				node("ReduceL2", "l2", "X,none", "Y2", aInt("noop_with_empty_axes", 1)),
				node("ReduceMin", "dyn_keep", "X,dyn", "Y3"),
				node("ReduceMin", "dyn_drop", "X,dyn", "Y4", aInt("keepdims", 0)),
			},
			want: map[string]string{"Y1": "float32[1,4,1]", "Y2": "float32[N,4,5]", "Y3": "float32[?,?,?]", "Y4": "float32[?...]"}},
		{name: "topk", opset: 11, in: []*ir.ValueInfo{f32("X", "N", 10)}, init: []*ir.Initializer{i64("k", 3)},
			nodes: []*ir.Node{node("TopK", "topk", "X,k", "V,I")},
			want:  map[string]string{"V": "float32[N,3]", "I": "int64[N,3]"}},
		{name: "topk_opset1", opset: 1, in: []*ir.ValueInfo{f32("X", 4, 10)},
			nodes: []*ir.Node{node("TopK", "topk", "X", "V,I", aInt("k", 2), aInt("axis", 0))},
			want:  map[string]string{"V": "float32[2,10]", "I": "int64[2,10]"}},
	})
}

func TestInferShapeOps(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "reshape_zero_minus_one", in: []*ir.ValueInfo{f32("X", "N", "S", 384)},
			init: []*ir.Initializer{i64("split_heads", 0, 0, 12, 32), i64("merge", 0, 0, -1)},
			nodes: []*ir.Node{
				node("Reshape", "r1", "X,split_heads", "Y"),
				node("Reshape", "r2", "Y,merge", "Z"),
			},
			want: map[string]string{"Y": "float32[N,S,12,32]", "Z": "float32[N,S,384]"}},
		{name: "reshape_symbol_cancels", in: []*ir.ValueInfo{f32("X", "N", 3, 4)},
			init: []*ir.Initializer{i64("a", -1, 12), i64("b", -1), i64("c", 3, -1), i64("d", 2, -1, 3)},
			nodes: []*ir.Node{
				node("Reshape", "r1", "X,a", "Y1"),
				node("Reshape", "r2", "X,b", "Y2"),
				node("Reshape", "r3", "X,c", "Y3"),
				node("Reshape", "r4", "Y1,d", "Y4"),
			},
			want: map[string]string{"Y1": "float32[N,12]", "Y2": "float32[?]", "Y3": "float32[3,?]", "Y4": "float32[2,?,3]"}},
		{name: "reshape_from_shape_chain", opset: 13, in: []*ir.ValueInfo{f32("X", "N", "S", 384)},
			init: []*ir.Initializer{scalarInit("i0", int64(0)), scalarInit("i1", int64(1)), i64("zero", 0), i64("tail", 6, 64)},
			nodes: []*ir.Node{
				node("Shape", "shape", "X", "s"),
				node("Gather", "g0", "s,i0", "n"),
				node("Gather", "g1", "s,i1", "seq"),
				node("Unsqueeze", "u0", "n,zero", "n1"),
				node("Unsqueeze", "u1", "seq,zero", "seq1"),
				node("Concat", "cat", "n1,seq1,tail", "target", aInt("axis", 0)),
				node("Reshape", "r", "X,target", "Y"),
				node("Size", "size", "X", "sz"),
			},
			want: map[string]string{"s": "int64[3]", "n": "int64[]", "n1": "int64[1]", "target": "int64[4]", "Y": "float32[N,S,6,64]", "sz": "int64[]"}},
		{name: "shape_start_end", in: []*ir.ValueInfo{f32("X", "N", 3, 4, 5)}, init: []*ir.Initializer{i64("minus1", -1)},
			nodes: []*ir.Node{
				node("Shape", "sh", "X", "s", aInt("start", 1), aInt("end", -1)),
				node("Concat", "cat", "minus1,s", "t", aInt("axis", 0)),
				node("Reshape", "r", "X,t", "Y"),
			},
			want: map[string]string{"s": "int64[2]", "Y": "float32[?,3,4]"}},
		{name: "constant_node_shape", opset: 13, in: []*ir.ValueInfo{f32("X", 2, 6)},
			nodes: []*ir.Node{
				node("Constant", "k", "", "shape", aTensor("value", tensor.FromSlice([]int64{3, -1}, 2))),
				node("Reshape", "r", "X,shape", "Y"),
				node("Constant", "k2", "", "ints", aInts("value_ints", 1, 2, 3)),
			},
			want: map[string]string{"shape": "int64[2]", "Y": "float32[3,4]", "ints": "int64[3]"}},
		{name: "transpose", in: []*ir.ValueInfo{f32("X", "N", "S", 12, 32)},
			nodes: []*ir.Node{
				node("Transpose", "t", "X", "Y", aInts("perm", 0, 2, 1, 3)),
				node("Transpose", "rev", "X", "Z"),
			},
			want: map[string]string{"Y": "float32[N,12,S,32]", "Z": "float32[32,12,S,N]"}},
		{name: "concat", in: []*ir.ValueInfo{f32("A", "N", 3), f32("B", "N", 5), f32("C", 2, 3)},
			nodes: []*ir.Node{
				node("Concat", "c1", "A,B", "Y1", aInt("axis", 1)),
				node("Concat", "c2", "A,C", "Y2", aInt("axis", 0)),
				node("Concat", "c3", "C,C", "Y3", aInt("axis", -2)),
			},
			want: map[string]string{"Y1": "float32[N,8]", "Y2": "float32[?,3]", "Y3": "float32[4,3]"}},
		{name: "split_opset13_input", opset: 13, in: []*ir.ValueInfo{f32("X", "N", 10)}, init: []*ir.Initializer{i64("sp", 3, 7)},
			nodes: []*ir.Node{node("Split", "s", "X,sp", "A,B", aInt("axis", 1))},
			want:  map[string]string{"A": "float32[N,3]", "B": "float32[N,7]"}},
		{name: "split_opset11_even", opset: 11, in: []*ir.ValueInfo{f32("X", 6, "N")},
			nodes: []*ir.Node{node("Split", "s", "X", "A,B,C")},
			want:  map[string]string{"A": "float32[2,N]", "B": "float32[2,N]", "C": "float32[2,N]"}},
		{name: "split_opset18_uneven", opset: 18, in: []*ir.ValueInfo{f32("X", 10)},
			nodes: []*ir.Node{node("Split", "s", "X", "A,B,C", aInt("num_outputs", 3))},
			want:  map[string]string{"A": "float32[4]", "B": "float32[4]", "C": "float32[2]"}},
		{name: "slice", opset: 13, in: []*ir.ValueInfo{f32("X", 10, 20, 30), f32("S", "N", 20)},
			init: []*ir.Initializer{
				i64("st", 1, -5), i64("en", 9, 1000), i64("ax", 0, 2), i64("step", 2, 1),
				i64("rst", -1), i64("ren", -1000000), i64("rax", 1), i64("rstep", -1),
				i64("z", 0), i64("big", math.MaxInt64), i64("one", 1),
			},
			nodes: []*ir.Node{
				node("Slice", "s1", "X,st,en,ax,step", "Y1"),
				node("Slice", "reverse", "X,rst,ren,rax,rstep", "Y2"),
				node("Slice", "whole", "S,z,big,z", "Y3"),
				node("Slice", "tail", "S,one,big,z", "Y4"),
			},
			want: map[string]string{"Y1": "float32[4,20,5]", "Y2": "float32[10,20,30]", "Y3": "float32[N,20]", "Y4": "float32[?,20]"}},
		{name: "slice_opset9_attrs", opset: 9, in: []*ir.ValueInfo{f32("X", 5, 6)},
			nodes: []*ir.Node{node("Slice", "s", "X", "Y", aInts("starts", 1, 0), aInts("ends", 3, -1))},
			want:  map[string]string{"Y": "float32[2,5]"}},
		{name: "squeeze_unsqueeze_opset11", opset: 11, in: []*ir.ValueInfo{f32("X", 1, "N", 1), f32("U", 1, 3, 1)},
			nodes: []*ir.Node{
				node("Squeeze", "sq", "X", "Y1", aInts("axes", 0)),
				node("Squeeze", "all", "U", "Y2"),
				node("Unsqueeze", "un", "Y1", "Y3", aInts("axes", 1)),
			},
			want: map[string]string{"Y1": "float32[N,1]", "Y2": "float32[3]", "Y3": "float32[N,1,1]"}},
		{name: "squeeze_unsqueeze_opset13", opset: 13, in: []*ir.ValueInfo{f32("X", 1, "N", 1), f32("V", "N", 3)},
			init: []*ir.Initializer{i64("last", -1), i64("ends", 0, -1)},
			nodes: []*ir.Node{
				node("Squeeze", "sq", "X,last", "Y1"),
				node("Unsqueeze", "un", "V,ends", "Y2"),
			},
			want: map[string]string{"Y1": "float32[1,N]", "Y2": "float32[1,N,3,1]"}},
		{name: "flatten", in: []*ir.ValueInfo{f32("X", "N", 3, 4, 5), f32("S", 2, 3, 4)},
			nodes: []*ir.Node{
				node("Flatten", "f1", "X", "Y1"),
				node("Flatten", "f0", "X", "Y2", aInt("axis", 0)),
				node("Flatten", "fneg", "S", "Y3", aInt("axis", -1)),
			},
			want: map[string]string{"Y1": "float32[N,60]", "Y2": "float32[1,?]", "Y3": "float32[6,4]"}},
		{name: "expand_tile_pad", in: []*ir.ValueInfo{f32("X", 3, 1), f32("T", "N", 3), f32("P", "N", 3, 5, 5)},
			init: []*ir.Initializer{i64("shape", 2, 1, 6), i64("rep", 1, 2), i64("pads", 0, 0, 1, 2, 0, 0, 3, -4)},
			nodes: []*ir.Node{
				node("Expand", "e", "X,shape", "Y1"),
				node("Tile", "t", "T,rep", "Y2"),
				node("Pad", "p", "P,pads", "Y3"),
			},
			want: map[string]string{"Y1": "float32[2,3,6]", "Y2": "float32[N,6]", "Y3": "float32[N,3,9,3]"}},
		{name: "pad_opset2_attr", opset: 2, in: []*ir.ValueInfo{f32("X", 2, 2)},
			nodes: []*ir.Node{node("Pad", "p", "X", "Y", aInts("pads", 1, 0, 1, 2))},
			want:  map[string]string{"Y": "float32[4,4]"}},
		{name: "constant_of_shape_range", in: []*ir.ValueInfo{f32("X", 2, "N", "S")},
			init: []*ir.Initializer{
				scalarInit("zero", int64(0)), scalarInit("one", int64(1)), scalarInit("two", int64(2)),
				scalarInit("ten", int64(10)), scalarInit("three", int64(3)),
				scalarInit("fs", float32(1)), scalarInit("fl", float32(2)), scalarInit("fd", float32(0.3)),
			},
			nodes: []*ir.Node{
				node("Shape", "sh", "X", "s"),
				node("ConstantOfShape", "cos", "s", "Y1", aTensor("value", tensor.FromSlice([]int64{7}, 1))),
				node("Range", "r1", "zero,ten,three", "Y2"),
				node("Gather", "g", "s,two", "seq"),
				node("Range", "positions", "zero,seq,one", "Y3"),
				node("Range", "rf", "fs,fl,fd", "Y4"),
			},
			want: map[string]string{"Y1": "int64[2,N,S]", "Y2": "int64[4]", "Y3": "int64[S]", "Y4": "float32[4]"}},
		{name: "gathers", in: []*ir.ValueInfo{f32("X", "N", "S", 384), input("I", tensor.Int64, 2, 3), input("T", tensor.Int64, "N", "S"), input("J", tensor.Int64, "N", 4, 2)},
			init: []*ir.Initializer{weights("E", 100, 64)},
			nodes: []*ir.Node{
				node("Gather", "g1", "X,I", "Y1", aInt("axis", 1)),
				node("Gather", "embed", "E,T", "Y2"),
				node("GatherElements", "ge", "X,J", "Y3"),
				node("GatherND", "gnd", "X,J", "Y4"),
			},
			want: map[string]string{"Y1": "float32[N,2,3,384]", "Y2": "float32[N,S,64]", "Y3": "float32[N,4,2]", "Y4": "float32[N,4,384]"}},
		{name: "data_dependent", in: []*ir.ValueInfo{f32("X", 2, 3), input("idx", tensor.Int64, "N", 3)},
			init: []*ir.Initializer{scalarInit("depth", int64(10)), floats("vals", 0, 1)},
			nodes: []*ir.Node{
				node("NonZero", "nz", "X", "Y1"),
				node("OneHot", "oh", "idx,depth,vals", "Y2"),
				node("Unique", "u", "X", "U,UI,UV,UC"),
			},
			want: map[string]string{"Y1": "int64[2,?]", "Y2": "float32[N,3,10]", "U": "float32[?]", "UV": "int64[6]"}},
	})
}

func TestInferMisc(t *testing.T) {
	runInferCases(t, []inferCase{
		{name: "signal", in: []*ir.ValueInfo{f32("X", 2, 8, 1), f32("sig", 1, 128, 1)},
			init: []*ir.Initializer{scalarInit("ten", int64(10)), scalarInit("sixteen", int64(16)), scalarInit("eight", int64(8)), weights("win", 16)},
			nodes: []*ir.Node{
				node("HannWindow", "hann", "ten", "W"),
				node("DFT", "dft", "X", "Y1", aInt("onesided", 1)),
				node("DFT", "dft_len", "X,sixteen", "Y2"),
				node("STFT", "stft", "sig,eight,win", "Y3"),
				node("MelWeightMatrix", "mel", "ten,sixteen,ten,ten,ten", "Y4"),
			},
			want: map[string]string{"W": "float32[10]", "Y1": "float32[2,5,2]", "Y2": "float32[2,16,2]", "Y3": "float32[1,15,9,2]", "Y4": "float32[9,10]"}},
		{name: "image", opset: 20, in: []*ir.ValueInfo{f32("cols", "N", 5, 25), f32("X", 20, 10, 3), f32("theta", "N", 2, 3)},
			init: []*ir.Initializer{i64("img", 5, 5), i64("block", 1, 5), i64("crop", 10, 20), i64("size", 2, 3, 4, 5)},
			nodes: []*ir.Node{
				node("Col2Im", "col2im", "cols,img,block", "Y1"),
				node("CenterCropPad", "crop", "X,crop", "Y2", aInts("axes", 0, 1)),
				node("AffineGrid", "grid", "theta,size", "Y3"),
			},
			want: map[string]string{"Y1": "float32[N,1,5,5]", "Y2": "float32[10,20,3]", "Y3": "float32[2,4,5,2]"}},
		{name: "strings", opset: 20, in: []*ir.ValueInfo{input("S", tensor.String, "N", 2)},
			nodes: []*ir.Node{
				node("StringSplit", "split", "S", "Parts,Counts"),
				node("RegexFullMatch", "match", "S", "M", aString("pattern", "a+")),
				node("StringNormalizer", "norm", "S", "L", aString("case_change_action", "LOWER")),
			},
			want: map[string]string{"Parts": "string[N,2,?]", "Counts": "int64[N,2]", "M": "bool[N,2]", "L": "string[N,2]"}},
		{name: "losses", in: []*ir.ValueInfo{f32("scores", "N", 5, 7), input("target", tensor.Int64, "N", 7)},
			nodes: []*ir.Node{
				node("NegativeLogLikelihoodLoss", "nll", "scores,target", "L1", aString("reduction", "none")),
				node("SoftmaxCrossEntropyLoss", "sce", "scores,target", "L2,LogP"),
			},
			want: map[string]string{"L1": "float32[N,7]", "L2": "float32[]", "LogP": "float32[N,5,7]"}},
	})
}

func TestInferTrainingOps(t *testing.T) {
	m := model(17, &ir.Graph{
		Inputs: []*ir.ValueInfo{f32("R"), input("T", tensor.Int64), f32("X1", 3), f32("X2", 4), f32("G1", 3), f32("G2", 4), f32("V1", 3), f32("V2", 4), f32("H1", 3), f32("H2", 4)},
		Nodes: []*ir.Node{{Name: "adam", OpType: "Adam", Domain: ir.DomainTraining,
			Inputs:  []string{"R", "T", "X1", "X2", "G1", "G2", "V1", "V2", "H1", "H2"},
			Outputs: []string{"X1n", "X2n", "V1n", "V2n", "H1n", "H2n"}}},
	})
	m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: ir.DomainTraining, Version: 1})
	got, errs := infer(t, m)
	for _, err := range errs {
		t.Error(err)
	}
	expectTypes(t, got, map[string]string{"X1n": "float32[3]", "X2n": "float32[4]", "V1n": "float32[3]", "V2n": "float32[4]", "H1n": "float32[3]", "H2n": "float32[4]"})
}

func TestInferFunctionCall(t *testing.T) {
	m := model(17, &ir.Graph{
		Inputs: []*ir.ValueInfo{f32("X", "N", 3), f32("Y", 3)},
		Nodes:  []*ir.Node{{Name: "call", OpType: "AddRelu", Domain: "local", Inputs: []string{"X", "Y"}, Outputs: []string{"Z"}}},
	})
	m.Opsets = append(m.Opsets, ir.OpsetImport{Domain: "local", Version: 1})
	m.Functions = []*ir.Function{{
		Name: "AddRelu", Domain: "local", Inputs: []string{"a", "b"}, Outputs: []string{"c"},
		Opsets: []ir.OpsetImport{{Version: 17}},
		Nodes:  []*ir.Node{node("Add", "add", "a,b", "t"), node("Relu", "relu", "t", "c")},
	}}
	got, errs := infer(t, m)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	expectTypes(t, got, map[string]string{"Z": "float32[N,3]"})
	if _, ok := got["t"]; ok {
		t.Errorf("the function body's value t is recorded as a model value")
	}
}

// TestInferConvNet checks that a symbolic batch N stays N through a small
// convolutional network, and that every value gets its shape.
func TestInferConvNet(t *testing.T) {
	g := &ir.Graph{
		Name:   "convnet",
		Inputs: []*ir.ValueInfo{f32("image", "N", 3, 32, 32)},
		Initializers: []*ir.Initializer{
			weights("w1", 16, 3, 3, 3), weights("b1", 16),
			weights("w2", 32, 16, 3, 3), weights("b2", 32),
			weights("fc", 10, 32), weights("fcb", 10),
		},
		Nodes: []*ir.Node{
			node("Conv", "conv1", "image,w1,b1", "c1", aInts("pads", 1, 1, 1, 1)),
			node("Relu", "relu1", "c1", "r1"),
			node("MaxPool", "pool1", "r1", "p1", aInts("kernel_shape", 2, 2), aInts("strides", 2, 2)),
			node("Conv", "conv2", "p1,w2,b2", "c2", aInts("strides", 2, 2)),
			node("Relu", "relu2", "c2", "r2"),
			node("GlobalAveragePool", "gap", "r2", "g"),
			node("Flatten", "flat", "g", "f"),
			node("Gemm", "fc", "f,fc,fcb", "logits", aInt("transB", 1)),
			node("Softmax", "softmax", "logits", "probs"),
		},
		Outputs: []*ir.ValueInfo{output("probs")},
	}
	m := model(13, g)
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	got, errs := infer(t, m)
	for _, err := range errs {
		t.Error(err)
	}
	expectTypes(t, got, map[string]string{
		"image": "float32[N,3,32,32]", "w1": "float32[16,3,3,3]",
		"c1": "float32[N,16,32,32]", "r1": "float32[N,16,32,32]", "p1": "float32[N,16,16,16]",
		"c2": "float32[N,32,7,7]", "r2": "float32[N,32,7,7]", "g": "float32[N,32,1,1]",
		"f": "float32[N,32]", "logits": "float32[N,10]", "probs": "float32[N,10]",
	})
	// Without info, InferShapes only checks.
	if err := ir.InferShapes(m, nil, nil); err != nil {
		t.Error(err)
	}
	if err := ir.InferShapes(m, nil, &ir.InferInfo{}); err != nil {
		t.Error(err)
	}
	// The model is not modified.
	if g.Outputs[0].Type.Kind != ir.UnknownKind || len(g.ValueInfo) != 0 {
		t.Errorf("InferShapes modified the graph")
	}
}

func TestInferControlFlow(t *testing.T) {
	t.Run("if", func(t *testing.T) {
		then := &ir.Graph{Name: "then", Nodes: []*ir.Node{node("Add", "then_add", "X,X", "t")}, Outputs: []*ir.ValueInfo{output("t")}}
		els := &ir.Graph{Name: "else", Nodes: []*ir.Node{node("Concat", "else_cat", "X,X", "e", aInt("axis", 1))}, Outputs: []*ir.ValueInfo{output("e")}}
		same := &ir.Graph{Name: "same", Nodes: []*ir.Node{node("Relu", "same_relu", "X", "s")}, Outputs: []*ir.ValueInfo{output("s")}}
		m := model(16, &ir.Graph{
			Inputs: []*ir.ValueInfo{input("cond", tensor.Bool), f32("X", "N", 3)},
			Nodes: []*ir.Node{
				node("If", "if", "cond", "Y", aGraph("then_branch", then), aGraph("else_branch", els)),
				node("If", "if2", "cond", "Z", aGraph("then_branch", then), aGraph("else_branch", same)),
			},
		})
		got, errs := infer(t, m)
		for _, err := range errs {
			t.Error(err)
		}
		expectTypes(t, got, map[string]string{"t": "float32[N,3]", "e": "float32[N,6]", "Y": "float32[N,?]", "Z": "float32[N,3]"})
	})
	t.Run("loop", func(t *testing.T) {
		body := &ir.Graph{
			Name:   "body",
			Inputs: []*ir.ValueInfo{output("i"), output("c"), output("v")},
			Nodes: []*ir.Node{
				node("Identity", "cond", "c", "c_out"),
				node("Add", "step", "v,X", "v_out"),
				node("Identity", "scan", "v_out", "scan_out"),
			},
			Outputs: []*ir.ValueInfo{output("c_out"), output("v_out"), output("scan_out")},
		}
		grow := &ir.Graph{
			Name:   "grow",
			Inputs: []*ir.ValueInfo{output("gi"), output("gc"), output("gv")},
			Nodes: []*ir.Node{
				node("Identity", "gcond", "gc", "gc_out"),
				node("Concat", "double", "gv,gv", "gv_out", aInt("axis", 0)),
			},
			Outputs: []*ir.ValueInfo{output("gc_out"), output("gv_out")},
		}
		m := model(16, &ir.Graph{
			Inputs: []*ir.ValueInfo{input("M", tensor.Int64), input("cond", tensor.Bool), f32("v0", 3), f32("X", 3), f32("w0", 1)},
			Nodes: []*ir.Node{
				node("Loop", "loop", "M,cond,v0", "v_final,scans", aGraph("body", body)),
				node("Loop", "growing", "M,,w0", "w_final", aGraph("body", grow)),
			},
		})
		got, errs := infer(t, m)
		for _, err := range errs {
			t.Error(err)
		}
		expectTypes(t, got, map[string]string{
			"i": "int64[]", "v": "float32[3]", "v_out": "float32[3]",
			"v_final": "float32[3]", "scans": "float32[?,3]",
			"gv": "float32[?]", "w_final": "float32[?]",
		})
	})
	t.Run("scan", func(t *testing.T) {
		body := &ir.Graph{
			Name:   "body",
			Inputs: []*ir.ValueInfo{output("s_in"), output("x_t")},
			Nodes: []*ir.Node{
				node("Add", "acc", "s_in,x_t", "s_out"),
				node("Identity", "emit", "s_out", "y_t"),
			},
			Outputs: []*ir.ValueInfo{output("s_out"), output("y_t")},
		}
		m := model(11, &ir.Graph{
			Inputs: []*ir.ValueInfo{f32("s0", 4), f32("X", "S", 4)},
			Nodes:  []*ir.Node{node("Scan", "scan", "s0,X", "s_final,Y", aGraph("body", body), aInt("num_scan_inputs", 1), aInts("scan_output_axes", 1))},
		})
		got, errs := infer(t, m)
		for _, err := range errs {
			t.Error(err)
		}
		expectTypes(t, got, map[string]string{"x_t": "float32[4]", "s_final": "float32[4]", "Y": "float32[4,S]"})
	})
	t.Run("sequences", func(t *testing.T) {
		m := model(17, &ir.Graph{
			Inputs: []*ir.ValueInfo{f32("A", 2, 3), f32("B", 2, 3)},
			Nodes: []*ir.Node{
				node("SequenceConstruct", "sc", "A,B", "seq"),
				node("SequenceAt", "at", "seq,idx", "elem"),
				node("SequenceLength", "len", "seq", "n"),
				node("ConcatFromSequence", "cat", "seq", "stacked", aInt("axis", 0), aInt("new_axis", 1)),
				node("Optional", "opt", "A", "o"),
				node("OptionalGetElement", "get", "o", "a2"),
			},
			Initializers: []*ir.Initializer{scalarInit("idx", int64(0))},
		})
		got, errs := infer(t, m)
		for _, err := range errs {
			t.Error(err)
		}
		expectTypes(t, got, map[string]string{
			"seq": "seq(float32[2,3])", "elem": "float32[2,3]", "n": "int64[]",
			"stacked": "float32[?,2,3]", "o": "optional(float32[2,3])", "a2": "float32[2,3]",
		})
	})
}

// TestInferOuterScope checks that a subgraph sees the types of values of
// enclosing graphs, two levels up.
func TestInferOuterScope(t *testing.T) {
	inner := &ir.Graph{Name: "inner", Nodes: []*ir.Node{node("MatMul", "deep", "X,W", "d")}, Outputs: []*ir.ValueInfo{output("d")}}
	innerElse := &ir.Graph{Name: "inner_else", Nodes: []*ir.Node{node("MatMul", "deep2", "X,W", "d2")}, Outputs: []*ir.ValueInfo{output("d2")}}
	outer := &ir.Graph{Name: "outer", Nodes: []*ir.Node{node("If", "nested", "cond", "o", aGraph("then_branch", inner), aGraph("else_branch", innerElse))}, Outputs: []*ir.ValueInfo{output("o")}}
	m := model(16, &ir.Graph{
		Inputs:       []*ir.ValueInfo{input("cond", tensor.Bool), f32("X", "N", 8)},
		Initializers: []*ir.Initializer{weights("W", 8, 2)},
		Nodes:        []*ir.Node{node("If", "top", "cond", "Y", aGraph("then_branch", outer), aGraph("else_branch", outer))},
	})
	got, errs := infer(t, m)
	for _, err := range errs {
		t.Error(err)
	}
	expectTypes(t, got, map[string]string{"d": "float32[N,2]", "o": "float32[N,2]", "Y": "float32[N,2]"})
}

func TestInferErrors(t *testing.T) {
	cases := []struct {
		name  string
		opset int64
		in    []*ir.ValueInfo
		init  []*ir.Initializer
		nodes []*ir.Node
		vi    []*ir.ValueInfo
		want  []string // each must appear in the errors, in order
	}{
		{name: "broadcast_conflict", in: []*ir.ValueInfo{f32("X", 2, 3), f32("Y", 4, 3)},
			nodes: []*ir.Node{node("Add", "add", "X,Y", "Z")},
			want:  []string{`node "add" (Add): cannot broadcast input "X" float32[2,3] with input "Y" float32[4,3]: dimension 2 (from the right) is 2 vs 4`}},
		{name: "reshape_bad_constant", in: []*ir.ValueInfo{f32("X", 2, 3)}, init: []*ir.Initializer{i64("shape", 4, 2)},
			nodes: []*ir.Node{node("Reshape", "r", "X,shape", "Y")},
			want:  []string{`node "r" (Reshape): cannot reshape input "X" float32[2,3] (6 elements) to [4,2] (8 elements)`}},
		{name: "reshape_does_not_divide", in: []*ir.ValueInfo{f32("X", 2, 3)}, init: []*ir.Initializer{i64("shape", 4, -1)},
			nodes: []*ir.Node{node("Reshape", "r", "X,shape", "Y")},
			want:  []string{`node "r" (Reshape): cannot reshape input "X" float32[2,3] to [4,-1]: 6 elements do not divide into 4`}},
		{name: "reshape_two_minus_ones", in: []*ir.ValueInfo{f32("X", 2, 3)}, init: []*ir.Initializer{i64("shape", -1, -1)},
			nodes: []*ir.Node{node("Reshape", "r", "X,shape", "Y")},
			want:  []string{`node "r" (Reshape): shape [-1,-1] has more than one -1`}},
		{name: "matmul_inner", in: []*ir.ValueInfo{f32("A", 2, 3), f32("B", 4, 5)},
			nodes: []*ir.Node{node("MatMul", "mm", "A,B", "Y")},
			want:  []string{`node "mm" (MatMul): inner dimensions differ: input "A" float32[2,3] has 3 columns but input "B" float32[4,5] has 4 rows`}},
		{name: "gemm_inner", in: []*ir.ValueInfo{f32("A", "N", 8)}, init: []*ir.Initializer{weights("W", 16, 9)},
			nodes: []*ir.Node{node("Gemm", "fc", "A,W", "Y", aInt("transB", 1))},
			want:  []string{`node "fc" (Gemm): inner dimensions differ: input "A" float32[N,8] gives K = 8 but input "W" float32[16,9] gives K = 9`}},
		{name: "conv_channels", in: []*ir.ValueInfo{f32("X", "N", 3, 8, 8)}, init: []*ir.Initializer{weights("W", 4, 2, 3, 3)},
			nodes: []*ir.Node{node("Conv", "conv", "X,W", "Y")},
			want:  []string{`node "conv" (Conv): input "X" float32[N,3,8,8] has 3 channels, but weights input "W" float32[4,2,3,3] expect 2`}},
		{name: "concat_mismatch", in: []*ir.ValueInfo{f32("A", 2, 3), f32("B", 2, 4)},
			nodes: []*ir.Node{node("Concat", "cat", "A,B", "Y", aInt("axis", 0))},
			want:  []string{`node "cat" (Concat): input "B" float32[2,4] differs from the first input in dimension 1: 4, want 3`}},
		{name: "squeeze_not_one", opset: 13, in: []*ir.ValueInfo{f32("X", 2, 3)}, init: []*ir.Initializer{i64("ax", 1)},
			nodes: []*ir.Node{node("Squeeze", "sq", "X,ax", "Y")},
			want:  []string{`node "sq" (Squeeze): cannot squeeze dimension 1 of input "X" float32[2,3]: it is 3, not 1`}},
		{name: "split_sum", opset: 13, in: []*ir.ValueInfo{f32("X", 10)}, init: []*ir.Initializer{i64("sp", 3, 3)},
			nodes: []*ir.Node{node("Split", "split", "X,sp", "A,B")},
			want:  []string{`node "split" (Split): split [3 3] adds up to 6, but input "X" float32[10] has 10 along axis 0`}},
		{name: "axis_out_of_range", in: []*ir.ValueInfo{f32("X", 2, 3)},
			nodes: []*ir.Node{node("Softmax", "sm", "X", "Y", aInt("axis", 2))},
			want:  []string{`node "sm" (Softmax): axis 2 is out of range for rank 2`}},
		{name: "declared_conflict", in: []*ir.ValueInfo{f32("X", 2, 3)},
			nodes: []*ir.Node{node("Relu", "relu", "X", "Y")},
			vi:    []*ir.ValueInfo{f32("Y", 2, 4)},
			want:  []string{`node "relu" (Relu): output "Y": inferred float32[2,3], declared float32[2,4]`}},
		{name: "declared_elem_type_conflict", in: []*ir.ValueInfo{f32("X", 2, 3)},
			nodes: []*ir.Node{node("Relu", "relu", "X", "Y")},
			vi:    []*ir.ValueInfo{input("Y", tensor.Int64, 2, 3)},
			want:  []string{`node "relu" (Relu): output "Y": inferred float32[2,3], declared int64[2,3]`}},
		{name: "several", in: []*ir.ValueInfo{f32("X", 2, 3), f32("Y", 4, 3)},
			nodes: []*ir.Node{
				node("Add", "first", "X,Y", "Z"),
				node("MatMul", "second", "X,Y", "W"),
			},
			want: []string{`node "first" (Add)`, `node "second" (MatMul)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opset := tc.opset
			if opset == 0 {
				opset = 17
			}
			m := model(opset, &ir.Graph{Name: tc.name, Inputs: tc.in, Initializers: tc.init, Nodes: tc.nodes, ValueInfo: tc.vi})
			_, errs := infer(t, m)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tc.want))
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tc.want[i]) {
					t.Errorf("error %d:\n got %v\nwant %s", i, err, tc.want[i])
				}
				var e *ir.Error
				if !errors.As(err, &e) || e.Node == nil {
					t.Errorf("error %v is not an *ir.Error naming a node", err)
				}
			}
			// Without Error, the first problem stops inference.
			if err := ir.InferShapes(m, nil, nil); err == nil || err.Error() != errs[0].Error() {
				t.Errorf("InferShapes(nil config) = %v, want %v", err, errs[0])
			}
		})
	}
}

func TestInferNoGraph(t *testing.T) {
	if err := ir.InferShapes(&ir.Model{}, nil, nil); err == nil {
		t.Error("InferShapes of a model with no graph = nil")
	}
}

// TestInferContinuesPastErrors checks that with InferConfig.Error set,
// the values after a bad node still get what types can be inferred.
func TestInferContinuesPastErrors(t *testing.T) {
	m := model(17, &ir.Graph{
		Inputs: []*ir.ValueInfo{f32("X", 2, 3), f32("Y", 4, 3), f32("Z", "N", 3)},
		Nodes: []*ir.Node{
			node("Add", "bad", "X,Y", "S"),
			node("Relu", "after", "S", "R"),
			node("Relu", "independent", "Z", "Q"),
		},
	})
	got, errs := infer(t, m)
	if len(errs) != 1 {
		t.Fatalf("got errors %v, want one", errs)
	}
	expectTypes(t, got, map[string]string{"S": "float32[?...]", "R": "float32[?...]", "Q": "float32[N,3]"})
}

// infer runs InferShapes collecting every error and all types.
func infer(t *testing.T, m *ir.Model) (map[string]ir.Type, []error) {
	t.Helper()
	var errs []error
	info := &ir.InferInfo{Types: map[string]ir.Type{}}
	first := ir.InferShapes(m, &ir.InferConfig{Error: func(err error) { errs = append(errs, err) }}, info)
	if (first == nil) != (len(errs) == 0) || (first != nil && first != errs[0]) {
		t.Errorf("InferShapes returned %v, but reported %v", first, errs)
	}
	return info.Types, errs
}

// expectTypes checks inferred types by their String form.
func expectTypes(t *testing.T, got map[string]ir.Type, want map[string]string) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: no type inferred", name)
			continue
		}
		if g.String() != w {
			t.Errorf("%s: got %v, want %s", name, g, w)
		}
	}
}
