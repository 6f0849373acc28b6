//go:build !wasip1

package guest

import (
	"fmt"
	"os"

	"github.com/wasmpool/wasmpool/abi"
)

func logMessage(level abi.LogLevel, msg string) {
	fmt.Fprintf(os.Stderr, "guest %s: %s\n", level, msg)
}
