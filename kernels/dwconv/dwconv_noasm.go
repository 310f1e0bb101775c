//go:build !amd64 || purego

package dwconv

func rows2(y []float32, ystep int, x []float32, xstep int, rows, cols, stride int, offs []int, w []float32, bias, lo, hi float32) {
	rowsGeneric(y, ystep, x, xstep, rows, cols, stride, offs, w, bias, lo, hi)
}

func copyRows(dst []float32, dstStride int, src []float32, srcStride int, rows, cols int) {
	copyRowsGeneric(dst, dstStride, src, srcStride, rows, cols)
}
