package db

import "time"

// SetWriteGateTimeout shortens d's wait for a turn to write (tests).
func SetWriteGateTimeout(d *DB, t time.Duration) { d.gateTimeout = t }
