// Command loadgen-native is the bench's native MQTT load generator: bench/loadgen.ts in Go with
// paho.mqtt.golang, driven by bench/loadgen-native.ts over JSON lines (commands on stdin,
// events on stdout) instead of Node's IPC channel.
//
// It exists because mqtt.js spends tens of µs of CPU per reading at the bench's rates: on a
// small machine the publisher then takes CPU from the pipeline it is measuring, and the
// raw-Mosquitto baseline measures the publisher as much as the broker. Same devices, credentials, payloads, QoS 1 and pacing as the
// mqtt.js publisher, so the two stay interchangeable (BENCH_LOADGEN chooses).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// config is LoadgenConfig of bench/loadgen.ts, with each device's password derived by the
// parent, so this program never sees the fleet secret.
type config struct {
	URL                  string         `json:"url"`
	ClientIDPrefix       string         `json:"clientIdPrefix"`
	Devices              []deviceConfig `json:"devices"`
	MaxInFlightPerDevice int            `json:"maxInFlightPerDevice"`
}

type deviceConfig struct {
	DeviceID string   `json:"deviceId"`
	Topic    string   `json:"topic"`
	Tails    []string `json:"tails"`
	Password string   `json:"password"`
}

// runParams is LoadgenRun; rate null = as fast as allowed, allow null = no cap (JSON has no Infinity).
type runParams struct {
	Rate     *float64 `json:"rate"`
	Seconds  float64  `json:"seconds"`
	SeqStart int64    `json:"seqStart"`
	Allow    *float64 `json:"allow"`
}

// command is any of ToLoadgen: config, run, allow (total), stop, close.
type command struct {
	Type   string     `json:"type"`
	Config *config    `json:"config"`
	Run    *runParams `json:"run"`
	Total  *float64   `json:"total"`
}

type progressEvent struct {
	Type      string `json:"type"`
	Published int64  `json:"published"`
	Acked     int64  `json:"acked"`
	Failed    int    `json:"failed"`
}

var stdout sync.Mutex

// emit writes one FromLoadgen event as a line; events are few (every 500 ms at most), so unbuffered.
func emit(event any) {
	line, err := json.Marshal(event)
	if err != nil {
		line, _ = json.Marshal(map[string]string{"type": "error", "message": fmt.Sprintf("encoding an event: %v", err)})
	}
	stdout.Lock()
	defer stdout.Unlock()
	_, _ = os.Stdout.Write(append(line, '\n'))
}

func emitError(format string, args ...any) {
	emit(map[string]string{"type": "error", "message": fmt.Sprintf(format, args...)})
}

func main() {
	// One thread for the goroutines unless GOMAXPROCS says otherwise: a publisher is one core's
	// work, and with idle threads about, Go's scheduler wakes one for each hand-over between
	// paho's goroutines (publish, write, read, acknowledge). Measured at 5,000 readings/s over
	// the bench's fleet: ~20 % less CPU per reading.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	g := newLoadgen()
	// A config line carries every device's payload templates (megabytes for the whole fleet).
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 && g.handle(line) {
			break
		}
		if err != nil {
			// EOF: the parent is gone or closed our stdin; anything else is as bad.
			if err != io.EOF {
				emitError("reading stdin: %v", err)
			}
			break
		}
	}
	g.disconnect()
	os.Exit(0)
}

// handle runs one command; true means close.
func (g *loadgen) handle(line []byte) bool {
	var c command
	if err := json.Unmarshal(line, &c); err != nil {
		emitError("unreadable command: %v", err)
		return false
	}
	switch {
	case c.Type == "config" && c.Config != nil:
		// Synchronous: the parent sends nothing else before `connected`.
		if err := g.connect(*c.Config); err != nil {
			emitError("connecting the devices: %v", err)
		} else {
			emit(map[string]any{"type": "connected", "devices": len(g.devices)})
		}
	case c.Type == "run" && c.Run != nil:
		if !g.running.CompareAndSwap(false, true) {
			emitError("a run is already going")
			break
		}
		go g.run(*c.Run)
	case c.Type == "allow":
		g.allow.Store(allowCap(c.Total))
		g.poke()
	case c.Type == "stop":
		g.stopNow.Store(true)
		g.poke()
	case c.Type == "close":
		return true
	default:
		emitError("unknown command %q", c.Type)
	}
	return false
}
