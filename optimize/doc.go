// Package optimize rewrites ONNX graphs to make them smaller and faster
// while keeping their results: constant folding, dead-code, no-op and
// common-subexpression elimination, weight folding (Conv+BatchNormalization,
// Conv+Mul/Add, MatMul+Add into Gemm), reshape and transpose clean-ups,
// recovery of LayerNormalization and Gelu from their decompositions, and
// fusions into inferd's own operators of domain ai.inferd (FUSED_OPS.md).
//
// A rewrite is a Pass (a whole-graph transformation) or a Rule (a local
// rewrite anchored at one node). pipeline.go lists them in order, each with
// the Level that enables it; Run applies them to a fixed point:
//
//   - LevelBasic output uses only standard ONNX operators at the model's
//     opsets, so ONNX Runtime (or any runtime) loads it;
//   - LevelExtended adds the fused ops, which package kernels runs and
//     engine compiles by default.
//
// Passes decline rather than fail: a pattern that does not fit exactly
// (a value with another reader, a weight that is not constant, a broadcast
// that would change a shape) is left alone. Constant folding runs operators
// through an Evaluator, which package engine provides; optimize itself does
// not import engine.
//
// Dynamic dimensions stay symbolic: shape inference (infer.go) tracks
// dim_param symbols through the graph and the element values of small
// integer tensors, so shape computations over known dimensions fold while
// those over dynamic ones stay, and repeated computations of the same
// dynamic dimension become one (canonical_dims.go).
package optimize
