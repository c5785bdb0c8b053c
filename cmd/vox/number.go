package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"vox/controller"
)

func newSIPUserCommand() *cobra.Command {
	root := &cobra.Command{Use: "sipuser", Short: "SIP users of an account: the logins its phones register with (S7)"}
	root.AddCommand(sipUserList(), sipUserCreate(), sipUserPassword(), sipUserSetDisabled("disable", true), sipUserSetDisabled("enable", false))
	return root
}

func printSIPUser(f *ctrlFlags, out io.Writer, u controller.SIPUserView, what string) error {
	return f.output(out, u, func() {
		fmt.Fprintf(out, "%s SIP user %s of %s\n", what, u.Name, u.Account)
		if u.Password != "" {
			fmt.Fprintf(out, "password %s (shown once)\n", u.Password)
		}
	})
}

func sipUserList() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "list ACCOUNT", Short: "List an account's SIP users", Args: cobra.ExactArgs(1)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var res struct {
			Users []controller.SIPUserView `json:"sip_users"`
		}
		if err := c.Do(ctx, "GET", path("accounts", args[0], "sipusers"), nil, &res); err != nil {
			return err
		}
		return f.output(out, res, func() {
			t := table(out, "NAME", "STATE", "CREATED")
			for _, u := range res.Users {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				t.row(u.Name, state, u.Created.Format("2006-01-02 15:04:05Z07:00"))
			}
			t.flush()
		})
	})
}

func sipUserCreate() *cobra.Command {
	var f ctrlFlags
	var password string
	cmd := &cobra.Command{
		Use:     "create ACCOUNT NAME [--password PASSWORD]",
		Short:   "Make a SIP user; its password is printed once",
		Example: "  vox sipuser create demo phone69",
		Args:    cobra.ExactArgs(2),
	}
	cmd.Flags().StringVar(&password, "password", "", "its password (default: a random one)")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var u controller.SIPUserView
		if err := c.Do(ctx, "POST", path("accounts", args[0], "sipusers"), map[string]string{"name": args[1], "password": password}, &u); err != nil {
			return err
		}
		return printSIPUser(&f, out, u, "created")
	})
}

func sipUserPassword() *cobra.Command {
	var f ctrlFlags
	var password string
	cmd := &cobra.Command{
		Use:   "password ACCOUNT NAME [--password PASSWORD]",
		Short: "Give a SIP user a new password; its phones are unregistered at once",
		Args:  cobra.ExactArgs(2),
	}
	cmd.Flags().StringVar(&password, "password", "", "the new password (default: a random one)")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var u controller.SIPUserView
		if err := c.Do(ctx, "POST", path("accounts", args[0], "sipusers", args[1], "password"), map[string]string{"password": password}, &u); err != nil {
			return err
		}
		return printSIPUser(&f, out, u, "new password for")
	})
}

func sipUserSetDisabled(verb string, disable bool) *cobra.Command {
	var f ctrlFlags
	short := "Enable a disabled SIP user"
	if disable {
		short = "Disable a SIP user: refused from its next request, its phones unregistered at once"
	}
	cmd := &cobra.Command{Use: verb + " ACCOUNT NAME", Short: short, Args: cobra.ExactArgs(2)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var u controller.SIPUserView
		if err := c.Do(ctx, "POST", path("accounts", args[0], "sipusers", args[1], verb), nil, &u); err != nil {
			return err
		}
		return printSIPUser(&f, out, u, verb+"d")
	})
}

func newNumberCommand() *cobra.Command {
	root := &cobra.Command{Use: "number", Short: "Phone numbers: the inventory, renting, where their calls go, their settings (S6, S8)"}
	root.AddCommand(numberAvailable(), numberAdd(), numberList(), numberRent(), numberRelease(), numberAttach(), numberConfig())
	return root
}

func printNumbers(f *ctrlFlags, out io.Writer, list []controller.Number) error {
	return f.output(out, map[string]any{"numbers": list}, func() {
		t := table(out, "NUMBER", "COUNTRY", "FEE/MONTH", "ACCOUNT", "APP")
		for _, n := range list {
			t.row(n.Number, n.Country, n.MonthlyFee.String()+" "+n.Currency, n.Account, n.App)
		}
		t.flush()
	})
}

func numberAvailable() *cobra.Command {
	var f ctrlFlags
	var country, currency string
	cmd := &cobra.Command{
		Use:   "available [--country CC] [--currency CUR]",
		Short: "List free numbers to rent (a tenant sees those of its currency)",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().StringVar(&country, "country", "", "only this country's")
	cmd.Flags().StringVar(&currency, "currency", "", "only those rented in this currency")
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, _ []string) error {
		var res struct {
			Numbers []controller.Number `json:"numbers"`
		}
		q := url.Values{"country": {country}, "currency": {currency}}
		if err := c.Do(ctx, "GET", "/numbers?"+q.Encode(), nil, &res); err != nil {
			return err
		}
		return printNumbers(&f, out, res.Numbers)
	})
}

func numberAdd() *cobra.Command {
	var f ctrlFlags
	var n controller.Number
	var fee string
	cmd := &cobra.Command{
		Use:     "add NUMBER --country CC --currency CUR --fee AMOUNT",
		Short:   "Put a number in the inventory (operator)",
		Example: "  vox number add 74950000200 --country RU --currency RUB --fee 300",
		Args:    cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&n.Country, "country", "RU", "its country")
	cmd.Flags().StringVar(&n.Currency, "currency", "RUB", "the currency of its fee")
	cmd.Flags().StringVar(&fee, "fee", "0", "its monthly fee")
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var err error
		if n.MonthlyFee, err = controller.ParseAmount(fee); err != nil {
			return usageError{err}
		}
		n.Number = strings.TrimPrefix(args[0], "+")
		if err := c.Do(ctx, "POST", "/numbers", map[string]any{"numbers": []controller.Number{n}}, nil); err != nil {
			return err
		}
		return f.output(out, n, func() { fmt.Fprintf(out, "added %s to the inventory\n", n.Number) })
	})
}

func numberList() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "list ACCOUNT", Short: "List an account's numbers", Args: cobra.ExactArgs(1)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var res struct {
			Numbers []controller.Number `json:"numbers"`
		}
		if err := c.Do(ctx, "GET", path("accounts", args[0], "numbers"), nil, &res); err != nil {
			return err
		}
		return printNumbers(&f, out, res.Numbers)
	})
}

func numberRent() *cobra.Command {
	var f ctrlFlags
	var app string
	cmd := &cobra.Command{
		Use:     "rent ACCOUNT NUMBER [--app APP]",
		Short:   "Rent a free number to an account, paying this month's fee; its calls go to the account",
		Example: "  vox number rent demo 74950000100 --app demo",
		Args:    cobra.ExactArgs(2),
	}
	cmd.Flags().StringVar(&app, "app", "", "the application its calls run (default: the server's default)")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var n controller.Number
		if err := c.Do(ctx, "POST", path("accounts", args[0], "numbers"), map[string]string{"number": strings.TrimPrefix(args[1], "+"), "app": app}, &n); err != nil {
			return err
		}
		return f.output(out, n, func() {
			fmt.Fprintf(out, "%s rents %s (%s %s a month)\n", n.Account, n.Number, n.MonthlyFee, n.Currency)
		})
	})
}

func numberRelease() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "release ACCOUNT NUMBER", Short: "Give a rented number back; its settings are forgotten", Args: cobra.ExactArgs(2)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var res map[string]string
		if err := c.Do(ctx, "DELETE", path("accounts", args[0], "numbers", strings.TrimPrefix(args[1], "+")), nil, &res); err != nil {
			return err
		}
		return f.output(out, res, func() { fmt.Fprintf(out, "released %s\n", res["released"]) })
	})
}

func numberAttach() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "attach ACCOUNT NUMBER APP", Short: "Send a number's calls to an application", Args: cobra.ExactArgs(3)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var n controller.Number
		if err := c.Do(ctx, "PUT", path("accounts", args[0], "numbers", strings.TrimPrefix(args[1], "+"), "app"), map[string]string{"app": args[2]}, &n); err != nil {
			return err
		}
		return f.output(out, n, func() { fmt.Fprintf(out, "calls to %s run %s\n", n.Number, n.App) })
	})
}

func numberConfig() *cobra.Command {
	var f ctrlFlags
	var set string
	cmd := &cobra.Command{
		Use:   "config NUMBER [--set FILE] [--account ACCOUNT]",
		Short: "Show a rented number's settings JSON, or replace it with FILE's (- : standard input)",
		Long: `config prints the settings the number's scenario fetches (the standard
scenario's schema: scenarios/standard/README.md), or stores FILE's JSON object
as they are. The account is --account ($VOX_ACCOUNT), or with the admin token
the number's renter.`,
		Example: "  vox number config 74950000100 --set office.json\n  vox number config 74950000100 --json",
		Args:    cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&set, "set", "", "a file of settings to store")
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		number := strings.TrimPrefix(args[0], "+")
		account := f.account
		if account == "" {
			var res struct {
				Numbers []controller.Number `json:"numbers"`
			}
			if err := c.Do(ctx, "GET", "/numbers?all=true", nil, &res); err != nil {
				return err
			}
			for _, n := range res.Numbers {
				if n.Number == number {
					account = n.Account
				}
			}
			if account == "" {
				return fmt.Errorf("nobody rents %s", number)
			}
		}
		p := path("accounts", account, "numbers", number, "config")
		if set == "" {
			var cfg json.RawMessage
			if err := c.Do(ctx, "GET", p, nil, &cfg); err != nil {
				return err
			}
			return writeIndented(out, cfg)
		}
		var data []byte
		var err error
		if set == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(set)
		}
		if err != nil {
			return usageError{err}
		}
		if !json.Valid(data) {
			return usageError{fmt.Errorf("%s is not JSON", set)}
		}
		var stored json.RawMessage
		if err := c.Do(ctx, "PUT", p, json.RawMessage(data), &stored); err != nil {
			return err
		}
		if f.json {
			return writeIndented(out, stored)
		}
		fmt.Fprintf(out, "stored the settings of %s (%d bytes)\n", number, len(stored))
		return nil
	})
}

func writeIndented(out io.Writer, data json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(data), "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}

func newTariffCommand() *cobra.Command {
	root := &cobra.Command{Use: "tariff", Short: "Per-destination tariffs of a currency (S6)"}
	var fs, fset ctrlFlags
	show := &cobra.Command{Use: "show CURRENCY", Short: "List a currency's tariffs", Args: cobra.ExactArgs(1)}
	show = ctrlCommand(show, &fs, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var res struct {
			Currency string              `json:"currency"`
			Tariffs  []controller.Tariff `json:"tariffs"`
		}
		if err := c.Do(ctx, "GET", path("tariffs", args[0]), nil, &res); err != nil {
			return err
		}
		return fs.output(out, res, func() {
			t := table(out, "PREFIX", "NAME", "PER MINUTE", "INCREMENT", "CONNECTION")
			for _, tr := range res.Tariffs {
				prefix := tr.Prefix
				if prefix == "" {
					prefix = "(any)"
				}
				t.row(prefix, tr.Name, tr.PerMinute, fmt.Sprintf("%ds", tr.Increment), tr.ConnectionFee)
			}
			t.flush()
		})
	})
	set := &cobra.Command{
		Use:   "set CURRENCY FILE",
		Short: "Replace a currency's tariffs with FILE's JSON list (operator)",
		Example: `  echo '[{"prefix":"7","per_minute":"1.50","increment":60}]' > rub.json
  vox tariff set RUB rub.json`,
		Args: cobra.ExactArgs(2),
	}
	set = ctrlCommand(set, &fset, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		data, err := os.ReadFile(args[1])
		if err != nil {
			return usageError{err}
		}
		var list []controller.Tariff
		if err := json.Unmarshal(data, &list); err != nil {
			return usageError{fmt.Errorf("%s: %w", args[1], err)}
		}
		if err := c.Do(ctx, "PUT", path("tariffs", args[0]), map[string]any{"tariffs": list}, nil); err != nil {
			return err
		}
		return fset.output(out, list, func() { fmt.Fprintf(out, "%d tariffs of %s stored\n", len(list), args[0]) })
	})
	root.AddCommand(show, set)
	return root
}
