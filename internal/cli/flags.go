package cli

import (
	"flag"
	"fmt"
	"slices"
	"strings"
)

// The commands of tcpdash's vocabulary: the dashboard with its one-shot
// and stream modes, and the subcommands.
const (
	cmdMain     = "tcpdash"
	cmdTune     = "tune"
	cmdExporter = "exporter"
	cmdRecord   = "record"
	cmdReplay   = "replay"
)

// A flagDef is one flag of the vocabulary as a command takes it: its
// name, what it takes (empty for a switch), and its help. Usage text comes
// from this table, and every command's flag set is held to it, so the two
// cannot drift; the man page and shell completions are to come from it too.
type flagDef struct {
	name, arg string
	help      []string
	cmds      []string
}

// vocabulary is every flag, in the order usage lists them.
func vocabulary() []flagDef {
	all := []string{cmdMain, cmdExporter, cmdRecord}
	netns := []string{"watch another network namespace: NAME (ip netns), a path to a",
		"namespace file, pid:N, or container:ID (an id prefix or name);",
		"all: every namespace on the host (the dashboard opens on them)"}
	filter := []string{"only the sockets EXPR selects, in ss's words (in the dashboard: its tables):",
		"'state time-wait ( dport = :3306 or dport = :6379 ) and dst 10.0.0.0/8'"}
	return []flagDef{
		{"o", "FILE", []string{"the recording to write: a new file, never reached through a symlink"}, []string{cmdRecord}},
		{"at", "T", []string{"start at the snapshot in force at T: 14:03:10 (clock time), +90s (from the start)",
			"or 2026-11-27T14:03:10Z (RFC 3339)"}, []string{cmdReplay}},
		{"yes", "", []string{"do not ask (required when stdin is not a terminal)"}, []string{cmdTune}},
		{"once", "", []string{"print one snapshot and exit"}, []string{cmdMain}},
		{"once", "", []string{"print one snapshot and exit: the one --at names, else the last"}, []string{cmdReplay}},
		{"json", "", []string{"print JSON instead of text"}, []string{cmdMain}},
		{"json", "", []string{"with --once: the snapshot exactly as it was logged; with --summary: the report as JSON"}, []string{cmdReplay}},
		{"summary", "", []string{"print the load-test report: peak per state, worst port pressure per destination,",
			"each finding's first and last time, counter totals"}, []string{cmdReplay}},
		{"html", "OUT", []string{"write the report as one self-contained HTML file with charts (a new file)"}, []string{cmdReplay}},
		{"listen", "ADDR", []string{"where to listen (default :9478)"}, []string{cmdExporter}},
		{"web.config.file", "PATH", []string{"TLS and basic auth (exporter-toolkit's web config)"}, []string{cmdExporter}},
		{"interval", "D", []string{"time between polls, a Go duration >= 100ms (default 1s)"}, []string{cmdMain, cmdRecord}},
		{"count", "N", []string{"with --json, stop after N snapshots (default 0: until interrupted)"}, []string{cmdMain}},
		{"count", "N", []string{"stop after N snapshots"}, []string{cmdRecord}},
		{"duration", "D", []string{"stop after D (default: until interrupted)"}, []string{cmdRecord}},
		{"top", "N", []string{"rows in every table, 1-1000 (default 10)"}, []string{cmdMain}},
		{"top", "N", []string{"destination groups, cgroups and listeners per namespace, 1-1000 (default 10)"}, []string{cmdExporter}},
		{"top", "N", []string{"rows per table, 1-1000 (default 50)"}, []string{cmdRecord}},
		{"timeout", "D", []string{"a scrape's limit for a collection (default 10s)"}, []string{cmdExporter}},
		{"source", "S", []string{"auto, netlink or procfs (default auto: netlink, else /proc/net/tcp)"}, []string{cmdMain}},
		{"processes", "=false", []string{"do not name the processes holding sockets (skips the /proc/<pid>/fd walk)"}, all},
		{"health", "", []string{"ask the kernel for each connection's tcp_info (ss -ti) and report RTT and",
			"retransmits per destination (about 1.2x a dump's cost)"}, all},
		{"ebpf", "MODE", []string{"auto, on or off: name each connection's opener at connect() with eBPF",
			"(root, BTF, Linux 5.8); default auto: when possible, else say why"}, all},
		{"filter", "EXPR", filter, all},
		{"netns", "WHAT", netns, []string{cmdMain, cmdTune, cmdExporter, cmdRecord}},
		{"read-only", "", []string{"the dashboard's tuning pane shows everything but changes nothing"}, []string{cmdMain}},
		{"read-only", "", []string{"refuse every change"}, []string{cmdTune}},
		{"file", "PATH", []string{"where the tuning pane persists (default /etc/sysctl.d/90-tcpdash.conf)"}, []string{cmdMain}},
		{"file", "PATH", []string{"where persist writes (default /etc/sysctl.d/90-tcpdash.conf)"}, []string{cmdTune}},
		{"state-file", "PATH", []string{"the last applied batch, for undo (default /var/lib/tcpdash/last-batch.json)"}, []string{cmdMain, cmdTune}},
		{"audit-log", "PATH", []string{"every sysctl change, appended (default /var/log/tcpdash/audit.log)"}, []string{cmdMain, cmdTune}},
		{"no-undo", "", []string{"allow an empty --state-file or --audit-log: changes without undo or record"}, []string{cmdMain, cmdTune}},
	}
}

// flagsOf is the vocabulary of one command, in usage order.
func flagsOf(cmd string) []flagDef {
	var out []flagDef
	for _, f := range vocabulary() {
		if slices.Contains(f.cmds, cmd) {
			out = append(out, f)
		}
	}
	return out
}

// synopsis is what a command's usage says before its flags.
func synopsis(cmd string) string {
	switch cmd {
	case cmdTune:
		return `  tcpdash tune [flags]                   tunables, their values, what they do, and advice
  tcpdash tune set KEY=VALUE... [flags]  change sysctls, after confirmation
  tcpdash tune undo [flags]              restore the values from before the last batch
  tcpdash tune persist [flags]           keep the last batch across reboots (sysctl.d)
  tcpdash tune discard [flags]           remove a record undo cannot use (its namespace is
                                         gone), restoring nothing; audited
`
	case cmdExporter:
		return "  tcpdash exporter [flags]   serve tcpdash's metrics to Prometheus (read-only);\n" +
			"                             it runs tcpdash-exporter [flags], installed beside tcpdash\n"
	case cmdRecord:
		return "  tcpdash record -o FILE [flags]   record snapshots of a load test to FILE\n"
	case cmdReplay:
		return "  tcpdash replay FILE [flags]   the dashboard, or a report, on a recording or a --json log\n"
	}
	return `  tcpdash [flags]            live dashboard (a snapshot when stdout is not a terminal)
  tcpdash --once [--json]    print one snapshot and exit
  tcpdash --json             print one JSON snapshot per line every --interval
  tcpdash tune ...           sysctls: see tcpdash tune --help
  tcpdash exporter ...       Prometheus metrics: see tcpdash exporter --help
  tcpdash record -o FILE     record snapshots of a load test: see tcpdash record --help
  tcpdash replay FILE        replay a recording, or report on it: see tcpdash replay --help
  tcpdash version            the version, commit and Go it was built with (also --version)
  tcpdash help [COMMAND]     this text, or a command's (as --help)
  tcpdash completion SHELL   a completion script for bash, zsh or fish
`
}

// footer is what a command's usage says after its flags.
func footer(cmd string) string {
	switch cmd {
	case cmdTune:
		return `
Exit status:
  0  done (or nothing to do)
  1  refused or failed: nothing changed
  2  bad usage: nothing changed
  3  changed, but not as asked or not recorded: the message names each key's value now
`
	case cmdReplay:
		return "\nFILE is what tcpdash record wrote, or a --json log (gzipped or not).\n"
	}
	return ""
}

// usageText is a command's usage, made from the vocabulary.
func usageText(cmd string) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	b.WriteString(synopsis(cmd))
	b.WriteString("\nFlags:\n")
	flags := flagsOf(cmd)
	heads := make([]string, len(flags))
	width := 0
	for i, f := range flags {
		heads[i] = "--" + f.name
		if len(f.name) == 1 {
			heads[i] = "-" + f.name
		}
		switch {
		case f.arg == "=false":
			heads[i] += "=false"
		case f.arg != "":
			heads[i] += " " + f.arg
		}
		width = max(width, len(heads[i]))
	}
	for i, f := range flags {
		for j, line := range f.help {
			head := heads[i]
			if j > 0 {
				head = ""
			}
			fmt.Fprintf(&b, "  %-*s  %s\n", width, head, line)
		}
	}
	b.WriteString(footer(cmd))
	return b.String()
}

// checkVocabulary reports a flag set that registers a flag the vocabulary
// does not give cmd, or lacks one it does: a programming error, which
// every command's tests meet at its first parse.
func checkVocabulary(fs *flag.FlagSet, cmd string) error {
	want := map[string]bool{}
	for _, f := range flagsOf(cmd) {
		want[f.name] = true
	}
	var extra []string
	fs.VisitAll(func(f *flag.Flag) {
		if !want[f.Name] {
			extra = append(extra, f.Name)
		}
		delete(want, f.Name)
	})
	if len(extra) > 0 || len(want) > 0 {
		return fmt.Errorf("tcpdash %s: flags %v are not in the vocabulary, and %v of it are not registered", cmd, extra, want)
	}
	return nil
}
