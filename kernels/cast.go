package kernels

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/inferd/inferd/tensor"
)

// Cast and CastLike between every pair of element types inferd holds
// except complex: the native numeric types and bool convert as C does
// (floats truncate toward zero into integers, integers wrap), float16,
// bfloat16 and float8 round to nearest even (float8 per the `saturate`
// attribute), int4/uint4 round to nearest even and clamp, and strings
// parse and print numbers the way the ONNX reference (NumPy) does.

func init() {
	register("Cast", newCast)
	register("CastLike", newCastLike)
}

// ewCastOpts are the attributes that shape a conversion.
type ewCastOpts struct {
	saturate bool
	// wrap4 makes int4/uint4 results keep the low 4 bits of the value
	// truncated toward zero, as other fixed-point casts do (the reference
	// from Cast-24 on); before, values round to nearest even and clamp.
	wrap4 bool
}

func ewCastAttrs(b *Build) (ewCastOpts, *tensor.DType, error) {
	a := b.Attrs()
	o := ewCastOpts{saturate: true, wrap4: b.Opset >= 24}
	if b.Opset >= 19 {
		o.saturate = a.Int("saturate", 1) != 0
	}
	var to *tensor.DType
	if b.Node.OpType == "Cast" {
		if b.Opset < 6 && a.Has("to") {
			// Cast-1 names the type as a string ("FLOAT", "INT64", ...).
			if at := b.Node.Attr("to"); at != nil && len(at.S) > 0 {
				dt, err := ewDTypeByONNXName(string(at.S))
				if err != nil {
					return o, nil, err
				}
				return o, &dt, a.Err()
			}
		}
		v := tensor.DType(a.RequireInt("to"))
		to = &v
	}
	if err := a.Err(); err != nil {
		return o, nil, err
	}
	if to != nil && (!to.Valid() || *to == tensor.Complex64 || *to == tensor.Complex128) {
		return o, nil, fmt.Errorf("attribute to = %d is not a type Cast supports: %w", int32(*to), ErrUnsupported)
	}
	return o, to, nil
}

// ewDTypeByONNXName maps TensorProto.DataType names ("FLOAT", "INT64").
func ewDTypeByONNXName(s string) (tensor.DType, error) {
	names := map[string]tensor.DType{
		"FLOAT": tensor.Float32, "UINT8": tensor.Uint8, "INT8": tensor.Int8, "UINT16": tensor.Uint16,
		"INT16": tensor.Int16, "INT32": tensor.Int32, "INT64": tensor.Int64, "STRING": tensor.String,
		"BOOL": tensor.Bool, "FLOAT16": tensor.Float16, "DOUBLE": tensor.Float64, "UINT32": tensor.Uint32,
		"UINT64": tensor.Uint64, "BFLOAT16": tensor.BFloat16,
	}
	if dt, ok := names[strings.ToUpper(s)]; ok {
		return dt, nil
	}
	return tensor.Undefined, fmt.Errorf("attribute to = %q is not a type Cast supports", s)
}

func newCast(b *Build) (any, error) {
	o, to, err := ewCastAttrs(b)
	if err != nil {
		return nil, err
	}
	dt := *to
	return ewUnaryKernel(func(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
		return ewCast(c, x, dt, o)
	}), nil
}

func newCastLike(b *Build) (any, error) {
	o, _, err := ewCastAttrs(b)
	if err != nil {
		return nil, err
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if len(in) != 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("want 2 inputs (input, target_type), got %d", len(in))
		}
		out, err := ewCast(c, in[0], in[1].DType, o)
		if err != nil {
			return nil, err
		}
		return c.Outs(out), nil
	}), nil
}

// ewCast converts x to element type to.
func ewCast(c *Context, x *tensor.Tensor, to tensor.DType, o ewCastOpts) (*tensor.Tensor, error) {
	from := x.DType
	if from == tensor.Complex64 || from == tensor.Complex128 || to == tensor.Complex64 || to == tensor.Complex128 {
		return nil, fmt.Errorf("cast from %v to %v: %w", from, to, ErrUnsupported)
	}
	if from == to {
		out := c.Alloc(to, x.Shape...)
		tensor.CopySlice(out.Data, x.Data)
		return out, nil
	}
	if to == tensor.String {
		return ewCastToString(c, x)
	}
	if from == tensor.String {
		return ewCastFromString(c, x, to, o)
	}
	// Narrow sources widen exactly to a native type first.
	switch s := x.Data.(type) {
	case []tensor.F16, []tensor.BF16:
		return ewCast(c, ewWiden(x), to, o)
	case []tensor.F8E4M3FN, []tensor.F8E4M3FNUZ, []tensor.F8E5M2, []tensor.F8E5M2FNUZ, []tensor.F4E2M1:
		f, _ := ewFloat32sAny(x)
		return ewCast(c, &tensor.Tensor{DType: tensor.Float32, Shape: x.Shape, Data: f}, to, o)
	case []tensor.I4:
		d := make([]int8, len(s))
		for i, v := range s {
			d[i] = int8(v.Int())
		}
		return ewCast(c, &tensor.Tensor{DType: tensor.Int8, Shape: x.Shape, Data: d}, to, o)
	case []tensor.U4:
		d := make([]uint8, len(s))
		for i, v := range s {
			d[i] = uint8(v.Int())
		}
		return ewCast(c, &tensor.Tensor{DType: tensor.Uint8, Shape: x.Shape, Data: d}, to, o)
	}
	out := c.Alloc(to, x.Shape...)
	if err := ewCastNative(c, out, x, o); err != nil {
		return nil, err
	}
	return out, nil
}

// ewCastNative converts x, of a native numeric or bool type, into out.
func ewCastNative(c *Context, out, x *tensor.Tensor, o ewCastOpts) error {
	src := x.Data
	switch x.DType {
	case tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool:
	default:
		return fmt.Errorf("cast from %v to %v: %w", x.DType, out.DType, ErrUnsupported)
	}
	par := func(f func(lo, hi int)) { ewPar(c, x.Len(), ewGrainCheap, f) }
	switch d := out.Data.(type) {
	case []float32:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []float64:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []int8:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []int16:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []int32:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []int64:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []uint8:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []uint16:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []uint32:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []uint64:
		par(func(lo, hi int) { ewConvert(d[lo:hi], src, lo) })
	case []bool:
		ewToBool(d, src)
	case []tensor.F16:
		if s, ok := src.([]float32); ok {
			par(func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = tensor.F16FromFloat32(s[i])
				}
			})
			return nil
		}
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.F16FromFloat64(f) })
	case []tensor.BF16:
		if s, ok := src.([]float32); ok {
			par(func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d[i] = tensor.BF16FromFloat32(s[i])
				}
			})
			return nil
		}
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.BF16FromFloat64(f) })
	case []tensor.F8E4M3FN:
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.F8E4M3FNFromFloat64(f, o.saturate) })
	case []tensor.F8E5M2:
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.F8E5M2FromFloat64(f, o.saturate) })
	case []tensor.F8E4M3FNUZ:
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.F8E4M3FNUZFromFloat64(f, o.saturate) })
	case []tensor.F8E5M2FNUZ:
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.F8E5M2FNUZFromFloat64(f, o.saturate) })
	case []tensor.F4E2M1:
		return ewEncodeFloats(x, func(i int, f float64) { d[i] = tensor.F4E2M1FromFloat64(f) })
	case []tensor.I4:
		if o.wrap4 {
			wrap := func(v int64) tensor.I4 { return tensor.I4(int8(v<<4) >> 4) }
			return ewEncodeInt4(x, func(i int, f float64) { d[i] = wrap(int64(f)) },
				func(i int, v int64) { d[i] = wrap(v) }, func(i int, v uint64) { d[i] = wrap(int64(v)) })
		}
		return ewEncodeInt4(x, func(i int, f float64) { d[i] = tensor.I4FromFloat64(f) },
			func(i int, v int64) { d[i] = tensor.I4FromInt64(v) }, func(i int, v uint64) { d[i] = tensor.I4FromUint64(v) })
	case []tensor.U4:
		if o.wrap4 {
			wrap := func(v int64) tensor.U4 { return tensor.U4(v & 0xf) }
			return ewEncodeInt4(x, func(i int, f float64) { d[i] = wrap(int64(f)) },
				func(i int, v int64) { d[i] = wrap(v) }, func(i int, v uint64) { d[i] = wrap(int64(v)) })
		}
		return ewEncodeInt4(x, func(i int, f float64) { d[i] = tensor.U4FromFloat64(f) },
			func(i int, v int64) { d[i] = tensor.U4FromInt64(v) }, func(i int, v uint64) { d[i] = tensor.U4FromUint64(v) })
	default:
		return fmt.Errorf("cast from %v to %v: %w", x.DType, out.DType, ErrUnsupported)
	}
	return nil
}

// ewToBool writes src != 0 into d (NaN is true, ±0 false).
func ewToBool(d []bool, src any) {
	switch s := src.(type) {
	case []float32:
		ewNonZero(d, s)
	case []float64:
		ewNonZero(d, s)
	case []int8:
		ewNonZero(d, s)
	case []int16:
		ewNonZero(d, s)
	case []int32:
		ewNonZero(d, s)
	case []int64:
		ewNonZero(d, s)
	case []uint8:
		ewNonZero(d, s)
	case []uint16:
		ewNonZero(d, s)
	case []uint32:
		ewNonZero(d, s)
	case []uint64:
		ewNonZero(d, s)
	case []bool:
		copy(d, s)
	}
}

func ewNonZero[T tensor.Numeric](d []bool, s []T) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = v != 0
	}
}

// ewEncodeFloats feeds x's values, as float64, to put.
func ewEncodeFloats(x *tensor.Tensor, put func(i int, f float64)) error {
	v, err := Float64s(x)
	if err != nil {
		return err
	}
	for i, f := range v {
		put(i, f)
	}
	return nil
}

// ewEncodeInt4 feeds x's values to the float, signed or unsigned encoder
// that keeps them exact.
func ewEncodeInt4(x *tensor.Tensor, pf func(int, float64), pi func(int, int64), pu func(int, uint64)) error {
	switch s := x.Data.(type) {
	case []float32, []float64:
		return ewEncodeFloats(x, pf)
	case []uint64:
		for i, v := range s {
			pu(i, v)
		}
		return nil
	case []bool:
		for i, v := range s {
			if v {
				pi(i, 1)
			} else {
				pi(i, 0)
			}
		}
		return nil
	}
	v, err := Int64s(x)
	if err != nil {
		return err
	}
	for i, e := range v {
		pi(i, e)
	}
	return nil
}

// ewConvert writes src[off:off+len(d)] converted to D into d; src is a
// native numeric or bool slice (others are ignored).
func ewConvert[D tensor.Numeric](d []D, src any, off int) {
	switch s := src.(type) {
	case []float32:
		ewConv(d, s[off:off+len(d)])
	case []float64:
		ewConv(d, s[off:off+len(d)])
	case []int8:
		ewConv(d, s[off:off+len(d)])
	case []int16:
		ewConv(d, s[off:off+len(d)])
	case []int32:
		ewConv(d, s[off:off+len(d)])
	case []int64:
		ewConv(d, s[off:off+len(d)])
	case []uint8:
		ewConv(d, s[off:off+len(d)])
	case []uint16:
		ewConv(d, s[off:off+len(d)])
	case []uint32:
		ewConv(d, s[off:off+len(d)])
	case []uint64:
		ewConv(d, s[off:off+len(d)])
	case []bool:
		for i, v := range s[off : off+len(d)] {
			if v {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
	}
}

func ewConv[D, S tensor.Numeric](d []D, s []S) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = D(v)
	}
}

// ---- to string ----

func ewCastToString(c *Context, x *tensor.Tensor) (*tensor.Tensor, error) {
	out := c.Alloc(tensor.String, x.Shape...)
	d := out.Data.([]string)
	switch s := x.Data.(type) {
	case []float32:
		for i, v := range s {
			d[i] = ewFormatFloat(float64(v), 32)
		}
	case []float64:
		for i, v := range s {
			d[i] = ewFormatFloat(v, 64)
		}
	case []tensor.F16:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.F16FromFloat64(f).Float32()) })
		}
	case []tensor.BF16:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.BF16FromFloat64(f).Float32()) })
		}
	case []tensor.F8E4M3FN:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.F8E4M3FNFromFloat64(f, true).Float32()) })
		}
	case []tensor.F8E4M3FNUZ:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.F8E4M3FNUZFromFloat64(f, true).Float32()) })
		}
	case []tensor.F8E5M2:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.F8E5M2FromFloat64(f, true).Float32()) })
		}
	case []tensor.F8E5M2FNUZ:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.F8E5M2FNUZFromFloat64(f, true).Float32()) })
		}
	case []tensor.F4E2M1:
		for i, v := range s {
			d[i] = ewFormatShortest(float64(v.Float32()), func(f float64) float64 { return float64(tensor.F4E2M1FromFloat64(f).Float32()) })
		}
	case []bool:
		for i, v := range s {
			if v {
				d[i] = "True"
			} else {
				d[i] = "False"
			}
		}
	case []uint64:
		for i, v := range s {
			d[i] = strconv.FormatUint(v, 10)
		}
	case []tensor.I4:
		for i, v := range s {
			d[i] = strconv.Itoa(v.Int())
		}
	case []tensor.U4:
		for i, v := range s {
			d[i] = strconv.Itoa(v.Int())
		}
	default:
		v, err := Int64s(x)
		if err != nil {
			return nil, fmt.Errorf("cast from %v to string: %w", x.DType, ErrUnsupported)
		}
		for i, e := range v {
			d[i] = strconv.FormatInt(e, 10)
		}
	}
	return out, nil
}

// ewFormatFloat prints f with the fewest digits that read back as the
// same float of the given bit size, as NumPy's str does: positional
// ("0.5", "100.0") for 1e-4 ≤ |f| < 1e16, else scientific ("1e-05",
// "1.5e+16"); "nan", "inf", "-inf" for the special values.
func ewFormatFloat(f float64, bits int) string {
	if special, ok := ewFormatSpecial(f); ok {
		return special
	}
	return ewNumpyStyle(f, strconv.FormatFloat(f, 'e', -1, bits))
}

// ewFormatShortest is ewFormatFloat for narrow float types: the shortest
// digits whose value rounds (through round) back to f.
func ewFormatShortest(f float64, round func(float64) float64) string {
	if special, ok := ewFormatSpecial(f); ok {
		return special
	}
	for prec := 0; prec < 17; prec++ {
		s := strconv.FormatFloat(f, 'e', prec, 64)
		if g, err := strconv.ParseFloat(s, 64); err == nil && round(g) == f {
			return ewNumpyStyle(f, s)
		}
	}
	return ewFormatFloat(f, 64)
}

func ewFormatSpecial(f float64) (string, bool) {
	switch {
	case math.IsNaN(f):
		return "nan", true
	case math.IsInf(f, 1):
		return "inf", true
	case math.IsInf(f, -1):
		return "-inf", true
	}
	return "", false
}

// ewNumpyStyle rewrites e, f in Go's %e form ("-1.2345e-07"), in NumPy's style.
func ewNumpyStyle(f float64, e string) string {
	mant, exps, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(exps)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		digits = "0"
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	a := math.Abs(f)
	if a == 0 || (a >= 1e-4 && a < 1e16) {
		switch {
		case a == 0:
			b.WriteString("0.0")
		case exp < 0:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp-1))
			b.WriteString(digits)
		case exp+1 >= len(digits):
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", exp+1-len(digits)))
			b.WriteString(".0")
		default:
			b.WriteString(digits[:exp+1])
			b.WriteByte('.')
			b.WriteString(digits[exp+1:])
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte('e')
	if exp < 0 {
		b.WriteByte('-')
		exp = -exp
	} else {
		b.WriteByte('+')
	}
	if exp < 10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

// ---- from string ----

// ewParseFloat reads a number as the spec allows: plain or scientific
// notation, and "INF", "+INF", "-INF", "NaN" in any case.
func ewParseFloat(s string, bits int) (float64, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	case "nan", "+nan", "-nan":
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(t, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or 0, as C's strtod
		}
		return 0, fmt.Errorf("cannot parse %q as a number", s)
	}
	return f, nil
}

func ewCastFromString(c *Context, x *tensor.Tensor, to tensor.DType, o ewCastOpts) (*tensor.Tensor, error) {
	s := x.Data.([]string)
	switch to {
	case tensor.Bool:
		out := c.Alloc(to, x.Shape...)
		d := out.Data.([]bool)
		for i, v := range s {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				d[i] = true
			case "false":
				d[i] = false
			default:
				f, err := ewParseFloat(v, 64)
				if err != nil {
					return nil, err
				}
				d[i] = f != 0
			}
		}
		return out, nil
	case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Int4:
		v := make([]int64, len(s))
		for i, str := range s {
			t := strings.TrimSpace(str)
			n, err := strconv.ParseInt(t, 10, 64)
			if err != nil {
				f, ferr := ewParseFloat(t, 64)
				if ferr != nil {
					return nil, ferr
				}
				n = int64(f)
			}
			v[i] = n
		}
		return ewCast(c, &tensor.Tensor{DType: tensor.Int64, Shape: x.Shape, Data: v}, to, o)
	case tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Uint4:
		v := make([]uint64, len(s))
		for i, str := range s {
			t := strings.TrimSpace(str)
			n, err := strconv.ParseUint(t, 10, 64)
			if err != nil {
				if m, ierr := strconv.ParseInt(t, 10, 64); ierr == nil {
					n = uint64(m) // "-1" wraps, as a fixed-point cast does
				} else {
					f, ferr := ewParseFloat(t, 64)
					if ferr != nil {
						return nil, ferr
					}
					if f < 0 {
						n = uint64(int64(f))
					} else {
						n = uint64(f)
					}
				}
			}
			v[i] = n
		}
		return ewCast(c, &tensor.Tensor{DType: tensor.Uint64, Shape: x.Shape, Data: v}, to, o)
	case tensor.Float32:
		out := c.Alloc(to, x.Shape...)
		d := out.Data.([]float32)
		for i, str := range s {
			f, err := ewParseFloat(str, 32)
			if err != nil {
				return nil, err
			}
			d[i] = float32(f)
		}
		return out, nil
	}
	v := make([]float64, len(s))
	for i, str := range s {
		f, err := ewParseFloat(str, 64)
		if err != nil {
			return nil, err
		}
		v[i] = f
	}
	return ewCast(c, &tensor.Tensor{DType: tensor.Float64, Shape: x.Shape, Data: v}, to, o)
}
