package tensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxNpyBytes bounds the data a .npy header may announce (16 GiB), so a
// corrupt header cannot ask for an absurd allocation.
const MaxNpyBytes = 16 << 30

var npyMagic = []byte("\x93NUMPY")

// ErrNpy is wrapped by every error ReadNpy returns for a malformed file.
var ErrNpy = errors.New("malformed .npy")

// ReadNpy decodes one array in NumPy's .npy format (versions 1 to 3):
// little- or big-endian numbers, bool, float16, fixed-width unicode ('U')
// and byte ('S') strings, C or Fortran order.
func ReadNpy(r io.Reader) (*Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: reading magic: %v", ErrNpy, err)
	}
	if !bytes.Equal(pre[:6], npyMagic) {
		return nil, fmt.Errorf("%w: bad magic %q", ErrNpy, pre[:6])
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: header length: %v", ErrNpy, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: header length: %v", ErrNpy, err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		if hlen > 1<<20 {
			return nil, fmt.Errorf("%w: header of %d bytes", ErrNpy, hlen)
		}
	default:
		return nil, fmt.Errorf("%w: unsupported version %d.%d", ErrNpy, pre[6], pre[7])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNpy, err)
	}
	descr, fortran, shape, err := parseNpyHeader(string(hdr))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNpy, err)
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > MaxNpyBytes/d) {
			return nil, fmt.Errorf("%w: shape %v too large", ErrNpy, shape)
		}
		n *= d
	}
	t, err := readNpyData(r, descr, shape, n)
	if err != nil {
		return nil, err
	}
	if fortran && len(shape) > 1 {
		t = fromFortran(t)
	}
	return t, nil
}

func parseNpyHeader(h string) (descr string, fortran bool, shape []int, err error) {
	h = strings.TrimSpace(h)
	if !strings.HasPrefix(h, "{") || !strings.HasSuffix(h, "}") {
		return "", false, nil, fmt.Errorf("header is not a dict: %q", h)
	}
	body := h[1 : len(h)-1]
	seen := 0
	for len(strings.TrimSpace(body)) > 0 {
		body = strings.TrimSpace(body)
		key, rest, ok := cutQuoted(body)
		if !ok {
			return "", false, nil, fmt.Errorf("bad key in header %q", h)
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return "", false, nil, fmt.Errorf("missing ':' after %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			var v string
			v, rest, ok = cutQuoted(rest)
			if !ok {
				return "", false, nil, fmt.Errorf("bad descr in header %q", h)
			}
			descr = v
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "True"):
				fortran, rest = true, rest[4:]
			case strings.HasPrefix(rest, "False"):
				rest = rest[5:]
			default:
				return "", false, nil, fmt.Errorf("bad fortran_order in header %q", h)
			}
		case "shape":
			if !strings.HasPrefix(rest, "(") {
				return "", false, nil, fmt.Errorf("bad shape in header %q", h)
			}
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return "", false, nil, fmt.Errorf("unterminated shape in header %q", h)
			}
			shape = []int{}
			for _, f := range strings.Split(rest[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				f = strings.TrimSuffix(f, "L")
				d, err := strconv.Atoi(f)
				if err != nil || d < 0 {
					return "", false, nil, fmt.Errorf("bad dimension %q", f)
				}
				shape = append(shape, d)
			}
			rest = rest[end+1:]
		default:
			return "", false, nil, fmt.Errorf("unknown header key %q", key)
		}
		seen++
		rest = strings.TrimSpace(rest)
		rest = strings.TrimPrefix(rest, ",")
		body = rest
	}
	if descr == "" || shape == nil {
		return "", false, nil, fmt.Errorf("header lacks descr or shape: %q", h)
	}
	return descr, fortran, shape, nil
}

func cutQuoted(s string) (string, string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, false
	}
	return s[1 : end+1], s[end+2:], true
}

func readNpyData(r io.Reader, descr string, shape []int, n int) (*Tensor, error) {
	if len(descr) < 2 {
		return nil, fmt.Errorf("%w: bad descr %q", ErrNpy, descr)
	}
	order, kind, sizeStr := descr[0], descr[1], descr[2:]
	size, err := strconv.Atoi(sizeStr)
	if err != nil || size <= 0 || size > 1<<16 {
		return nil, fmt.Errorf("%w: bad descr %q", ErrNpy, descr)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch order {
	case '<', '|', '=':
	case '>':
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: bad byte order in descr %q", ErrNpy, descr)
	}
	var dt DType
	switch string(kind) + strconv.Itoa(size) {
	case "f2":
		dt = Float16
	case "f4":
		dt = Float32
	case "f8":
		dt = Float64
	case "i1":
		dt = Int8
	case "i2":
		dt = Int16
	case "i4":
		dt = Int32
	case "i8":
		dt = Int64
	case "u1":
		dt = Uint8
	case "u2":
		dt = Uint16
	case "u4":
		dt = Uint32
	case "u8":
		dt = Uint64
	case "b1":
		dt = Bool
	case "c8":
		dt = Complex64
	case "c16":
		dt = Complex128
	default:
		if kind == 'U' || kind == 'S' {
			return readNpyStrings(r, kind, size, bo, shape, n)
		}
		return nil, fmt.Errorf("%w: unsupported descr %q", ErrNpy, descr)
	}
	if int64(n)*int64(size) > MaxNpyBytes {
		return nil, fmt.Errorf("%w: %d elements of %d bytes is too large", ErrNpy, n, size)
	}
	raw, err := readFullN(r, n*size)
	if err != nil {
		return nil, fmt.Errorf("%w: data: %v", ErrNpy, err)
	}
	t := &Tensor{DType: dt, Shape: shape}
	t.Data, err = DecodeRaw(dt, raw, n, bo)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNpy, err)
	}
	return t, nil
}

// readFullN reads exactly n bytes, growing the buffer as data arrives so a
// header that lies about the size cannot force a huge allocation up front.
func readFullN(r io.Reader, n int) ([]byte, error) {
	const chunk = 64 << 20
	if n <= chunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readNpyStrings(r io.Reader, kind byte, size int, bo binary.ByteOrder, shape []int, n int) (*Tensor, error) {
	width := size
	if kind == 'U' {
		width *= 4
	}
	if int64(n)*int64(width) > MaxNpyBytes {
		return nil, fmt.Errorf("%w: string array too large", ErrNpy)
	}
	raw, err := readFullN(r, n*width)
	if err != nil {
		return nil, fmt.Errorf("%w: data: %v", ErrNpy, err)
	}
	out := make([]string, n)
	for i := range out {
		cell := raw[i*width : (i+1)*width]
		if kind == 'S' {
			out[i] = string(bytes.TrimRight(cell, "\x00"))
			continue
		}
		var sb strings.Builder
		for j := 0; j < size; j++ {
			c := rune(bo.Uint32(cell[4*j:]))
			if c == 0 {
				break
			}
			if !utf8.ValidRune(c) {
				return nil, fmt.Errorf("%w: invalid code point %#x", ErrNpy, c)
			}
			sb.WriteRune(c)
		}
		out[i] = sb.String()
	}
	return &Tensor{DType: String, Shape: shape, Data: out}, nil
}

// DecodeRaw decodes n fixed-size elements of dt from raw bytes in the given
// byte order (the layout of TensorProto.raw_data and of .npy data).
func DecodeRaw(dt DType, raw []byte, n int, bo binary.ByteOrder) (any, error) {
	size := dt.Size()
	if dt == String || size == 0 {
		return nil, fmt.Errorf("cannot decode %v from raw bytes", dt)
	}
	if len(raw) != n*size {
		return nil, fmt.Errorf("%d bytes of raw data for %d elements of %v", len(raw), n, dt)
	}
	out := MakeSlice(dt, n)
	switch s := out.(type) {
	case []float32:
		for i := range s {
			s[i] = math.Float32frombits(bo.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range s {
			s[i] = math.Float64frombits(bo.Uint64(raw[8*i:]))
		}
	case []int8:
		for i := range s {
			s[i] = int8(raw[i])
		}
	case []uint8:
		copy(s, raw)
	case []bool:
		for i := range s {
			s[i] = raw[i] != 0
		}
	case []int16:
		for i := range s {
			s[i] = int16(bo.Uint16(raw[2*i:]))
		}
	case []uint16:
		for i := range s {
			s[i] = bo.Uint16(raw[2*i:])
		}
	case []F16:
		for i := range s {
			s[i] = F16(bo.Uint16(raw[2*i:]))
		}
	case []BF16:
		for i := range s {
			s[i] = BF16(bo.Uint16(raw[2*i:]))
		}
	case []int32:
		for i := range s {
			s[i] = int32(bo.Uint32(raw[4*i:]))
		}
	case []uint32:
		for i := range s {
			s[i] = bo.Uint32(raw[4*i:])
		}
	case []int64:
		for i := range s {
			s[i] = int64(bo.Uint64(raw[8*i:]))
		}
	case []uint64:
		for i := range s {
			s[i] = bo.Uint64(raw[8*i:])
		}
	case []complex64:
		for i := range s {
			s[i] = complex(math.Float32frombits(bo.Uint32(raw[8*i:])), math.Float32frombits(bo.Uint32(raw[8*i+4:])))
		}
	case []complex128:
		for i := range s {
			s[i] = complex(math.Float64frombits(bo.Uint64(raw[16*i:])), math.Float64frombits(bo.Uint64(raw[16*i+8:])))
		}
	case []F8E4M3FN:
		for i := range s {
			s[i] = F8E4M3FN(raw[i])
		}
	case []F8E4M3FNUZ:
		for i := range s {
			s[i] = F8E4M3FNUZ(raw[i])
		}
	case []F8E5M2:
		for i := range s {
			s[i] = F8E5M2(raw[i])
		}
	case []F8E5M2FNUZ:
		for i := range s {
			s[i] = F8E5M2FNUZ(raw[i])
		}
	default:
		return nil, fmt.Errorf("cannot decode %v from raw bytes", dt)
	}
	return out, nil
}

// EncodeRaw appends the little-endian bytes of a fixed-size storage slice.
func EncodeRaw(dst []byte, data any) ([]byte, error) {
	le := binary.LittleEndian
	switch s := data.(type) {
	case []float32:
		for _, v := range s {
			dst = le.AppendUint32(dst, math.Float32bits(v))
		}
	case []float64:
		for _, v := range s {
			dst = le.AppendUint64(dst, math.Float64bits(v))
		}
	case []int8:
		for _, v := range s {
			dst = append(dst, byte(v))
		}
	case []uint8:
		dst = append(dst, s...)
	case []bool:
		for _, v := range s {
			b := byte(0)
			if v {
				b = 1
			}
			dst = append(dst, b)
		}
	case []int16:
		for _, v := range s {
			dst = le.AppendUint16(dst, uint16(v))
		}
	case []uint16:
		for _, v := range s {
			dst = le.AppendUint16(dst, v)
		}
	case []F16:
		for _, v := range s {
			dst = le.AppendUint16(dst, uint16(v))
		}
	case []BF16:
		for _, v := range s {
			dst = le.AppendUint16(dst, uint16(v))
		}
	case []int32:
		for _, v := range s {
			dst = le.AppendUint32(dst, uint32(v))
		}
	case []uint32:
		for _, v := range s {
			dst = le.AppendUint32(dst, v)
		}
	case []int64:
		for _, v := range s {
			dst = le.AppendUint64(dst, uint64(v))
		}
	case []uint64:
		for _, v := range s {
			dst = le.AppendUint64(dst, v)
		}
	case []complex64:
		for _, v := range s {
			dst = le.AppendUint32(dst, math.Float32bits(real(v)))
			dst = le.AppendUint32(dst, math.Float32bits(imag(v)))
		}
	case []complex128:
		for _, v := range s {
			dst = le.AppendUint64(dst, math.Float64bits(real(v)))
			dst = le.AppendUint64(dst, math.Float64bits(imag(v)))
		}
	case []F8E4M3FN:
		for _, v := range s {
			dst = append(dst, byte(v))
		}
	case []F8E4M3FNUZ:
		for _, v := range s {
			dst = append(dst, byte(v))
		}
	case []F8E5M2:
		for _, v := range s {
			dst = append(dst, byte(v))
		}
	case []F8E5M2FNUZ:
		for _, v := range s {
			dst = append(dst, byte(v))
		}
	default:
		return nil, fmt.Errorf("tensor: cannot encode %T as raw bytes", data)
	}
	return dst, nil
}

func fromFortran(t *Tensor) *Tensor {
	// Data laid out with the first axis fastest: read it as the reversed
	// shape in C order, then reverse the axes.
	rev := make([]int, len(t.Shape))
	for i, d := range t.Shape {
		rev[len(rev)-1-i] = d
	}
	src := &Tensor{DType: t.DType, Shape: rev, Data: t.Data}
	out := New(t.DType, t.Shape...)
	srcStrides := Strides(rev)
	idx := make([]int, len(t.Shape))
	n := t.Len()
	for i := 0; i < n; i++ {
		off := 0
		for a := range idx {
			off += idx[a] * srcStrides[len(idx)-1-a]
		}
		SetElem(out.Data, i, src.Data, off)
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < t.Shape[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}

// WriteNpy encodes t in .npy version 1.0 (little-endian, C order). String
// tensors are written as fixed-width unicode ('<U').
func WriteNpy(w io.Writer, t *Tensor) error {
	var descr string
	switch t.DType {
	case Float16:
		descr = "<f2"
	case Float32:
		descr = "<f4"
	case Float64:
		descr = "<f8"
	case Int8:
		descr = "|i1"
	case Int16:
		descr = "<i2"
	case Int32:
		descr = "<i4"
	case Int64:
		descr = "<i8"
	case Uint8:
		descr = "|u1"
	case Uint16:
		descr = "<u2"
	case Uint32:
		descr = "<u4"
	case Uint64:
		descr = "<u8"
	case Bool:
		descr = "|b1"
	case Complex64:
		descr = "<c8"
	case Complex128:
		descr = "<c16"
	case BFloat16:
		// NumPy has no bfloat16: widen to float32 rather than lose the values.
		f := make([]float32, t.Len())
		for i, v := range t.Data.([]BF16) {
			f[i] = v.Float32()
		}
		return WriteNpy(w, &Tensor{DType: Float32, Shape: t.Shape, Data: f})
	case String:
		width := 1
		for _, s := range t.Data.([]string) {
			width = max(width, utf8.RuneCountInString(s))
		}
		descr = "<U" + strconv.Itoa(width)
		if err := writeNpyHeader(w, descr, t.Shape); err != nil {
			return err
		}
		buf := make([]byte, 0, 4*width*t.Len())
		for _, s := range t.Data.([]string) {
			k := 0
			for _, c := range s {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(c))
				k++
			}
			for ; k < width; k++ {
				buf = binary.LittleEndian.AppendUint32(buf, 0)
			}
		}
		_, err := w.Write(buf)
		return err
	default:
		return fmt.Errorf("tensor: .npy cannot hold %v", t.DType)
	}
	if err := writeNpyHeader(w, descr, t.Shape); err != nil {
		return err
	}
	raw, err := EncodeRaw(make([]byte, 0, t.Len()*t.DType.Size()), t.Data)
	if err != nil {
		return err
	}
	_, err = w.Write(raw)
	return err
}

func writeNpyHeader(w io.Writer, descr string, shape []int) error {
	var sh strings.Builder
	sh.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sh.WriteByte(',')
	}
	sh.WriteByte(')')
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh.String())
	total := 10 + len(h) + 1
	pad := (64 - total%64) % 64
	h += strings.Repeat(" ", pad) + "\n"
	if len(h) > 65535 {
		return fmt.Errorf("tensor: .npy header too long")
	}
	var pre [10]byte
	copy(pre[:], npyMagic)
	pre[6], pre[7] = 1, 0
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(h)))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	_, err := io.WriteString(w, h)
	return err
}
