//go:build js

package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall/js"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// maxBuffered is how many bytes a conn lets the browser hold unsent
// (WebSocket.bufferedAmount) before Write waits for it to drain.
const maxBuffered = 1 << 20

// drainPoll is how often a waiting Write looks at bufferedAmount again: a
// WebSocket has no event for a drained send buffer.
const drainPoll = 2 * time.Millisecond

// errClosed is what I/O on a closed conn returns.
var errClosed = fmt.Errorf("browser: websocket closed: %w", net.ErrClosed)

// conn is a net.Conn (and manet.Conn) over one browser WebSocket. The
// browser calls its handlers on the event loop; they never block: they
// append to the read queue under the lock and wake a reader.
type conn struct {
	ws     js.Value
	funcs  []handler
	local  ma.Multiaddr
	remote ma.Multiaddr

	mu        sync.Mutex
	queue     [][]byte      // received messages not yet read
	readable  chan struct{} // cap 1: a message arrived, the conn closed or the read deadline moved
	closed    bool          // closed by either side
	closeErr  error         // why the remote side closed, when it did
	readDL    time.Time
	writeDL   time.Time
	closeOnce sync.Once
}

var _ manet.Conn = (*conn)(nil)

// dial opens a WebSocket to url and waits until it is open, ctx is done or
// the browser reports a failure.
func dial(ctx context.Context, url string, remote ma.Multiaddr) (*conn, error) {
	ctor := js.Global().Get("WebSocket")
	if ctor.IsUndefined() {
		return nil, errors.New("browser: this runtime has no WebSocket")
	}
	c := &conn{
		local:    ma.StringCast("/ip4/0.0.0.0/tcp/0/ws"),
		remote:   remote,
		readable: make(chan struct{}, 1),
	}
	var ws js.Value
	if err := catch(func() { ws = ctor.New(url) }); err != nil {
		return nil, fmt.Errorf("browser: websocket %s: %w", url, err)
	}
	c.ws = ws
	ws.Set("binaryType", "arraybuffer")
	opened := make(chan struct{})
	failed := make(chan string, 1)
	var openOnce sync.Once
	c.on("open", func(js.Value) { openOnce.Do(func() { close(opened) }) })
	c.on("message", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeObject || data.Get("byteLength").IsUndefined() {
			return // a text frame: libp2p speaks binary only
		}
		arr := js.Global().Get("Uint8Array").New(data)
		b := make([]byte, arr.Get("length").Int())
		js.CopyBytesToGo(b, arr)
		c.mu.Lock()
		if !c.closed {
			c.queue = append(c.queue, b)
		}
		c.mu.Unlock()
		wake(c.readable)
	})
	c.on("error", func(js.Value) {
		select {
		case failed <- "error":
		default:
		}
	})
	c.on("close", func(ev js.Value) {
		code, reason := ev.Get("code").Int(), ev.Get("reason").String()
		select {
		case failed <- fmt.Sprintf("closed (code %d %s)", code, reason):
		default:
		}
		c.mu.Lock()
		if !c.closed {
			c.closed = true
			c.closeErr = io.EOF
		}
		c.mu.Unlock()
		wake(c.readable)
	})
	select {
	case <-opened:
		return c, nil
	case why := <-failed:
		c.Close()
		return nil, fmt.Errorf("browser: websocket %s: %s", url, why)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("browser: websocket %s: %w", url, ctx.Err())
	}
}

// on installs a handler for one of the WebSocket's events.
func (c *conn) on(event string, f func(ev js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var ev js.Value
		if len(args) > 0 {
			ev = args[0]
		}
		f(ev)
		return nil
	})
	c.funcs = append(c.funcs, handler{event, fn})
	c.ws.Call("addEventListener", event, fn)
}

// handler is an event listener installed on the WebSocket.
type handler struct {
	event string
	fn    js.Func
}

// wake signals ch without blocking.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// catch runs f and turns a JavaScript exception it throws into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if jerr, ok := r.(js.Error); ok {
				err = jerr
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// Read reads from the received messages, waiting for one when there are
// none.
func (c *conn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			n := copy(p, c.queue[0])
			if n == len(c.queue[0]) {
				c.queue[0] = nil
				c.queue = c.queue[1:]
			} else {
				c.queue[0] = c.queue[0][n:]
			}
			if len(c.queue) > 0 {
				wake(c.readable) // for a reader waiting beside this one
			}
			c.mu.Unlock()
			return n, nil
		}
		if c.closed {
			err := c.closeErr
			if err == nil {
				err = errClosed
			}
			c.mu.Unlock()
			return 0, err
		}
		dl := c.readDL
		c.mu.Unlock()
		if err := c.wait(c.readable, dl); err != nil {
			return 0, err
		}
	}
}

// wait waits for ch (a message, a close, a moved deadline) or the
// deadline dl.
func (c *conn) wait(ch chan struct{}, dl time.Time) error {
	if dl.IsZero() {
		<-ch
		return nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// Write sends p as one binary message. The browser queues it; when more
// than maxBuffered bytes wait to leave, Write waits for them first.
func (c *conn) Write(p []byte) (int, error) {
	for {
		c.mu.Lock()
		closed, dl := c.closed, c.writeDL
		c.mu.Unlock()
		if closed {
			return 0, errClosed
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		if c.ws.Get("bufferedAmount").Int() <= maxBuffered {
			break
		}
		time.Sleep(drainPoll)
	}
	arr := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(arr, p)
	if err := catch(func() { c.ws.Call("send", arr) }); err != nil {
		return 0, fmt.Errorf("browser: websocket send: %w", err)
	}
	return len(p), nil
}

// Close closes the WebSocket and releases its handlers.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.closeErr = nil
		c.queue = nil
		c.mu.Unlock()
		wake(c.readable)
		// The browser still delivers events after close() (the close
		// event itself): take the listeners off before releasing them.
		for _, h := range c.funcs {
			c.ws.Call("removeEventListener", h.event, h.fn)
			h.fn.Release()
		}
		_ = catch(func() { c.ws.Call("close") })
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr               { return wsAddr(c.local) }
func (c *conn) RemoteAddr() net.Addr              { return wsAddr(c.remote) }
func (c *conn) LocalMultiaddr() ma.Multiaddr      { return c.local }
func (c *conn) RemoteMultiaddr() ma.Multiaddr     { return c.remote }
func (c *conn) SetDeadline(t time.Time) error     { c.setDeadlines(t, true, true); return nil }
func (c *conn) SetReadDeadline(t time.Time) error { c.setDeadlines(t, true, false); return nil }
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.setDeadlines(t, false, true)
	return nil
}

func (c *conn) setDeadlines(t time.Time, read, write bool) {
	c.mu.Lock()
	if read {
		c.readDL = t
	}
	if write {
		c.writeDL = t
	}
	c.mu.Unlock()
	wake(c.readable) // a waiting Read looks at its deadline again
}

// wsAddr is a multiaddr as a net.Addr.
type wsAddr ma.Multiaddr

func (a wsAddr) Network() string { return "websocket" }
func (a wsAddr) String() string  { return ma.Multiaddr(a).String() }
