package metrics

import (
	"bytes"
	"errors"
	"io"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
)

// Encode gathers the registry as length-delimited protobuf metric families,
// for a worker to hand to the supervisor.
func (m *Metrics) Encode() ([]byte, error) {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := protodelim.MarshalTo(&buf, mf); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Decode reads what Encode wrote.
func Decode(b []byte) ([]*dto.MetricFamily, error) {
	r := bytes.NewReader(b)
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		err := protodelim.UnmarshalFrom(r, mf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, mf)
	}
}

// GathererFunc adapts a function to prometheus.Gatherer.
type GathererFunc func() ([]*dto.MetricFamily, error)

// Gather implements prometheus.Gatherer.
func (f GathererFunc) Gather() ([]*dto.MetricFamily, error) { return f() }
