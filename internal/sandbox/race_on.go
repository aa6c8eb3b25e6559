//go:build race

package sandbox

// raceEnabled: the race detector reserves terabytes of shadow address
// space, so a race-enabled child cannot take an address-space limit.
const raceEnabled = true
