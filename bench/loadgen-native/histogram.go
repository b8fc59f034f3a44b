package main

import "math"

// The bucket scheme of bench/histogram.ts, to the bit: the parent merges this histogram's JSON
// into its own Histogram, so an index here must mean the same latency there.
const growth = 1.01

var (
	logGrowth = math.Log(growth)
	buckets   = int(math.Ceil(math.Log(1e9)/logGrowth)) + 1
)

// histogram holds latencies in microseconds; the zero value is not usable, see newHistogram.
type histogram struct {
	counts   []uint64
	n        int64
	min, max float64
	sum      float64
}

// histogramData is HistogramData of bench/histogram.ts. JSON has no infinities, so an empty
// histogram's min and max go out as null (the parent puts its ±Infinity back).
type histogramData struct {
	Counts map[int]uint64 `json:"counts"`
	N      int64          `json:"n"`
	Min    *float64       `json:"min"`
	Max    *float64       `json:"max"`
	Sum    float64        `json:"sum"`
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, buckets), min: math.Inf(1), max: math.Inf(-1)}
}

// record counts one latency in µs; negatives (clocks a few µs apart) land in the first bucket.
func (h *histogram) record(us float64) {
	v := us
	if v < 1 {
		v = 1
	}
	i := int(math.Floor(math.Log(v) / logGrowth))
	if i > buckets-1 {
		i = buckets - 1
	}
	h.counts[i]++
	h.n++
	h.sum += us
	h.min = math.Min(h.min, us)
	h.max = math.Max(h.max, us)
}

func (h *histogram) data() histogramData {
	d := histogramData{Counts: map[int]uint64{}, N: h.n, Sum: h.sum}
	for i, c := range h.counts {
		if c > 0 {
			d.Counts[i] = c
		}
	}
	if h.n > 0 {
		lo, hi := h.min, h.max
		d.Min, d.Max = &lo, &hi
	}
	return d
}
