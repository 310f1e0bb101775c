package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/inferd/inferd/onnx"
	"github.com/inferd/inferd/serve"
)

// configCmd runs "inferd config generate MODEL": it prints the
// config.pbtxt inferd serve derives for a model that has none.
func configCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		return fmt.Errorf("usage: inferd config generate MODEL [--name NAME] [--max-batch-size N]")
	}
	fs := newFlagSet("config generate", stderr)
	name := fs.String("name", "", "model `NAME` in the config (default: the model folder's name)")
	maxBatch := fs.Int("max-batch-size", -1, "max_batch_size to write (default: derived, 0 when the model has no variable batch dimension)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one MODEL argument (a .onnx file, a version folder or a model folder), got %d", len(pos))
	}
	path, guess, err := resolveModel(pos[0])
	if err != nil {
		return err
	}
	if *name == "" {
		*name = guess
	}
	m, err := onnx.Load(path)
	if err != nil {
		return err
	}
	var inputs = m.Graph.Inputs[:0:0]
	for _, in := range m.Graph.Inputs {
		if m.Graph.Initializer(in.Name) == nil {
			inputs = append(inputs, in)
		}
	}
	cfg, err := serve.DeriveModelConfig(*name, inputs, m.Graph.Outputs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if *maxBatch >= 0 && int32(*maxBatch) != cfg.MaxBatchSize {
		if *maxBatch > 0 && cfg.MaxBatchSize == 0 {
			return fmt.Errorf("%s: --max-batch-size %d, but the model's inputs and outputs have no variable first dimension to batch along", path, *maxBatch)
		}
		if *maxBatch == 0 {
			// The batch dimension becomes part of dims again.
			if cfg, err = serve.DeriveModelConfigNoBatch(*name, inputs, m.Graph.Outputs); err != nil {
				return err
			}
		} else {
			cfg.MaxBatchSize = int32(*maxBatch)
		}
	}
	fmt.Fprintf(stdout, "# config.pbtxt derived by inferd from %s\n", path)
	_, err = io.WriteString(stdout, serve.FormatModelConfig(cfg))
	return err
}

// resolveModel finds the model file for a .onnx path, a version folder or
// a model folder (its highest version), and guesses the model's name.
func resolveModel(arg string) (path, name string, err error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return "", "", err
	}
	abs, _ := filepath.Abs(arg)
	if !fi.IsDir() {
		dir := filepath.Dir(abs)
		if _, err := strconv.Atoi(filepath.Base(dir)); err == nil {
			return arg, filepath.Base(filepath.Dir(dir)), nil
		}
		base := filepath.Base(arg)
		return arg, base[:len(base)-len(filepath.Ext(base))], nil
	}
	if _, err := strconv.Atoi(filepath.Base(abs)); err == nil {
		return filepath.Join(arg, serve.DefaultModelFilename), filepath.Base(filepath.Dir(abs)), nil
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return "", "", err
	}
	var versions []int
	for _, e := range entries {
		if v, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() && v > 0 {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		return "", "", fmt.Errorf("%s: no version folder (<model>/<version>/model.onnx)", arg)
	}
	v := slices.Max(versions)
	return filepath.Join(arg, strconv.Itoa(v), serve.DefaultModelFilename), filepath.Base(abs), nil
}
