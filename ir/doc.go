// Package ir is inferd's in-memory model: a Model holding a Graph of Nodes
// that read and write named values, with initializers, typed graph inputs
// and outputs, attributes (subgraphs included) and opset imports.
//
// ir knows nothing of protobuf; package onnx converts between the ONNX wire
// format and these types. Every stage of inferd (optimizer, quantizer,
// engine) reads and writes ir.Graph, and every graph it holds must still be
// expressible as a valid ONNX model.
//
// Verify checks that a model's graphs are well formed (every value
// produced once, before it is used; no cycles). InferShapes infers the
// element type and shape of every value, symbolic dimensions included,
// and reports nodes whose inputs do not fit their operator. Both report
// problems as *Error values naming the graph, node and values at fault.
// The shape functions live in infer_*.go, one file per operator family.
package ir
