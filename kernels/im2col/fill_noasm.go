//go:build !amd64 || purego

package im2col

func fill(dst, x []float32, rows, t, ch, K, plane int, base []int, masks []uint32) {
	fillGeneric(dst, x, rows, t, ch, K, plane, base, masks)
}
