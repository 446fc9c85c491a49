package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	h := newLatencyHistogram()
	for i := int64(1); i <= 100_000; i++ {
		_ = h.RecordValue(100 + i%5000)
	}
	res := &Result{
		Target: "test <target>", Command: "porthouse bench -spawn run", Started: time.Now(),
		Conns: 10, Rooms: 1, Publishers: 1, Procs: 1, Size: 128, DurationS: 2,
		Sent: 1000, Expected: 10000, Received: 10000, latency: h, Latency: percentiles(h),
		Timeline: []Point{{T: 1, Sent: 500, Deliveries: 5000}, {T: 2, Sent: 500, Deliveries: 5000}},
	}
	path := filepath.Join(t.TempDir(), "r.html")
	if err := WriteReport(path, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Count(page, "<svg") != 4 || !strings.Contains(page, "<polyline") || !strings.Contains(page, "test &lt;target&gt;") {
		t.Fatalf("page:\n%s", page)
	}
	// Self-contained: nothing fetched from elsewhere.
	for _, bad := range []string{"<script src", "<link", "@import", "url(", "src=\"http"} {
		if strings.Contains(page, bad) {
			t.Fatalf("page refers to an external asset (%s)", bad)
		}
	}
	// No deliveries: the page still renders.
	if err := RenderReport(&strings.Builder{}, &Result{Target: "empty"}); err != nil {
		t.Fatal(err)
	}
}

func TestHistogramEncoding(t *testing.T) {
	a, b := newLatencyHistogram(), newLatencyHistogram()
	for i := int64(0); i < 1000; i++ {
		_ = a.RecordValue(i)
		_ = b.RecordValue(10 * i)
	}
	enc, err := encodeHistogram(b)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeHistogram(enc)
	if err != nil {
		t.Fatal(err)
	}
	a.Merge(dec)
	if a.TotalCount() != 2000 || a.Max() < 9980 {
		t.Fatalf("count %d max %d", a.TotalCount(), a.Max())
	}
}

func TestProcStat(t *testing.T) {
	s, err := sampleTree(os.Getpid())
	if err != nil || s.RSS <= 0 || s.Procs < 1 {
		t.Fatalf("%+v %v", s, err)
	}
	if selfCPU() <= 0 {
		t.Fatal("no CPU time")
	}
	if _, err := sampleTree(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}
