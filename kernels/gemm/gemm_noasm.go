//go:build !amd64 || purego

package gemm

func bestImpl() *impl { return genericImpl }

// available lists the implementations this CPU can run.
func available() []*impl { return []*impl{genericImpl} }

// packARowsFast packs a full MR-row panel of a row-major A; without
// assembly it declines and packARows does the work.
func packARowsFast(panel, src []float32, ld, k int) bool { return false }

// packBTransFast packs a full NR-column panel of a transposed B; without
// assembly it declines and packBPanel does the work.
func packBTransFast(panel, src []float32, ld, p0, p1 int) bool { return false }
