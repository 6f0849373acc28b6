package abi

import (
	"bytes"
	"errors"
	"testing"
)

func TestList_roundTrip(t *testing.T) {
	for _, items := range [][][]byte{
		{},
		{{}},
		{[]byte("a"), {}, []byte("hello, world")},
	} {
		b := AppendList(nil, items)
		if len(b) != ListSize(items) {
			t.Fatalf("size %d, ListSize says %d", len(b), ListSize(items))
		}
		got, err := ParseList(b, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(items) {
			t.Fatalf("got %d items, want %d", len(got), len(items))
		}
		for i := range items {
			if !bytes.Equal(got[i], items[i]) {
				t.Errorf("item %d = %q, want %q", i, got[i], items[i])
			}
		}
	}
}

func TestParseList_malformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":           {},
		"short count":     {1, 0},
		"huge count":      {0xff, 0xff, 0xff, 0xff},
		"length past end": {1, 0, 0, 0, 9, 0, 0, 0, 'a'},
		"trailing bytes":  {0, 0, 0, 0, 'x'},
	} {
		if _, err := ParseList(b, -1); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := ParseList(AppendList(nil, [][]byte{{1}, {2}}), 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("over maxItems: err = %v, want ErrMalformed", err)
	}
}

func TestResults_roundTrip(t *testing.T) {
	var rb ResultsBuilder
	rb.Add(StatusOK, []byte("out"))
	rb.Add(StatusError, []byte("boom"))
	rb.Add(StatusInvalidInput, nil)
	got, err := ParseResults(rb.Bytes(), 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{{StatusOK, []byte("out")}, {StatusError, []byte("boom")}, {StatusInvalidInput, []byte{}}}
	for i := range want {
		if got[i].Status != want[i].Status || !bytes.Equal(got[i].Payload, want[i].Payload) {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := ParseResults(rb.Bytes(), 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("count mismatch: err = %v, want ErrMalformed", err)
	}
	var empty ResultsBuilder
	if got, err := ParseResults(empty.Bytes(), 0); err != nil || len(got) != 0 {
		t.Errorf("empty builder: %v, %v", got, err)
	}
}

func TestFunctions_roundTrip(t *testing.T) {
	fns := []Function{{"double", FuncTask}, {"greet", FuncProcess}}
	got, err := ParseFunctions(AppendFunctions(nil, fns))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != fns[0] || got[1] != fns[1] {
		t.Fatalf("got %v, want %v", got, fns)
	}
	if _, err := ParseFunctions(AppendList(nil, [][]byte{{9, 'x'}})); !errors.Is(err, ErrMalformed) {
		t.Errorf("unknown kind: err = %v", err)
	}
}

func TestErrno(t *testing.T) {
	if EFAULT.Name() != "EFAULT" || Errno(99).Name() != "E99" {
		t.Errorf("names: %s %s", EFAULT.Name(), Errno(99).Name())
	}
	if EPIPE.Error() != "EPIPE: other end closed" {
		t.Errorf("EPIPE.Error() = %q", EPIPE.Error())
	}
}

func FuzzParseList(f *testing.F) {
	f.Add(AppendList(nil, [][]byte{[]byte("a"), {}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := ParseList(b, -1)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendList(nil, items), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParseResults(f *testing.F) {
	var rb ResultsBuilder
	rb.Add(StatusOK, []byte("x"))
	f.Add(rb.Bytes(), 1)
	f.Fuzz(func(t *testing.T, b []byte, want int) {
		res, err := ParseResults(b, want)
		if err == nil && len(res) != want {
			t.Fatalf("%d results, want %d", len(res), want)
		}
	})
}
