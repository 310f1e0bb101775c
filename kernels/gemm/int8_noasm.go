//go:build !amd64 || purego

package gemm

func best8() *impl8 { return generic8 }

// available8 lists the 8-bit implementations this CPU can run.
func available8() []*impl8 { return []*impl8{generic8} }

// packA8Fast packs leading k groups of a full row-major A panel; without
// assembly it packs none.
func packA8Fast(panel, src []byte, ld, k int) int { return 0 }

// packB8Fast packs leading k groups of a full row-major B panel; without
// assembly it packs none.
func packB8Fast(panel, src []byte, ld, k int, x byte) int { return 0 }

// packB8FastRows packs leading k groups of a B panel given by row offsets;
// without assembly it packs none.
func packB8FastRows(panel, data []byte, rows []int, j, k int, x byte) int { return 0 }

// packB8Partial and packB8PartialRows pack leading k groups of a partial
// B panel; without assembly they pack none.
func packB8Partial(panel, src []byte, ld, k, cols int, x byte) int                 { return 0 }
func packB8PartialRows(panel, data []byte, rows []int, j, k, cols int, x byte) int { return 0 }
