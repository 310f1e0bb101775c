//go:build tools

package main

// The generator loads kernels/gemm's types (tileArgs) by import path, so
// this module must require it; the import keeps go mod tidy from dropping
// the requirement.
import _ "github.com/inferd/inferd/kernels/gemm"
