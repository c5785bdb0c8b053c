package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"vox/controller"
	"vox/controller/signature"
)

// The controller's commands (vox account, vox sipuser, vox number) speak its
// API. With a tenant's licence key (--key or $VOX_KEY) they sign each
// request as the tenant, as a portal does (S9); without, they use the
// operator's admin token like the scenario commands.

// ctrlFlags are the flags of every controller command.
type ctrlFlags struct {
	clientFlags
	key, account string
	md5          bool
}

func (f *ctrlFlags) register(fl *pflag.FlagSet) {
	f.clientFlags.register(fl)
	fl.StringVar(&f.key, "key", os.Getenv("VOX_KEY"), "sign as the tenant with its licence key ($VOX_KEY) instead of using the admin token")
	fl.StringVar(&f.account, "account", os.Getenv("VOX_ACCOUNT"), "the tenant --key signs as ($VOX_ACCOUNT; default: the command's ACCOUNT)")
	fl.BoolVar(&f.md5, "md5", false, "sign with the seed's older MD5 scheme (weaker; the account must allow it)")
}

// ctrlClient connects as the tenant account when a key was given, else as
// the operator.
func (f *ctrlFlags) ctrlClient(cmd *cobra.Command, account string) (*controller.Client, error) {
	if f.key != "" {
		if account == "" {
			return nil, usageError{errors.New("--key signs as a tenant: name it with --account ACCOUNT (or $VOX_ACCOUNT)")}
		}
		scheme := signature.HMACSHA256
		if f.md5 {
			scheme = signature.LegacyMD5
		}
		return controller.NewClient(f.server, "", nil).AsTenant(account, []byte(f.key), scheme), nil
	}
	token, err := f.adminToken(cmd)
	if err != nil {
		return nil, err
	}
	return controller.NewClient(f.server, token, nil), nil
}

// argAccount says a command's tenant is its argument i; noAccount that it
// has none (the operator's commands).
func argAccount(i int) func([]string) string {
	return func(args []string) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
}

func noAccount([]string) string { return "" }

// ctrlCommand builds a command that talks to the controller: run gets a
// client signed for the account accountOf finds, and a deadline.
func ctrlCommand(cmd *cobra.Command, f *ctrlFlags, accountOf func(args []string) string, run func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error) *cobra.Command {
	f.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		account := f.account
		if account == "" {
			account = accountOf(args)
		}
		c, err := f.ctrlClient(cmd, account)
		if err != nil {
			return err
		}
		ctx, cancel := requestContext(cmd)
		defer cancel()
		err = run(ctx, c, cmd.OutOrStdout(), args)
		var apiErr *controller.APIError
		var urlErr *url.Error
		switch {
		case errors.As(err, &apiErr):
			fmt.Fprintf(cmd.ErrOrStderr(), "vox: %s (%s)\n", apiErr.Message, apiErr.Code)
			return exitError{exitFailed}
		case errors.As(err, &urlErr):
			return fmt.Errorf("cannot reach the vox server at %s (is vox serve running? --server, $VOX_SERVER): %v", c.BaseURL(), urlErr.Err)
		}
		return err
	}
	return cmd
}

func path(parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/" + strings.Join(parts, "/")
}

func newAccountCommand() *cobra.Command {
	root := &cobra.Command{Use: "account", Short: "Tenants' accounts of the telephony controller: create, list, show, top up, export, import"}
	root.AddCommand(accountCreate(), accountList(), accountShow(), accountTopUp(), accountLedger(), accountCredentials(), accountRotateKey(), accountLimits(), accountExport(), accountImport())
	return root
}

func accountCreate() *cobra.Command {
	var f ctrlFlags
	var n controller.NewAccount
	cmd := &cobra.Command{
		Use:     "create ACCOUNT --currency CUR [--country CC] [--licence-key KEY]",
		Short:   "Create a tenant's account under the master account of its currency (operator)",
		Example: "  vox account create acme --currency RUB --country RU",
		Args:    cobra.ExactArgs(1),
	}
	fl := cmd.Flags()
	fl.StringVar(&n.Currency, "currency", "RUB", "the account's currency")
	fl.StringVar(&n.Country, "country", "", "how its people write numbers (default: the currency's country)")
	fl.StringVar(&n.Key, "licence-key", "", "its licence key (default: a random one, printed)")
	fl.BoolVar(&n.LegacyMD5, "legacy-md5", false, "also accept the seed's weaker MD5 signatures from it")
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		n.ID = args[0]
		var made struct {
			controller.AccountView
			Key string `json:"key"`
		}
		if err := c.Do(ctx, "POST", "/accounts", n, &made); err != nil {
			return err
		}
		return f.output(out, made, func() {
			fmt.Fprintf(out, "created account %s in %s under %s\nlicence key: %s (give it to the portal; it signs the tenant's requests)\n", made.ID, made.Currency, made.Master, made.Key)
		})
	})
}

func accountList() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "list", Short: "List the accounts (a tenant signing sees only its own)", Args: cobra.NoArgs}
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, _ []string) error {
		all := []controller.AccountView{}
		after := ""
		for {
			var page struct {
				Accounts []controller.AccountView `json:"accounts"`
				Next     string                   `json:"next"`
			}
			if err := c.Do(ctx, "GET", "/accounts?limit=1000&after="+url.QueryEscape(after), nil, &page); err != nil {
				return err
			}
			all = append(all, page.Accounts...)
			if after = page.Next; after == "" {
				break
			}
		}
		return f.output(out, map[string]any{"accounts": all}, func() {
			t := table(out, "ACCOUNT", "CURRENCY", "MASTER", "BALANCE")
			for _, a := range all {
				master := a.Master
				if a.IsMaster {
					master = "(master)"
				}
				t.row(a.ID, a.Currency, master, a.Balance)
			}
			t.flush()
		})
	})
}

func accountShow() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "show ACCOUNT", Short: "Show an account, its balance and limits", Args: cobra.ExactArgs(1)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		if strings.HasPrefix(args[0], "master-") {
			var m controller.MasterSummary
			if err := c.Do(ctx, "GET", path("accounts", args[0]), nil, &m); err != nil {
				return err
			}
			return f.output(out, m, func() {
				fmt.Fprintf(out, "master account %s (%s): %d tenants, holding %s %s\n", m.ID, m.Currency, m.Children, m.Balance, m.Currency)
			})
		}
		var a controller.AccountView
		if err := c.Do(ctx, "GET", path("accounts", args[0]), nil, &a); err != nil {
			return err
		}
		return f.output(out, a, func() {
			fmt.Fprintf(out, "account   %s (under %s)\ncurrency  %s\ncountry   %s\nbalance   %s %s\ncreated   %s\n", a.ID, a.Master, a.Currency, a.Country, a.Balance, a.Currency, a.Created.Format("2006-01-02 15:04:05Z07:00"))
			allowed := "any with a tariff"
			if len(a.Limits.AllowedPrefixes) > 0 {
				allowed = strings.Join(a.Limits.AllowedPrefixes, ", ")
			}
			fmt.Fprintf(out, "limits    %d concurrent calls, %s per call at most, destinations: %s\n", a.Limits.MaxConcurrentCalls, a.Limits.MaxCostPerCall, allowed)
			if a.LegacyMD5 {
				fmt.Fprintln(out, "signing   also the seed's MD5 scheme (weaker)")
			}
		})
	})
}

func accountTopUp() *cobra.Command {
	var f ctrlFlags
	var key, note string
	cmd := &cobra.Command{
		Use:   "topup ACCOUNT AMOUNT [--idempotency-key KEY]",
		Short: "Credit an account; the same key again credits nothing more",
		Long: `topup credits AMOUNT (a decimal: 100, 12.50) to ACCOUNT. Every top-up has an
idempotency key: repeat a top-up that may have failed with the key it printed,
and it is credited at most once.`,
		Example: "  vox account topup acme 500 --idempotency-key invoice-2041",
		Args:    cobra.ExactArgs(2),
	}
	cmd.Flags().StringVar(&key, "idempotency-key", "", "the top-up's key (default: a new one, printed)")
	cmd.Flags().StringVar(&note, "note", "", "a note kept with the entry")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		amount, err := controller.ParseAmount(args[1])
		if err != nil {
			return usageError{err}
		}
		if key == "" {
			key = strings.ToLower(rand.Text())
		}
		var e controller.Entry
		if err := c.Do(ctx, "POST", path("accounts", args[0], "topups"), controller.TopUpRequest{Amount: amount, IdempotencyKey: key, Note: note}, &e); err != nil {
			return err
		}
		return f.output(out, e, func() {
			fmt.Fprintf(out, "credited %s to %s: balance %s (entry %d, idempotency key %s)\n", e.Amount, args[0], e.Balance, e.Seq, key)
		})
	})
}

func accountLedger() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{Use: "ledger ACCOUNT", Short: "List an account's ledger: every change of its balance", Args: cobra.ExactArgs(1)}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		all := []controller.Entry{}
		after := uint64(0)
		for {
			var page struct {
				Entries []controller.Entry `json:"entries"`
				Next    uint64             `json:"next"`
			}
			if err := c.Do(ctx, "GET", fmt.Sprintf("%s?limit=1000&after=%d", path("accounts", args[0], "ledger"), after), nil, &page); err != nil {
				return err
			}
			all = append(all, page.Entries...)
			if after = page.Next; after == 0 {
				break
			}
		}
		return f.output(out, map[string]any{"entries": all}, func() {
			t := table(out, "SEQ", "AT", "KIND", "AMOUNT", "BALANCE", "DETAIL")
			for _, e := range all {
				detail := e.Note
				if e.Call != "" {
					detail = fmt.Sprintf("call %s to %s, %ds", e.Call, e.Destination, e.Seconds)
				}
				t.row(e.Seq, e.At.Format("2006-01-02 15:04:05Z07:00"), e.Kind, e.Amount, e.Balance, detail)
			}
			t.flush()
		})
	})
}

func accountCredentials() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{
		Use:   "credentials ACCOUNT",
		Short: "A tenant's first use: create its account if its licence allows, and get its SIP login (S4)",
		Long: `credentials is what a portal calls when a customer turns telephony on: the
account, its first SIP user and its scenario placement are made if missing
(the licence decides), and the SIP login is returned; its password only when
it was made now.`,
		Example: "  VOX_KEY=$(jq -r '.licences[0].key' vox-data/licences.json) vox account credentials demo",
		Args:    cobra.ExactArgs(1),
	}
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var creds struct {
			controller.Credentials
			Registrar string `json:"registrar"`
		}
		var body any
		if f.key == "" {
			body = map[string]string{"account": args[0]}
		}
		if err := c.Do(ctx, "POST", "/credentials", body, &creds); err != nil {
			return err
		}
		return f.output(out, creds, func() {
			if creds.Created {
				fmt.Fprintf(out, "created account %s\n", creds.Account)
			}
			fmt.Fprintf(out, "SIP user %s at %s\n", creds.SIPUser, creds.Registrar)
			if creds.Password != "" {
				fmt.Fprintf(out, "password %s (shown once)\n", creds.Password)
			}
		})
	})
}

func accountRotateKey() *cobra.Command {
	var f ctrlFlags
	var key string
	cmd := &cobra.Command{
		Use:   "rotate-key ACCOUNT [--licence-key KEY]",
		Short: "Give an account a new licence key; the old one stays valid until the next rotation",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&key, "licence-key", "", "the new key (default: a random one)")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var res map[string]string
		if err := c.Do(ctx, "POST", path("accounts", args[0], "keys"), map[string]string{"key": key}, &res); err != nil {
			return err
		}
		return f.output(out, res, func() {
			fmt.Fprintf(out, "new licence key of %s: %s\nthe previous key stays valid until the next rotation\n", args[0], res["key"])
		})
	})
}

func accountLimits() *cobra.Command {
	var f ctrlFlags
	var (
		maxCalls int
		maxCost  string
		allow    []string
	)
	cmd := &cobra.Command{
		Use:     "limits ACCOUNT --max-calls N --max-cost AMOUNT [--allow PREFIX,...]",
		Short:   "Set an account's limits against toll fraud",
		Example: "  vox account limits acme --max-calls 5 --max-cost 300 --allow 7",
		Args:    cobra.ExactArgs(1),
	}
	cmd.Flags().IntVar(&maxCalls, "max-calls", controller.DefaultLimits.MaxConcurrentCalls, "concurrent PSTN calls at most")
	cmd.Flags().StringVar(&maxCost, "max-cost", controller.DefaultLimits.MaxCostPerCall.String(), "cost of one call at most (0: no cap)")
	cmd.Flags().StringSliceVar(&allow, "allow", nil, "number prefixes calls may go to (default: any with a tariff)")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		cost, err := controller.ParseAmount(maxCost)
		if err != nil {
			return usageError{err}
		}
		limits := controller.Limits{MaxConcurrentCalls: maxCalls, MaxCostPerCall: cost, AllowedPrefixes: allow}
		var a controller.AccountView
		if err := c.Do(ctx, "PATCH", path("accounts", args[0]), controller.AccountChange{Limits: &limits}, &a); err != nil {
			return err
		}
		return f.output(out, a, func() { fmt.Fprintf(out, "limits of %s changed\n", a.ID) })
	})
}

func accountExport() *cobra.Command {
	var f ctrlFlags
	var file string
	cmd := &cobra.Command{
		Use:     "export ACCOUNT [-o FILE]",
		Short:   "Write the whole of an account as one JSON document, for vox account import on another server (S15)",
		Example: "  vox account export acme -o acme.json",
		Args:    cobra.ExactArgs(1),
	}
	cmd.Flags().StringVarP(&file, "output", "o", "", "the file to write (default: standard output)")
	return ctrlCommand(cmd, &f, argAccount(0), func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		var doc json.RawMessage
		if err := c.Do(ctx, "GET", path("accounts", args[0], "export"), nil, &doc); err != nil {
			return err
		}
		if file == "" {
			_, err := out.Write(doc)
			return err
		}
		if err := os.WriteFile(file, doc, 0o600); err != nil {
			return err
		}
		if !f.json {
			fmt.Fprintf(out, "exported %s to %s\n", args[0], file)
		}
		return nil
	})
}

func accountImport() *cobra.Command {
	var f ctrlFlags
	cmd := &cobra.Command{
		Use:     "import FILE",
		Short:   "Store an account exported from another server (operator)",
		Example: "  vox account import acme.json --server http://onprem:8080",
		Args:    cobra.ExactArgs(1),
	}
	return ctrlCommand(cmd, &f, noAccount, func(ctx context.Context, c *controller.Client, out io.Writer, args []string) error {
		doc, err := os.ReadFile(args[0])
		if err != nil {
			return usageError{err}
		}
		if !json.Valid(doc) {
			return usageError{fmt.Errorf("%s is not JSON", args[0])}
		}
		var res controller.ImportResult
		if err := c.Do(ctx, "POST", "/import", json.RawMessage(doc), &res); err != nil {
			return err
		}
		return f.output(out, res, func() {
			fmt.Fprintf(out, "imported %s: %d SIP users, %d numbers, %d ledger entries, balance %s; sections %s\n",
				res.Account, res.SIPUsers, res.Numbers, res.Entries, res.Balance, strings.Join(res.Sections, ", "))
			if len(res.Skipped) > 0 {
				fmt.Fprintf(out, "skipped sections this server does not keep: %s\n", strings.Join(res.Skipped, ", "))
			}
		})
	})
}
