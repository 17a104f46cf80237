//go:build unix

package dpop

import (
	"os"
	"syscall"
)

// lockFile takes f's exclusive lock without waiting (flock(2)); the kernel
// releases it when the process ends, however it ends.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// unlockFile releases lockFile's lock.
func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
