//go:build !amd64 || purego

package gemm

func bestImpl() *impl { return genericImpl }

// available lists the implementations this CPU can run.
func available() []*impl { return []*impl{genericImpl} }

// packARowsFast packs a full MR-row panel of a row-major A; without
// assembly it declines and packARows does the work.
func packARowsFast(panel, src []float32, ld, k int) bool { return false }
