package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is a process's memory as /proc/PID/status reports it, in MiB.
type Memory struct {
	Anon float64 // RssAnon: heap, stacks
	File float64 // RssFile: mapped files (index segments), droppable by the kernel
	RSS  float64 // VmRSS
	Peak float64 // VmHWM: the highest RSS so far
}

// ReadMemory reads the memory of process pid (0: this process). Benchmarks
// report it; it only works on Linux.
func ReadMemory(pid int) (Memory, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Memory{}, fmt.Errorf("read memory: %w", err)
	}
	var m Memory
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
		if err != nil {
			continue
		}
		switch name {
		case "RssAnon":
			m.Anon = kb / 1024
		case "RssFile":
			m.File = kb / 1024
		case "VmRSS":
			m.RSS = kb / 1024
		case "VmHWM":
			m.Peak = kb / 1024
		default:
			continue
		}
		found++
	}
	if found < 4 {
		return m, fmt.Errorf("read memory: %s lacks RssAnon, RssFile, VmRSS or VmHWM", path)
	}
	return m, nil
}
