package pool

import (
	"context"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CallTyped runs a typed task function (typed.Task in package guest/typed) on in, CBOR-
// encoded, and decodes its output into Out. Errors are Call's, or an
// encoding or decoding error.
func CallTyped[Out, In any](ctx context.Context, p *Pool, fn string, in In) (Out, error) {
	var out Out
	b, err := cbor.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("pool: encoding input of %s: %w", fn, err)
	}
	res, err := p.Call(ctx, fn, b)
	if err != nil {
		return out, err
	}
	if err := cbor.Unmarshal(res, &out); err != nil {
		return out, fmt.Errorf("pool: decoding output of %s into %T: %w", fn, out, err)
	}
	return out, nil
}

// MapTyped is Map for a typed task function: inputs are CBOR-encoded and
// outputs decoded into Out, in input order.
func MapTyped[Out, In any](ctx context.Context, p *Pool, fn string, inputs []In, opts ...MapOption) ([]Out, error) {
	enc := make([][]byte, len(inputs))
	for i, in := range inputs {
		b, err := cbor.Marshal(in)
		if err != nil {
			return nil, &ItemError{Index: i, Err: fmt.Errorf("pool: encoding input of %s: %w", fn, err)}
		}
		enc[i] = b
	}
	res, err := p.Map(ctx, fn, enc, opts...)
	if err != nil {
		return nil, err
	}
	outs := make([]Out, len(res))
	for i, r := range res {
		if err := cbor.Unmarshal(r, &outs[i]); err != nil {
			return nil, &ItemError{Index: i, Err: fmt.Errorf("pool: decoding output of %s into %T: %w", fn, outs[i], err)}
		}
	}
	return outs, nil
}
