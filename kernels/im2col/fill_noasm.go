//go:build !amd64 || purego

package im2col

func fill(dst, x []float32, rows, t, ch, K, plane int, base []int, masks []uint32) {
	fillGeneric(dst, x, rows, t, ch, K, plane, base, masks)
}

// Gather2 sets dst[i] = src[2i] for every i < len(dst).
func Gather2(dst, src []float32) {
	if len(dst) > 0 {
		_ = src[2*(len(dst)-1)]
	}
	gather2Generic(dst, src)
}

func transposeBlock(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	transposeGeneric(dst, ldd, src, lds, rows, cols)
}

func maxRows(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	maxRowsGeneric(dst, ldd, src, lds, rows, cols)
}

func copyRows(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	copyRowsGeneric(dst, ldd, src, lds, rows, cols)
}

func gather2Rows(dst []float32, ldd int, src []float32, lds int, rows, n int) {
	gather2RowsGeneric(dst, ldd, src, lds, rows, n)
}
