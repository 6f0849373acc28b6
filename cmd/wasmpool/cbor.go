package main

import (
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

var mapStringAny = reflect.TypeOf(map[string]any{})

func cborPair(lo, hi uint64) ([]byte, error) { return cbor.Marshal([2]uint64{lo, hi}) }

func cborUint(b []byte) (uint64, error) {
	var n uint64
	err := cbor.Unmarshal(b, &n)
	return n, err
}
