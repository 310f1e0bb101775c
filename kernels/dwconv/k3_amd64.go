//go:build amd64 && !purego

package dwconv

// k3S1V1R8 computes 3×3 depthwise convolutions of stride 1 in blocks of 8 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S1V1R8(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V1R7 computes 3×3 depthwise convolutions of stride 1 in blocks of 7 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S1V1R7(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V1R4 computes 3×3 depthwise convolutions of stride 1 in blocks of 4 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S1V1R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V1R2 computes 3×3 depthwise convolutions of stride 1 in blocks of 2 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S1V1R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V1R1 computes 3×3 depthwise convolutions of stride 1 in blocks of 1 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S1V1R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V2R8 computes 3×3 depthwise convolutions of stride 1 in blocks of 8 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S1V2R8(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V2R7 computes 3×3 depthwise convolutions of stride 1 in blocks of 7 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S1V2R7(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V2R4 computes 3×3 depthwise convolutions of stride 1 in blocks of 4 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S1V2R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V2R2 computes 3×3 depthwise convolutions of stride 1 in blocks of 2 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S1V2R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V2R1 computes 3×3 depthwise convolutions of stride 1 in blocks of 1 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S1V2R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V3R4 computes 3×3 depthwise convolutions of stride 1 in blocks of 4 rows × 3 vectors (see k3Func).
//
//go:noescape
func k3S1V3R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V3R2 computes 3×3 depthwise convolutions of stride 1 in blocks of 2 rows × 3 vectors (see k3Func).
//
//go:noescape
func k3S1V3R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V3R1 computes 3×3 depthwise convolutions of stride 1 in blocks of 1 rows × 3 vectors (see k3Func).
//
//go:noescape
func k3S1V3R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V4R4 computes 3×3 depthwise convolutions of stride 1 in blocks of 4 rows × 4 vectors (see k3Func).
//
//go:noescape
func k3S1V4R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V4R2 computes 3×3 depthwise convolutions of stride 1 in blocks of 2 rows × 4 vectors (see k3Func).
//
//go:noescape
func k3S1V4R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S1V4R1 computes 3×3 depthwise convolutions of stride 1 in blocks of 1 rows × 4 vectors (see k3Func).
//
//go:noescape
func k3S1V4R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V1R8 computes 3×3 depthwise convolutions of stride 2 in blocks of 8 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S2V1R8(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V1R7 computes 3×3 depthwise convolutions of stride 2 in blocks of 7 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S2V1R7(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V1R4 computes 3×3 depthwise convolutions of stride 2 in blocks of 4 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S2V1R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V1R2 computes 3×3 depthwise convolutions of stride 2 in blocks of 2 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S2V1R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V1R1 computes 3×3 depthwise convolutions of stride 2 in blocks of 1 rows × 1 vectors (see k3Func).
//
//go:noescape
func k3S2V1R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V2R8 computes 3×3 depthwise convolutions of stride 2 in blocks of 8 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S2V2R8(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V2R7 computes 3×3 depthwise convolutions of stride 2 in blocks of 7 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S2V2R7(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V2R4 computes 3×3 depthwise convolutions of stride 2 in blocks of 4 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S2V2R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V2R2 computes 3×3 depthwise convolutions of stride 2 in blocks of 2 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S2V2R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V2R1 computes 3×3 depthwise convolutions of stride 2 in blocks of 1 rows × 2 vectors (see k3Func).
//
//go:noescape
func k3S2V2R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V3R4 computes 3×3 depthwise convolutions of stride 2 in blocks of 4 rows × 3 vectors (see k3Func).
//
//go:noescape
func k3S2V3R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V3R2 computes 3×3 depthwise convolutions of stride 2 in blocks of 2 rows × 3 vectors (see k3Func).
//
//go:noescape
func k3S2V3R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V3R1 computes 3×3 depthwise convolutions of stride 2 in blocks of 1 rows × 3 vectors (see k3Func).
//
//go:noescape
func k3S2V3R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V4R4 computes 3×3 depthwise convolutions of stride 2 in blocks of 4 rows × 4 vectors (see k3Func).
//
//go:noescape
func k3S2V4R4(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V4R2 computes 3×3 depthwise convolutions of stride 2 in blocks of 2 rows × 4 vectors (see k3Func).
//
//go:noescape
func k3S2V4R2(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3S2V4R1 computes 3×3 depthwise convolutions of stride 2 in blocks of 1 rows × 4 vectors (see k3Func).
//
//go:noescape
func k3S2V4R1(y *float32, x *float32, w *float32, bias *float32, biasStep int, nch int, scr *float32, geom *[k3Fields]int, lo float32, hi float32, perm *int32)

// k3Kernels are the generated kernels by stride, vectors and rows.
var k3Kernels = map[[3]int]k3Func{
	{1, 1, 8}: k3S1V1R8,
	{1, 1, 7}: k3S1V1R7,
	{1, 1, 4}: k3S1V1R4,
	{1, 1, 2}: k3S1V1R2,
	{1, 1, 1}: k3S1V1R1,
	{1, 2, 8}: k3S1V2R8,
	{1, 2, 7}: k3S1V2R7,
	{1, 2, 4}: k3S1V2R4,
	{1, 2, 2}: k3S1V2R2,
	{1, 2, 1}: k3S1V2R1,
	{1, 3, 4}: k3S1V3R4,
	{1, 3, 2}: k3S1V3R2,
	{1, 3, 1}: k3S1V3R1,
	{1, 4, 4}: k3S1V4R4,
	{1, 4, 2}: k3S1V4R2,
	{1, 4, 1}: k3S1V4R1,
	{2, 1, 8}: k3S2V1R8,
	{2, 1, 7}: k3S2V1R7,
	{2, 1, 4}: k3S2V1R4,
	{2, 1, 2}: k3S2V1R2,
	{2, 1, 1}: k3S2V1R1,
	{2, 2, 8}: k3S2V2R8,
	{2, 2, 7}: k3S2V2R7,
	{2, 2, 4}: k3S2V2R4,
	{2, 2, 2}: k3S2V2R2,
	{2, 2, 1}: k3S2V2R1,
	{2, 3, 4}: k3S2V3R4,
	{2, 3, 2}: k3S2V3R2,
	{2, 3, 1}: k3S2V3R1,
	{2, 4, 4}: k3S2V4R4,
	{2, 4, 2}: k3S2V4R2,
	{2, 4, 1}: k3S2V4R1,
}

// k3Kernel returns the kernel for stride s, blocks of r rows × v vectors,
// or nil without AVX-512.
func k3Kernel(s, v, r int) k3Func {
	if !useAsm {
		return nil
	}
	return k3Kernels[[3]int{s, v, r}]
}
