package kernels

// String ops: StringNormalizer, RegexFullMatch, StringConcat and
// StringSplit.

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/inferd/inferd/tensor"
)

func init() {
	register("StringNormalizer", newStringNormalizer)
	Default.Register(Spec{Op: "RegexFullMatch", Since: 20, New: newRegexFullMatch})
	Default.Register(Spec{Op: "StringConcat", Since: 20, New: newStringConcat})
	Default.Register(Spec{Op: "StringSplit", Since: 20, New: newStringSplit})
}

func miscStringInput(in []*tensor.Tensor, i int, name string) (*tensor.Tensor, []string, error) {
	if len(in) <= i || in[i] == nil {
		return nil, nil, fmt.Errorf("input %s is missing", name)
	}
	s, ok := in[i].Data.([]string)
	if !ok {
		return nil, nil, fmt.Errorf("input %s has type %v, want string", name, in[i].DType)
	}
	return in[i], s, nil
}

// ---------------------------------------------------------------------------
// StringNormalizer.

// newStringNormalizer builds StringNormalizer. Elements equal to a stop
// word are removed (compared whole; case-insensitively by default, after
// Unicode lower-casing both sides), then the rest are upper- or
// lower-cased or kept. Case mapping uses Go's locale-independent Unicode
// rules (strings.ToUpper/ToLower), which is what en_US does; the locale
// attribute is accepted and otherwise ignored, so Turkish dotted-i and
// similar locale-specific mappings are not applied. Unlike the ONNX
// Python reference, accents are not stripped.
func newStringNormalizer(b *Build) (any, error) {
	a := b.Attrs()
	action := a.String("case_change_action", "NONE")
	sensitive := a.Int("is_case_sensitive", 0) != 0
	stops := a.Strings("stopwords", nil)
	_ = a.String("locale", "")
	if err := a.Err(); err != nil {
		return nil, err
	}
	var change func(string) string
	switch action {
	case "NONE":
	case "LOWER":
		change = strings.ToLower
	case "UPPER":
		change = strings.ToUpper
	default:
		return nil, fmt.Errorf("case_change_action %q is invalid, want LOWER, UPPER or NONE", action)
	}
	stopSet := make(map[string]bool, len(stops))
	for _, w := range stops {
		if !sensitive {
			w = strings.ToLower(w)
		}
		stopSet[w] = true
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, xs, err := miscStringInput(in, 0, "X")
		if err != nil {
			return nil, err
		}
		twoD := false
		switch {
		case x.Rank() == 1:
		case x.Rank() == 2 && x.Shape[0] == 1:
			twoD = true
		default:
			return nil, fmt.Errorf("input X has shape %v, want [C] or [1, C]", x.Shape)
		}
		kept := make([]string, 0, len(xs))
		for _, s := range xs {
			if len(stopSet) > 0 {
				key := s
				if !sensitive {
					key = strings.ToLower(s)
				}
				if stopSet[key] {
					continue
				}
			}
			if change != nil {
				s = change(s)
			}
			kept = append(kept, s)
		}
		if len(kept) == 0 {
			kept = []string{""}
		}
		var out *tensor.Tensor
		if twoD {
			out = c.Alloc(tensor.String, 1, len(kept))
		} else {
			out = c.Alloc(tensor.String, len(kept))
		}
		copy(out.Data.([]string), kept)
		return c.Outs(out), nil
	}), nil
}

// ---------------------------------------------------------------------------
// RegexFullMatch.

// newRegexFullMatch builds RegexFullMatch with Go's regexp package, which
// implements RE2 syntax with the same linear-time guarantees; a few rare
// RE2 features (\C, some flag spellings) are not available. The pattern
// must match the whole string.
func newRegexFullMatch(b *Build) (any, error) {
	a := b.Attrs()
	pat := a.String("pattern", "")
	if !a.Has("pattern") {
		a.Fail(fmt.Errorf("required attribute \"pattern\" is missing"))
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`\A(?:` + pat + `)\z`)
	if err != nil {
		return nil, fmt.Errorf("attribute pattern %q: %v", pat, err)
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, xs, err := miscStringInput(in, 0, "X")
		if err != nil {
			return nil, err
		}
		out := c.Alloc(tensor.Bool, x.Shape...)
		ys := out.Data.([]bool)
		for i, s := range xs {
			ys[i] = re.MatchString(s)
		}
		return c.Outs(out), nil
	}), nil
}

// ---------------------------------------------------------------------------
// StringConcat.

func newStringConcat(b *Build) (any, error) {
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, xs, err := miscStringInput(in, 0, "X")
		if err != nil {
			return nil, err
		}
		y, ys, err := miscStringInput(in, 1, "Y")
		if err != nil {
			return nil, err
		}
		shape, err := BroadcastShapes(x.Shape, y.Shape)
		if err != nil {
			return nil, err
		}
		out := c.Alloc(tensor.String, shape...)
		Binary(xs, x.Shape, ys, y.Shape, out.Data.([]string), shape, func(p, q string) string { return p + q })
		return c.Outs(out), nil
	}), nil
}

// ---------------------------------------------------------------------------
// StringSplit.

// newStringSplit builds StringSplit. With a delimiter, consecutive
// delimiters delimit empty strings; without one (or with ""), the string
// is split on runs of Unicode white space and leading and trailing space
// is dropped, like Python's str.split(). maxsplit (if set and >= 0) limits
// the number of splits; the unsplit rest is the last substring.
func newStringSplit(b *Build) (any, error) {
	a := b.Attrs()
	delim := a.String("delimiter", "")
	maxsplit := a.Int("maxsplit", -1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	split := func(s string) []string {
		if delim == "" {
			return miscSplitSpace(s, maxsplit)
		}
		if maxsplit < 0 {
			return strings.Split(s, delim)
		}
		return strings.SplitN(s, delim, int(min(maxsplit, int64(len(s)))+1))
	}
	return KernelFunc(func(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		x, xs, err := miscStringInput(in, 0, "X")
		if err != nil {
			return nil, err
		}
		parts := make([][]string, len(xs))
		width := 0
		for i, s := range xs {
			parts[i] = split(s)
			width = max(width, len(parts[i]))
		}
		yShape := append(append([]int(nil), x.Shape...), width)
		y := c.Alloc(tensor.String, yShape...)
		z := c.Alloc(tensor.Int64, x.Shape...)
		ys, zs := y.Data.([]string), z.Data.([]int64)
		for i, p := range parts {
			copy(ys[i*width:], p)
			zs[i] = int64(len(p))
		}
		return c.Outs(y, z), nil
	}), nil
}

// miscSplitSpace splits s on runs of white space, Python str.split(None,
// maxsplit) style: no empty substrings; once maxsplit splits are made, the
// rest (with leading space removed, trailing space kept) is the last one.
func miscSplitSpace(s string, maxsplit int64) []string {
	var out []string
	i := 0
	for {
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i >= len(s) {
			return out
		}
		if maxsplit >= 0 && int64(len(out)) == maxsplit {
			return append(out, s[i:])
		}
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if unicode.IsSpace(r) {
				break
			}
			j += n
		}
		out = append(out, s[i:j])
		i = j
	}
}
