package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

type loadgen struct {
	devices     []*device
	maxInFlight int32
	running     atomic.Bool
	// allow caps the current run's total published; raised by `allow` commands.
	allow   atomic.Int64
	stopNow atomic.Bool
	// wake lets a run publishing as fast as allowed sleep until a PUBACK or a new cap, not a tick.
	wake chan struct{}
}

type device struct {
	id    string
	topic string
	// head is the payload up to the sequence number; size a payload's capacity with the longest tail.
	head  []byte
	tails [][]byte
	size  int
	// tail and seq belong to the publishing goroutine.
	tail   int
	seq    int64
	client mqtt.Client
	conn   *bufferedConn
	// touched: published to in the current burst, so its connection is uncorked at the end.
	touched  bool
	inFlight atomic.Int32
	// pending holds the unacknowledged publishes in order; never more than maxInFlight.
	pending chan pending
}

type pending struct {
	token mqtt.Token
	seq   int64
	at    time.Time
	run   *runStats
}

func newLoadgen() *loadgen {
	return &loadgen{wake: make(chan struct{}, 1)}
}

func allowCap(total *float64) int64 {
	if total == nil || *total >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Floor(*total))
}

func (g *loadgen) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// connect opens every device's connection at once; on any failure the ones that did connect
// stay in g.devices, so close still disconnects them.
func (g *loadgen) connect(c config) error {
	// paho numbers a connection's unacknowledged publishes with 16-bit packet ids.
	if c.MaxInFlightPerDevice < 1 || c.MaxInFlightPerDevice > 65535 {
		return fmt.Errorf("maxInFlightPerDevice must be 1…65535, not %d", c.MaxInFlightPerDevice)
	}
	if len(c.Devices) == 0 {
		return errors.New("no devices")
	}
	g.maxInFlight = int32(c.MaxInFlightPerDevice)
	devices := make([]*device, len(c.Devices))
	errs := make([]error, len(c.Devices))
	var wg sync.WaitGroup
	for i, dc := range c.Devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			devices[i], errs[i] = g.connectDevice(c, dc)
		}()
	}
	wg.Wait()
	failed := 0
	var first error
	for i, d := range devices {
		if d != nil {
			g.devices = append(g.devices, d)
			go g.awaitAcks(d)
		} else if failed++; first == nil {
			first = fmt.Errorf("%s: %w", c.Devices[i].DeviceID, errs[i])
		}
	}
	if first != nil {
		return fmt.Errorf("%d of %d devices failed, first %w", failed, len(c.Devices), first)
	}
	return nil
}

func (g *loadgen) connectDevice(c config, dc deviceConfig) (*device, error) {
	if len(dc.Tails) == 0 {
		return nil, errors.New("no payload tails")
	}
	d := &device{
		id:      dc.DeviceID,
		topic:   dc.Topic,
		head:    []byte(`{"deviceId":"` + dc.DeviceID + `","seq":`),
		pending: make(chan pending, c.MaxInFlightPerDevice),
	}
	longest := 0
	for _, t := range dc.Tails {
		d.tails = append(d.tails, []byte(t))
		longest = max(longest, len(t))
	}
	// head, seq (≤ 20 digits), `,"ts":"`, the time (27), `",`, the tail.
	d.size = len(d.head) + 20 + 7 + 27 + 2 + longest
	opts := mqtt.NewClientOptions().
		AddBroker(c.URL).
		SetClientID(c.ClientIDPrefix + "-" + dc.DeviceID).
		SetUsername(dc.DeviceID).
		SetPassword(dc.Password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(60 * time.Second).
		SetStore(nullStore{}).
		SetCustomOpenConnectionFn(func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
			conn, err := dialBuffered(uri, o.ConnectTimeout)
			if err != nil {
				return nil, err
			}
			d.conn = conn
			return conn, nil
		})
	d.client = mqtt.NewClient(opts)
	token := d.client.Connect()
	if !token.WaitTimeout(15 * time.Second) {
		return nil, errors.New("no CONNACK within 15 s")
	}
	if err := token.Error(); err != nil {
		return nil, err
	}
	return d, nil
}

// awaitAcks settles a device's publishes in the order they were sent. Mosquitto acknowledges a
// connection's QoS 1 publishes in order, so waiting on the oldest first delays none; and paho
// ends every outstanding token with an error when the connection drops (clean session, no
// reconnect), so the queue never stalls.
func (g *loadgen) awaitAcks(d *device) {
	for p := range d.pending {
		<-p.token.Done()
		p.run.settle(d.id, p, p.token.Error())
		d.inFlight.Add(-1)
		g.poke()
	}
}

func (g *loadgen) disconnect() {
	var wg sync.WaitGroup
	for _, d := range g.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.client.Disconnect(250)
		}()
	}
	wg.Wait()
}

// nullStore keeps nothing. paho stores every QoS 1 publish until its PUBACK only to resend it
// after a reconnect, which never happens here (clean session, no auto-reconnect), and its
// memory store formats a key and takes a lock per message.
type nullStore struct{}

func (nullStore) Open()                             {}
func (nullStore) Put(string, packets.ControlPacket) {}
func (nullStore) Get(string) packets.ControlPacket  { return nil }
func (nullStore) All() []string                     { return nil }
func (nullStore) Del(string)                        {}
func (nullStore) Close()                            {}
func (nullStore) Reset()                            {}
