package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/inferd/inferd/serve/configpb"
)

// modelDir is what the repository holds for one model, read from disk.
type modelDir struct {
	name     string
	dir      string
	cfgHash  string           // sha256 of config.pbtxt, "" if absent
	versions map[int64]string // version number → fingerprint of its model file
}

// scanRepository lists the model folders of repo: every sub-folder that
// is not hidden. Version folders are the numeric sub-folders of a model.
func scanRepository(repo string) (map[string]*modelDir, error) {
	entries, err := os.ReadDir(repo)
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	out := map[string]*modelDir{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		md, err := scanModel(filepath.Join(repo, e.Name()), e.Name(), "")
		if err != nil {
			continue // vanished while scanning: seen at the next poll
		}
		out[e.Name()] = md
	}
	return out, nil
}

// scanModel reads one model folder. filename, if set, is the model file
// name to fingerprint; else it is read from the config (or the default).
func scanModel(dir, name, filename string) (*modelDir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	md := &modelDir{name: name, dir: dir, versions: map[int64]string{}}
	if data, err := os.ReadFile(filepath.Join(dir, ConfigFile)); err == nil {
		sum := sha256.Sum256(data)
		md.cfgHash = hex.EncodeToString(sum[:])
		if filename == "" {
			var c configpb.ModelConfig
			if ParseConfigFilename(data, &c) == nil && c.DefaultModelFilename != "" {
				filename = c.DefaultModelFilename
			}
		}
	}
	if filename == "" {
		filename = DefaultModelFilename
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || v < 1 || strconv.FormatInt(v, 10) != e.Name() {
			continue
		}
		md.versions[v] = fingerprint(filepath.Join(dir, e.Name()), filename)
	}
	return md, nil
}

// ParseConfigFilename reads only what scanning needs from a config: it
// tolerates a config that fails validation.
func ParseConfigFilename(data []byte, c *configpb.ModelConfig) error {
	return prototextLenient(data, c)
}

// fingerprint identifies the content of a version folder cheaply: the
// name, size and modification time of every file in it.
func fingerprint(dir, filename string) string {
	h := sha256.New()
	fi, err := os.Stat(filepath.Join(dir, filename))
	if err != nil {
		fmt.Fprintf(h, "missing %s;", filename)
	} else {
		fmt.Fprintf(h, "%s %d %d;", filename, fi.Size(), fi.ModTime().UnixNano())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() == filename {
			continue
		}
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(h, "%s %d %d;", e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// wantedVersions applies a version policy to the versions on disk, highest
// first.
func wantedVersions(vp *configpb.ModelVersionPolicy, onDisk map[int64]string) []int64 {
	all := make([]int64, 0, len(onDisk))
	for v := range onDisk {
		all = append(all, v)
	}
	slices.Sort(all)
	slices.Reverse(all)
	switch p := vp.GetPolicyChoice().(type) {
	case *configpb.ModelVersionPolicy_All_:
		return all
	case *configpb.ModelVersionPolicy_Specific_:
		var out []int64
		for _, v := range all {
			if slices.Contains(p.Specific.Versions, v) {
				out = append(out, v)
			}
		}
		return out
	case *configpb.ModelVersionPolicy_Latest_:
		n := min(int(p.Latest.NumVersions), len(all))
		return all[:n]
	}
	return all[:min(1, len(all))]
}
