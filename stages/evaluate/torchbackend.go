package evaluate

import "dmlrun/stages/evaluate/metrics/torchbackend"

// TorchBackend is the evaluate stage's metrics.Backend (package torchbackend, which
// training's per-epoch evaluation uses too).
type TorchBackend = torchbackend.Backend
