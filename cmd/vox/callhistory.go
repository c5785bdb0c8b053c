package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"vox/controller"
	"vox/controller/history"
)

// vox calls and vox logs read the call history and the calls' session logs
// from vox serve (S5, S13, S21), as the operator or, with --key, as the
// tenant.

func newCallsCommand() *cobra.Command {
	var f ctrlFlags
	var since, until, status, direction, number, cursor, stats string
	var limit int
	var csv bool
	cmd := &cobra.Command{
		Use:   "calls ACCOUNT [--from DATE] [--to DATE] [--status S] [--direction D] [--number N] [--csv | --stats day|month]",
		Short: "List an account's finished calls, newest first; export them as CSV; or sum them per day or month",
		Example: `  vox calls demo
  vox calls demo --from 2026-11-01 --to 2026-12-01 --status answered --json
  vox calls demo --csv > calls.csv
  vox calls demo --stats month`,
		Args: cobra.ExactArgs(1),
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "from", "", "calls that started on or after this date (2026-11-26) or time (RFC 3339)")
	fl.StringVar(&until, "to", "", "calls that started before this date or time")
	fl.StringVar(&status, "status", "", "answered, busy, no-answer, rejected or failed")
	fl.StringVar(&direction, "direction", "", "incoming or outgoing")
	fl.StringVar(&number, "number", "", "calls from or to this number (international digits)")
	fl.IntVar(&limit, "limit", 50, "calls per page")
	fl.StringVar(&cursor, "cursor", "", "the page after this cursor (printed under the previous page)")
	fl.BoolVar(&csv, "csv", false, "print every matching call as CSV")
	fl.StringVar(&stats, "stats", "", "print totals per day or month instead of calls")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		q := url.Values{}
		for k, v := range map[string]string{"since": since, "until": until, "status": status, "direction": direction, "number": number} {
			if v != "" {
				q.Set(k, v)
			}
		}
		base := path("accounts", args[0], "calls")
		switch {
		case csv && stats != "":
			return usageError{errors.New("--csv and --stats: choose one")}
		case stats != "":
			q.Set("period", stats)
			var got struct {
				Period string           `json:"period"`
				Totals []history.Totals `json:"totals"`
			}
			if err := c.Do(ctx, "GET", base+"/stats?"+q.Encode(), nil, &got); err != nil {
				return err
			}
			return f.output(out, got, func() {
				t := table(out, "PERIOD", "CALLS", "ANSWERED", "MINUTES", "COST")
				for _, p := range got.Totals {
					t.row(p.Period, p.Calls, p.Answered, fmt.Sprintf("%.1f", float64(p.Seconds)/60), history.FormatCost(p.Cost))
				}
				t.flush()
			})
		case csv:
			q.Set("format", "csv")
			var raw json.RawMessage
			if err := c.Do(ctx, "GET", base+"?"+q.Encode(), nil, &raw); err != nil {
				return err
			}
			_, err := out.Write(raw)
			return err
		}
		q.Set("limit", fmt.Sprint(limit))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Calls []history.Record `json:"calls"`
			Next  string           `json:"next"`
		}
		if err := c.Do(ctx, "GET", base+"?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		return f.output(out, page, func() {
			if len(page.Calls) == 0 {
				fmt.Fprintln(out, "no calls")
				return
			}
			t := table(out, "START", "DIRECTION", "FROM", "TO", "TALK", "STATUS", "CODE", "COST", "CALL")
			for _, r := range page.Calls {
				t.row(formatTime(r.Start), r.Direction, r.From, r.To, (time.Duration(r.Duration) * time.Second).String(), r.Status, r.Code, history.FormatCost(r.Cost), r.CallID)
			}
			t.flush()
			if page.Next != "" {
				fmt.Fprintf(out, "more: vox calls %s --cursor %s\n", args[0], page.Next)
			}
		})
	})
}

func newLogsCommand() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{
		Use:   "logs CALL_ID",
		Short: "Print a call's session log (S13): events sent to the scenario, commands, the scenario's lines",
		Long: `logs prints the session log of a finished or running call, found by its
call id (the CALL column of vox calls). The operator finds any call; a tenant
signing with --key reads only its own. Logs are kept for vox serve's
--log-retention.`,
		Example: "  vox logs 4ttp6h2v5tsovj2ebrdnsuv3gu\n  vox logs 4ttp6h2v5tsovj2ebrdnsuv3gu --account acme --key $KEY",
		Args:    cobra.ExactArgs(1),
	}
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		p := path("calls", args[0], "log")
		if f.key != "" {
			p = path("accounts", f.account, "calls", args[0], "log")
		}
		var raw json.RawMessage
		if err := c.Do(ctx, "GET", p, nil, &raw); err != nil {
			return err
		}
		_, err := out.Write(raw)
		return err
	})
}
