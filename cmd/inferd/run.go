package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/inferd/inferd/engine"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/optimize"
	"github.com/inferd/inferd/tensor"
)

func runCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	var inputs kvFlags
	fs.Var(&inputs, "i", "input `NAME=FILE` (.npy or TensorProto .pb); repeat for each input")
	outDir := fs.String("o", ".", "folder for the outputs, one `DIR`/<output>.npy each")
	threads := fs.Int("threads", 0, "intra-op threads (0: all cores)")
	optLevel := fs.String("opt-level", "extended", "graph optimization `LEVEL`: none, basic or extended")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one MODEL argument, got %d", len(pos))
	}
	sess, err := loadSession(pos[0], *threads, *optLevel)
	if err != nil {
		return err
	}
	defer sess.Close()
	feeds, err := readFeeds(sess, inputs)
	if err != nil {
		return err
	}
	outs, err := sess.Run(context.Background(), feeds)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	for _, o := range sess.Outputs() {
		t := outs[o.Name]
		path := filepath.Join(*outDir, safeName(o.Name)+".npy")
		if err := writeNpyFile(path, t); err != nil {
			return fmt.Errorf("output %q: %w", o.Name, err)
		}
		fmt.Fprintf(stdout, "%s: %v -> %s\n", o.Name, t, path)
	}
	return nil
}

func loadSession(path string, threads int, optLevel string) (*engine.Session, error) {
	return loadSessionOpts(path, threads, optLevel, false)
}

// loadSessionOpts is loadSession with per-node profiling on or off.
func loadSessionOpts(path string, threads int, optLevel string, profile bool) (*engine.Session, error) {
	level, err := optimize.ParseLevel(optLevel)
	if err != nil {
		return nil, err
	}
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	s, err := engine.Compile(m, engine.Options{Threads: threads, Optimize: level, Profile: profile})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// readFeeds reads -i NAME=FILE inputs, checking names against the model.
func readFeeds(s *engine.Session, kv kvFlags) (map[string]*tensor.Tensor, error) {
	feeds := map[string]*tensor.Tensor{}
	known := map[string]bool{}
	for _, in := range s.Inputs() {
		known[in.Name] = true
	}
	for i, name := range kv.keys {
		if !known[name] && s.Model().Graph.Initializer(name) == nil {
			return nil, fmt.Errorf("-i %s: the model has no input %q (inputs: %s)", name, name, inputList(s))
		}
		t, err := readInput(kv.vals[i])
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		feeds[name] = t
	}
	var missing []string
	for _, in := range s.Inputs() {
		if _, ok := feeds[in.Name]; !ok {
			missing = append(missing, fmt.Sprintf("%s %v", in.Name, in.Type))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("missing inputs (give each with -i NAME=FILE): %v", missing)
	}
	return feeds, nil
}

func inputList(s *engine.Session) string {
	out := ""
	for i, in := range s.Inputs() {
		if i > 0 {
			out += ", "
		}
		out += in.Name
	}
	return out
}

func writeNpyFile(path string, t *tensor.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := tensor.WriteNpy(f, t); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
