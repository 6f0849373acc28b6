//go:build linux

package pool

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkCall is the round trip of a trivial task call on one worker
// process, beside a Go channel round trip between two goroutines of one
// process: the floor no cross-process call can beat. `wasmpool bench
// --only roundtrip` runs the same call pinned and unpinned, with Python's
// ProcessPoolExecutor beside it.
func BenchmarkCall(b *testing.B) {
	b.Run("pool/workers=1", func(b *testing.B) {
		p := newTestPool(b, Config{Workers: 1})
		ctx := context.Background()
		in := u64(1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Call(ctx, "echo", in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=chan", func(b *testing.B) {
		req, resp := make(chan []byte), make(chan []byte)
		go func() {
			for m := range req {
				resp <- m
			}
		}()
		in := u64(1)
		b.ReportAllocs()
		for b.Loop() {
			req <- in
			<-resp
		}
		close(req)
	})
}

// BenchmarkMap_chunk1 maps a trivial function item at a time (ChunkSize(1)):
// every item is its own call, so it measures the per-call cost when calls
// are pipelined, beside the same items in default chunks.
func BenchmarkMap_chunk1(b *testing.B) {
	const items = 20_000
	inputs := make([][]byte, items)
	for i := range inputs {
		inputs[i] = u64(uint64(i))
	}
	for _, c := range []struct {
		name string
		opts []MapOption
	}{{"chunk=1", []MapOption{ChunkSize(1)}}, {"baseline=default-chunks", nil}} {
		b.Run(fmt.Sprintf("%s/workers=2", c.name), func(b *testing.B) {
			p := newTestPool(b, Config{Workers: 2})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Map(ctx, "double", inputs, c.opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(items*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
