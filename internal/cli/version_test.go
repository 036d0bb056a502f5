package cli

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tcpdash/tcpdash/internal/netns"
)

// TestVersionAndHelp: --version, -V and version print one line naming the
// build; help COMMAND is that command's --help; a wrong one is one line.
func TestVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-V"}, {"version"}} {
		out, _, err := runCLI(t, args...)
		if err != nil || !strings.HasPrefix(out, "tcpdash ") || !strings.Contains(out, "go1.") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: %q, %v", args, out, err)
		}
	}
	for cmd, want := range map[string]string{"": cmdMain, "tune": cmdTune, "replay": cmdReplay} {
		args := []string{"help"}
		if cmd != "" {
			args = append(args, cmd)
		}
		if out, _, err := runCLI(t, args...); err != nil || out != usageText(want) {
			t.Errorf("help %s: %v\n%s", cmd, err, out)
		}
	}
	if _, _, err := runCLI(t, "help", "nope"); err == nil || !strings.Contains(err.Error(), `help "nope": there is no such command`) {
		t.Errorf("help nope: %v", err)
	}
}

// TestBinaryNamesItsCommit: a binary built from a clone names its commit,
// as a bug report needs.
func TestBinaryNamesItsCommit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the build has no revision to stamp")
	}
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not a git checkout")
	}
	// Go stamps the revision only with -buildvcs (some setups turn it off
	// in GOFLAGS); a release stamps it with -ldflags (scripts/package.sh).
	bin := t.TempDir() + "/tcpdash"
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "github.com/tcpdash/tcpdash").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`^tcpdash \S+ \(commit [0-9a-f]{12}(-dirty)?, committed \S+, go1\.`).Match(out) {
		t.Errorf("--version: %q, %v", out, err)
	}
}

// TestBashCompletion: the script tcpdash completion bash prints, sourced
// in a real bash with tcpdash on PATH, completes --ne to --netns, tune's
// actions, the sysctl keys of tune set, and flag values.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", dir+"/tcpdash", "github.com/tcpdash/tcpdash").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := `source <(tcpdash completion bash)
for line in "tcpdash --ne" "tcpdash tune " "tcpdash tune set net.ipv4.tcp_fin" "tcpdash --ebpf " "tcpdash rec" "tcpdash-exporter --web" "tcpdash-exporter --ebpf "; do
	read -ra COMP_WORDS <<< "$line"
	[ "${line: -1}" = " " ] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	if [ "${COMP_WORDS[0]}" = tcpdash-exporter ]; then _tcpdash_exporter; else _tcpdash; fi
	echo "$line|${COMPREPLY[*]}"
done`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(cmd.Environ(), "PATH="+dir+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	for _, want := range []string{"tcpdash --ne|--netns", "tcpdash tune |set undo persist discard",
		"tcpdash tune set net.ipv4.tcp_fin|net.ipv4.tcp_fin_timeout=", "tcpdash --ebpf |auto on off", "tcpdash rec|record",
		"tcpdash-exporter --web|--web.config.file", "tcpdash-exporter --ebpf |auto on off"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("completion lacks %q:\n%s", want, out)
		}
	}
	for _, shell := range []string{"zsh", "fish"} {
		if out, _, err := runCLI(t, "completion", shell); err != nil || !strings.Contains(out, "tcpdash __complete") {
			t.Errorf("completion %s: %v", shell, err)
		}
	}
}

// TestCompletionOffersPlainNames: a namespace named with escape codes
// (anyone with CAP_NET_ADMIN in a namespace may) is never offered to the
// shell, which prints what it completes.
func TestCompletionOffersPlainNames(t *testing.T) {
	if !netns.Run(t) {
		return
	}
	must(t, unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"))
	t.Cleanup(func() { unix.Unmount("/run", unix.MNT_DETACH) })
	must(t, os.MkdirAll("/run/netns", 0o755))
	for _, name := range []string{"loadtest", "evil\x1b]2;pwned\a"} {
		path := "/run/netns/" + name
		must(t, os.WriteFile(path, nil, 0o444))
		must(t, unix.Mount("/proc/self/ns/net", path, "", unix.MS_BIND, ""))
		t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	}
	got := strings.Join(completions([]string{"--netns", ""}), "\n")
	if !strings.Contains(got, "loadtest") || strings.ContainsAny(got, "\x1b\a") {
		t.Errorf("--netns completes to %q", got)
	}
}
