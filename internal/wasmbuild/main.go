// Command wasmbuild rebuilds every .wasm file committed in the repository
// from its source, or checks that the committed files are current.
//
//	go run ./internal/wasmbuild           rebuild in place (go generate ./... runs this)
//	go run ./internal/wasmbuild -check    exit 1 if any committed file differs
//
// Go guests build with the standard toolchain as WASI reactors:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o OUT ./DIR
//
// and .wat files with wabt's wat2wasm (Debian package wabt). Both are
// reproducible for a given toolchain version, which is what lets -check
// compare bytes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// goGuests maps each Go guest's package directory to its output file,
// relative to the repository root.
var goGuests = map[string]string{
	"modules/primes":            "modules/primes.wasm",
	"modules/wordfreq":          "modules/wordfreq.wasm",
	"modules/greet":             "modules/greet.wasm",
	"modules/bench":             "modules/bench.wasm",
	"modules/ipc":               "modules/ipc.wasm",
	"modules/shmem":             "modules/shmem.wasm",
	"testdata/guests/testguest": "testdata/testguest.wasm",
}

// cGuests maps each C guest's source file to its output file; both
// relative to the repository root. They include guest/c/wasmpool.h.
var cGuests = map[string]string{
	"modules/cguest/main.c": "modules/cguest.wasm",
}

// cFlags build a C guest as a WASI reactor with wasm atomics.
var cFlags = []string{"--target=wasm32-wasi", "-O2", "-matomics", "-mbulk-memory", "-mexec-model=reactor", "-I", "guest/c"}

// watDirs are directories whose every .wat file becomes a .wasm beside it.
var watDirs = []string{"testdata/bad", "testdata/wat"}

func main() {
	root := flag.String("root", ".", "repository root")
	check := flag.Bool("check", false, "build into a temporary directory and compare with the committed files")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "wasmbuild:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	out := root
	if check {
		tmp, err := os.MkdirTemp("", "wasmbuild")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		out = tmp
	}
	built, err := build(root, out)
	if err != nil {
		return err
	}
	if !check {
		return nil
	}
	stale, err := compare(root, out, built)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		return fmt.Errorf("committed files differ from their source (run go generate ./...): %s", strings.Join(stale, ", "))
	}
	return nil
}

// build builds every target of the repository at root into outRoot, under
// the same relative paths, and returns those paths.
func build(root, outRoot string) ([]string, error) {
	var built []string
	dirs := make([]string, 0, len(goGuests))
	for dir := range goGuests {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		rel := goGuests[dir]
		dst, err := filepath.Abs(filepath.Join(outRoot, rel))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", dst, "./"+dir)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s: %v\n%s", dir, err, out)
		}
		built = append(built, rel)
	}
	srcs := make([]string, 0, len(cGuests))
	for src := range cGuests {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		rel := cGuests[src]
		dst, err := filepath.Abs(filepath.Join(outRoot, rel))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command("clang", append(append([]string{}, cFlags...), "-o", dst, src)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("clang %s: %v\n%s (install Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32)", src, err, out)
		}
		built = append(built, rel)
	}
	for _, dir := range watDirs {
		wats, err := filepath.Glob(filepath.Join(root, dir, "*.wat"))
		if err != nil {
			return nil, err
		}
		for _, wat := range wats {
			rel := filepath.Join(dir, strings.TrimSuffix(filepath.Base(wat), ".wat")+".wasm")
			dst := filepath.Join(outRoot, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			cmd := exec.Command("wat2wasm", "--enable-threads", "--debug-names", "-o", dst, wat)
			if out, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("wat2wasm %s: %v\n%s (install Debian's wabt)", wat, err, out)
			}
			built = append(built, rel)
		}
	}
	return built, nil
}

func compare(root, outRoot string, rels []string) ([]string, error) {
	var stale []string
	for _, rel := range rels {
		want, err := os.ReadFile(filepath.Join(outRoot, rel))
		if err != nil {
			return nil, err
		}
		have, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || !bytes.Equal(have, want) {
			stale = append(stale, rel)
		}
	}
	return stale, nil
}
