package tfevents

// For the external tests (python_test.go).
var (
	Sample     = sample
	SameEvents = sameEvents
)
