package optimize

import (
	"fmt"
	"slices"
	"strings"
)

// step is one entry of the pipeline: a Pass or a Rule, and the lowest
// level that runs it.
type step struct {
	level Level
	pass  Pass
	rule  Rule
}

func (s step) name() string {
	if s.rule != nil {
		return s.rule.Name()
	}
	return s.pass.Name()
}

func basic(p any) step    { return mk(LevelBasic, p) }
func extended(p any) step { return mk(LevelExtended, p) }

func mk(l Level, p any) step {
	switch x := p.(type) {
	case Rule:
		return step{level: l, rule: x}
	case Pass:
		return step{level: l, pass: x}
	}
	panic(fmt.Sprintf("optimize: %T is neither a Pass nor a Rule", p))
}

// pipeline is the ordered list of passes behind --level and --disable. Run
// repeats it until no step changes the model (or Options.MaxRounds). Rules
// listed one after another share one sweep over the nodes.
var pipeline = []step{
	// Clean-ups first, so the patterns below see through them.
	basic(foldConstants{}),
	basic(eliminateIdentity),
	basic(eliminateDropout),
	basic(eliminateCast),
	basic(eliminateReshape),
	basic(eliminateExpand),
	basic(eliminateSlice),
	basic(eliminateTranspose),
	basic(eliminatePad),
	basic(eliminateNeutral),
	basic(canonicalDims{}),
	basic(cse{}),
	basic(collapseReshape{}),
	basic(cancelTranspose{}),
	basic(pushTranspose{}),
	// Weight folding: linear ops absorb their neighbours into constants.
	basic(fuseConvBN{}),
	basic(fuseConvMulAdd{}),
	basic(fuseBNGemm{}),
	basic(fuseMatMulAdd{}),
	// Standard ops recovered from their decompositions.
	basic(fuseLayerNorm{}),
	basic(fuseGelu{}),
	// QDQ groups compiled into integer ops (qdq.go), before the float
	// fusions below can take their Conv, MatMul or Add apart.
	extended(qdqConv{}),
	extended(qdqMatMul{}),
	extended(qdqDynamicMatMul{}),
	extended(qdqAdd{}),
	extended(qdqPool{}),
	extended(qdqMove{}),
	// Fusions into inferd's own ops. Gelu and LayerNormalization first, so
	// that the fusions after them see whole activations and norms.
	extended(fuseLayerNorm{inferd: true}),
	extended(fuseGelu{inferd: true}),
	extended(fuseSkipLayerNorm{}),
	extended(fuseAttention{}),
	extended(fuseMatMulBias{}),
	extended(fuseConvActivation{}),
	extended(fuseGemmActivation{}),
	extended(fuseBiasGelu{}),
	// After the fusions above, so that a 4-bit product keeps its bias and activation.
	extended(fuseInt4{}),
	// Last, so every pass before may leave dead nodes behind.
	basic(eliminateDead{}),
}

// Passes returns the names of the pipeline's steps at level, in order.
func Passes(level Level) []string {
	var out []string
	for _, s := range pipeline {
		if s.level <= level.effective() {
			out = append(out, s.name())
		}
	}
	return out
}

// AllPasses returns the name and level of every step, in pipeline order.
func AllPasses() [][2]string {
	var out [][2]string
	for _, s := range pipeline {
		out = append(out, [2]string{s.name(), s.level.String()})
	}
	return out
}

func selectSteps(level Level, disable, enable []string) ([]step, error) {
	known := map[string]bool{}
	for _, s := range pipeline {
		known[s.name()] = true
	}
	for _, list := range [][]string{disable, enable} {
		for _, name := range list {
			if !known[strings.TrimSpace(name)] {
				return nil, fmt.Errorf("%w %q (passes: %s)", ErrUnknownPass, name, strings.Join(Passes(LevelExtended), ", "))
			}
		}
	}
	var out []step
	for _, s := range pipeline {
		on := level != LevelNone && s.level <= level
		if slices.Contains(enable, s.name()) {
			on = true
		}
		if slices.Contains(disable, s.name()) {
			on = false
		}
		if on {
			out = append(out, s)
		}
	}
	return out, nil
}
