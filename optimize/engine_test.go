package optimize_test

import (
	"testing"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/optimize"
)

// TestEngineOptimizes checks the engine's hook: Compile optimizes a copy of
// the model at the extended level by default, not at all at LevelNone, and
// never touches the caller's model.
func TestEngineOptimizes(t *testing.T) {
	src := `
		input x float32[N,4,8,8]
		init w float32[4,4,1,1] rand
		a = Identity(x)
		c = Conv(a, w)
		y = Relu(c)
		output y`
	for _, c := range []struct {
		opts engine.Options
		want string
	}{
		{engine.Options{}, "ai.inferd.FusedConv"},
		{engine.Options{Optimize: optimize.LevelBasic}, "Conv Relu"},
		{engine.Options{Optimize: optimize.LevelNone}, "Identity Conv Relu"},
		{engine.Options{DisablePasses: []string{"fuse-conv-activation"}}, "Conv Relu"},
	} {
		m := parseGraph(t, src)
		s, err := engine.Compile(m, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := ops(s.Model().Graph); got != c.want {
			t.Errorf("%+v: compiled %s, want %s", c.opts, got, c.want)
		}
		if got := ops(m.Graph); got != "Identity Conv Relu" {
			t.Errorf("Compile changed the caller's model: %s", got)
		}
		s.Close()
	}
	if _, err := engine.Compile(parseGraph(t, src), engine.Options{DisablePasses: []string{"no-such-pass"}}); err == nil {
		t.Error("unknown pass: no error")
	}
}
