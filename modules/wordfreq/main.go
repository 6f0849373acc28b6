// Command wordfreq is an example guest: a word-frequency counter.
//
//	count_words(text) -> {word: count}, words lower-cased, split on anything
//	                     that is not a letter or digit
//	top_words(text)   -> the ten most frequent words, "word count" per line
//
// count_words is typed (CBOR in and out); top_words takes and returns raw
// text, so it works on raw lines from the command line:
//
//	go run ./cmd/wasmpool run modules/wordfreq.wasm --fn top_words --raw < book.txt
package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/wasmpool/wasmpool/guest"
	"github.com/wasmpool/wasmpool/guest/typed"
)

func count(text string) map[string]int {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		counts[strings.ToLower(w)]++
	}
	return counts
}

func init() {
	typed.Task("count_words", func(text string) (map[string]int, error) {
		return count(text), nil
	})
	guest.Task("top_words", func(in []byte) ([]byte, error) {
		counts := count(string(in))
		words := make([]string, 0, len(counts))
		for w := range counts {
			words = append(words, w)
		}
		sort.Slice(words, func(i, j int) bool {
			if counts[words[i]] != counts[words[j]] {
				return counts[words[i]] > counts[words[j]]
			}
			return words[i] < words[j]
		})
		var b strings.Builder
		for i, w := range words {
			if i == 10 {
				break
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s:%d", w, counts[w])
		}
		return []byte(b.String()), nil
	})
}

func main() {}
