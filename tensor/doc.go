// Package tensor holds inferd's n-dimensional arrays: element types that
// follow ONNX's TensorProto.DataType numbering, dense row-major tensors with
// typed Go slices as storage, the 16-bit float formats, and the .npy codec.
//
// A Tensor's Data field is always a slice of the Go type its DType names
// (see DType.GoType); kernels read it with Data[T] or a type switch.
package tensor
