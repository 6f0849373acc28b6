package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runArgs(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDemo(t *testing.T) {
	code, out, errOut := runArgs(t, "", "--workers", "2", "--limit", "100000", "--ranges", "8")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "primes below 100000: 9592")
	require.Contains(t, out, "worker 1 ran")
}

func TestRun(t *testing.T) {
	code, out, errOut := runArgs(t, "[0, 100]\n[100, 1000]\n", "run", "../../modules/primes.wasm", "--fn", "count_primes", "--workers", "2")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, "25\n143\n", out)

	code, out, _ = runArgs(t, "hello\nworld\n", "run", "../../modules/greet.wasm", "--fn", "greeting", "--raw")
	require.Equal(t, exitOK, code)
	require.Equal(t, "Hello, hello!\nHello, world!\n", out)

	code, out, _ = runArgs(t, "[1, 10]\n[9, 2]\n[2, 3]\n", "run", "../../modules/primes.wasm", "--fn", "count_primes")
	require.Equal(t, exitFailed, code, "an item failed")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, "4", lines[0])
	require.Contains(t, lines[1], `"error"`)
	require.Contains(t, lines[1], "lo 9 > hi 2")
	require.Equal(t, "1", lines[2])

	code, out, _ = runArgs(t, "\"the cat and the dog and the bird\"\n", "run", "../../modules/wordfreq.wasm", "--fn", "count_words")
	require.Equal(t, exitOK, code)
	require.Equal(t, `{"and":2,"bird":1,"cat":1,"dog":1,"the":3}`+"\n", out)
}

func TestRun_badUsage(t *testing.T) {
	code, _, errOut := runArgs(t, "", "run", "../../modules/primes.wasm", "--fn", "nope")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `no function "nope"`)

	code, _, _ = runArgs(t, "", "run", "../../modules/primes.wasm")
	require.Equal(t, exitUsage, code, "--fn is required")

	code, _, errOut = runArgs(t, "", "run", "../../testdata/bad/notwasm.wasm", "--fn", "x")
	require.Equal(t, exitModule, code, errOut)

	code, _, errOut = runArgs(t, "{not json\n", "run", "../../modules/primes.wasm", "--fn", "count_primes")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "line 1")

	code, _, _ = runArgs(t, "", "frobnicate")
	require.Equal(t, exitUsage, code)
}

func TestInspect(t *testing.T) {
	code, out, _ := runArgs(t, "", "inspect", "../../modules/greet.wasm")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "greet                    process")
	require.Contains(t, out, "runnable: yes")

	for _, bad := range []string{"notwasm", "badimport", "noexports", "oldabi"} {
		code, out, _ := runArgs(t, "", "inspect", "../../testdata/bad/"+bad+".wasm")
		require.Equal(t, exitModule, code, bad)
		require.Contains(t, out, "runnable: no", bad)
	}
}

func TestSoak(t *testing.T) {
	code, out, errOut := runArgs(t, "", "soak", "--duration", "700ms", "--workers", "2")
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "0 lost")
	require.Contains(t, out, "0 violations")

	code, _, _ = runArgs(t, "", "soak", "--duration", "-1s")
	require.Equal(t, exitUsage, code)
}
