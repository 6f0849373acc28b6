package bench

import (
	"bytes"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun_quick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes and measures for seconds")
	}
	var buf bytes.Buffer
	err := Run(t.Context(), &buf, Config{Quick: true, Runs: 1, Python: "off", Only: []string{"roundtrip", "map"}})
	require.NoError(t, err, buf.String())
	out := buf.String()
	t.Log("\n" + out)
	assert.Contains(t, out, "command:")
	assert.Contains(t, out, "GOMAXPROCS")
	for _, row := range []string{
		`roundtrip, unpinned +\| [0-9.]+ µs +\| — `,
		`map, 100k items, default chunks +\| [0-9.]+ [Mk]/s +\| — `,
	} {
		assert.Regexp(t, regexp.MustCompile(`(?m)^\| `+row), out)
	}
	assert.NotContains(t, out, "| ready")
	assert.NotContains(t, out, "| map, chunksize 1")
}

func TestRun_unknownBenchmark(t *testing.T) {
	err := Run(t.Context(), &bytes.Buffer{}, Config{Python: "off", Only: []string{"nope"}})
	assert.ErrorContains(t, err, `unknown benchmark "nope"`)
}

// cannedPython is baseline.py output as it prints it.
const cannedPython = `{"python": "3.11.7", "results": [
 {"name": "roundtrip/unpinned", "unit": "us", "median": 233.9, "samples": [240.1, 233.9, 231.0]},
 {"name": "map", "unit": "items/s", "median": 5300000.0, "samples": [5300000.0], "items": 1000000},
 {"name": "primes/1", "unit": "s", "median": 4.55, "samples": [4.55], "count": 148933},
 {"name": "primes/speedup", "unit": "x", "median": 1.9, "samples": [1.9]}]}
`

func TestParsePython(t *testing.T) {
	out, err := parsePython([]byte(cannedPython))
	require.NoError(t, err)
	assert.Equal(t, "3.11.7", out.Python)
	assert.Equal(t, 233.9, out.median("roundtrip/unpinned"))
	assert.Equal(t, 5.3e6, out.median("map"))
	assert.Equal(t, 1.9, out.median("primes/speedup"))
	res, ok := out.get("primes/1")
	require.True(t, ok)
	assert.Equal(t, 148933, res.Count)
	assert.True(t, math.IsNaN(out.median("ready/fork")), "a missing result is NaN")
	var none *pyOutput
	assert.True(t, math.IsNaN(none.median("map")), "no baseline is NaN")

	for _, bad := range []string{"", "{", `{"results": []}`, "Traceback (most recent call last):"} {
		_, err := parsePython([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

// TestBaselineRuns checks that the embedded script runs, where python3 is.
func TestBaselineRuns(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	r := &runner{python: py, tempDir: t.TempDir()}
	r.startPython(t.Context())
	require.Empty(t, r.pyErrs)
	assert.NotEmpty(t, r.pyVer)
	assert.FileExists(t, filepath.Join(r.tempDir, "baseline.py"))
}

func TestRow(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		row            row
		ratio, verdict string
	}{
		{row{unit: micros, ours: 20, python: 234, target: &target{25}}, "11.7× faster", "≤ 25.0 µs PASS"},
		{row{unit: micros, ours: 50, python: 25, target: &target{25}}, "2.00× slower", "≤ 25.0 µs MISS"},
		{row{unit: rate, ours: 6e6, python: 5.3e6, target: &target{5e6}}, "1.13× faster", "≥ 5.00 M/s PASS"},
		{row{unit: rate, ours: 41e3, python: 410e3, target: &target{400e3}}, "10.0× slower", "≥ 400 k/s MISS"},
		{row{unit: millis, ours: 30, python: nan}, "—", "—"},
		{row{unit: factor, ours: 1.95, python: 1.9, target: &target{1.9}, noRatio: true}, "—", "≥ 1.90× PASS"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.ratio, tt.row.ratio(), "%+v", tt.row)
		assert.Equal(t, tt.verdict, tt.row.verdict(), "%+v", tt.row)
	}
}

func TestHelpers(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.True(t, math.IsNaN(median(nil)))
	assert.Equal(t, "1M", count(1_000_000))
	assert.Equal(t, "200k", count(200_000))
	assert.Equal(t, "2.5M", count(2_500_000))
	assert.Equal(t, "1234", count(1234))
	assert.Equal(t, 148933, primesBelow(2_000_000))
	assert.Equal(t, [][2]uint64{{0, 3}, {3, 6}, {6, 10}}, splitRanges(10, 3))
}
