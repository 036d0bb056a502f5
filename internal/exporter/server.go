package exporter

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// MaxConns bounds the connections the exporter keeps open. Prometheus
// needs one per server scraping; the rest are idle clients or worse.
const MaxConns = 64

// NewServer returns an http.Server for handler that no client can stall:
// reads, writes and idle keep-alives are timed out at timeout (a scrape's
// own limit), and past MaxConns open connections the one idle longest is
// closed for each new one, so thousands of idle or slow clients cost
// MaxConns fds and a real scrape still gets in.
func NewServer(handler http.Handler, timeout time.Duration) *http.Server {
	c := &connCap{max: MaxConns, conns: map[net.Conn]connInfo{}}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(timeout, 5*time.Second),
		ReadTimeout:       timeout,
		WriteTimeout:      timeout + 5*time.Second, // the collection's limit, then the writing
		IdleTimeout:       timeout,
		MaxHeaderBytes:    16 << 10,
		ConnState:         c.track,
	}
}

// connCap tracks the server's connections by state.
type connCap struct {
	max   int
	mu    sync.Mutex
	conns map[net.Conn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

func (c *connCap) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(c.conns, conn)
		return
	case http.StateNew, http.StateIdle:
		c.conns[conn] = connInfo{state, time.Now()}
	case http.StateActive:
		c.conns[conn] = connInfo{state, c.conns[conn].since}
	}
	if state != http.StateNew || len(c.conns) <= c.max {
		return
	}
	// Evict the connection waiting longest for a request, never one being
	// served: a scrape under way finishes.
	var oldest net.Conn
	var at time.Time
	for other, info := range c.conns {
		if other != conn && info.state != http.StateActive && (oldest == nil || info.since.Before(at)) {
			oldest, at = other, info.since
		}
	}
	if oldest != nil {
		delete(c.conns, oldest)
		oldest.Close()
	}
}
