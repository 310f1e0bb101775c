//go:build !amd64 || purego

package gemm

// measurePeak has no FMA loop to time without assembly.
func measurePeak(string) (float64, bool) { return 0, false }
