package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
)

// localPane is the top local ports.
type localPane struct {
	table
}

// Update moves the selection.
func (p localPane) Update(msg tea.Msg) (localPane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p localPane) rows() int {
	if s := p.snap(); s != nil {
		return len(s.TopLocalPorts)
	}
	return 0
}

// View draws the pane in its box.
func (p localPane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	inner := w - 2
	const portW = 7
	header, cell := b.stateColumns(inner - portW)
	rows := make([]string, 0, len(b.snap.TopLocalPorts))
	for _, r := range b.snap.TopLocalPorts {
		rows = append(rows, fit(fmt.Sprint(r.Port), portW)+cell(&r.States))
	}
	body := []string{b.styles.header.Render(fit("PORT", portW) + header)}
	if len(rows) == 0 {
		body = append(body, b.styles.dim.Render("no sockets match"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, b.styles)...)
	return frame(b.tableTitle(paneLocal), focused, body, w, h, b.styles)
}

// remotePane is the top remote endpoints.
type remotePane struct {
	table
}

// Update moves the selection.
func (p remotePane) Update(msg tea.Msg) (remotePane, tea.Cmd) {
	p.cursor.move(p.keys.step(msg), p.rows())
	return p, nil
}

func (p remotePane) rows() int {
	if s := p.snap(); s != nil {
		return len(s.TopRemoteEndpoints)
	}
	return 0
}

// View draws the pane in its box.
func (p remotePane) View(focused bool) []string {
	b, w, h := p.b, p.w, p.h
	inner := w - 2
	epW := min(max(inner/3, 16), 41)
	header, cell := b.stateColumns(inner - epW)
	rows := make([]string, 0, len(b.snap.TopRemoteEndpoints))
	for _, r := range b.snap.TopRemoteEndpoints {
		rows = append(rows, fit(r.Endpoint.String(), epW-1)+" "+cell(&r.States))
	}
	body := []string{b.styles.header.Render(fit("ENDPOINT", epW) + header)}
	if len(rows) == 0 {
		body = append(body, b.styles.dim.Render("no sockets match"))
	}
	body = append(body, tableRows(rows, h-3, p.row, focused, b.styles)...)
	return frame(b.tableTitle(paneRemote), focused, body, w, h, b.styles)
}
