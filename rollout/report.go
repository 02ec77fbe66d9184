package rollout

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// plan is the dry run: the hosts SSM lists, in batches, and the exact
// commands. Nothing is sent to a host, so what each runs is unknown: every
// online host is planned, and a real run skips those already on the target.
func (r *run) plan(online []string) error {
	size := max(r.m.Deploy.MaxUnavailable-r.report.Unavailable, 0)
	r.report.Status = "planned"
	if size == 0 && len(online) > 0 {
		return &RefusedError{fmt.Sprintf("%d hosts are offline and deploy.max_unavailable is %d: taking one more down would exceed it", r.report.Unavailable, r.m.Deploy.MaxUnavailable)}
	}
	for start := 0; start < len(online); start += size {
		r.report.Batches = append(r.report.Batches, online[start:min(start+size, len(online))])
	}
	for _, h := range r.report.Hosts {
		if h.online {
			h.Result = ResultPlanned
		}
	}
	const (
		oldTag = "OLD"  // stands for the tag the survey finds
		height = 812345 // stands for the height the survey records
	)
	left := r.s.healthTimeout - r.s.healthTimeout/10
	r.report.Commands = []Command{
		{"survey (every online host, once)", r.s.survey()},
		{"switch and health gate (each batch)", r.s.switchTo(r.o.Target)},
		{"heights (the running hosts outside the batch, when a host answers \"ready\": no new block yet)", r.s.heights()},
		{fmt.Sprintf("the rest of the health gate (such a host; %d stands for its height before the switch, and for the best among the other hosts)", height), r.s.gate(r.o.Target, height, height, left)},
		{fmt.Sprintf("rollback and health gate (a host that failed the gate; %s stands for the tag the survey found)", oldTag), r.s.rollback(r.o.Target, oldTag, height)},
		{"unlock (every host sent a switch)", r.s.removeMarker()},
	}
	return nil
}

// WriteTable prints the final table: host, before → after, height, result;
// or, for a dry run, the plan.
func WriteTable(w io.Writer, rep *Report) error {
	if rep.DryRun {
		return writePlan(w, rep)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tINSTANCE\tBEFORE → AFTER\tHEIGHT\tRESULT")
	for _, h := range rep.Hosts {
		height := "-"
		if h.Height > 0 {
			height = fmt.Sprint(h.Height)
		}
		result := h.Result
		if h.Detail != "" && h.Result != ResultUpdated {
			result += ": " + h.Detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%s\n", or(h.Name, "-"), h.ID, or(h.Before, "-"), or(h.After, "-"), height, result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s %s: %s\n", rep.Coin, rep.Target, rep.Status)
	return err
}

func writePlan(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dry run: nothing is sent to any host\nrollout of %s to node@%s, at most %d hosts down at once (%d down already)\n",
		rep.Coin, rep.Target, rep.MaxUnavailable, rep.Unavailable)
	for _, h := range rep.Hosts {
		if h.Result == ResultOffline {
			fmt.Fprintf(&b, "  %s: offline (%s), left alone\n", h.label(), h.Detail)
		}
	}
	names := map[string]string{}
	for _, h := range rep.Hosts {
		names[h.ID] = h.label()
	}
	for i, batch := range rep.Batches {
		labels := make([]string, len(batch))
		for j, id := range batch {
			labels[j] = names[id]
		}
		fmt.Fprintf(&b, "batch %d: %s\n", i+1, strings.Join(labels, ", "))
	}
	b.WriteString("hosts already on the target are skipped; the survey decides\n")
	for _, c := range rep.Commands {
		fmt.Fprintf(&b, "\n# %s\n%s", c.Step, c.Script)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
