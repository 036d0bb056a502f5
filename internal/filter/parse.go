package filter

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// An Error says which word of an expression is wrong, and why.
type Error struct {
	Expr string
	Pos  int // byte offset of Word in Expr
	Word string
	Msg  string
	// Suggest, when set, is the expression ss would take for what was
	// typed (a bare port or address): a prompt can offer it.
	Suggest string
}

func (e *Error) Error() string {
	if e.Word == "" {
		return fmt.Sprintf("filter %q: at the end: %s", e.Expr, e.Msg)
	}
	return fmt.Sprintf("filter %q: at %q (column %d): %s", e.Expr, e.Word, e.Pos+1, e.Msg)
}

// States as ss names them, and its groups (ss.c's sstate_namel). syn-recv
// includes the kernel's request sockets (NEW_SYN_RECV), which inet_diag
// reports as SYN_RECV.
var stateWords = map[string]uint32{
	"established": 1 << 1, "syn-sent": 1 << 2, "syn-recv": 1<<3 | 1<<12, "fin-wait-1": 1 << 4,
	"fin-wait-2": 1 << 5, "time-wait": 1 << 6, "closed": 1 << 7, "close-wait": 1 << 8,
	"last-ack": 1 << 9, "listening": 1 << 10, "listen": 1 << 10, "closing": 1 << 11,
	"all":          AllStates,
	"connected":    AllStates &^ (1<<10 | 1<<7), // all but listening and closed
	"synchronized": AllStates &^ (1<<10 | 1<<7 | 1<<2),
	"bucket":       1<<3 | 1<<12 | 1<<6,
	"big":          AllStates &^ (1<<3 | 1<<12 | 1<<6),
}

// stateNames lists the words in the order an error message gives them.
const stateNames = "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait, " +
	"last-ack, listening, closing, or a group: all, connected, synchronized, bucket, big"

type token struct {
	text string
	pos  int
}

// lex splits an expression into words, parentheses and operators.
func lex(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, token{s[i : i+1], i})
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||") || strings.HasPrefix(s[i:], "!=") ||
			strings.HasPrefix(s[i:], "==") || strings.HasPrefix(s[i:], "<=") || strings.HasPrefix(s[i:], ">="):
			out = append(out, token{s[i : i+2], i})
			i += 2
		case c == '&' || c == '|' || c == '!' || c == '=' || c == '<' || c == '>':
			out = append(out, token{s[i : i+1], i})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()&|!=<>", rune(s[j])) {
				j++
			}
			// [::1]:80 holds no operator characters, so a word is whole.
			out = append(out, token{s[i:j], i})
			i = j
		}
	}
	return out
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{pos: len(p.src)}, false
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.i++
	}
	return t, ok
}

func (p *parser) fail(t token, format string, a ...any) *Error {
	return &Error{Expr: p.src, Pos: t.pos, Word: t.text, Msg: fmt.Sprintf(format, a...)}
}

// Parse parses an expression. An empty one selects every socket.
func Parse(expr string) (*Filter, error) {
	if want := suggest(expr); want != "" {
		return nil, &Error{Expr: expr, Pos: strings.Index(expr, strings.TrimSpace(expr)), Word: strings.TrimSpace(expr),
			Msg: fmt.Sprintf("ss reads no bare port or address: say which end, as in %q", want), Suggest: want}
	}
	p := &parser{src: expr, toks: lex(expr)}
	f := &Filter{text: strings.TrimSpace(expr), states: AllStates}
	statesSet := false
	var parts []node
	for {
		t, ok := p.peek()
		if !ok {
			break
		}
		word := strings.ToLower(t.text)
		if word == "state" || word == "exclude" || word == "except" {
			p.next()
			name, ok := p.next()
			if !ok || isOperator(name.text) {
				return nil, p.fail(name, "%s needs a state: %s", word, stateNames)
			}
			bits, known := stateWords[normState(name.text)]
			if !known {
				return nil, p.fail(name, "unknown state: want %s", stateNames)
			}
			switch {
			case word == "state" && !statesSet:
				f.states, statesSet = bits, true // the first replaces "all"
			case word == "state":
				f.states |= bits
			default:
				f.states &^= bits
			}
			continue
		}
		n, err := p.exprList(false)
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
	}
	for _, n := range parts {
		if f.expr == nil {
			f.expr = n
		} else {
			f.expr = andNode{f.expr, n}
		}
	}
	if f.states&AllStates == 0 {
		// ss falls back to its default states here, which is surely not
		// what was meant: said instead (docs/filter.md).
		return nil, &Error{Expr: expr, Pos: len(expr), Msg: "exclude removed every state: the filter selects nothing; name the states to keep with state"}
	}
	return f, nil
}

// normState accepts ss's words and the kernel's names (TIME_WAIT,
// time_wait) alike.
func normState(s string) string {
	s = strings.ReplaceAll(strings.ToLower(s), "_", "-")
	switch s {
	case "fin-wait1":
		return "fin-wait-1"
	case "fin-wait2":
		return "fin-wait-2"
	case "close":
		return "closed"
	}
	return s
}

func isOperator(s string) bool {
	switch strings.ToLower(s) {
	case "(", ")", "&", "&&", "|", "||", "!", "and", "or", "not":
		return true
	}
	return false
}

// exprList is ss's exprlist: expressions joined by and, or, or nothing
// (and), of one precedence, left to right. Inside parentheses it ends at
// ')'; at the top it also ends before a state word.
func (p *parser) exprList(nested bool) (node, error) {
	var left node
	for {
		t, ok := p.peek()
		if !ok || t.text == ")" {
			if left == nil {
				return nil, p.fail(t, "want an expression such as dport = :80, src 10.0.0.0/8 or state time-wait")
			}
			if t.text == ")" && !nested {
				return nil, p.fail(t, "a ) without its (")
			}
			return left, nil
		}
		w := strings.ToLower(t.text)
		if !nested && (w == "state" || w == "exclude" || w == "except") {
			if left == nil {
				return nil, p.fail(t, "want an expression")
			}
			return left, nil
		}
		if nested && (w == "state" || w == "exclude" || w == "except") {
			return nil, p.fail(t, "states apply to the whole filter: put %s outside the parentheses", w)
		}
		op := ""
		switch w {
		case "and", "&&", "&":
			op = "and"
		case "or", "||", "|":
			op = "or"
		}
		if op != "" {
			if left == nil {
				return nil, p.fail(t, "%q needs an expression before it", t.text)
			}
			p.next()
			if nt, ok := p.peek(); !ok || nt.text == ")" {
				return nil, p.fail(nt, "%q needs an expression after it", t.text)
			}
		}
		right, err := p.expr()
		if err != nil {
			return nil, err
		}
		switch {
		case left == nil:
			left = right
		case op == "or":
			left = orNode{left, right}
		default:
			left = andNode{left, right}
		}
	}
}

// expr is one term: a condition, a negation or a parenthesised list.
func (p *parser) expr() (node, error) {
	t, _ := p.next()
	w := strings.ToLower(t.text)
	switch w {
	case "!", "not":
		if nt, ok := p.peek(); !ok || nt.text == ")" {
			return nil, p.fail(nt, "%q needs an expression after it", t.text)
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case "(":
		x, err := p.exprList(true)
		if err != nil {
			return nil, err
		}
		if c, ok := p.next(); !ok || c.text != ")" {
			return nil, p.fail(c, "want ) to close the ( at column %d", t.pos+1)
		}
		return x, nil
	case "sport", "dport":
		return p.portCond(w == "sport", t)
	case "src", "dst":
		a, ok := p.next()
		if ok && isEquals(a.text) { // ss takes src = ADDR as src ADDR
			a, ok = p.next()
		}
		if !ok || isOperator(a.text) {
			return nil, p.fail(a, "%s needs an address: 10.0.0.5, 10.0.0.0/8, 10.0.0.5:3306, [::1]:80 or :80", w)
		}
		h, err := parseHost(a.text)
		if err != nil {
			return nil, p.fail(a, "%s", err)
		}
		h.src = w == "src"
		return h, nil
	case "autobound":
		return autoNode{}, nil
	case "cgroup":
		a, ok := p.next()
		if !ok || isOperator(a.text) {
			return nil, p.fail(a, "cgroup needs a path below the cgroup2 mount, such as /system.slice/nginx.service")
		}
		return &cgroupNode{path: a.text, pos: a.pos}, nil
	case "":
		return nil, p.fail(t, "want an expression")
	}
	return nil, p.fail(t, "unknown word: want sport, dport, src, dst, autobound, cgroup, state, exclude, not, and, or or (")
}

// portCond parses the rest of `sport OP PORT`.
func (p *parser) portCond(src bool, kw token) (node, error) {
	opTok, ok := p.peek()
	if !ok {
		return nil, p.fail(opTok, "%s needs a port, such as %s :3306 or %s > :1024", kw.text, kw.text, kw.text)
	}
	ops := map[string]string{"=": "=", "==": "=", "eq": "=", "!=": "!=", "ne": "!=", "<": "<", "lt": "<",
		">": ">", "gt": ">", "<=": "<=", "le": "<=", ">=": ">=", "ge": ">="}
	op, known := ops[strings.ToLower(opTok.text)]
	if known {
		p.next()
	} else if isOperator(opTok.text) || opTok.text == "(" || opTok.text == ")" || opTok.text == "!" {
		return nil, p.fail(opTok, "want a comparison: = != < > <= >= (or eq ne lt gt le ge) or a port")
	} else {
		op = "=" // ss's bare form: dport 3306 is dport = :3306
	}
	pt, ok := p.next()
	if !ok {
		return nil, p.fail(pt, "%s %s needs a port, such as :3306", kw.text, opTok.text)
	}
	port, err := parsePort(strings.TrimPrefix(strings.TrimPrefix(pt.text, "*"), ":"))
	if err != nil && !known {
		return nil, p.fail(pt, "want a comparison: = != < > <= >= (or eq ne lt gt le ge) or a port, such as :3306")
	}
	if err != nil {
		return nil, p.fail(pt, "%s", err)
	}
	switch op {
	case "=", ">=", "<=":
		return portNode{src, op, port}, nil
	case "!=":
		return notNode{portNode{src, "=", port}}, nil
	case "<":
		return notNode{portNode{src, ">=", port}}, nil
	}
	return notNode{portNode{src, "<=", port}}, nil // >
}

// isEquals reports whether s is one of ss's spellings of equality.
func isEquals(s string) bool {
	switch strings.ToLower(s) {
	case "=", "==", "eq":
		return true
	}
	return false
}

// parseHost parses ADDR[/LEN][:PORT], [V6ADDR][/LEN][:PORT], *:PORT and
// :PORT, as ss's src and dst take them.
func parseHost(s string) (hostNode, error) {
	h := hostNode{port: -1}
	const want = "want an address: 10.0.0.5, 10.0.0.0/8, 10.0.0.5:3306, [::1], [2001:db8::/32]:80 or :80"
	addr, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return h, fmt.Errorf("an IPv6 address needs its closing ]")
		}
		addr = s[1:end]
		rest := s[end+1:]
		if strings.HasPrefix(rest, "/") { // [::1]/128:80
			slash, _, _ := strings.Cut(rest[1:], ":")
			addr += "/" + slash
			rest = rest[1+len(slash):]
		}
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return h, fmt.Errorf("%s", want)
			}
			port = p
		}
	case strings.Count(s, ":") > 1:
		return h, fmt.Errorf("write an IPv6 address in brackets, as [%s]", s)
	default:
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			addr, port = s[:i], s[i+1:]
		}
	}
	if port != "" {
		n, err := parsePort(port)
		if err != nil {
			return h, err
		}
		h.port = int(n)
	}
	if addr == "" || addr == "*" {
		if h.port < 0 {
			return h, fmt.Errorf("%s", want)
		}
		return h, nil // a port alone: any family
	}
	var prefix netip.Prefix
	var err error
	if strings.Contains(addr, "/") {
		prefix, err = netip.ParsePrefix(addr)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(addr); err == nil {
			prefix = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || prefix.Addr().Zone() != "" {
		return h, fmt.Errorf("%s", want)
	}
	a := prefix.Addr()
	if prefix.Bits() == 0 {
		// ss and the kernel's bytecode disagree on which families a zero
		// prefix covers (under negation ss matched none where the kernel
		// matched a family's): refused, as documented.
		return h, fmt.Errorf("a /0 prefix matches every address: leave the condition out, or name a family's sockets with a longer prefix")
	}
	h.addr, h.bits = a, prefix.Bits()
	h.family = afInet6
	if a.Is4() {
		h.family = afInet
	}
	return h, nil
}

// parsePort reads a port number, or a service name as /etc/services has
// it (http, mysql), as ss does; never a lookup over the network.
func parsePort(s string) (uint16, error) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), nil
	}
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		if n, err := net.LookupPort("tcp", s); err == nil {
			return uint16(n), nil
		}
	}
	return 0, fmt.Errorf("want a port number from 0 to 65535, such as :3306, or a service /etc/services names")
}

// suggest is the expression ss would take for a bare port (22, :22), a
// bare address (10.0.0.5, [::1]) or address:port, which ss refuses: the
// socket matches at either end. Empty for anything else.
func suggest(expr string) string {
	s := strings.TrimSpace(expr)
	if s == "" || strings.ContainsAny(s, " \t()!&|") {
		return ""
	}
	if port, err := strconv.ParseUint(strings.TrimPrefix(s, ":"), 10, 16); err == nil {
		return fmt.Sprintf("sport = :%d or dport = :%d", port, port)
	}
	if _, err := netip.ParseAddrPort(s); err == nil {
		return fmt.Sprintf("src %s or dst %s", s, s)
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	switch {
	case err != nil || a.Zone() != "":
		return ""
	case a.Is4In6():
		a = a.Unmap() // an IPv4 address matches its mapped form, not the reverse
	case a.Is6():
		return fmt.Sprintf("src [%s] or dst [%s]", a, a)
	}
	return fmt.Sprintf("src %s or dst %s", a, a)
}
