// Package typed is the CBOR layer of the guest SDK: task functions and
// queue messages of Go types, encoded as RFC 8949 CBOR, as the pool's
// typed calls (pool.CallTyped, pool.MapTyped) and typed queue messages
// (pool.PutValue, pool.GetValue) encode them, and as the wasmpool command
// converts JSON lines.
//
// It is a package of its own because the CBOR codec is about 0.35 MB of
// wasm: a guest that does not import it does not carry it.
package typed

import (
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/wasmpool/wasmpool/guest"
)

// Task registers fn as the task function name with CBOR-encoded input and
// output. An input that does not decode into In fails the item with an
// invalid-input error (pool.InvalidInputError), without calling fn; an
// error from fn fails it with a task error, as a guest.Task's does.
func Task[In, Out any](name string, fn func(In) (Out, error)) {
	guest.CBORTask(name, func(in []byte) ([]byte, error) {
		var v In
		if err := cbor.Unmarshal(in, &v); err != nil {
			return nil, &guest.InvalidInputError{Reason: fmt.Sprintf("decoding %T: %v", v, err)}
		}
		out, err := fn(v)
		if err != nil {
			return nil, err
		}
		b, err := cbor.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encoding %T: %w", out, err)
		}
		return b, nil
	})
}

// Put puts v encoded as CBOR into q, as q.Put puts bytes.
func Put[T any](q *guest.Queue, v T, timeout time.Duration) error {
	b, err := cbor.Marshal(v)
	if err != nil {
		return err
	}
	return q.Put(b, timeout)
}

// Get gets a message from q, as q.Get does, and decodes it from CBOR into
// a T. A message that does not decode is taken from the queue all the
// same, and lost: the error says why.
func Get[T any](q *guest.Queue, timeout time.Duration) (T, error) {
	var v T
	b, err := q.Get(timeout)
	if err != nil {
		return v, err
	}
	return v, cbor.Unmarshal(b, &v)
}
