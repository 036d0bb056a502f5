package diagnose

import "github.com/tcpdash/tcpdash/internal/jsonw"

// WriteJSON writes findings as json.Marshal writes them (an empty list
// for none), by hand: see internal/jsonw. TestWriteJSONIsMarshal holds
// it to json.Marshal.
func WriteJSON(w *jsonw.W, findings []Finding) {
	w.Array()
	for i := range findings {
		findings[i].write(w)
	}
	w.EndArray()
}

func (f *Finding) write(w *jsonw.W) {
	w.Object()
	w.Key("severity").String(f.Severity.String())
	w.Key("kind").String(f.Kind)
	if f.Subject != "" {
		w.Key("subject").String(f.Subject)
	}
	w.Key("title").String(f.Title)
	if f.Short != "" {
		w.Key("short").String(f.Short)
	}
	w.Key("detail").String(f.Detail)
	w.Key("evidence").Strings(f.Evidence)
	if len(f.Sysctls) > 0 {
		w.Key("sysctls").Array()
		for _, r := range f.Sysctls {
			w.Object()
			w.Key("key").String(r.Key)
			w.Key("value").String(r.Value)
			w.Key("reason").String(r.Reason)
			w.End()
		}
		w.EndArray()
	}
	if f.Rank != 0 {
		w.Key("rank").Float(f.Rank)
	}
	w.End()
}
