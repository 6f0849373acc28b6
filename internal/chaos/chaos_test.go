package chaos

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmpool/wasmpool/internal/leakcheck"
)

var testCache string

func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m, &testCache)) }

// duration is how long TestChaos injects faults: 4 s by default, 1 s with
// -short, WASMPOOL_CHAOS (a Go duration) for soak runs.
func duration(t *testing.T) time.Duration {
	if s := os.Getenv("WASMPOOL_CHAOS"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err)
		return d
	}
	if testing.Short() {
		return time.Second
	}
	return 4 * time.Second
}

// TestChaos runs the workload with and without retries; Run checks every
// promise (see the package doc) and TestMain that nothing leaks.
func TestChaos(t *testing.T) {
	for _, retries := range []int{3, 0} {
		t.Run("retries="+strconv.Itoa(retries), func(t *testing.T) {
			rep, err := Run(context.Background(), Config{Duration: duration(t), Retries: retries, CacheDir: testCache})
			require.NoError(t, err)
			for _, v := range rep.Violations {
				t.Error(v)
			}
			require.Positive(t, rep.Kills)
			require.Positive(t, rep.MapDone+rep.SubmitDone, "work got done between the faults")
			require.Positive(t, rep.Messages)
			require.Zero(t, rep.Lost())
			t.Log(rep)
		})
	}
}

// TestRun_reportsViolations: a Run whose every operation must finish in a
// nanosecond breaks the hang promise at once and says so, typed.
func TestRun_reportsViolations(t *testing.T) {
	rep, err := Run(context.Background(), Config{Duration: 300 * time.Millisecond, Bound: time.Nanosecond, CacheDir: testCache})
	require.ErrorIs(t, err, ErrViolated)
	require.NotEmpty(t, rep.Violations)
}
