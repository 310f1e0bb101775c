package gemm

// In its own file so that the assembly kernels can be substituted easily;
// compiled on every platform, it is also what the tests hold them to.

var genericImpl = &impl{name: "generic", tile: tileGeneric, dot4: dot4Generic}

// tileGeneric computes an mr×nr tile of C:
//
//	for i < mr, j < nr:
//		s := 0
//		for kk < t.k: s += t.a[kk*MR+i] * t.b[kk*t.ldb+j]
//		v := t.alpha*s
//		if flagLoadC: v += t.beta * t.r[i*t.ldr+j]
//		if flagBiasRow: v += t.bias[i]
//		if flagBiasCol: v += t.bias[j]
//		if flagLo && v < t.lo: v = t.lo
//		if flagHi && v > t.hi: v = t.hi
//		t.c[i*t.ldc+j] = v
//
// Every kernel computes this loop; they differ in summation order only.
func tileGeneric(t *tileArgs, mr, nr int) {
	var acc [MR * NR]float32
	k, ldb := t.k, t.ldb
	a, b := t.a[:k*MR], t.b
	// Four rows by four columns at a time: sixteen accumulators.
	for i := 0; i < mr; i += 4 {
		for j := 0; j < nr; j += 4 {
			var s00, s01, s02, s03, s10, s11, s12, s13 float32
			var s20, s21, s22, s23, s30, s31, s32, s33 float32
			for kk := 0; kk < k; kk++ {
				ar := a[kk*MR+i : kk*MR+i+4]
				br := b[kk*ldb+j : kk*ldb+j+4]
				a0, a1, a2, a3 := ar[0], ar[1], ar[2], ar[3]
				b0, b1, b2, b3 := br[0], br[1], br[2], br[3]
				s00 += a0 * b0
				s01 += a0 * b1
				s02 += a0 * b2
				s03 += a0 * b3
				s10 += a1 * b0
				s11 += a1 * b1
				s12 += a1 * b2
				s13 += a1 * b3
				s20 += a2 * b0
				s21 += a2 * b1
				s22 += a2 * b2
				s23 += a2 * b3
				s30 += a3 * b0
				s31 += a3 * b1
				s32 += a3 * b2
				s33 += a3 * b3
			}
			al := t.alpha
			*(*[4]float32)(acc[i*NR+j:]) = [4]float32{al * s00, al * s01, al * s02, al * s03}
			*(*[4]float32)(acc[(i+1)*NR+j:]) = [4]float32{al * s10, al * s11, al * s12, al * s13}
			*(*[4]float32)(acc[(i+2)*NR+j:]) = [4]float32{al * s20, al * s21, al * s22, al * s23}
			*(*[4]float32)(acc[(i+3)*NR+j:]) = [4]float32{al * s30, al * s31, al * s32, al * s33}
		}
	}
	finish(t, &acc, mr, nr)
}

// dot4Generic computes four dot products:
//
//	for r < 4:
//		out[r] = 0
//		for kk < len(a): out[r] += a[kk] * b[r*ldb+kk]
func dot4Generic(a, b []float32, ldb int, out *[4]float32) {
	k := len(a)
	b0, b1, b2, b3 := b[:k], b[ldb:ldb+k], b[2*ldb:2*ldb+k], b[3*ldb:3*ldb+k]
	var s0, s1, s2, s3 float32
	for i, x := range a {
		s0 += x * b0[i]
		s1 += x * b1[i]
		s2 += x * b2[i]
		s3 += x * b3[i]
	}
	*out = [4]float32{s0, s1, s2, s3}
}
