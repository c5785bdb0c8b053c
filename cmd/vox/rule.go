package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"vox/scenarios"
)

func newRuleCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "rule",
		Short: "List and change an application's routing rules",
		Long: `A rule sends a dialled number or user name that its pattern matches in full to
its scenarios, which run in order in one JS context; the first matching rule wins.
Rules are versioned with the scenarios: changing them stores a new release with
the latest release's files.`,
	}
	f.register(cmd.PersistentFlags())
	cmd.AddCommand(newRuleListCommand(&f), newRuleSetCommand(&f), newRuleDeleteCommand(&f))
	return cmd
}

func newRuleListCommand(f *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list APP",
		Short: "List the rules of the application's latest release, in the order they are tried",
		Args:  cobra.ExactArgs(1),
	}
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		set, err := c.Rules(ctx, args[0])
		if err != nil {
			return err
		}
		return f.output(out, set, func() {
			fmt.Fprintf(out, "rules of %s@%d, tried in order; the first whose pattern matches the whole destination wins\n", set.App, set.Release)
			t := table(out, "#", "RULE", "PATTERN", "SCENARIOS")
			for i, r := range set.Rules {
				t.row(i+1, r.Name, r.Pattern, strings.Join(r.Scenarios, ", "))
			}
			t.flush()
		})
	})
}

func newRuleSetCommand(f *clientFlags) *cobra.Command {
	var (
		at      int
		message string
	)
	cmd := &cobra.Command{
		Use:   "set APP NAME PATTERN SCENARIO...",
		Short: "Add a rule, or change the rule of that name, in a new release",
		Example: `  vox rule set crm sales '7495.*' incoming.js
  vox rule set crm office 'phone[0-9]+' --at 1 office.js`,
		Args: cobra.MinimumNArgs(4),
	}
	cmd.Flags().IntVar(&at, "at", 0, "put the rule at this position, 1 being tried first (default: where it was, or last)")
	cmd.Flags().StringVarP(&message, "message", "m", "", `what changed (default "rules changed")`)
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		app, rule := args[0], scenarios.Rule{Name: args[1], Pattern: args[2], Scenarios: args[3:]}
		set, err := c.Rules(ctx, app)
		if err != nil {
			return err
		}
		rules := set.Rules
		i := slices.IndexFunc(rules, func(r scenarios.Rule) bool { return r.Name == rule.Name })
		if i >= 0 {
			rules = slices.Delete(slices.Clone(rules), i, i+1)
		} else {
			i = len(rules)
		}
		if at != 0 {
			if at < 1 || at > len(rules)+1 {
				return usageError{fmt.Errorf("--at %d: want 1 to %d", at, len(rules)+1)}
			}
			i = at - 1
		}
		rules = slices.Insert(slices.Clone(rules), i, rule)
		return f.changeRules(ctx, c, out, set, rules, message)
	})
}

func newRuleDeleteCommand(f *clientFlags) *cobra.Command {
	var message string
	cmd := &cobra.Command{
		Use:   "delete APP NAME",
		Short: "Remove a rule in a new release",
		Args:  cobra.ExactArgs(2),
	}
	cmd.Flags().StringVarP(&message, "message", "m", "", `what changed (default "rules changed")`)
	return clientCommand(cmd, f, func(ctx context.Context, c *scenarios.Client, out io.Writer, args []string) error {
		set, err := c.Rules(ctx, args[0])
		if err != nil {
			return err
		}
		i := slices.IndexFunc(set.Rules, func(r scenarios.Rule) bool { return r.Name == args[1] })
		if i < 0 {
			return fmt.Errorf("%s@%d has no rule %q", set.App, set.Release, args[1])
		}
		return f.changeRules(ctx, c, out, set, slices.Delete(slices.Clone(set.Rules), i, i+1), message)
	})
}

func (f *clientFlags) changeRules(ctx context.Context, c *scenarios.Client, out io.Writer, was *scenarios.RuleSet, rules []scenarios.Rule, message string) error {
	res, err := c.SetRules(ctx, was.App, scenarios.RulesChange{Rules: rules, Author: defaultAuthor(), Message: message})
	if err != nil {
		return err
	}
	return f.output(out, res, func() {
		rel := res.Release
		if rel.Number == was.Release {
			fmt.Fprintf(out, "%s@%d already has these rules; nothing stored\n", rel.App, rel.Number)
			return
		}
		fmt.Fprintf(out, "%s@%d pushed: %s\n", rel.App, rel.Number, plural(len(rel.Rules), "rule"))
	})
}
