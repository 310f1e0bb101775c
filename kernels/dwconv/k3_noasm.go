//go:build !amd64 || purego

package dwconv

// k3Kernel returns nil: the 3×3 kernels are amd64 assembly.
func k3Kernel(s, v, r int) k3Func { return nil }
