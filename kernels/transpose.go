package kernels

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

// Transpose, DepthToSpace and SpaceToDepth: permutations of a tensor's
// axes, done as one strided copy each.

func init() {
	register("Transpose", newTranspose)
	register("DepthToSpace", newDepthToSpace)
	register("SpaceToDepth", newSpaceToDepth)
}

// shpPermute returns x with its axes permuted (output axis i is input axis
// perm[i]). perm must be a valid permutation of x's axes. When the
// permutation only moves axes of size 1 the result is a view.
func shpPermute(c *Context, x *tensor.Tensor, perm []int) (*tensor.Tensor, error) {
	shape := c.Ints(len(perm))
	st := c.Strides(x.Shape)
	ss := c.Ints(len(perm))
	for i, p := range perm {
		shape[i] = x.Shape[p]
		ss[i] = st[p]
	}
	// Axes of size > 1 keep their order: the data order is unchanged.
	last, ordered := -1, true
	for _, p := range perm {
		if x.Shape[p] == 1 {
			continue
		}
		if p < last {
			ordered = false
			break
		}
		last = p
	}
	if ordered {
		return shpView(c, x, shape), nil
	}
	out := c.Alloc(x.DType, shape...)
	m, err := shpMoverFor(out, x)
	if err != nil {
		return nil, err
	}
	shpCopyStrided(c, m, shape, 0, c.Strides(shape), 0, ss)
	return out, nil
}

// shpCheckPerm validates a permutation of rank axes.
func shpCheckPerm(c *Context, perm []int64, rank int) ([]int, error) {
	if len(perm) != rank {
		return nil, fmt.Errorf("perm %v has %d entries, want %d (the input's rank)", perm, len(perm), rank)
	}
	out := c.Ints(rank)
	var seenBuf [16]bool
	seen := seenBuf[:0]
	if rank <= len(seenBuf) {
		seen = seenBuf[:rank]
	} else {
		seen = make([]bool, rank)
	}
	for i, p := range perm {
		if p < 0 || p >= int64(rank) || seen[p] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", perm, rank-1)
		}
		seen[p] = true
		out[i] = int(p)
	}
	return out, nil
}

func newTranspose(b *Build) (any, error) {
	a := b.Attrs()
	perm := a.Ints("perm", nil)
	hasPerm := a.Has("perm")
	if err := a.Err(); err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "data")
		if err != nil {
			return nil, err
		}
		r := len(x.Shape)
		var p []int
		if hasPerm {
			if p, err = shpCheckPerm(c, perm, r); err != nil {
				return nil, err
			}
		} else {
			p = c.Ints(r)
			for i := range p {
				p[i] = r - 1 - i
			}
		}
		out, err := shpPermute(c, x, p)
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// shpBlockAttrs reads the blocksize attribute shared by DepthToSpace and
// SpaceToDepth.
func shpBlockAttrs(b *Build) (int, string, error) {
	a := b.Attrs()
	if !a.Has("blocksize") {
		return 0, "", fmt.Errorf("required attribute \"blocksize\" is missing")
	}
	bs := a.Int("blocksize", 0)
	mode := a.String("mode", "DCR")
	if err := a.Err(); err != nil {
		return 0, "", err
	}
	if bs <= 0 || bs > 1<<20 {
		return 0, "", fmt.Errorf("attribute blocksize = %d, want > 0", bs)
	}
	return int(bs), mode, nil
}

// shpPermuteView copies the tensor of shape view (a reshape of x) with
// its axes permuted by perm, and returns the result reshaped to out.
func shpPermuteView(c *Context, x *tensor.Tensor, view []int, perm []int, outShape []int) (*tensor.Tensor, error) {
	t, err := shpPermute(c, shpView(c, x, view), perm)
	if err != nil {
		return nil, err
	}
	return shpView(c, t, outShape), nil
}

func newDepthToSpace(b *Build) (any, error) {
	bs, mode, err := shpBlockAttrs(b)
	if err != nil {
		return nil, err
	}
	if mode != "DCR" && mode != "CRD" {
		return nil, fmt.Errorf("attribute mode = %q, want DCR or CRD", mode)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if len(x.Shape) != 4 {
			return nil, fmt.Errorf("input has shape %v, want rank 4", tensor.ShapeString(x.Shape))
		}
		n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		if ch%(bs*bs) != 0 {
			return nil, fmt.Errorf("input has %d channels, not a multiple of blocksize² = %d", ch, bs*bs)
		}
		oc := ch / (bs * bs)
		outShape := []int{n, oc, h * bs, w * bs}
		var out *tensor.Tensor
		if mode == "DCR" {
			out, err = shpPermuteView(c, x, []int{n, bs, bs, oc, h, w}, []int{0, 3, 4, 1, 5, 2}, outShape)
		} else {
			out, err = shpPermuteView(c, x, []int{n, oc, bs, bs, h, w}, []int{0, 1, 4, 2, 5, 3}, outShape)
		}
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

func newSpaceToDepth(b *Build) (any, error) {
	bs, _, err := shpBlockAttrs(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, err := shpNeed(in, 0, "input")
		if err != nil {
			return nil, err
		}
		if len(x.Shape) != 4 {
			return nil, fmt.Errorf("input has shape %v, want rank 4", tensor.ShapeString(x.Shape))
		}
		n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		if h%bs != 0 || w%bs != 0 {
			return nil, fmt.Errorf("input height %d and width %d must be multiples of blocksize %d", h, w, bs)
		}
		out, err := shpPermuteView(c, x, []int{n, ch, h / bs, bs, w / bs, bs}, []int{0, 3, 5, 1, 2, 4},
			[]int{n, ch * bs * bs, h / bs, w / bs})
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}
