package serve

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// decodeHeaderFast decodes the JSON of an inference request in the shape
// clients send: keys id, parameters, inputs and outputs; tensors with
// name, shape, datatype, parameters and (JSON tensors) data; parameter
// values that are literals (strings, numbers, booleans, null). It gives
// exactly what json.Unmarshal gives, without reflection or copies
// (RawMessages alias src, and data is checked in one pass where
// json.Unmarshal makes two), or ok = false for anything else (escapes or
// non-ASCII bytes in names and keys, unknown or repeated keys, nested
// parameter values, malformed JSON), and the caller then uses
// json.Unmarshal, which also reports the errors. FuzzHeaderFast checks
// the equivalence.
func decodeHeaderFast(src []byte) (jsonInferRequest, bool) {
	var jr jsonInferRequest
	d := headerScanner{src: src}
	ok := d.request(&jr)
	d.space()
	return jr, ok && d.i == len(src)
}

// The decoding loops are written out rather than built from callbacks:
// closures capturing the results would move them to the heap.

func (d *headerScanner) request(jr *jsonInferRequest) bool {
	var seen keySet
	if !d.next('{') {
		return false
	}
	for first := true; ; first = false {
		key, end, ok := d.member(first, &seen)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch string(key) {
		case "id":
			if jr.ID, ok = d.str(); !ok {
				return false
			}
		case "parameters":
			if !d.requestParams(&jr.Parameters) {
				return false
			}
		case "inputs":
			jr.Inputs = make([]jsonInput, 0, 1)
			if !d.next('[') {
				return false
			}
			for first := true; ; first = false {
				end, ok := d.element(first, ']')
				if !ok {
					return false
				}
				if end {
					break
				}
				jr.Inputs = append(jr.Inputs, jsonInput{})
				if !d.input(&jr.Inputs[len(jr.Inputs)-1]) {
					return false
				}
			}
		case "outputs":
			jr.Outputs = make([]jsonOutputRequest, 0, 1)
			if !d.next('[') {
				return false
			}
			for first := true; ; first = false {
				end, ok := d.element(first, ']')
				if !ok {
					return false
				}
				if end {
					break
				}
				jr.Outputs = append(jr.Outputs, jsonOutputRequest{})
				if !d.output(&jr.Outputs[len(jr.Outputs)-1]) {
					return false
				}
			}
		default:
			return false
		}
	}
}

func (d *headerScanner) input(in *jsonInput) bool {
	var seen keySet
	if !d.next('{') {
		return false
	}
	for first := true; ; first = false {
		key, end, ok := d.member(first, &seen)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch string(key) {
		case "name":
			in.Name, ok = d.str()
		case "datatype":
			in.Datatype, ok = d.str()
		case "shape":
			in.Shape, ok = d.ints()
		case "parameters":
			ok = d.inputParams(&in.Parameters)
		case "data":
			// Kept raw for decodeJSONData, as json.Unmarshal keeps it,
			// but checked in one pass instead of two.
			d.space()
			start := d.i
			if ok = d.skipValue(0); ok {
				in.Data = d.src[start:d.i:d.i]
			}
		default:
			return false // unknown keys: the general decoder
		}
		if !ok {
			return false
		}
	}
}

func (d *headerScanner) output(o *jsonOutputRequest) bool {
	var seen keySet
	if !d.next('{') {
		return false
	}
	for first := true; ; first = false {
		key, end, ok := d.member(first, &seen)
		if !ok {
			return false
		}
		if end {
			return true
		}
		switch string(key) {
		case "name":
			o.Name, ok = d.str()
		case "parameters":
			ok = d.outputParams(&o.Parameters)
		default:
			return false
		}
		if !ok {
			return false
		}
	}
}

func (d *headerScanner) requestParams(p *jsonRequestParams) bool {
	return d.params(requestParamKeys, []*json.RawMessage{&p.BinaryDataOutput, &p.Timeout,
		&p.SequenceID, &p.SequenceStart, &p.SequenceEnd, &p.Priority})
}

func (d *headerScanner) inputParams(p *jsonInputParams) bool {
	return d.params(inputParamKeys, []*json.RawMessage{&p.BinaryDataSize, &p.Region, &p.ByteSize, &p.Offset})
}

func (d *headerScanner) outputParams(p *jsonOutputParams) bool {
	return d.params(outputParamKeys, []*json.RawMessage{&p.BinaryData, &p.Classification,
		&p.Region, &p.ByteSize, &p.Offset})
}

// params reads a parameters object, keeping the value of key known[i] in
// *fields[i] and skipping other keys.
func (d *headerScanner) params(known []string, fields []*json.RawMessage) bool {
	var seen keySet
	if !d.next('{') {
		return false
	}
	for first := true; ; first = false {
		key, v, end, ok := d.param(first, &seen, known)
		if !ok {
			return false
		}
		if end {
			return true
		}
		for i, k := range known {
			if string(key) == k {
				*fields[i] = v
				break
			}
		}
	}
}

// The parameter keys each decoder acts on. Other keys are ignored, as
// json.Unmarshal ignores them, unless they match one of these but for
// case: json.Unmarshal folds case, so such keys go to it.
var (
	requestParamKeys = []string{"binary_data_output", "timeout", "sequence_id", "sequence_start", "sequence_end", "priority"}
	inputParamKeys   = []string{"binary_data_size", "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"}
	outputParamKeys  = []string{"binary_data", "classification", "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"}
)

// headerScanner reads the JSON subset decodeHeaderFast accepts. Every
// method returns false on input outside it.
type headerScanner struct {
	src []byte
	i   int
}

func (d *headerScanner) space() {
	for d.i < len(d.src) {
		switch d.src[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c,
// consuming it if so.
func (d *headerScanner) next(c byte) bool {
	d.space()
	if d.i < len(d.src) && d.src[d.i] == c {
		d.i++
		return true
	}
	return false
}

// keySet holds the keys of one object read so far. Repeated keys are
// refused: json.Unmarshal merges them in ways not worth copying.
type keySet struct {
	keys [8][]byte
	n    int
}

func (s *keySet) add(k []byte) bool {
	for _, x := range s.keys[:s.n] {
		if string(x) == string(k) {
			return false
		}
	}
	if s.n == len(s.keys) {
		return false
	}
	s.keys[s.n] = k
	s.n++
	return true
}

// member reads, after an object's '{', either its closing '}' (end) or,
// after a ',' unless first, a new key and its ':'.
func (d *headerScanner) member(first bool, seen *keySet) (key []byte, end, ok bool) {
	if d.next('}') {
		return nil, true, true
	}
	if !first && !d.next(',') {
		return nil, false, false
	}
	key, ok = d.strBytes()
	if !ok || !seen.add(key) || !d.next(':') {
		return nil, false, false
	}
	return key, false, true
}

// element reads, after an array's '[', either its closing bracket (end)
// or, unless first, the ',' before the next element.
func (d *headerScanner) element(first bool, closing byte) (end, ok bool) {
	if d.next(closing) {
		return true, true
	}
	if !first && !d.next(',') {
		return false, false
	}
	return false, true
}

// param reads one member of a parameters object whose value is a literal,
// returned raw (aliasing src). A key that matches one of known but for
// case is refused (json.Unmarshal folds case).
func (d *headerScanner) param(first bool, seen *keySet, known []string) (key []byte, v json.RawMessage, end, ok bool) {
	key, end, ok = d.member(first, seen)
	if !ok || end {
		return nil, nil, end, ok
	}
	for _, k := range known {
		if string(key) != k && bytes.EqualFold(key, []byte(k)) {
			return nil, nil, false, false
		}
	}
	d.space()
	start := d.i
	if !d.literal() {
		return nil, nil, false, false
	}
	return key, d.src[start:d.i:d.i], false, true
}

// strBytes reads a string of printable ASCII without escapes, returned
// as the bytes between its quotes.
func (d *headerScanner) strBytes() ([]byte, bool) {
	if !d.next('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.src) {
		c := d.src[d.i]
		switch {
		case c == '"':
			b := d.src[start:d.i]
			d.i++
			return b, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// str is strBytes as a string; the KServe datatype names come from the
// table, without allocating.
func (d *headerScanner) str() (string, bool) {
	b, ok := d.strBytes()
	if !ok {
		return "", false
	}
	for _, t := range dtypes {
		if t.kserve == string(b) {
			return t.kserve, true
		}
	}
	return string(b), true
}

// ints reads an array of integers that fit an int64.
func (d *headerScanner) ints() ([]int64, bool) {
	if !d.next('[') {
		return nil, false
	}
	out := make([]int64, 0, 4)
	for first := true; ; first = false {
		end, ok := d.element(first, ']')
		if !ok {
			return nil, false
		}
		if end {
			return out, true
		}
		d.space()
		start := d.i
		if !d.number() {
			return nil, false
		}
		v, err := strconv.ParseInt(string(d.src[start:d.i]), 10, 64)
		if err != nil {
			return nil, false // a fraction, an exponent or overflow
		}
		out = append(out, v)
	}
}

// literal reads a string, number, true, false or null.
func (d *headerScanner) literal() bool {
	if d.i >= len(d.src) {
		return false
	}
	switch c := d.src[d.i]; {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	for _, w := range [...]string{"true", "false", "null"} {
		if len(d.src)-d.i >= len(w) && string(d.src[d.i:d.i+len(w)]) == w {
			d.i += len(w)
			return true
		}
	}
	return false
}

// skipValue reads any JSON value, checking its syntax as json.Valid
// does, up to a nesting depth of 64 (deeper: the general decoder).
func (d *headerScanner) skipValue(depth int) bool {
	if depth > 64 || d.i >= len(d.src) {
		return false
	}
	switch d.src[d.i] {
	case '[':
		d.i++
		for first := true; ; first = false {
			end, ok := d.element(first, ']')
			if !ok {
				return false
			}
			if end {
				return true
			}
			d.space()
			if !d.skipValue(depth + 1) {
				return false
			}
		}
	case '{':
		d.i++
		for first := true; ; first = false {
			if d.next('}') {
				return true
			}
			if !first && !d.next(',') {
				return false
			}
			if !d.next('"') {
				return false
			}
			d.i--
			if !d.skipString() || !d.next(':') {
				return false
			}
			d.space()
			if !d.skipValue(depth + 1) {
				return false
			}
		}
	case '"':
		return d.skipString()
	}
	return d.literal()
}

// skipString reads a string with any escapes JSON allows; like json.Valid
// it does not check that the bytes are UTF-8.
func (d *headerScanner) skipString() bool {
	s := d.src
	i := d.i + 1
	for i < len(s) {
		switch c := s[i]; {
		case c == '"':
			d.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(s) {
				return false
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(s) {
					return false
				}
				for _, h := range s[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 5
			default:
				return false
			}
		default:
			i++
		}
	}
	return false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *headerScanner) number() bool {
	s, i := d.src, d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	d.i = i
	return true
}
