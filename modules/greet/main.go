// Command greet is an example guest: a process that greets with its
// arguments, the "Worker {num}" example of multiprocessing.Process, and a
// task that builds a greeting.
//
//	greet(args...)   process: prints "Hello, <args>! I am a wasm process."
//	greeting(name)   task: returns "Hello, <name>!"
package main

import (
	"fmt"
	"strings"

	"github.com/wasmpool/wasmpool/guest"
)

func init() {
	guest.Process("greet", func(args [][]byte) error {
		names := make([]string, len(args))
		for i, a := range args {
			names[i] = string(a)
		}
		if len(names) == 0 {
			names = []string{"world"}
		}
		fmt.Printf("Hello, %s! I am a wasm process.\n", strings.Join(names, " and "))
		return nil
	})
	guest.Task("greeting", func(name []byte) ([]byte, error) {
		return fmt.Appendf(nil, "Hello, %s!", name), nil
	})
}

func main() {}
