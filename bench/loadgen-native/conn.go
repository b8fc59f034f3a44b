package main

import (
	"bufio"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// bufferedConn is the TCP connection paho gets, to cut its system calls per message. paho reads
// a PUBACK's 4 bytes as three reads (type, length, body) and writes every packet on its own;
// here reads come out of a buffer, and while the publisher is in a burst that includes this
// connection (corked) writes only fill a buffer, which goes to the kernel in one write when the
// burst ends, as mqtt.js corks its socket until the next tick. The buffer stays small: at most
// maxInFlightPerDevice publishes are unacknowledged.
type bufferedConn struct {
	net.Conn
	r      *bufio.Reader
	corked atomic.Bool
	mu     sync.Mutex
	buf    []byte
	// wmu keeps writes to the kernel whole and in order; out is the buffer being written.
	wmu sync.Mutex
	out []byte
}

func dialBuffered(uri *url.URL, timeout time.Duration) (*bufferedConn, error) {
	conn, err := net.DialTimeout("tcp", uri.Host, timeout)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 16<<10)}, nil
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	// Read after the append: the publisher uncorks, then flushes, so nothing is left behind.
	if c.corked.Load() {
		return len(p), nil
	}
	return len(p), c.flush()
}

// uncork ends a burst. A failed write is not reported here: paho sees it in its next write or read.
func (c *bufferedConn) uncork() {
	c.corked.Store(false)
	_ = c.flush()
}

func (c *bufferedConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	c.buf, c.out = c.out[:0], c.buf
	c.mu.Unlock()
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.out)
	return err
}
