//go:build linux

package pool

import (
	"context"
	"fmt"
	"testing"
)

func BenchmarkZZChunk1(b *testing.B) {
	const items = 50_000
	inputs := make([][]byte, items)
	for i := range inputs {
		inputs[i] = u64(uint64(i))
	}
	p := newTestPool(b, Config{Workers: 2})
	for _, inflight := range []int{0, 16, 64, 256} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			ctx := context.Background()
			opts := []MapOption{ChunkSize(1)}
			if inflight > 0 {
				opts = append(opts, InFlight(inflight))
			}
			for b.Loop() {
				if _, err := p.Map(ctx, "double", inputs, opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(items*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
