package main

import (
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// isoMicros is payloads.ts's isoMicros: UTC, microseconds, truncated (Go truncates fractions).
const isoMicros = "2006-01-02T15:04:05.000000Z"

// runStats is one run's tally; a PUBACK that arrives after the run's summary still lands in its own run's.
type runStats struct {
	published atomic.Int64
	mu        sync.Mutex
	acked     int64
	failed    []failure
	lastAck   time.Time
	latency   *histogram
}

type failure struct {
	deviceID string
	seq      int64
}

// MarshalJSON gives the [deviceId, seq] pair of LoadgenSummary.failed.
func (f failure) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{f.deviceID, f.seq})
}

type summary struct {
	Published     int64            `json:"published"`
	Acked         int64            `json:"acked"`
	Failed        []failure        `json:"failed"`
	SeqEnd        map[string]int64 `json:"seqEnd"`
	SeqStart      int64            `json:"seqStart"`
	StartedUs     float64          `json:"startedUs"`
	LastPublishUs float64          `json:"lastPublishUs"`
	LastAckUs     float64          `json:"lastAckUs"`
	AckLatency    histogramData    `json:"ackLatency"`
	BehindTicks   int64            `json:"behindTicks"`
	Seconds       float64          `json:"seconds"`
	StoppedEarly  bool             `json:"stoppedEarly"`
}

// epochUs is nowUs() of bench/histogram.ts: Unix epoch microseconds; 0 for "never".
func epochUs(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e3
}

func (s *runStats) settle(deviceID string, p pending, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed = append(s.failed, failure{deviceID, p.seq})
		return
	}
	s.acked++
	s.lastAck = now
	s.latency.record(float64(now.Sub(p.at).Nanoseconds()) / 1e3)
}

func (s *runStats) progress() progressEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return progressEvent{Type: "progress", Published: s.published.Load(), Acked: s.acked, Failed: len(s.failed)}
}

// reportProgress emits progress every 500 ms until the returned function is called (which waits for it to stop).
func reportProgress(s *runStats) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				emit(s.progress())
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// run is loadgen.ts's run(): publish at a fixed total rate or as fast as the cap and the
// in-flight limits allow, round robin over the devices, then wait for the PUBACKs and report.
func (g *loadgen) run(p runParams) {
	defer g.running.Store(false)
	s := &runStats{failed: []failure{}, latency: newHistogram()}
	g.allow.Store(allowCap(p.Allow))
	g.stopNow.Store(false)
	for _, d := range g.devices {
		d.seq = p.SeqStart
	}
	fast := p.Rate == nil
	// Only a run as fast as allowed wakes on PUBACKs; a fixed rate keeps to its ticks.
	var wake <-chan struct{}
	if fast {
		wake = g.wake
	}
	// loadgen.ts's setTimeout(tick, 2): each tick wakes the process, so not more often.
	ticker := time.NewTicker(2 * time.Millisecond)
	defer ticker.Stop()
	stopProgress := reportProgress(s)
	n := len(g.devices)
	var published, behindTicks int64
	var lastPublish time.Time
	touched := make([]*device, 0, n)
	next := 0
	started := time.Now()
	end := started.Add(time.Duration(p.Seconds * float64(time.Second)))
	for {
		now := time.Now()
		if !now.Before(end) || g.stopNow.Load() {
			break
		}
		target := int64(math.MaxInt64)
		if !fast {
			target = int64(*p.Rate * now.Sub(started).Seconds())
		}
		due := min(target, g.allow.Load()) - published
		idle := 0
		touched = touched[:0]
		for due > 0 && idle < n {
			d := g.devices[next]
			next = (next + 1) % n
			if d.inFlight.Load() >= g.maxInFlight {
				idle++
				continue
			}
			idle = 0
			if !d.touched {
				d.touched = true
				touched = append(touched, d)
				d.conn.corked.Store(true)
			}
			lastPublish = g.publish(d, s)
			published++
			due--
			// Now and then when as fast as allowed: look at the clock and the stop flag, and send the corked writes.
			if fast && published%256 == 0 {
				break
			}
		}
		uncork(touched)
		if !fast && due > 0 && idle >= n {
			behindTicks++
		}
		if fast && due > 0 && idle < n {
			continue
		}
		select {
		case <-ticker.C:
		case <-wake:
		}
	}
	seconds := time.Since(started).Seconds()
	stoppedEarly := g.stopNow.Load()
	// Wait (≤ 30 s) for the PUBACKs of what was published, so `acked` is final.
	deadline := time.Now().Add(30 * time.Second)
	for g.anyInFlight() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stopProgress()
	emit(s.progress())
	seqEnd := make(map[string]int64, n)
	for _, d := range g.devices {
		seqEnd[d.id] = d.seq
	}
	s.mu.Lock()
	sum := summary{
		Published:     published,
		Acked:         s.acked,
		Failed:        append([]failure{}, s.failed...),
		SeqEnd:        seqEnd,
		SeqStart:      p.SeqStart,
		StartedUs:     epochUs(started),
		LastPublishUs: epochUs(lastPublish),
		LastAckUs:     epochUs(s.lastAck),
		AckLatency:    s.latency.data(),
		BehindTicks:   behindTicks,
		Seconds:       seconds,
		StoppedEarly:  stoppedEarly,
	}
	s.mu.Unlock()
	emit(map[string]any{"type": "done", "summary": sum})
}

// publish sends the device's next reading: the precomputed head, seq, the publish time and the next tail.
func (g *loadgen) publish(d *device, s *runStats) time.Time {
	seq := d.seq
	d.seq++
	at := time.Now()
	// A fresh buffer: paho writes it from another goroutine after Publish returns.
	b := make([]byte, 0, d.size)
	b = append(b, d.head...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"ts":"`...)
	b = at.UTC().AppendFormat(b, isoMicros)
	b = append(b, `",`...)
	b = append(b, d.tails[d.tail]...)
	d.tail = (d.tail + 1) % len(d.tails)
	d.inFlight.Add(1)
	s.published.Add(1)
	token := d.client.Publish(d.topic, 1, false, b)
	d.pending <- pending{token: token, seq: seq, at: at, run: s}
	return at
}

// uncork ends a burst: the connections it published to write what paho has handed them.
func uncork(touched []*device) {
	for _, d := range touched {
		d.touched = false
		d.conn.uncork()
	}
}

func (g *loadgen) anyInFlight() bool {
	for _, d := range g.devices {
		if d.inFlight.Load() > 0 {
			return true
		}
	}
	return false
}
