package exporter

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestIdleClientsDoNotStopAScrape: 5,000 clients that connect and say
// nothing cost the server at most MaxConns connections, and a real scrape
// arriving after them is served.
func TestIdleClientsDoNotStopAScrape(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "tcpdash_up 1")
	}), 10*time.Second)
	go srv.Serve(ln)
	defer srv.Close()

	const idle = 5000
	conns := make([]net.Conn, 0, idle)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range idle {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("after %d idle clients: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	start := time.Now()
	resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatalf("a real scrape after %d idle clients: %v", idle, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "tcpdash_up 1\n" {
		t.Fatalf("scrape: %d %q", resp.StatusCode, body)
	}
	took := time.Since(start)

	// The server closed all but the newest few: a read sees EOF. The
	// closes of the last accepted may still be under way on a busy
	// machine: counted again for up to 2 s.
	still := conns
	buf := make([]byte, 1)
	for try := 0; try < 20; try++ {
		var next []net.Conn
		for _, c := range still {
			c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := c.Read(buf); errors.Is(err, os.ErrDeadlineExceeded) {
				next = append(next, c)
			}
		}
		if still = next; len(still) <= MaxConns {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	open := len(still)
	if open > MaxConns {
		t.Errorf("the server still holds %d of %d idle connections, want at most %d", open, idle, MaxConns)
	}
	t.Logf("%d idle clients: the scrape took %v; %d of them still open", idle, took.Round(time.Millisecond), open)
}
