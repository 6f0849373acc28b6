//go:build !linux

package probe

// Env is the environment variable that turns the probe on; outside Linux
// there are no workers to probe.
const Env = "WASMPOOL_TEST_PROBE"

// Garble is the value of Env that makes workers break the protocol.
const Garble = "garble"

// BadRequest is the value of Env that makes workers send a malformed
// request.
const BadRequest = "badrequest"

// BadItem is the value of Env that makes workers send a malformed item
// outcome.
const BadItem = "baditem"

// SkipItem and EarlyResult are values of Env that make workers answer
// merged calls wrongly.
const (
	SkipItem    = "skipitem"
	EarlyResult = "earlyresult"
)
