// Package compress makes a model's weights fewer or cheaper to store:
// pruning (by magnitude, N:M, or whole channels), low-rank factorization
// of Gemm and MatMul weights by SVD (gonum), and weight sharing by
// k-means.
//
// What each buys, honestly:
//
//   - Magnitude and N:M pruning zero weights but keep every shape: the
//     model file is as large and runs as fast as before, and is smaller
//     only once compressed (gzip), or on a runtime with sparse kernels.
//     Report.Dense says so.
//   - Channel pruning removes whole output channels of Conv (output
//     features of Gemm/MatMul) and the matching inputs of the layers that
//     read them, through channel-preserving ops (activations, pools,
//     BatchNormalization, Flatten): shapes shrink, and so does the work.
//     A layer whose output reaches anything else (a residual Add, a
//     Concat, a graph output) is left alone, and the report says why.
//   - Low-rank factorization replaces x·W (K×N) by (x·A)·B with A K×r and
//     B r×N, r chosen to keep a fraction of W's energy Σσ², and only where
//     r·(K+N) < K·N.
//   - Weight sharing stores uint8 indices into a table of K values, read
//     back by Cast → Gather: about 4× smaller on disk, and the same
//     arithmetic at run time once a runtime folds the constant Gather.
//
// Compress changes only weights and the nodes that read them; the result
// is an ordinary ONNX model. It is deterministic.
package compress
