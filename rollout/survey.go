package rollout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// survey is what one host answered to the survey command.
type surveyed struct {
	now       int64 // the host's clock
	units     []string
	height    int64
	heightErr string
	marker    markerLine
}

// markerLine is /var/lib/coinpipe/<coin>.rollout: "<unix> <target> <who>".
type markerLine struct {
	present     bool
	unix        int64
	target, who string
	age         time.Duration
}

var errNoNow = errors.New("the survey has no now= line")

// parseSurvey reads the survey's key=value lines.
func parseSurvey(out string) (surveyed, error) {
	var s surveyed
	hasNow := false
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimRight(line, "\r")
		// systemctl list-units --plain --no-legend: node@31.0.service loaded active running …
		if unit, _, _ := strings.Cut(line, " "); strings.HasPrefix(unit, "node@") && strings.HasSuffix(unit, ".service") {
			if tag := strings.TrimSuffix(strings.TrimPrefix(unit, "node@"), ".service"); tag != "" {
				s.units = append(s.units, tag)
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case keyNow:
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return s, fmt.Errorf("the host's clock answered %q", value)
			}
			s.now, hasNow = n, true
		case keyHeight:
			n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			if err != nil || n < 0 {
				s.heightErr = fmt.Sprintf("the height answered %q", value)
				continue
			}
			s.height = n
		case keyHeightError:
			s.heightErr = strings.TrimSpace(value)
			if s.heightErr == "" {
				s.heightErr = "the height command failed"
			}
		case keyMarker:
			f := strings.SplitN(value, " ", 3)
			if len(f) < 3 {
				// Unreadable: held by someone, age unknown.
				s.marker = markerLine{present: true, who: "an unknown rollout (marker " + strconv.Quote(value) + ")"}
				continue
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				s.marker = markerLine{present: true, who: "an unknown rollout (marker " + strconv.Quote(value) + ")"}
				continue
			}
			s.marker = markerLine{present: true, unix: n, target: f[1], who: f[2]}
		}
	}
	if s.marker.present && !hasNow {
		return s, errNoNow
	}
	if s.marker.present && s.marker.unix == 0 {
		// No time to compare: treat it as just written.
		s.marker.unix = s.now
	}
	return s, nil
}
