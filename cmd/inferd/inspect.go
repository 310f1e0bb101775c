package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/kernels"
	"github.com/inferd/inferd/onnx"
)

func inspectCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one MODEL argument, got %d", len(pos))
	}
	m, err := onnx.Load(pos[0])
	if err != nil {
		return err
	}
	w := stdout
	fmt.Fprintf(w, "model:     %s\n", pos[0])
	fmt.Fprintf(w, "ir:        version %d, producer %q %q\n", m.IRVersion, m.ProducerName, m.ProducerVersion)
	fmt.Fprint(w, "opsets:   ")
	for _, o := range m.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		fmt.Fprintf(w, " %s=%d", d, o.Version)
	}
	fmt.Fprintln(w)
	init := map[string]bool{}
	params, bytes := 0, 0
	for _, in := range m.Graph.Initializers {
		init[in.Name] = true
		params += in.Tensor.Len()
		bytes += in.Tensor.Len() * in.Tensor.DType.Size()
	}
	fmt.Fprintln(w, "inputs:")
	for _, in := range m.Graph.Inputs {
		if !init[in.Name] {
			fmt.Fprintf(w, "  %s: %v\n", in.Name, in.Type)
		}
	}
	fmt.Fprintln(w, "outputs:")
	for _, o := range m.Graph.Outputs {
		fmt.Fprintf(w, "  %s: %v\n", o.Name, o.Type)
	}
	fmt.Fprintf(w, "parameters: %d in %d initializers, %s\n", params, len(m.Graph.Initializers), humanBytes(bytes))
	hist := map[string]int{}
	var unsupported []string
	seen := map[string]bool{}
	var walk func(g *ir.Graph)
	walk = func(g *ir.Graph) {
		for _, n := range g.Nodes {
			key := n.OpType
			if n.Domain != "" {
				key = n.Domain + "." + n.OpType
			}
			hist[key]++
			if !kernels.Default.Supports(n.Domain, n.OpType, m.OpsetVersion(n.Domain)) && !isFunction(m, n) && !seen[key] {
				seen[key] = true
				unsupported = append(unsupported, fmt.Sprintf("%s (opset %d)", key, m.OpsetVersion(n.Domain)))
			}
			for _, sg := range n.Subgraphs() {
				walk(sg)
			}
		}
	}
	walk(m.Graph)
	type kv struct {
		op string
		n  int
	}
	var ops []kv
	total := 0
	for k, v := range hist {
		ops = append(ops, kv{k, v})
		total += v
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].n != ops[j].n {
			return ops[i].n > ops[j].n
		}
		return ops[i].op < ops[j].op
	})
	fmt.Fprintf(w, "nodes: %d\n", total)
	for _, o := range ops {
		fmt.Fprintf(w, "  %-28s %d\n", o.op, o.n)
	}
	var problems []string
	ir.InferShapes(m, &ir.InferConfig{Error: func(err error) { problems = append(problems, err.Error()) }}, nil)
	if err := ir.Verify(m); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "checks: graph structure and shape inference found no problem")
	} else {
		fmt.Fprintln(w, "problems:")
		for _, p := range problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if len(unsupported) == 0 {
		fmt.Fprintln(w, "unsupported ops: none")
	} else {
		sort.Strings(unsupported)
		fmt.Fprintln(w, "unsupported ops:")
		for _, u := range unsupported {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	return nil
}

func isFunction(m *ir.Model, n *ir.Node) bool {
	for _, f := range m.Functions {
		if f.Name == n.OpType && ir.CanonicalDomain(f.Domain) == ir.CanonicalDomain(n.Domain) {
			return true
		}
	}
	return false
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
