//go:build linux

package pool_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/wasmpool/wasmpool/modules"
	"github.com/wasmpool/wasmpool/pool"
)

// A pool of two worker processes runs a guest's task: Call sends one input
// and waits for its output.
func Example() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Config{Module: modules.Greet, Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	out, err := p.Call(ctx, "greeting", []byte("wasm"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
	// Output: Hello, wasm!
}

// Map runs a task over many inputs, several per guest call, and returns
// the outputs in input order.
func ExamplePool_Map() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Config{Module: modules.Greet, Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	outs, err := p.Map(ctx, "greeting", [][]byte{[]byte("Ada"), []byte("Grace"), []byte("Barbara")})
	if err != nil {
		log.Fatal(err)
	}
	for _, out := range outs {
		fmt.Println(string(out))
	}
	// Output:
	// Hello, Ada!
	// Hello, Grace!
	// Hello, Barbara!
}

// MapTyped is Map for a typed task (CBOR in and out): here the primes
// below 100 and between 100 and 200.
func ExampleMapTyped() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Config{Module: modules.Primes, Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	counts, err := pool.MapTyped[uint64](ctx, p, "count_primes", [][2]uint64{{0, 100}, {100, 200}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts)
	// Output: [25 21]
}

// A Process runs a guest's process function to its end on a worker, as
// multiprocessing.Process runs a Python function: Start, Join, ExitCode.
func ExamplePool_Process() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Config{Module: modules.Greet, Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	proc := p.Process("greet", []byte("Bob"), []byte("Alice"))
	proc.Stdout = os.Stdout // instead of prefixed lines on the parent's stdout
	if err := proc.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := proc.Join(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("exit code", proc.ExitCode())
	// Output:
	// Hello, Bob and Alice! I am a wasm process.
	// exit code 0
}

// A queue lives in memory shared by the parent and every worker; the
// parent, and guests given its name or handle, put and get messages.
func ExamplePool_NewQueue() {
	ctx := context.Background()
	p, err := pool.New(ctx, pool.Config{Module: modules.Greet, Workers: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	q, err := p.NewQueue("jobs", pool.QueueConfig{MaxMessages: 16})
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		if err := pool.PutValue(ctx, q, n); err != nil {
			log.Fatal(err)
		}
	}
	for range 3 {
		n, err := pool.GetValue[int](ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(n, " ")
	}
	fmt.Println()
	// Output: 1 2 3
}
