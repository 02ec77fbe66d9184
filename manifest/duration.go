package manifest

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as Go duration text ("10m", "48h").
type Duration time.Duration

// String prints the shortest form that parses back, e.g. "10m" not "10m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	for _, unit := range []string{"h0m0s", "m0s"} {
		if len(s) > len(unit) && s[len(s)-len(unit):] == unit {
			return s[:len(s)-len(unit)+1]
		}
	}
	return s
}

// Seconds is the duration in whole seconds, as systemd and docker want it.
func (d Duration) Seconds() int64 { return int64(time.Duration(d) / time.Second) }

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 90s, 10m or 48h", excerpt(s))
	}
	return Duration(d), nil
}
