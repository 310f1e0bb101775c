package kernels

import (
	"fmt"
	"math"

	"github.com/inferd/inferd/tensor"
)

// Det: determinants of square matrices [*, M, M] → [*], by LU
// decomposition with partial pivoting in float64.

func init() {
	register("Det", newDet)
}

func newDet(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) < 1 || in[0] == nil {
			return nil, fmt.Errorf("Det needs an input")
		}
		x := in[0]
		r := x.Rank()
		if r < 2 || x.Shape[r-1] != x.Shape[r-2] {
			return nil, fmt.Errorf("Det input %v is not a batch of square matrices", x)
		}
		if !x.DType.IsFloat() {
			return nil, fmt.Errorf("Det of %v: %w", x.DType, ErrUnsupported)
		}
		xv, err := Float64s(x)
		if err != nil {
			return nil, fmt.Errorf("Det of %v: %w", x.DType, ErrUnsupported)
		}
		m := x.Shape[r-1]
		nb := tensor.NumElements(x.Shape[:r-2])
		res := make([]float64, nb)
		c.Parallel(nb, func(lo, hi int) {
			work := make([]float64, m*m)
			for b := lo; b < hi; b++ {
				copy(work, xv[b*m*m:(b+1)*m*m])
				res[b] = linalgDet(work, m)
			}
		})
		y, err := FromFloat64s(x.DType, x.Shape[:r-2], res)
		if err != nil {
			return nil, err
		}
		return c.Outs(y), nil
	}), nil
}

// linalgDet returns the determinant of the m×m row-major matrix a,
// destroying a.
func linalgDet(a []float64, m int) float64 {
	det := 1.0
	for k := 0; k < m; k++ {
		p := k
		for i := k + 1; i < m; i++ {
			if math.Abs(a[i*m+k]) > math.Abs(a[p*m+k]) {
				p = i
			}
		}
		piv := a[p*m+k]
		if piv == 0 {
			return 0
		}
		if p != k {
			rk, rp := a[k*m:k*m+m], a[p*m:p*m+m]
			for j := range rk {
				rk[j], rp[j] = rp[j], rk[j]
			}
			det = -det
		}
		det *= piv
		rk := a[k*m : k*m+m]
		for i := k + 1; i < m; i++ {
			ri := a[i*m : i*m+m]
			f := ri[k] / piv
			if f == 0 {
				continue
			}
			for j := k + 1; j < m; j++ {
				ri[j] -= f * rk[j]
			}
		}
	}
	return det
}
