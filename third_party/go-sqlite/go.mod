module github.com/glebarez/go-sqlite

go 1.25.0

require (
	github.com/google/pprof v0.0.0-20250317173921-a4b03ec1a45e
	golang.org/x/sys v0.46.0
	modernc.org/libc v1.74.1
	modernc.org/mathutil v1.7.1
	modernc.org/sqlite v1.55.0
)

require (
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/ncruces/go-strftime v1.0.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	modernc.org/memory v1.11.0 // indirect
)
