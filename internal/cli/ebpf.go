package cli

import (
	"flag"
	"fmt"

	"github.com/tcpdash/tcpdash/internal/openers"
	"github.com/tcpdash/tcpdash/internal/watch"
	"github.com/tcpdash/tcpdash/tcpinfo"
)

// EBPFMode is --ebpf: whether to name connections' openers with eBPF.
type EBPFMode string

const (
	ebpfAuto EBPFMode = "auto" // when the kernel and privileges allow; else say why
	ebpfOn   EBPFMode = "on"   // or fail
	ebpfOff  EBPFMode = "off"
)

func (m *EBPFMode) String() string { return string(*m) }

func (m *EBPFMode) Set(s string) error {
	switch EBPFMode(s) {
	case ebpfAuto, ebpfOn, ebpfOff:
		*m = EBPFMode(s)
		return nil
	}
	return fmt.Errorf("use auto, on or off")
}

func registerEBPF(fs *flag.FlagSet, m *EBPFMode) {
	*m = ebpfAuto
	fs.Var(m, "ebpf", "")
}

// openerSource is the eBPF source --ebpf asks for, and what collectors
// say when there is none. A nil source with a nil error is off or
// unavailable under auto.
type openerSource struct {
	src  *openers.Source
	note string // why there is none
}

// loadOpeners loads the source for a command that polls (a single
// snapshot has no past for it to have seen).
func loadOpeners(m EBPFMode) (openerSource, error) {
	if m == ebpfOff {
		return openerSource{note: "eBPF off (--ebpf=off)"}, nil
	}
	src, err := openers.Load()
	switch {
	case err == nil:
		return openerSource{src: src}, nil
	case m == ebpfOn:
		return openerSource{}, hinted{fmt.Errorf("--ebpf=on: %w", err), "run as root on a kernel with BTF (5.8 or later), or use --ebpf=auto to fall back to the /proc walk"}
	}
	return openerSource{note: "eBPF unavailable: " + err.Error()}, nil
}

// options puts the source's view of w's namespace on a collector's options.
func (s openerSource) options(o tcpinfo.Options, w *watch.Namespace) tcpinfo.Options {
	if s.src != nil {
		o.Openers = s.src.In(w.Cookie())
	} else {
		o.OpenersNote = s.note
	}
	return o
}

func (s openerSource) Close() {
	if s.src != nil {
		s.src.Close()
	}
}
