// Package serve is inferd's model server: a model repository in Triton's
// layout with versions and hot reload, a dynamic batcher per model, and
// the protocol front ends clients already speak: KServe v2 (Open Inference
// Protocol) over HTTP/JSON with the binary tensor extension and over gRPC,
// Triton's configuration, statistics and repository extensions, and TF
// Serving's REST predict API. Metrics are Prometheus histograms, counters
// and gauges on an injected registerer.
//
// The pieces, from the network inwards:
//
//	http.go, http_infer.go, tfserving.go, grpc.go   protocol front ends
//	server.go                                       Server: options, handlers, Shutdown
//	manager.go, repository.go                       models, versions, load/unload/poll
//	model.go, scheduler.go                          a loaded version: instances and batcher
//	config.go                                       config.pbtxt (Triton's ModelConfig)
//	metrics.go, stats.go                            Prometheus metrics, Triton statistics
//
// Requests reach a model through the Backend interface, which the Manager
// implements; tests may stand in a BackendFunc.
package serve
