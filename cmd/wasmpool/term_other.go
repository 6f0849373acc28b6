//go:build !linux

package main

import "os"

// isTerminal reports false outside Linux: no progress bar there.
func isTerminal(f *os.File) bool { return false }
