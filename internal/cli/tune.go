package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tcpdash/tcpdash/internal/diagnose"
	"github.com/tcpdash/tcpdash/internal/termsafe"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
	"github.com/tcpdash/tcpdash/tuning"
)

type tuneConfig struct {
	yes bool
	tuneFiles
	sub   string
	args  []string
	netns NetnsChoice
}

func parseTuneFlags(args []string) (tuneConfig, error) {
	var cfg tuneConfig
	fs := flag.NewFlagSet("tcpdash tune", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&cfg.yes, "yes", false, "")
	cfg.tuneFiles.register(fs)
	registerNetns(fs, &cfg.netns)
	// Flags may come before, between or after the words.
	var words []string
	for {
		if err := parseSet(fs, args, cmdTune); err != nil {
			return cfg, err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(words) > 0 {
		cfg.sub, cfg.args = words[0], words[1:]
	}
	switch cfg.sub {
	case "", "undo", "persist", "discard":
		if len(cfg.args) > 0 {
			return cfg, usageFor(cmdTune, "unexpected argument %q after %q", cfg.args[0], "tune "+cfg.sub)
		}
	case "set":
		if len(cfg.args) == 0 {
			return cfg, usageFor(cmdTune, "tune set needs KEY=VALUE, such as net.ipv4.tcp_tw_reuse=1")
		}
	default:
		return cfg, usageFor(cmdTune, "unknown tune command %q: use set, undo, persist or discard", cfg.sub)
	}
	return cfg, nil
}

func runTune(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseTuneFlags(args)
	if err != nil {
		return helpOr(err, cmdTune, stdout)
	}
	w, err := openWatched(cfg.netns)
	if err != nil {
		return err
	}
	defer w.Close()
	sys := cfg.tuneFiles.system(w)
	switch cfg.sub {
	case "":
		return tuneShow(ctx, sys, w, stdout)
	case "set":
		var as []tuning.Assignment
		for _, a := range cfg.args {
			x, err := tuning.ParseAssignment(a)
			if err != nil {
				return err
			}
			as = append(as, x)
		}
		plan, err := sys.Plan(as)
		if err != nil {
			return err
		}
		return confirmAndApply(cfg, w, sys, plan, "apply", sys.Apply, stdin, stdout)
	case "undo":
		plan, err := sys.PlanUndo()
		if err != nil {
			return err
		}
		if len(plan.Changes) == 0 {
			// An interrupted batch whose keys are all back: only the
			// record is left to clear.
			if err := sys.Undo(plan); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "every value is already as before the batch; its record is cleared")
			return nil
		}
		return confirmAndApply(cfg, w, sys, plan, "undo", sys.Undo, stdin, stdout)
	case "discard":
		if cfg.readOnly {
			return errors.New("--read-only: nothing discarded")
		}
		desc, err := sys.PlanDiscard()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "The record holds: %s\nNothing will be restored: the record is removed, and the removal audited.\n", termsafe.String(desc))
		if err := confirm(cfg, "Discard this record?", stdin, stdout); err != nil {
			return err
		}
		if err := sys.Discard(); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "discarded; no sysctl changed")
		return nil
	case "persist":
		if cfg.readOnly {
			return errors.New("--read-only: nothing written")
		}
		pp, err := sys.PlanPersist(cfg.file)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s will read:\n\n%s\n", termsafe.String(pp.Path), indentText(pp.New))
		if err := confirm(cfg, "Write "+termsafe.String(pp.Path)+"?", stdin, stdout); err != nil {
			return err
		}
		if err := sys.Persist(pp); err != nil {
			return err
		}
		path := termsafe.String(pp.Path)
		fmt.Fprintf(stdout, "wrote %s; systemd-sysctl applies it at boot (now: sysctl -p %s)\n", path, path)
		return nil
	}
	return nil
}

func confirmAndApply(cfg tuneConfig, w *watch.Namespace, sys *tuning.System, plan tuning.Plan, verb string,
	apply func(tuning.Plan) error, stdin io.Reader, stdout io.Writer) error {
	if len(plan.Changes) == 0 {
		fmt.Fprintln(stdout, "nothing to change: every value is already as asked")
		return nil
	}
	if cfg.readOnly {
		return errors.New("--read-only: nothing changed")
	}
	if err := sys.CanWrite(); err != nil {
		return hinted{err, "run as root (sudo), or inside a network namespace you own"}
	}
	fmt.Fprintf(stdout, "To %s in network namespace %s:\n", verb, termsafe.String(w.Describe()))
	if cfg.noUndo && (cfg.stateFile == "" || cfg.auditLog == "") {
		fmt.Fprintln(stdout, "  (--no-undo: this change is not recorded; tcpdash tune undo cannot restore it)")
	}
	for _, c := range plan.Changes {
		fmt.Fprintf(stdout, "  %s\n", termsafe.String(c.String()))
		for _, w := range c.Warnings {
			fmt.Fprintf(stdout, "    ! %s\n", termsafe.String(w))
		}
	}
	if err := confirm(cfg, strings.ToUpper(verb[:1])+verb[1:]+" these changes?", stdin, stdout); err != nil {
		return err
	}
	if err := apply(plan); err != nil {
		return err
	}
	settings, err := sys.Settings()
	if err != nil {
		return err
	}
	for _, c := range plan.Changes {
		for _, s := range settings {
			if s.Key == c.Key {
				fmt.Fprintf(stdout, "%s = %s (read back)\n", s.Key, termsafe.String(s.Value))
			}
		}
	}
	if verb == "apply" {
		if w.Handle != nil {
			// The hint carries the flag undo needs; persisting belongs to
			// the container's spec (tune persist says so).
			fmt.Fprintf(stdout, "undo with: tcpdash tune undo --netns %s\n", shellQuote(cfg.netns.what))
		} else {
			fmt.Fprintln(stdout, "undo with: tcpdash tune undo; keep across reboots with: tcpdash tune persist")
		}
	}
	return nil
}

// confirm asks y/N on a terminal; the default is No. Without a terminal
// only --yes confirms.
func confirm(cfg tuneConfig, question string, stdin io.Reader, stdout io.Writer) error {
	if cfg.yes {
		return nil
	}
	if f, ok := stdin.(*os.File); !ok || !isTerminal(f) {
		return hinted{errors.New("not changing anything without confirmation: stdin is not a terminal"),
			"add --yes to confirm from a script"}
	}
	fmt.Fprintf(stdout, "%s [y/N] ", question)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("not confirmed: nothing changed")
	}
	return nil
}

// tuneShow prints every tunable with what it does on this kernel, and
// advice drawn from one second of live data.
func tuneShow(ctx context.Context, sys *tuning.System, ns *watch.Namespace, w io.Writer) error {
	settings, err := sys.Settings()
	if err != nil {
		return err
	}
	if msg, _ := sys.Interrupted(); msg != "" {
		fmt.Fprintf(w, "! %s\n\n", termsafe.String(msg))
	}
	col, err := tcpinfo.NewCollector(tcpinfo.Options{Top: 1000, Namespace: ns.CollectorNamespace()})
	if err != nil {
		return err
	}
	defer col.Close()
	// LISTEN ports, so that a wider port range can steer clear of them;
	// two snapshots a second apart, to see what is rising.
	q := tcpinfo.Query{State: tcpinfo.Listen}
	prev, err := col.Collect(q)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	now, err := col.Collect(q)
	if err != nil {
		return err
	}
	_, recs := diagnose.Advise(now, prev, settings)
	recommended := map[string]string{}
	for _, r := range recs {
		if r.Key != "" {
			recommended[r.Key] = r.Value
		}
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tDEFAULT\tSCOPE\tRECOMMENDED")
	for _, s := range settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Key, termsafe.String(settingValue(s)), s.Default, s.Scope, orDash(recommended[s.Key], s))
	}
	tw.Flush()
	// Explanations wrap to the terminal (80 columns when not one).
	width := terminalWidth(w)
	fmt.Fprintln(w, "\nWhat they do on this kernel:")
	for _, s := range settings {
		fmt.Fprintf(w, "  %s\n%s\n", s.Key, wrapText(explainSetting(s), width, "      "))
	}
	fmt.Fprintln(w, "\nRecommendations, from one second of live data:")
	if len(recs) == 0 {
		fmt.Fprintln(w, "  none: nothing here needs a sysctl change")
	}
	for _, r := range recs {
		if r.Key == "" {
			fmt.Fprintf(w, "%s\n", wrapText("(no sysctl) "+termsafe.String(r.Reason), width, "  "))
			continue
		}
		fmt.Fprintf(w, "  %s=%s\n%s\n", r.Key, r.Value, wrapText(termsafe.String(r.Reason), width, "      "))
	}
	return nil
}

func settingValue(s tuning.Setting) string {
	switch {
	case s.Exists && s.Value == "":
		return "(empty)"
	case s.Exists:
		return s.Value
	case s.Removed != "":
		return "(removed)"
	case s.Scope == tuning.Global:
		return "(host only)"
	}
	return "(absent)"
}

func orDash(v string, s tuning.Setting) string {
	switch {
	case s.Removed != "":
		return "never"
	case v == "":
		return "-"
	}
	return v
}

// explainSetting is the tunable's facts, qualified by what this kernel
// has.
func explainSetting(s tuning.Setting) string {
	switch {
	case s.Removed != "" && s.Exists:
		return s.Does + " This kernel still has it (value " + s.Value + "): leave it at 0."
	case s.Removed != "":
		return s.Does + " Not on this kernel."
	case !s.Exists && s.Scope == tuning.Global:
		return s.Does + " Global: it exists only in the host's initial network namespace."
	case !s.Exists:
		return s.Does + " Not on this kernel."
	}
	return s.Does
}

// indentText indents a file's lines for showing, each made printable.
func indentText(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + termsafe.String(l)
	}
	return strings.Join(lines, "\n")
}

func userName() string {
	u, err := user.Current()
	if err != nil {
		return fmt.Sprintf("uid%d", os.Geteuid())
	}
	return fmt.Sprintf("%s(%s)", u.Username, u.Uid)
}

// shellQuote quotes s for a shell when it needs it, escaped for the
// terminal: a hint to copy and paste.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+=", r))
	}) < 0 {
		return s
	}
	return termsafe.String("'" + strings.ReplaceAll(s, "'", `'\''`) + "'")
}
