// Package conformance runs ONNX's backend node test cases (Debian's
// libonnx-testdata, /usr/share/libonnx-testdata/data/node) through inferd
// and compares every output with the reference the ONNX project made.
//
//	go test ./conformance                          # all cases, totals
//	go test ./conformance -v -args -cases 'conv'   # one family, per-case lines
//	go test ./conformance -args -update            # rewrite testdata/failing.txt
//
// testdata/failing.txt lists the cases known to fail, each with its reason;
// any other failure fails the test, and so does a listed case that passes
// (the list must shrink as inferd improves). Set INFERD_ONNX_TESTDATA to use
// another copy of the data.
package conformance
