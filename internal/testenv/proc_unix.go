//go:build unix

package testenv

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the server in its own process group so that stopping it
// also stops anything it spawned, and a Ctrl-C on the test does not race us.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
