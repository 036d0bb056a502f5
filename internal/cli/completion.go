package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tcpdash/tcpdash/internal/namespaces"
	"github.com/tcpdash/tcpdash/tuning"
)

// The scripts tcpdash completion prints. Each asks tcpdash itself, through
// the hidden __complete command, so what completes is the flag table's
// vocabulary and what exists now (namespaces, sysctl keys): never written
// twice. tcpdash-exporter completes as tcpdash exporter does; the
// packages install each script under both names, as shells look a
// command's completion up by its name.
const (
	// bashFunctions ask tcpdash, for tcpdash and for tcpdash-exporter
	// (tcpdash exporter's words); zsh runs them through bashcompinit.
	bashFunctions = `_tcpdash_complete() {
	local IFS=$'\n'
	COMPREPLY=($(tcpdash __complete "$@" "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
_tcpdash() { _tcpdash_complete; }
_tcpdash_exporter() { _tcpdash_complete exporter; }
complete -o default -o nospace -F _tcpdash tcpdash
complete -o default -o nospace -F _tcpdash_exporter tcpdash-exporter
`
	bashCompletion = "# bash completion for tcpdash: source <(tcpdash completion bash)\n" + bashFunctions
	zshCompletion  = "# zsh completion for tcpdash: source <(tcpdash completion zsh)\n" +
		"autoload -U +X bashcompinit && bashcompinit\n" + bashFunctions
	fishCompletion = `# fish completion for tcpdash: tcpdash completion fish | source
complete -c tcpdash -f -a '(tcpdash __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
complete -c tcpdash-exporter -f -a '(tcpdash __complete exporter (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`
)

// runCompletion is tcpdash completion bash|zsh|fish.
func runCompletion(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usagef("completion takes one shell: bash, zsh or fish")
	}
	script, ok := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[args[0]]
	if !ok {
		return usagef("completion %q: use bash, zsh or fish", args[0])
	}
	_, err := io.WriteString(stdout, script)
	return err
}

// subcommands are the words that may follow tcpdash.
var subcommands = []string{cmdTune, cmdExporter, cmdRecord, cmdReplay, "completion", "version", "help"}

// runComplete prints, one a line, the completions of the last word of
// words (the command line after tcpdash, the word being typed last).
func runComplete(words []string, stdout io.Writer) error {
	for _, c := range completions(words) {
		fmt.Fprintln(stdout, c)
	}
	return nil
}

// completions is what may replace the last of words.
func completions(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	cmd := cmdMain
	if len(before) > 0 && slices.Contains(subcommands, before[0]) {
		cmd = before[0]
	}
	// The value of the flag just before, if it takes one.
	if len(before) > 0 {
		if f, ok := flagOf(cmd, before[len(before)-1]); ok && f.arg != "" && f.arg != "=false" {
			return matching(flagValues(f.name), cur)
		}
	}
	if name, _, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(cur, "-") {
		if f, ok := flagOf(cmd, name); ok && f.arg != "" {
			var out []string
			for _, v := range flagValues(f.name) {
				out = append(out, name+"="+v)
			}
			return matching(out, cur)
		}
	}
	switch {
	case strings.HasPrefix(cur, "-"):
		var out []string
		for _, f := range flagsOf(cmd) {
			dash := "--"
			if len(f.name) == 1 {
				dash = "-"
			}
			out = append(out, dash+f.name)
		}
		return matching(append(out, "--help"), cur)
	case len(before) == 0:
		return matching(subcommands, cur)
	case cmd == cmdTune && len(before) == 1:
		return matching([]string{"set", "undo", "persist", "discard"}, cur)
	case cmd == cmdTune && before[1] == "set":
		var keys []string
		for _, t := range tuning.Known() {
			if t.Removed == "" {
				keys = append(keys, t.Key+"=")
			}
		}
		return matching(keys, cur)
	case cmd == "completion" && len(before) == 1:
		return matching([]string{"bash", "zsh", "fish"}, cur)
	case cmd == "help" && len(before) == 1:
		return matching([]string{cmdTune, cmdExporter, cmdRecord, cmdReplay}, cur)
	}
	return nil // files (replay FILE), left to the shell
}

// flagOf finds the flag word (-x, --name or -name) names in cmd.
func flagOf(cmd, word string) (flagDef, bool) {
	name := strings.TrimLeft(word, "-")
	if name == "" || name == word {
		return flagDef{}, false
	}
	for _, f := range flagsOf(cmd) {
		if f.name == name {
			return f, true
		}
	}
	return flagDef{}, false
}

// flagValues are the values worth offering for a flag.
func flagValues(name string) []string {
	switch name {
	case "source":
		return []string{"auto", "netlink", "procfs"}
	case "ebpf":
		return []string{"auto", "on", "off"}
	case "netns":
		// Names come from outside (anyone may name a namespace or a
		// container): only plain ones reach the shell, which prints them.
		plain := func(n string) bool {
			return n != "" && len(n) <= 253 && strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
		}
		out := []string{"all", "pid:", "container:"}
		if all, err := namespaces.NewFinder().All(); err == nil {
			for _, ns := range all {
				for _, n := range ns.Names {
					// ip netns names; containers as container:NAME.
					if after, ok := strings.CutPrefix(n, "docker "); ok {
						if f := strings.Fields(after); len(f) > 1 && plain(f[1]) {
							out = append(out, "container:"+f[1])
						}
						continue
					}
					if plain(n) {
						out = append(out, n)
					}
				}
			}
		}
		return out
	case "filter":
		return []string{"state", "exclude", "sport", "dport", "src", "dst", "autobound", "cgroup", "and", "or", "not",
			"established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait", "closed", "close-wait",
			"last-ack", "listening", "closing", "connected", "synchronized", "bucket", "big"}
	}
	return nil
}

// matching keeps the candidates that start with prefix.
func matching(candidates []string, prefix string) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
