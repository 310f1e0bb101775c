// Package quantize lowers a model's precision: static and dynamic INT8 in
// the standard ONNX forms, INT4 weight-only blocks, and FP16/BF16.
//
// Every mode returns an ordinary ONNX model that other runtimes load:
//
//   - Static: QuantizeLinear→DequantizeLinear (QDQ) pairs on the
//     activations a selected node reads, with per-tensor ranges from
//     calibration (MinMax, Percentile, Entropy or MSE over a histogram of
//     |x|); weights of Conv, Gemm and MatMul symmetric int8 per output
//     channel behind a DequantizeLinear; biases int32 with scale
//     x_scale·w_scale. Ops that move data through (pools, reshapes,
//     transposes) share their input's parameters, and a Relu's input takes
//     its output's, so a runtime can fuse them.
//   - Dynamic: MatMul/Gemm weights int8 per column offline, activations
//     through DynamicQuantizeLinear → MatMulInteger → Cast → Mul.
//   - Int4: MatMul/Gemm weights in blocks of 32, 64 or 128 along the
//     reduction axis, read by DequantizeLinear with block_size (opset 21;
//     the model's opset import is raised, and the few ops whose meaning
//     changed on the way are rewritten). Round to nearest, or GPTQ.
//   - FP16/BF16: weights and compute in 16-bit floats, Casts where
//     converted and float32 parts meet.
//
// # Activation type and the u8×s8 saturation problem
//
// The int8 GEMM instruction of AVX2 machines without VNNI, VPMADDUBSW,
// multiplies unsigned 8-bit activations by signed 8-bit weights and adds
// adjacent pairs into a saturating int16: with activations near 255 and
// weights near ±127 a pair reaches 2·255·127 = 64770 and clips at 32767.
// That is the loss of 5–7 accuracy points ONNX Runtime shows for
// uint8-activation models on such machines. Static mode therefore
// quantizes activations as symmetric int8 by default (zero point 0,
// weights in [-127, 127]): a signed×signed product kernel works on |a| ≤
// 128 and a pair stays within 2·128·127 = 32512, which fits int16, and a
// zero point of 0 also drops the row-sum correction. The price is one bit
// of resolution on one-sided tensors (after a Relu only codes 0..127 are
// used). Options.Activations = Uint8 gives asymmetric uint8 activations,
// full resolution, for machines with VNNI (VPDPBUSD accumulates in int32
// and never saturates); pair it with ReduceRange (7-bit weights, 2·255·64
// = 32640) if the model must also run on plain AVX2.
//
// Calibration runs the model through a Compiler the caller supplies
// (package engine in practice), so quantize does not depend on the engine.
// Quantize is deterministic: the same model, samples and options give the
// same bytes.
package quantize
