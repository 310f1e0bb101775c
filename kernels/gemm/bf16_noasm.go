//go:build !amd64 || purego

package gemm

func bestBF16() *implBF16 { return genericBF16 }

// availableBF16 lists the bfloat16 implementations this CPU can run.
func availableBF16() []*implBF16 { return []*implBF16{genericBF16} }
