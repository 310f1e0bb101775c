//go:build !amd64 || purego

package gemm

func bestInt4() *implInt4 { return genericInt4 }

// availableInt4 lists the 4-bit implementations this CPU can run.
func availableInt4() []*implInt4 { return []*implInt4{genericInt4} }
