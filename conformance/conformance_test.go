package conformance

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	casesFlag  = flag.String("cases", "", "run only the node cases whose name matches this regexp")
	updateFlag = flag.Bool("update", false, "rewrite testdata/failing.txt from this run")
)

const failingFile = "testdata/failing.txt"

func dataDir() string {
	if d := os.Getenv("INFERD_ONNX_TESTDATA"); d != "" {
		return d
	}
	return "/usr/share/libonnx-testdata/data"
}

// readFailing reads the known-failing list: one case per line, then
// whitespace and the reason; '#' starts a comment line.
func readFailing(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(failingFile)
	if os.IsNotExist(err) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, reason, _ := strings.Cut(line, " ")
		out[name] = strings.TrimSpace(reason)
	}
	return out
}

func TestNode(t *testing.T) {
	root := filepath.Join(dataDir(), "node")
	dirs, err := filepath.Glob(filepath.Join(root, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Skipf("ONNX backend test data not found under %s: install Debian's libonnx-testdata (or set INFERD_ONNX_TESTDATA)", root)
	}
	sort.Strings(dirs)
	var re *regexp.Regexp
	if *casesFlag != "" {
		re = regexp.MustCompile(*casesFlag)
	}
	known := readFailing(t)
	var results []Result
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if re != nil && !re.MatchString(name) {
			continue
		}
		r := RunCase(dir)
		results = append(results, r)
		if testing.Verbose() {
			fmt.Printf("%-70s %s %s\n", r.Name, r.Status, oneLine(r.Detail))
		}
	}
	fmt.Println("node conformance:", Summary(results))
	if *updateFlag {
		if re != nil {
			t.Fatal("-update needs the whole suite: drop -cases")
		}
		writeFailing(t, results)
		return
	}
	for _, r := range results {
		_, listed := known[r.Name]
		switch {
		case r.Status != Pass && !listed:
			t.Errorf("%s: %s: %s", r.Name, r.Status, oneLine(r.Detail))
		case r.Status == Pass && listed:
			t.Errorf("%s passes but is listed in %s: remove it (go test ./conformance -args -update)", r.Name, failingFile)
		}
	}
}

func writeFailing(t *testing.T, rs []Result) {
	var b strings.Builder
	b.WriteString("# ONNX backend node cases inferd does not pass, with the reason.\n")
	b.WriteString("# Regenerate with: go test ./conformance -args -update\n")
	b.WriteString("# " + Summary(rs) + "\n")
	for _, r := range rs {
		if r.Status != Pass {
			fmt.Fprintf(&b, "%s %s: %s\n", r.Name, r.Status, oneLine(r.Detail))
		}
	}
	if err := os.WriteFile(failingFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
