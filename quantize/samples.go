package quantize

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/inferd/inferd/ir"
	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/tensor"
)

// ReadSamples reads a calibration (or evaluation) folder: one sub-folder
// per sample, in name order, each holding <input name>.npy for every
// input, or input_<i>.pb (ONNX TensorProto) in the order of inputs. A
// name with characters that cannot be in a file name may also be found
// under the name `inferd run` writes ([^A-Za-z0-9._-] → '_'). inputs are
// the model's inputs that need values (initializers excluded).
func ReadSamples(dir string, inputs []*ir.ValueInfo) ([]Sample, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var subs []string
	for _, e := range entries {
		if e.IsDir() {
			subs = append(subs, e.Name())
		}
	}
	slices.Sort(subs)
	if len(subs) == 0 {
		return nil, fmt.Errorf("%s: no sample folders (want one sub-folder per sample holding <input>.npy or input_<i>.pb)", dir)
	}
	var out []Sample
	for _, sub := range subs {
		s, err := readSample(filepath.Join(dir, sub), inputs)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func readSample(dir string, inputs []*ir.ValueInfo) (Sample, error) {
	s := Sample{}
	for i, in := range inputs {
		var t *tensor.Tensor
		var err error
		cands := []string{in.Name + ".npy", safeFileName(in.Name) + ".npy"}
		found := false
		for _, c := range cands {
			p := filepath.Join(dir, c)
			if _, e := os.Stat(p); e == nil {
				t, err = readNpy(p)
				found = true
				break
			}
		}
		if !found {
			p := filepath.Join(dir, "input_"+strconv.Itoa(i)+".pb")
			if _, e := os.Stat(p); e != nil {
				return nil, fmt.Errorf("%s: no %s.npy or input_%d.pb for input %q", dir, in.Name, i, in.Name)
			}
			_, t, err = onnx.ReadTensorFile(p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: input %q: %w", dir, in.Name, err)
		}
		s[in.Name] = t
	}
	return s, nil
}

func readNpy(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tensor.ReadNpy(f)
}

func safeFileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, name)
}
