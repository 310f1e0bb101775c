package optimize

import (
	"fmt"
	"strings"

	"github.com/inferd/inferd/ir"
)

// InferredType runs shape inference over m's main graph and returns the
// type of name and its tracked element values ("[384 batch ?]", or "" if
// untracked), for tests.
func InferredType(m *ir.Model, name string) (ir.Type, string) {
	g := newGraph(m.Graph, newState(m, &Options{}), nil)
	f := g.lookup(name)
	if f == nil {
		return ir.Type{}, ""
	}
	if f.vals == nil {
		return f.t, ""
	}
	var s []string
	for _, e := range f.vals {
		switch {
		case e.Known:
			s = append(s, fmt.Sprint(e.V))
		case e.Param != "":
			s = append(s, e.Param)
		default:
			s = append(s, "?")
		}
	}
	return f.t, "[" + strings.Join(s, " ") + "]"
}
