// Package clamd is a small client of ClamAV's scanning daemon, clamd, over
// its socket protocol (clamd(8)): PING, VERSION, RELOAD and INSTREAM, the
// command that scans a stream sent in length-prefixed chunks, so that the
// file is never written to disk on either side. Every call takes a
// context: its deadline (or Timeout when it has none) bounds the whole
// exchange, and cancelling it closes the connection.
//
// The maintained Go clients of clamd are old and take no contexts; the
// protocol is small enough to own.
package clamd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Client speaks to one clamd.
type Client struct {
	// Network is "unix" or "tcp"; Address the socket's path or host:port.
	Network, Address string
	// Timeout bounds an exchange whose context has no deadline (one
	// minute when zero).
	Timeout time.Duration
	// ChunkSize is the INSTREAM chunk size (64 KiB when zero).
	ChunkSize int
}

// Parse reads a clamd address: "unix:/run/clamav/clamd.ctl" (or an
// absolute path), or "tcp:127.0.0.1:3310" (or host:port).
func Parse(addr string) (*Client, error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		addr = strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
		if addr == "" {
			return nil, errors.New("no socket path after unix")
		}
		return &Client{Network: "unix", Address: addr}, nil
	case strings.HasPrefix(addr, "/"):
		return &Client{Network: "unix", Address: addr}, nil
	}
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "tcp:"), "//")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("want unix:/path/to/clamd.ctl or tcp:host:port: %w", err)
	}
	return &Client{Network: "tcp", Address: addr}, nil
}

// String is the address as Parse reads it.
func (c *Client) String() string { return c.Network + ":" + c.Address }

// Result is what a scan found.
type Result struct {
	// Signature names what was found; "" when the stream is clean.
	Signature string
}

// Found reports whether the scan found something.
func (r Result) Found() bool { return r.Signature != "" }

// LimitExceeded reports whether what was found is ClamAV saying that the
// stream exceeded one of its scan limits (Heuristics.Limits.Exceeded.*,
// with AlertExceedsMax on): part of it was not scanned.
func (r Result) LimitExceeded() bool {
	return strings.HasPrefix(r.Signature, "Heuristics.Limits.Exceeded")
}

// ErrSizeLimit is clamd refusing a stream longer than its StreamMaxLength.
var ErrSizeLimit = errors.New("clamd: INSTREAM size limit exceeded (StreamMaxLength)")

// ReplyError is an answer clamd is not expected to give: an error it
// reports, or a reply this client does not understand.
type ReplyError struct {
	Command, Reply string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("clamd: unexpected answer to %s: %q", e.Command, e.Reply)
}

// ReadError is Scan failing to read what it scans (not clamd's fault).
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "clamd: reading what to scan: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Version is clamd's VERSION answer.
type Version struct {
	// Engine is ClamAV's version ("ClamAV 1.4.6").
	Engine string
	// Signatures is the version of the signature database (daily's, as
	// freshclam updates it); "" when the loaded databases carry none.
	Signatures string
	// Raw is the whole answer.
	Raw  string
	date string
}

// Date is when the signature database was built, when the answer says.
func (v Version) Date() (time.Time, bool) {
	t, err := time.Parse("Mon Jan _2 15:04:05 2006", strings.TrimSpace(v.date))
	return t, err == nil
}

// Ping checks that clamd answers.
func (c *Client) Ping(ctx context.Context) error {
	reply, err := c.command(ctx, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return &ReplyError{Command: "PING", Reply: reply}
	}
	return nil
}

// Version asks clamd its engine's and its signatures' versions.
func (c *Client) Version(ctx context.Context) (Version, error) {
	reply, err := c.command(ctx, "VERSION")
	if err != nil {
		return Version{}, err
	}
	if !strings.HasPrefix(reply, "ClamAV ") {
		return Version{}, &ReplyError{Command: "VERSION", Reply: reply}
	}
	v := Version{Raw: reply}
	parts := strings.SplitN(reply, "/", 3)
	v.Engine = parts[0]
	if len(parts) > 1 {
		v.Signatures = parts[1]
	}
	if len(parts) > 2 {
		v.date = parts[2]
	}
	return v, nil
}

// Reload makes clamd load its signature databases again.
func (c *Client) Reload(ctx context.Context) error {
	reply, err := c.command(ctx, "RELOAD")
	if err != nil {
		return err
	}
	if reply != "RELOADING" {
		return &ReplyError{Command: "RELOAD", Reply: reply}
	}
	return nil
}

// Scan streams r to clamd (INSTREAM) and returns what it found. It reads r
// in chunks: memory is bounded by ChunkSize whatever r's length. A stream
// longer than clamd's StreamMaxLength is ErrSizeLimit; send no more than
// that (io.LimitReader) to have the beginning scanned.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	conn, done, err := c.dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer done()
	size := c.ChunkSize
	if size <= 0 {
		size = 64 << 10
	}
	buf := make([]byte, 4+size)
	if _, err := conn.Write([]byte("zINSTREAM\x00")); err != nil {
		return Result{}, c.netErr(ctx, "INSTREAM", err)
	}
	for {
		n, rerr := io.ReadFull(r, buf[4:])
		if n > 0 {
			binary.BigEndian.PutUint32(buf[:4], uint32(n))
			if _, err := conn.Write(buf[:4+n]); err != nil {
				// clamd answers a stream past its limit, then closes:
				// the answer may be waiting.
				if reply, rerr := readReply(conn); rerr == nil && isSizeLimit(reply) {
					return Result{}, ErrSizeLimit
				}
				return Result{}, c.netErr(ctx, "INSTREAM", err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return Result{}, &ReadError{Err: rerr}
		}
	}
	if _, err := conn.Write([]byte{0, 0, 0, 0}); err != nil {
		if reply, rerr := readReply(conn); rerr == nil && isSizeLimit(reply) {
			return Result{}, ErrSizeLimit
		}
		return Result{}, c.netErr(ctx, "INSTREAM", err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return Result{}, c.netErr(ctx, "INSTREAM", err)
	}
	return parseScan(reply)
}

// parseScan reads "stream: OK", "stream: NAME FOUND" or an error.
func parseScan(reply string) (Result, error) {
	if isSizeLimit(reply) {
		return Result{}, ErrSizeLimit
	}
	rest, ok := strings.CutPrefix(reply, "stream: ")
	switch {
	case ok && rest == "OK":
		return Result{}, nil
	case ok && strings.HasSuffix(rest, " FOUND"):
		if name := strings.TrimSuffix(rest, " FOUND"); name != "" {
			return Result{Signature: name}, nil
		}
	}
	return Result{}, &ReplyError{Command: "INSTREAM", Reply: reply}
}

func isSizeLimit(reply string) bool {
	return strings.Contains(reply, "size limit exceeded")
}

// command sends a one-line command and reads its one-line answer.
func (c *Client) command(ctx context.Context, cmd string) (string, error) {
	conn, done, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	if _, err := conn.Write([]byte("z" + cmd + "\x00")); err != nil {
		return "", c.netErr(ctx, cmd, err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return "", c.netErr(ctx, cmd, err)
	}
	return reply, nil
}

// dial connects with the exchange's deadline set on the connection, and
// closes it when ctx is cancelled; done releases both.
func (c *Client) dial(ctx context.Context) (net.Conn, func(), error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		t := c.Timeout
		if t <= 0 {
			t = time.Minute
		}
		deadline = time.Now().Add(t)
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("clamd at %s: %w", c, err)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("clamd at %s: %w", c, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	return conn, func() { stop(); conn.Close() }, nil
}

func (c *Client) netErr(ctx context.Context, cmd string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("clamd at %s: %s: %w", c, cmd, ctx.Err())
	}
	return fmt.Errorf("clamd at %s: %s: %w", c, cmd, err)
}

// maxReply bounds an answer (a signature name is short).
const maxReply = 4 << 10

// readReply reads one NUL-terminated answer (the "z" form of commands).
func readReply(conn net.Conn) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(conn, maxReply), 512)
	line, err := br.ReadBytes(0)
	if err != nil {
		if len(line) > 0 && errors.Is(err, io.EOF) {
			return string(bytes.TrimSpace(line)), nil
		}
		return "", err
	}
	return string(bytes.TrimSpace(bytes.TrimSuffix(line, []byte{0}))), nil
}
