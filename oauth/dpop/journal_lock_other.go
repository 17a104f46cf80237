//go:build !unix

package dpop

import "os"

// lockFile does not lock where flock(2) is missing: one node per data
// directory is then the operator's to keep.
func lockFile(*os.File) error { return nil }

// unlockFile is lockFile's counterpart.
func unlockFile(*os.File) error { return nil }
