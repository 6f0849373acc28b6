// Package sfmt formats the error messages of packages linked into every
// guest module (abi, guest) without package fmt, whose printer, with the
// reflection it needs, adds about 0.4 MB to a Go guest: a quarter of the
// bench module, and as much of every worker's load time (RATIONALE: "Why
// does the guest SDK not use fmt?").
//
// It knows the verbs those messages use, for the values they pass:
//
//	%d  any integer type without a name of its own (int, uint32, ...)
//	%s  string, []byte, error, or a value with a String method
//	%q  the same, quoted as by strconv.Quote
//	%v  any of the above, but []byte as fmt shows it ([104 105]); also
//	    bool, float32, float64 and nil
//	%w  an error, wrapped: errors.Is and errors.As see it
//	%%  a percent sign
//
// There are no flags or widths. Anything else formats as "%!" followed by
// the verb, and arguments left over as "%!(EXTRA ...)", as fmt marks a
// mistake. Named integer types (abi.Status, say) must be converted: only
// reflection could see through the name.
package sfmt

import (
	"strconv"
)

// Errorf formats like fmt.Errorf: the error's message is the formatted
// string, and it wraps the operands of %w.
func Errorf(format string, args ...any) error {
	var wrapped []error
	msg := string(appendf(nil, format, args, &wrapped))
	switch len(wrapped) {
	case 0:
		return &wrapError{msg: msg}
	case 1:
		return &wrapOne{msg, wrapped[0]} // errors.Unwrap sees it, as with fmt
	}
	return &wrapError{msg, wrapped}
}

// Sprintf formats like fmt.Sprintf.
func Sprintf(format string, args ...any) string {
	return string(appendf(nil, format, args, nil))
}

// Appendf formats like fmt.Appendf.
func Appendf(b []byte, format string, args ...any) []byte {
	return appendf(b, format, args, nil)
}

type wrapError struct {
	msg     string
	wrapped []error
}

func (e *wrapError) Error() string   { return e.msg }
func (e *wrapError) Unwrap() []error { return e.wrapped }

type wrapOne struct {
	msg     string
	wrapped error
}

func (e *wrapOne) Error() string { return e.msg }
func (e *wrapOne) Unwrap() error { return e.wrapped }

func appendf(b []byte, format string, args []any, wrapped *[]error) []byte {
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+1 == len(format) {
			b = append(b, "%!(NOVERB)"...)
			continue
		}
		i++
		verb := format[i]
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		if next == len(args) {
			b = append(b, "%!"...)
			b = append(b, verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		arg := args[next]
		next++
		if verb == 'w' {
			if err, ok := arg.(error); ok && wrapped != nil {
				*wrapped = append(*wrapped, err)
			}
			verb = 'v'
		}
		b = appendValue(b, verb, arg)
	}
	if next < len(args) {
		b = append(b, "%!(EXTRA "...)
		for i, arg := range args[next:] {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendValue(b, 'v', arg)
		}
		b = append(b, ')')
	}
	return b
}

func appendValue(b []byte, verb byte, arg any) []byte {
	if verb == 'd' || verb == 'v' {
		if n, ok := integer(arg); ok {
			return append(b, n...)
		}
	}
	if verb == 'v' {
		switch x := arg.(type) {
		case nil:
			return append(b, "<nil>"...)
		case bool:
			return strconv.AppendBool(b, x)
		case []byte:
			b = append(b, '[')
			for i, c := range x {
				if i > 0 {
					b = append(b, ' ')
				}
				b = strconv.AppendUint(b, uint64(c), 10)
			}
			return append(b, ']')
		case float32:
			return strconv.AppendFloat(b, float64(x), 'g', -1, 32)
		case float64:
			return strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	if verb == 's' || verb == 'q' || verb == 'v' {
		if s, ok := text(arg); ok {
			if verb == 'q' {
				return strconv.AppendQuote(b, s)
			}
			return append(b, s...)
		}
	}
	b = append(b, "%!"...)
	return append(b, verb)
}

// integer formats the integer types that have no name of their own.
func integer(arg any) (string, bool) {
	switch x := arg.(type) {
	case int:
		return strconv.Itoa(x), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uintptr:
		return strconv.FormatUint(uint64(x), 10), true
	}
	return "", false
}

// text returns what %s prints for arg, as fmt does for these types.
func text(arg any) (string, bool) {
	switch x := arg.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case error:
		return x.Error(), true
	case interface{ String() string }:
		return x.String(), true
	}
	return "", false
}
