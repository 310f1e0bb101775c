package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/inferd/inferd/tensor"
)

// decodeJSONData reads the "data" member of a KServe v2 JSON tensor: an
// array, flat or nested in any way, of n elements of dt. Numbers become
// the element type with range checks; BOOL takes true/false; BYTES takes
// strings (or {"b64": ...} objects, as TF Serving sends them); FP16 and
// BF16 take numbers. It does not build a generic []any tree.
func decodeJSONData(raw []byte, dt tensor.DType, n int) (any, error) {
	d := jsonScanner{buf: raw}
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return nil, fmt.Errorf("no data")
	}
	out := tensor.MakeSlice(dt, 0)
	var err error
	count := 0
	add := func(tok []byte, kind byte) error {
		if count >= n {
			return fmt.Errorf("more than the %d elements the shape holds", n)
		}
		count++
		out, err = appendElem(out, dt, tok, kind)
		return err
	}
	if d.buf[d.pos] != '[' {
		// A bare scalar is allowed for a one-element tensor.
		tok, kind, err := d.value()
		if err != nil {
			return nil, err
		}
		if err := add(tok, kind); err != nil {
			return nil, err
		}
	} else if err := d.array(add); err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.buf) {
		return nil, fmt.Errorf("unexpected %q after the data", d.buf[d.pos])
	}
	if count != n {
		return nil, fmt.Errorf("%d elements, but the shape holds %d", count, n)
	}
	return out, nil
}

// jsonScanner walks JSON values without unmarshalling them.
type jsonScanner struct {
	buf   []byte
	pos   int
	depth int
}

func (d *jsonScanner) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// array reads a (nested) array, calling add for each leaf value.
func (d *jsonScanner) array(add func(tok []byte, kind byte) error) error {
	d.depth++
	if d.depth > 64 {
		return fmt.Errorf("arrays nested more than 64 deep")
	}
	d.pos++ // '['
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return fmt.Errorf("unterminated array")
		}
		if d.buf[d.pos] == '[' {
			if err := d.array(add); err != nil {
				return err
			}
		} else {
			tok, kind, err := d.value()
			if err != nil {
				return err
			}
			if err := add(tok, kind); err != nil {
				return err
			}
		}
		d.skipSpace()
		if d.pos >= len(d.buf) {
			return fmt.Errorf("unterminated array")
		}
		switch d.buf[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			d.depth--
			return nil
		default:
			return fmt.Errorf("unexpected %q in array at offset %d", d.buf[d.pos], d.pos)
		}
	}
}

// value reads one scalar: kind is 'n' (number), 's' (string token with
// quotes), 't'/'f' (bool), 'o' (object), or 'z' (null).
func (d *jsonScanner) value() ([]byte, byte, error) {
	start := d.pos
	c := d.buf[d.pos]
	switch {
	case c == '"':
		d.pos++
		for d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case '\\':
				d.pos += 2
				continue
			case '"':
				d.pos++
				return d.buf[start:d.pos], 's', nil
			}
			d.pos++
		}
		return nil, 0, fmt.Errorf("unterminated string")
	case c == '{':
		depth := 0
		for d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case '"':
				if _, _, err := d.value(); err != nil {
					return nil, 0, err
				}
				continue
			case '{':
				depth++
			case '}':
				depth--
				if depth == 0 {
					d.pos++
					return d.buf[start:d.pos], 'o', nil
				}
			}
			d.pos++
		}
		return nil, 0, fmt.Errorf("unterminated object")
	case c == '-' || c >= '0' && c <= '9':
		for d.pos < len(d.buf) {
			c := d.buf[d.pos]
			if c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9' {
				d.pos++
				continue
			}
			break
		}
		return d.buf[start:d.pos], 'n', nil
	}
	for _, lit := range []string{"true", "false", "null", "NaN", "Infinity", "-Infinity"} {
		if bytes.HasPrefix(d.buf[d.pos:], []byte(lit)) {
			d.pos += len(lit)
			kind := byte('n')
			switch lit {
			case "true":
				kind = 't'
			case "false":
				kind = 'f'
			case "null":
				kind = 'z'
			}
			return d.buf[start:d.pos], kind, nil
		}
	}
	return nil, 0, fmt.Errorf("unexpected %q at offset %d", c, d.pos)
}

// appendElem converts one leaf token to dt and appends it.
func appendElem(out any, dt tensor.DType, tok []byte, kind byte) (any, error) {
	if dt == tensor.String {
		s, err := jsonString(tok, kind)
		if err != nil {
			return nil, err
		}
		return append(out.([]string), s), nil
	}
	if dt == tensor.Bool {
		switch kind {
		case 't':
			return append(out.([]bool), true), nil
		case 'f':
			return append(out.([]bool), false), nil
		case 'n':
			// 0 and 1 are accepted for BOOL, as numpy-made requests send them.
			switch string(tok) {
			case "0":
				return append(out.([]bool), false), nil
			case "1":
				return append(out.([]bool), true), nil
			}
		}
		return nil, fmt.Errorf("%s is not a BOOL (true or false)", tok)
	}
	if kind != 'n' {
		return nil, fmt.Errorf("%s is not a number, as %s needs", tok, kserveName(dt))
	}
	s := string(tok)
	if dt.IsFloat() {
		f, err := parseJSONFloat(s)
		if err != nil {
			return nil, err
		}
		switch o := out.(type) {
		case []float32:
			if math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0) {
				return nil, fmt.Errorf("%s overflows FP32", s)
			}
			return append(o, float32(f)), nil
		case []float64:
			return append(o, f), nil
		case []tensor.F16:
			return append(o, tensor.F16FromFloat64(f)), nil
		case []tensor.BF16:
			return append(o, tensor.BF16FromFloat64(f)), nil
		}
		return nil, fmt.Errorf("datatype %s cannot be read from JSON", kserveName(dt))
	}
	if !dt.IsSigned() {
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a %s", s, kserveName(dt))
		}
		switch o := out.(type) {
		case []uint8:
			if u > math.MaxUint8 {
				return nil, fmt.Errorf("%s overflows UINT8", s)
			}
			return append(o, uint8(u)), nil
		case []uint16:
			if u > math.MaxUint16 {
				return nil, fmt.Errorf("%s overflows UINT16", s)
			}
			return append(o, uint16(u)), nil
		case []uint32:
			if u > math.MaxUint32 {
				return nil, fmt.Errorf("%s overflows UINT32", s)
			}
			return append(o, uint32(u)), nil
		case []uint64:
			return append(o, u), nil
		}
		return nil, fmt.Errorf("datatype %s cannot be read from JSON", kserveName(dt))
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s is not a %s", s, kserveName(dt))
	}
	switch o := out.(type) {
	case []int8:
		if i < math.MinInt8 || i > math.MaxInt8 {
			return nil, fmt.Errorf("%s overflows INT8", s)
		}
		return append(o, int8(i)), nil
	case []int16:
		if i < math.MinInt16 || i > math.MaxInt16 {
			return nil, fmt.Errorf("%s overflows INT16", s)
		}
		return append(o, int16(i)), nil
	case []int32:
		if i < math.MinInt32 || i > math.MaxInt32 {
			return nil, fmt.Errorf("%s overflows INT32", s)
		}
		return append(o, int32(i)), nil
	case []int64:
		return append(o, i), nil
	}
	return nil, fmt.Errorf("datatype %s cannot be read from JSON", kserveName(dt))
}

func parseJSONFloat(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or 0, as JSON libraries round
		}
		return 0, fmt.Errorf("%s is not a number", s)
	}
	return f, nil
}

// jsonString reads a BYTES element: a JSON string or {"b64": "..."}.
func jsonString(tok []byte, kind byte) (string, error) {
	switch kind {
	case 's':
		var s string
		if err := json.Unmarshal(tok, &s); err != nil {
			return "", fmt.Errorf("bad string %s: %v", tok, err)
		}
		return s, nil
	case 'o':
		var o struct {
			B64 *string `json:"b64"`
		}
		if err := json.Unmarshal(tok, &o); err != nil || o.B64 == nil {
			return "", fmt.Errorf("%s is not a string or {\"b64\": ...}", tok)
		}
		b, err := base64.StdEncoding.DecodeString(*o.B64)
		if err != nil {
			return "", fmt.Errorf("bad base64 in %s: %v", tok, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("%s is not a string, as BYTES needs", tok)
}

// appendJSONData appends t's elements as a flat JSON array.
func appendJSONData(dst []byte, t *tensor.Tensor) ([]byte, error) {
	dst = append(dst, '[')
	switch s := t.Data.(type) {
	case []float32:
		for i, v := range s {
			dst = appendComma(dst, i)
			dst = appendFloat(dst, float64(v), 32)
		}
	case []float64:
		for i, v := range s {
			dst = appendComma(dst, i)
			dst = appendFloat(dst, v, 64)
		}
	case []tensor.F16:
		for i, v := range s {
			dst = appendComma(dst, i)
			dst = appendFloat(dst, float64(v.Float32()), 32)
		}
	case []tensor.BF16:
		for i, v := range s {
			dst = appendComma(dst, i)
			dst = appendFloat(dst, float64(v.Float32()), 32)
		}
	case []int8:
		for i, v := range s {
			dst = strconv.AppendInt(appendComma(dst, i), int64(v), 10)
		}
	case []int16:
		for i, v := range s {
			dst = strconv.AppendInt(appendComma(dst, i), int64(v), 10)
		}
	case []int32:
		for i, v := range s {
			dst = strconv.AppendInt(appendComma(dst, i), int64(v), 10)
		}
	case []int64:
		for i, v := range s {
			dst = strconv.AppendInt(appendComma(dst, i), v, 10)
		}
	case []uint8:
		for i, v := range s {
			dst = strconv.AppendUint(appendComma(dst, i), uint64(v), 10)
		}
	case []uint16:
		for i, v := range s {
			dst = strconv.AppendUint(appendComma(dst, i), uint64(v), 10)
		}
	case []uint32:
		for i, v := range s {
			dst = strconv.AppendUint(appendComma(dst, i), uint64(v), 10)
		}
	case []uint64:
		for i, v := range s {
			dst = strconv.AppendUint(appendComma(dst, i), v, 10)
		}
	case []bool:
		for i, v := range s {
			dst = strconv.AppendBool(appendComma(dst, i), v)
		}
	case []string:
		for i, v := range s {
			b, _ := json.Marshal(v) // invalid UTF-8 becomes U+FFFD
			dst = append(appendComma(dst, i), b...)
		}
	default:
		return nil, fmt.Errorf("datatype %v cannot be written as JSON", t.DType)
	}
	return append(dst, ']'), nil
}

func appendComma(dst []byte, i int) []byte {
	if i > 0 {
		return append(dst, ',')
	}
	return dst
}

// appendFloat writes a float as JSON; NaN and infinities, which JSON
// lacks, are written as NaN, Infinity and -Infinity like Python's json.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}
