package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

// kvFlags collects repeated NAME=VALUE flags in order.
type kvFlags struct {
	keys, vals []string
}

func (f *kvFlags) String() string { return strings.Join(f.keys, ",") }

func (f *kvFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	f.keys = append(f.keys, k)
	f.vals = append(f.vals, v)
	return nil
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// accepts flags after positional arguments (inferd run MODEL -i x=a.npy).
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseInterleaved parses flags that may come before or after positional
// arguments and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// readInput reads a tensor from a .npy or TensorProto .pb file.
func readInput(path string) (*tensor.Tensor, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		t, err := tensor.ReadNpy(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return t, nil
	case ".pb":
		_, t, err := onnx.ReadTensorFile(path)
		return t, err
	}
	return nil, fmt.Errorf("%s: unknown input format (want .npy or .pb)", path)
}

func parseShape(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("bad dimension %q in shape %q", f, s)
		}
		out = append(out, d)
	}
	return out, nil
}

// safeName maps an output name to a file name: characters outside
// [A-Za-z0-9._-] become '_'.
func safeName(name string) string {
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "" || s == "." || s == ".." {
		s = "_" + s
	}
	return s
}
