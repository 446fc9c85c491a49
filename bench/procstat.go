package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procSample is the CPU time and resident memory of a process and all its
// descendants (a supervisor and its workers), read from /proc.
type procSample struct {
	CPU   float64 `json:"cpu_seconds"` // user + system
	RSS   int64   `json:"rss_bytes"`
	Procs int     `json:"procs"`
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// sampleTree samples pid and its descendants.
func sampleTree(pid int) (procSample, error) {
	var s procSample
	pids := append([]int{pid}, descendants(pid)...)
	for i, p := range pids {
		cpu, err := procCPU(p)
		if err != nil {
			if i == 0 {
				return s, err
			}
			continue // a child that just exited
		}
		rss, err := procRSS(p)
		if err != nil {
			if i == 0 {
				return s, err
			}
			continue
		}
		s.CPU += cpu
		s.RSS += rss
		s.Procs++
	}
	return s, nil
}

// procStatFields returns the fields of /proc/PID/stat after the command
// name (field 3, the state, first).
func procStatFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return f, nil
}

// procCPU is the user + system CPU seconds of pid.
func procCPU(pid int) (float64, error) {
	f, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return float64(utime+stime) / clockTicks, nil
}

// procRSS is the resident set of pid in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS (a zombie?)", pid)
}

// descendants lists every process below pid, found through the parent ids
// in /proc/*/stat.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStatFields(p)
		if err != nil {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 10_000 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// selfCPU is this process's user + system CPU seconds (children excluded:
// the parent adds the figures its child generators report, and a spawned
// server is measured on its own).
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
