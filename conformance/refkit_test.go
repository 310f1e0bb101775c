package conformance

import (
	"os"
	"path/filepath"
	"testing"
)

func checkRefkit(t *testing.T, root string) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(root, "*"))
	n := 0
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		for _, r := range RunRefkitDir(dir, 1) {
			n++
			rel, _ := filepath.Rel(root, r.Model)
			switch {
			case r.Err != nil:
				t.Errorf("%s: %v", rel, r.Err)
			case r.RelL2 > RefkitTolerance:
				t.Errorf("%s batch %d: relative L2 error %.3g > %g", rel, r.Batch, r.RelL2, RefkitTolerance)
			default:
				t.Logf("%s batch %d: relative L2 error %.3g", rel, r.Batch, r.RelL2)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no refkit models under %s", root)
	}
}

// TestRefkitFixtures checks the small refkit models committed in
// testdata/refkit against PyTorch's outputs.
func TestRefkitFixtures(t *testing.T) { checkRefkit(t, "testdata/refkit") }

// TestRefkitModels checks a full refkit export (make_models.py's models/
// folder) named by INFERD_REFKIT_MODELS; scripts/refkit-check.sh sets it.
func TestRefkitModels(t *testing.T) {
	root := os.Getenv("INFERD_REFKIT_MODELS")
	if root == "" {
		t.Skip("INFERD_REFKIT_MODELS not set: see scripts/refkit-check.sh")
	}
	checkRefkit(t, root)
}
