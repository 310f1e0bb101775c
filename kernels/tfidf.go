package kernels

// TfIdfVectorizer: counts the pool's n-grams (with skips) in each row of
// the input and weights the counts (TF, IDF or TFIDF).

import (
	"fmt"

	"github.com/inferd/inferd/tensor"
)

func init() {
	register("TfIdfVectorizer", newTfIdfVectorizer)
}

// miscGramNode is one node of the n-gram trie: the path from the root
// spells an n-gram prefix; out is the output coordinate when the path is
// itself a pool n-gram, else -1.
type miscGramNode[K comparable] struct {
	out  int
	next map[K]*miscGramNode[K]
}

func (n *miscGramNode[K]) child(k K) *miscGramNode[K] {
	if c, ok := n.next[k]; ok {
		return c
	}
	if n.next == nil {
		n.next = map[K]*miscGramNode[K]{}
	}
	c := &miscGramNode[K]{out: -1}
	n.next[k] = c
	return c
}

type miscTfIdf struct {
	minN, maxN, maxSkip int
	mode                string
	outSize             int
	// weight[j] scales output coordinate j (IDF, TFIDF).
	weight   []float64
	intTrie  *miscGramNode[int64]
	strTrie  *miscGramNode[string]
	isString bool
}

func newTfIdfVectorizer(b *Build) (any, error) {
	a := b.Attrs()
	k := &miscTfIdf{
		minN:    int(a.RequireInt("min_gram_length")),
		maxN:    int(a.RequireInt("max_gram_length")),
		maxSkip: int(a.RequireInt("max_skip_count")),
		mode:    a.String("mode", ""),
	}
	counts := a.Ints("ngram_counts", nil)
	indexes := a.Ints("ngram_indexes", nil)
	poolInts := a.Ints("pool_int64s", nil)
	poolStrs := a.Strings("pool_strings", nil)
	weights := a.Floats("weights", nil)
	for _, name := range []string{"mode", "ngram_counts", "ngram_indexes"} {
		if !a.Has(name) {
			a.Fail(fmt.Errorf("required attribute %q is missing", name))
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	switch k.mode {
	case "TF", "IDF", "TFIDF":
	default:
		return nil, fmt.Errorf("mode %q is invalid, want TF, IDF or TFIDF", k.mode)
	}
	if k.minN < 1 || k.maxN < k.minN {
		return nil, fmt.Errorf("want 1 <= min_gram_length (%d) <= max_gram_length (%d)", k.minN, k.maxN)
	}
	if k.maxSkip < 0 {
		return nil, fmt.Errorf("max_skip_count is %d, want >= 0", k.maxSkip)
	}
	hasInts, hasStrs := b.Node.Attr("pool_int64s") != nil, b.Node.Attr("pool_strings") != nil
	if hasInts == hasStrs {
		return nil, fmt.Errorf("exactly one of pool_int64s and pool_strings must be set")
	}
	k.isString = hasStrs
	poolLen := len(poolInts)
	if hasStrs {
		poolLen = len(poolStrs)
	}
	if len(indexes) == 0 {
		return nil, fmt.Errorf("ngram_indexes is empty")
	}
	for _, j := range indexes {
		if j < 0 {
			return nil, fmt.Errorf("ngram_indexes holds %d, want >= 0", j)
		}
		k.outSize = max(k.outSize, int(j)+1)
	}
	// Weights: like onnxruntime and the ONNX reference, weights[j] scales
	// output coordinate j. A coordinate past the end of weights (sparse
	// ngram_indexes) takes the weight of the pool n-gram mapped there, as
	// the spec words it, or 1.
	k.weight = make([]float64, k.outSize)
	for j := range k.weight {
		k.weight[j] = 1
	}
	for i, j := range indexes {
		if int(j) >= len(weights) && i < len(weights) {
			k.weight[j] = float64(weights[i])
		}
	}
	for j := 0; j < len(weights) && j < k.outSize; j++ {
		k.weight[j] = float64(weights[j])
	}
	// Build the trie. ngram_counts[i] is where the (i+1)-grams start in the
	// pool; every n-gram of the pool has the next global id, which
	// indexes ngram_indexes, whether or not its length is in range.
	k.intTrie = &miscGramNode[int64]{out: -1}
	k.strTrie = &miscGramNode[string]{out: -1}
	id := 0
	for i, start := range counts {
		n := i + 1
		end := poolLen
		if i+1 < len(counts) {
			end = int(counts[i+1])
		}
		if start < 0 || int(start) > end || end > poolLen {
			return nil, fmt.Errorf("ngram_counts %v is inconsistent with a pool of %d items", counts, poolLen)
		}
		items := end - int(start)
		if items%n != 0 {
			return nil, fmt.Errorf("ngram_counts: %d items for %d-grams is not a multiple of %d", items, n, n)
		}
		for g := 0; g < items/n; g++ {
			if id >= len(indexes) {
				return nil, fmt.Errorf("ngram_indexes has %d entries, fewer than the pool's n-grams", len(indexes))
			}
			if n >= k.minN && n <= k.maxN {
				off := int(start) + g*n
				if hasStrs {
					node := k.strTrie
					for _, w := range poolStrs[off : off+n] {
						node = node.child(w)
					}
					node.out = int(indexes[id])
				} else {
					node := k.intTrie
					for _, w := range poolInts[off : off+n] {
						node = node.child(w)
					}
					node.out = int(indexes[id])
				}
			}
			id++
		}
	}
	return KernelFunc(k.run), nil
}

func (k *miscTfIdf) run(c *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("input X is missing")
	}
	x := in[0]
	var rows, cols int
	var outShape []int
	switch x.Rank() {
	case 0:
		rows, cols, outShape = 1, 1, []int{k.outSize}
	case 1:
		rows, cols, outShape = 1, x.Shape[0], []int{k.outSize}
	case 2:
		rows, cols, outShape = x.Shape[0], x.Shape[1], []int{x.Shape[0], k.outSize}
	default:
		return nil, fmt.Errorf("input X has shape %v, want [C] or [N, C]", x.Shape)
	}
	counts := make([]float64, rows*k.outSize)
	switch d := x.Data.(type) {
	case []string:
		if !k.isString {
			return nil, fmt.Errorf("input X is a string tensor but the pool holds integers")
		}
		miscTfIdfCount(c, k, k.strTrie, d, rows, cols, counts)
	case []int64:
		if k.isString {
			return nil, fmt.Errorf("input X has type int64 but the pool holds strings")
		}
		miscTfIdfCount(c, k, k.intTrie, d, rows, cols, counts)
	case []int32:
		if k.isString {
			return nil, fmt.Errorf("input X has type int32 but the pool holds strings")
		}
		wide := make([]int64, len(d))
		for i, v := range d {
			wide[i] = int64(v)
		}
		miscTfIdfCount(c, k, k.intTrie, wide, rows, cols, counts)
	default:
		return nil, fmt.Errorf("input X has type %v, want string, int32 or int64", x.DType)
	}
	out := c.Alloc(tensor.Float32, outShape...)
	ys := out.Data.([]float32)
	for i, f := range counts {
		j := i % k.outSize
		switch k.mode {
		case "TF":
			ys[i] = float32(f)
		case "IDF":
			if f > 0 {
				ys[i] = float32(k.weight[j])
			}
		case "TFIDF":
			ys[i] = float32(f * k.weight[j])
		}
	}
	return c.Outs(out), nil
}

// miscTfIdfCount adds to counts (rows × outSize) the occurrences of the
// trie's n-grams in each row of xs. For each skip s in [0, maxSkip] an
// n-gram takes items start, start+s+1, start+2(s+1), …; unigrams, which no
// skip changes, are counted only once.
func miscTfIdfCount[K comparable](c *Context, k *miscTfIdf, root *miscGramNode[K], xs []K, rows, cols int, counts []float64) {
	if len(root.next) == 0 {
		return
	}
	c.Parallel(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xs[r*cols : (r+1)*cols]
			cnt := counts[r*k.outSize : (r+1)*k.outSize]
			minN := k.minN
			for skip := 0; skip <= k.maxSkip; skip++ {
				dist := skip + 1
				for start := 0; start < cols; start++ {
					if start+dist*(minN-1) >= cols {
						break
					}
					node := root
					for n, pos := 1, start; n <= k.maxN && pos < cols; n, pos = n+1, pos+dist {
						next, ok := node.next[row[pos]]
						if !ok {
							break
						}
						if n >= minN && next.out >= 0 {
							cnt[next.out]++
						}
						node = next
					}
				}
				if minN == 1 {
					minN = 2
					if minN > k.maxN {
						break
					}
				}
			}
		}
	})
}
